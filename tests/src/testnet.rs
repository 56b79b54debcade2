//! A network of validators in this process, each a whole host on
//! loopback: made by `plaza-host testnet`'s own code, with any of them
//! started as a byzantine validator.

use std::sync::Arc;
use std::time::Duration;

use ledger::{ChainId, Keypair, Operation, SignedTransaction, Transaction};
use server_less::Host;
use server_less::clock::ManualClock;
use server_less::consensus::{Bft, BftSettings, Faults};
use server_less::home::{self, Home};
use server_less::node::HostHandle;

/// When the test network begins.
pub const T0: u64 = 1_800_000_000;
const CHAIN: &str = "plaza-byzantine";

/// Validators on loopback, sharing one hand-moved clock.
pub struct Testnet {
    _dir: tempfile::TempDir,
    homes: Vec<Home>,
    addresses: Vec<libp2p::Multiaddr>,
    hosts: Vec<Option<Host>>,
    clock: ManualClock,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Testnet {
    /// `validators` validators, none started.
    pub fn new(validators: usize) -> Testnet {
        let dir = tempfile::tempdir().unwrap();
        let homes = home::testnet(dir.path(), validators, 0, Some(CHAIN), T0).unwrap();
        let addresses = homes
            .iter()
            .map(|_| {
                format!("/ip4/127.0.0.1/tcp/{}", free_port())
                    .parse()
                    .unwrap()
            })
            .collect();
        let hosts = homes.iter().map(|_| None).collect();
        Testnet {
            _dir: dir,
            homes,
            addresses,
            hosts,
            clock: ManualClock::new(T0 + 10),
        }
    }

    /// Starts validator `index` (from 0), misbehaving as `faults` says.
    pub fn start(&mut self, index: usize, faults: Faults) {
        let home = &self.homes[index];
        let settings = BftSettings {
            faults,
            ..BftSettings::for_home(
                home,
                ChainId::new(CHAIN).unwrap(),
                format!("host-{}", index + 1),
                self.addresses[index].clone(),
                (0..self.homes.len())
                    .filter(|other| *other != index)
                    .map(|other| self.addresses[other].clone())
                    .collect(),
            )
            .unwrap()
        };
        let host =
            Host::start_with(home, Arc::new(self.clock.clone()), Box::new(Bft(settings))).unwrap();
        self.hosts[index] = Some(host);
    }

    /// Host `index`'s handle.
    pub fn handle(&self, index: usize) -> HostHandle {
        self.hosts[index].as_ref().unwrap().handle()
    }

    /// Validator `index`'s address.
    pub fn validator(&self, index: usize) -> ledger::Address {
        self.homes[index].load_host_key().unwrap().address()
    }

    /// A demo account's key.
    pub fn key(&self, name: &str) -> Keypair {
        self.homes[0].load_demo_key(name).unwrap()
    }

    /// `signer` does `op` with its next nonce at host `index`.
    pub async fn tx(&self, index: usize, signer: &Keypair, op: Operation) -> SignedTransaction {
        let nonce = self
            .handle(index)
            .account(signer.address())
            .await
            .unwrap()
            .nonce;
        Transaction {
            chain_id: ChainId::new(CHAIN).unwrap(),
            signer: signer.address(),
            nonce,
            valid_until: T0 + 3_600,
            op,
        }
        .sign(signer)
    }

    /// Ada pays bo `amount` through host `index`; the height it is final
    /// at, once host `index` has every block the furthest of `honest` has.
    pub async fn pay(&self, index: usize, honest: &[usize], amount: u64) -> u64 {
        let ada = self.key("ada");
        // Host `index` first catches up with the furthest of the honest
        // hosts, so its nonce for ada is the latest.
        let mut furthest = 0;
        for other in honest {
            furthest = furthest.max(self.height(*other).await);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.height(index).await < furthest {
            assert!(
                tokio::time::Instant::now() < deadline,
                "host {index} fell behind"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let to = self.key("bo").address();
        let tx = self.tx(index, &ada, Operation::Pay { to, amount }).await;
        let handle = self.handle(index);
        let id = handle.submit(tx).await.unwrap().id();
        let (height, rejection) = handle
            .wait_final(id, Duration::from_secs(60))
            .await
            .expect("a payment final within a minute");
        assert_eq!(rejection, None);
        height
    }

    /// Host `index`'s height.
    pub async fn height(&self, index: usize) -> u64 {
        self.handle(index).status().await.unwrap().height
    }

    /// Checks that hosts `index` and 0 hold the same blocks and state roots
    /// up to `height`.
    pub async fn same_chain(&self, index: usize, height: u64) {
        let (one, other) = (self.handle(0), self.handle(index));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for (host, handle) in [(index, &other), (0, &one)] {
            while handle.status().await.unwrap().height < height {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "host {host} fell behind"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        for at in 1..=height {
            assert_eq!(other.block(at).await.unwrap(), one.block(at).await.unwrap());
            assert_eq!(
                other.state_root_at(at).await.unwrap(),
                one.state_root_at(at).await.unwrap()
            );
        }
    }

    /// Stops every host.
    pub async fn stop_all(&mut self) {
        for host in self.hosts.iter_mut() {
            if let Some(host) = host.take() {
                let _ = host.stop().await;
            }
        }
    }
}

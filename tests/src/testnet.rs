//! Validators in this process, each a whole host on loopback, made by
//! `plaza-host testnet`'s own code: validators first, then followers;
//! any validator may be started byzantine, and the links between
//! validators may go through relays a test can cut.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledger::{ChainId, Keypair, Operation, SignedTransaction, Transaction};
use server_less::Host;
use server_less::clock::ManualClock;
use server_less::consensus::{Bft, BftSettings, Faults};
use server_less::home::{self, Home};
use server_less::node::HostHandle;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// When a test network begins.
pub const T0: u64 = 1_800_000_000;
/// The test network's name.
pub const CHAIN: &str = "plaza-bft";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every consensus link between validators through a relay on loopback
/// that the test can cut and mend: host `i` reaches host `j` only at
/// relay `(i, j)`, so cutting both relays of a pair stops their traffic
/// in both directions, as a network partition would.
pub struct Links {
    relays: HashMap<(usize, usize), Relay>,
}

struct Relay {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Links {
    /// Relays between every two of the hosts listening at `addresses`.
    pub async fn new(addresses: &[libp2p::Multiaddr]) -> Self {
        let ports: Vec<u16> = addresses.iter().map(port_of).collect();
        let mut relays = HashMap::new();
        for from in 0..ports.len() {
            for (to, target) in ports.iter().enumerate() {
                if from != to {
                    relays.insert((from, to), Relay::start(*target).await);
                }
            }
        }
        Links { relays }
    }

    /// The address validator `from` dials to reach validator `to`.
    pub fn address(&self, from: usize, to: usize) -> libp2p::Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{}", self.relays[&(from, to)].port)
            .parse()
            .unwrap()
    }

    /// Cuts every link between a host of `one` and a host of `other`, and
    /// the connections open over them.
    pub fn cut(&self, one: &[usize], other: &[usize]) {
        for a in one {
            for b in other {
                for key in [(*a, *b), (*b, *a)] {
                    let relay = &self.relays[&key];
                    relay.cut.store(true, Ordering::SeqCst);
                    for open in relay.open.lock().unwrap().drain(..) {
                        open.abort();
                    }
                }
            }
        }
    }

    /// Mends every link.
    pub fn heal(&self) {
        for relay in self.relays.values() {
            relay.cut.store(false, Ordering::SeqCst);
        }
    }
}

impl Relay {
    async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (is_cut, connections) = (cut.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    // Dropped unanswered, as a lost link would.
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections.lock().unwrap().push(task.abort_handle());
            }
        });
        Relay { port, cut, open }
    }
}

fn port_of(address: &libp2p::Multiaddr) -> u16 {
    address
        .iter()
        .find_map(|part| match part {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .unwrap()
}

/// A local network on loopback: validators first, then followers,
/// sharing one hand-moved clock.
pub struct Testnet {
    _dir: tempfile::TempDir,
    homes: Vec<Home>,
    addresses: Vec<libp2p::Multiaddr>,
    validators: usize,
    hosts: Vec<Option<Host>>,
    links: Option<Links>,
    clock: ManualClock,
}

impl Testnet {
    /// `validators` validators and `followers` followers, none started.
    pub fn new(validators: usize, followers: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let homes = home::testnet(dir.path(), validators, followers, Some(CHAIN), T0).unwrap();
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
            validators,
            hosts,
            links: None,
            clock: ManualClock::new(T0 + 10),
        }
    }

    /// A network whose validators reach each other only through
    /// [`Links`] the test can cut.
    pub async fn with_links(validators: usize) -> Self {
        let mut net = Testnet::new(validators, 0);
        net.links = Some(Links::new(&net.addresses).await);
        net
    }

    /// The links between validators, for a network made
    /// [`Testnet::with_links`].
    pub fn links(&self) -> &Links {
        self.links.as_ref().unwrap()
    }

    /// Starts host `index` (from 0) from its home.
    pub fn start(&mut self, index: usize) {
        self.start_with(index, Faults::default());
    }

    /// Starts host `index` (from 0), misbehaving as `faults` says.
    pub fn start_with(&mut self, index: usize, faults: Faults) {
        let home = &self.homes[index];
        let settings = BftSettings {
            faults,
            ..BftSettings::for_home(
                home,
                ChainId::new(CHAIN).unwrap(),
                format!("host-{}", index + 1),
                self.addresses[index].clone(),
                (0..self.validators)
                    .filter(|other| *other != index)
                    .map(|other| match &self.links {
                        Some(links) => links.address(index, other),
                        None => self.addresses[other].clone(),
                    })
                    .collect(),
            )
            .unwrap()
        };
        let host =
            Host::start_with(home, Arc::new(self.clock.clone()), Box::new(Bft(settings))).unwrap();
        self.hosts[index] = Some(host);
    }

    /// Stops host `index`.
    pub async fn stop(&mut self, index: usize) {
        self.hosts[index].take().unwrap().stop().await.unwrap();
    }

    /// Host `index`'s handle.
    pub fn handle(&self, index: usize) -> HostHandle {
        self.hosts[index].as_ref().unwrap().handle()
    }

    /// Host `index`'s home.
    pub fn home(&self, index: usize) -> &Home {
        &self.homes[index]
    }

    /// Validator `index`'s address.
    pub fn validator(&self, index: usize) -> ledger::Address {
        self.homes[index].load_host_key().unwrap().address()
    }

    /// A demo account's key.
    pub fn key(&self, name: &str) -> Keypair {
        self.homes[0].load_demo_key(name).unwrap()
    }

    /// `signer` does `op`, with its next nonce at host `index`.
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

    /// Submits `tx` at host `index` and waits until it is applied in a
    /// final block; that block's height.
    pub async fn final_at(&self, index: usize, tx: SignedTransaction) -> u64 {
        let handle = self.handle(index);
        let id = handle.submit(tx).await.unwrap().id();
        let (height, rejection) = handle
            .wait_final(id, Duration::from_secs(90))
            .await
            .expect("the transaction final in time");
        assert_eq!(rejection, None);
        height
    }

    /// Ada pays bo `amount` through host `index`; the height it is final
    /// at, once host `index` has every block the furthest running host has
    /// (so that the nonce it gives for ada is the latest).
    pub async fn pay(&self, index: usize, amount: u64) -> u64 {
        let running: Vec<usize> = (0..self.hosts.len())
            .filter(|other| self.hosts[*other].is_some())
            .collect();
        self.pay_caught_up(index, &running, amount).await
    }

    /// Ada pays bo `amount` through host `index`; the height it is final
    /// at, once host `index` has every block the furthest of `honest` has.
    pub async fn pay_caught_up(&self, index: usize, honest: &[usize], amount: u64) -> u64 {
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

    /// Waits until host `index` names `validator` among the next height's
    /// validators with `power` (0: not among them).
    pub async fn power_becomes(&self, index: usize, validator: &Keypair, power: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            let now = self
                .handle(index)
                .validators()
                .await
                .unwrap()
                .iter()
                .find(|v| v.address == validator.address())
                .map_or(0, |v| v.power);
            if now == power {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the power did not become {power} (it is {now})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until hosts `index` and 0 have committed `height`, then
    /// checks that host `index`'s blocks, and its state root after each,
    /// up to there are host 0's.
    pub async fn same_chain(&self, index: usize, height: u64) {
        let (one, other) = (self.handle(0), self.handle(index));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        for (host, handle) in [(index, &other), (0, &one)] {
            while handle.status().await.unwrap().height < height {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "host {} did not reach height {height}",
                    host + 1
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        for at in 1..=height {
            assert_eq!(
                other.block(at).await.unwrap(),
                one.block(at).await.unwrap(),
                "block {at} of host {}",
                index + 1
            );
            assert_eq!(
                other.state_root_at(at).await.unwrap(),
                one.state_root_at(at).await.unwrap(),
                "state root after block {at} at host {}",
                index + 1
            );
        }
    }

    /// Bo's balance at host `index`.
    pub async fn balance_of_bo(&self, index: usize) -> u64 {
        let bo = self.homes[0].load_demo_key("bo").unwrap();
        self.handle(index)
            .account(bo.address())
            .await
            .unwrap()
            .balance
    }

    /// Stops every host still running.
    pub async fn stop_all(mut self) {
        for index in 0..self.hosts.len() {
            if self.hosts[index].is_some() {
                self.stop(index).await;
            }
        }
    }
}

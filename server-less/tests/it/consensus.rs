//! The host with its blocks ordered by the malachite BFT engine, over real
//! sockets on 127.0.0.1 and a real ledger.

use std::sync::Arc;
use std::time::Duration;

use ledger::{ChainId, Operation, Transaction};
use server_less::Host;
use server_less::clock::ManualClock;
use server_less::consensus::{Bft, BftSettings, local_timeouts};
use server_less::home::{self, Home};
use server_less::node::{HostHandle, TxStatus};

use crate::common::T0;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A local network on loopback: validators first, then followers.
struct Testnet {
    _dir: tempfile::TempDir,
    homes: Vec<Home>,
    addresses: Vec<libp2p::Multiaddr>,
    validators: usize,
    hosts: Vec<Option<Host>>,
}

impl Testnet {
    fn new(validators: usize, followers: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let homes =
            home::testnet(dir.path(), validators, followers, Some("plaza-bft"), T0).unwrap();
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
        }
    }

    /// Starts host `index` (from 0) from its home.
    fn start(&mut self, index: usize) {
        let home = &self.homes[index];
        let settings = BftSettings {
            seed: home.load_host_key().unwrap().seed(),
            chain: ChainId::new("plaza-bft").unwrap(),
            moniker: format!("host-{}", index + 1),
            listen: self.addresses[index].clone(),
            peers: self.addresses[..self.validators]
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .map(|(_, address)| address.clone())
                .collect(),
            wal: home.root().join("wal").join("consensus.wal"),
            timeouts: local_timeouts(),
        };
        let host = Host::start_with(
            home,
            Arc::new(ManualClock::new(T0 + 10)),
            Box::new(Bft(settings)),
        )
        .unwrap();
        self.hosts[index] = Some(host);
    }

    async fn stop(&mut self, index: usize) {
        self.hosts[index].take().unwrap().stop().await.unwrap();
    }

    fn handle(&self, index: usize) -> HostHandle {
        self.hosts[index].as_ref().unwrap().handle()
    }

    /// Ada pays bo `amount` through host `index`; the height it is final
    /// at.
    async fn pay(&self, index: usize, amount: u64) -> u64 {
        let handle = self.handle(index);
        let ada = self.homes[0].load_demo_key("ada").unwrap();
        let bo = self.homes[0].load_demo_key("bo").unwrap();
        let nonce = handle.account(ada.address()).await.unwrap().nonce;
        let tx = Transaction {
            chain_id: ChainId::new("plaza-bft").unwrap(),
            signer: ada.address(),
            nonce,
            valid_until: T0 + 3_600,
            op: Operation::Pay {
                to: bo.address(),
                amount,
            },
        }
        .sign(&ada);
        let id = handle.submit(tx).await.unwrap().id();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            if let TxStatus::Final { height, rejection } = handle.tx_status(id).await.unwrap() {
                assert_eq!(rejection, None);
                return height;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the payment was not final in time"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until host `index` has committed `height`, then checks that
    /// its blocks up to there are host 0's.
    async fn same_chain(&self, index: usize, height: u64) {
        let (one, other) = (self.handle(0), self.handle(index));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        while other.status().await.unwrap().height < height {
            assert!(
                tokio::time::Instant::now() < deadline,
                "host {} did not reach height {height}",
                index + 1
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for at in 1..=height {
            assert_eq!(
                other.block(at).await.unwrap(),
                one.block(at).await.unwrap(),
                "block {at} of host {}",
                index + 1
            );
        }
    }

    async fn balance_of_bo(&self, index: usize) -> u64 {
        let bo = self.homes[0].load_demo_key("bo").unwrap();
        self.handle(index)
            .account(bo.address())
            .await
            .unwrap()
            .balance
    }

    async fn stop_all(mut self) {
        for index in 0..self.hosts.len() {
            if self.hosts[index].is_some() {
                self.stop(index).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_of_one_validator_finalises_blocks_through_consensus() {
    let mut net = Testnet::new(1, 0);
    net.start(0);
    let before = net.balance_of_bo(0).await;
    let height = net.pay(0, 25).await;
    assert!(height >= 1);
    assert_eq!(net.balance_of_bo(0).await, before + 25);
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_agree_on_every_block_and_a_payment_at_one_is_final_at_all() {
    let mut net = Testnet::new(4, 0);
    for index in 0..4 {
        net.start(index);
    }
    let before = net.balance_of_bo(0).await;
    // Submitted at one host only: it is final once that host proposes.
    let height = net.pay(0, 25).await;
    for index in 0..4 {
        net.same_chain(index, height).await;
        assert_eq!(net.balance_of_bo(index).await, before + 25);
    }
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_validators_go_on_without_the_fourth_which_catches_up_when_back() {
    let mut net = Testnet::new(4, 0);
    for index in 0..4 {
        net.start(index);
    }
    let first = net.pay(0, 10).await;
    net.same_chain(3, first).await;
    net.stop(3).await;
    // Three of four hold more than two thirds of the power.
    let second = net.pay(1, 20).await;
    assert!(second > first);
    net.start(3);
    net.same_chain(3, second).await;
    // Back in step, it finalises with the others again.
    let third = net.pay(0, 30).await;
    net.same_chain(3, third).await;
    let expected = net.balance_of_bo(0).await;
    assert_eq!(net.balance_of_bo(3).await, expected);
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_is_not_a_validator_joins_late_and_syncs_the_whole_chain() {
    let mut net = Testnet::new(4, 1);
    for index in 0..4 {
        net.start(index);
    }
    net.pay(0, 10).await;
    let height = net.pay(2, 20).await;
    net.start(4);
    net.same_chain(4, height).await;
    // It follows what comes next too.
    let later = net.pay(0, 5).await;
    net.same_chain(4, later).await;
    let expected = net.balance_of_bo(0).await;
    assert_eq!(net.balance_of_bo(4).await, expected);
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_four_finalise_nothing_and_all_four_agree_on_one_chain_when_back() {
    let mut net = Testnet::new(4, 0);
    for index in 0..4 {
        net.start(index);
    }
    let first = net.pay(0, 10).await;
    net.same_chain(1, first).await;
    // Half the power is not more than two thirds: with two validators
    // gone, the other two decide nothing.
    net.stop(2).await;
    net.stop(3).await;
    // A block already decided may still land; after that, nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stalled = net.handle(0).status().await.unwrap().height;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(net.handle(0).status().await.unwrap().height, stalled);
    assert_eq!(net.handle(1).status().await.unwrap().height, stalled);
    net.start(2);
    net.start(3);
    let later = net.pay(1, 20).await;
    assert!(later > stalled);
    for index in 0..4 {
        net.same_chain(index, later).await;
    }
    net.stop_all().await;
}

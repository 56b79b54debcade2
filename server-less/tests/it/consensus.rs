//! The host with its blocks ordered by the malachite BFT engine, over real
//! sockets on 127.0.0.1 and a real ledger.

use std::sync::Arc;
use std::time::Duration;

use ledger::{ChainId, Operation, Transaction};
use server_less::Host;
use server_less::clock::ManualClock;
use server_less::consensus::{Bft, BftSettings, local_timeouts};
use server_less::home::{self, Home};
use server_less::node::TxStatus;

use crate::common::T0;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_of_one_validator_finalises_blocks_through_consensus() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path().join("host"));
    home::init(&home, Some("plaza-bft"), T0).unwrap();
    let key = home.load_host_key().unwrap();
    let settings = BftSettings {
        seed: key.seed(),
        chain: ChainId::new("plaza-bft").unwrap(),
        moniker: "solo".into(),
        listen: format!("/ip4/127.0.0.1/tcp/{}", free_port())
            .parse()
            .unwrap(),
        peers: Vec::new(),
        wal: dir.path().join("wal").join("consensus.wal"),
        timeouts: local_timeouts(),
    };
    let host = Host::start_with(
        &home,
        Arc::new(ManualClock::new(T0 + 10)),
        Box::new(Bft(settings)),
    )
    .unwrap();
    let handle = host.handle();

    let ada = home.load_demo_key("ada").unwrap();
    let bo = home.load_demo_key("bo").unwrap();
    let nonce = handle.account(ada.address()).await.unwrap().nonce;
    let tx = Transaction {
        chain_id: ChainId::new("plaza-bft").unwrap(),
        signer: ada.address(),
        nonce,
        valid_until: T0 + 3_600,
        op: Operation::Pay {
            to: bo.address(),
            amount: 25,
        },
    }
    .sign(&ada);
    let before = handle.account(bo.address()).await.unwrap().balance;
    let id = handle.submit(tx).await.unwrap().id();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match handle.tx_status(id).await.unwrap() {
            TxStatus::Final {
                rejection: None, ..
            } => break,
            TxStatus::Final { rejection, .. } => panic!("refused: {rejection:?}"),
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payment was not final in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        handle.account(bo.address()).await.unwrap().balance,
        before + 25
    );
    assert!(handle.status().await.unwrap().height >= 1);
    host.stop().await.unwrap();
}

/// Starts a local network of `count` validators under `dir`.
fn validators(dir: &std::path::Path, count: usize) -> Vec<(Home, Host)> {
    let homes = home::testnet(dir, count, Some("plaza-bft"), T0).unwrap();
    let addresses: Vec<libp2p::Multiaddr> = (0..count)
        .map(|_| {
            format!("/ip4/127.0.0.1/tcp/{}", free_port())
                .parse()
                .unwrap()
        })
        .collect();
    homes
        .into_iter()
        .enumerate()
        .map(|(index, home)| {
            let settings = BftSettings {
                seed: home.load_host_key().unwrap().seed(),
                chain: ChainId::new("plaza-bft").unwrap(),
                moniker: format!("host-{}", index + 1),
                listen: addresses[index].clone(),
                peers: addresses
                    .iter()
                    .enumerate()
                    .filter(|(other, _)| *other != index)
                    .map(|(_, address)| address.clone())
                    .collect(),
                wal: home.root().join("wal").join("consensus.wal"),
                timeouts: local_timeouts(),
            };
            let host = Host::start_with(
                &home,
                Arc::new(ManualClock::new(T0 + 10)),
                Box::new(Bft(settings)),
            )
            .unwrap();
            (home, host)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_agree_on_every_block_and_a_payment_at_one_is_final_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let network = validators(dir.path(), 4);
    let (home, host) = &network[0];
    let handle = host.handle();
    let ada = home.load_demo_key("ada").unwrap();
    let bo = home.load_demo_key("bo").unwrap();
    let nonce = handle.account(ada.address()).await.unwrap().nonce;
    let before = handle.account(bo.address()).await.unwrap().balance;
    let tx = Transaction {
        chain_id: ChainId::new("plaza-bft").unwrap(),
        signer: ada.address(),
        nonce,
        valid_until: T0 + 3_600,
        op: Operation::Pay {
            to: bo.address(),
            amount: 25,
        },
    }
    .sign(&ada);
    // Submitted at one host only: it is final once that host proposes.
    let id = handle.submit(tx).await.unwrap().id();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let final_at = loop {
        if let TxStatus::Final { height, rejection } = handle.tx_status(id).await.unwrap() {
            assert_eq!(rejection, None);
            break height;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payment was not final in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Every validator reaches that height with the same blocks and the
    // same state.
    for (_, other) in &network {
        let other = other.handle();
        while other.status().await.unwrap().height < final_at {
            assert!(
                tokio::time::Instant::now() < deadline,
                "a validator fell behind"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for height in 1..=final_at {
            assert_eq!(
                other.block(height).await.unwrap(),
                handle.block(height).await.unwrap(),
                "block {height}"
            );
        }
        assert_eq!(
            other.account(bo.address()).await.unwrap().balance,
            before + 25
        );
    }
    for (_, host) in network {
        host.stop().await.unwrap();
    }
}

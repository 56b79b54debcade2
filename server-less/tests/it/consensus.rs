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

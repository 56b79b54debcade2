//! The peer network over real sockets on 127.0.0.1: hosts find one another
//! through one bootstrap host, gossip transactions (and reject forged
//! ones, lowering their sender's score), and fetch files piece by piece
//! from a provider, dropping a peer that sends a bad piece.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use assets::pieces::{PIECE_LEN, piece_len};
use assets::{BlobInfo, BlobStatus, BlobStore, Codec, StoreLimits};
use futures::StreamExt;
use ledger::{ChainId, Operation, SignedTransaction, Transaction, testkit};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId};
use server_less::peers::{
    self, FileCodec, FileRequest, FileResponse, GossipedTx, PeerConfig, PeerHandle, Verdict,
};
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio::time::Instant;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A host of the test network with the identity `seed`, joined through
/// `bootstrap`.
async fn host(
    seed: u8,
    bootstrap: &[&PeerHandle],
    store: Option<Arc<BlobStore>>,
) -> (PeerHandle, mpsc::Receiver<GossipedTx>) {
    let mut config = PeerConfig::on(LOCAL, 0);
    config.bootstrap = bootstrap.iter().flat_map(|host| host.addresses()).collect();
    peers::start(
        peers::identity([seed; 32]).unwrap(),
        &testkit::chain_id(),
        config,
        store,
    )
    .await
    .unwrap()
}

fn store() -> (TempDir, Arc<BlobStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path(), StoreLimits::default()).unwrap();
    (dir, Arc::new(store))
}

async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Gives every gossiped transaction the verdict `judge` gives it, and
/// reports what came and from whom.
fn judge(
    mut inbound: mpsc::Receiver<GossipedTx>,
    judge: fn(&SignedTransaction) -> Verdict,
) -> mpsc::UnboundedReceiver<(SignedTransaction, PeerId)> {
    let (seen, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(gossiped) = inbound.recv().await {
            let (tx, from) = (gossiped.tx.clone(), gossiped.from);
            gossiped.judge(judge(&tx));
            let _ = seen.send((tx, from));
        }
    });
    seen_rx
}

fn payment(nonce: u64) -> SignedTransaction {
    testkit::signed(
        &testkit::keypair(1, 0),
        nonce,
        u64::MAX,
        Operation::Pay {
            to: testkit::keypair(1, 1).address(),
            amount: 5,
        },
    )
}

/// Publishes `tx` from `host` once some peer listens for transactions.
async fn gossip(host: &PeerHandle, tx: &SignedTransaction) {
    until("a peer to gossip to", || async {
        host.publish(tx).await.unwrap()
    })
    .await;
}

async fn next_seen(
    seen: &mut mpsc::UnboundedReceiver<(SignedTransaction, PeerId)>,
) -> (SignedTransaction, PeerId) {
    tokio::time::timeout(Duration::from_secs(30), seen.recv())
        .await
        .expect("a gossiped transaction in time")
        .expect("the host still running")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_find_each_other_through_one_bootstrap_host_and_spread_transactions() {
    let (a, a_in) = host(1, &[], None).await;
    let (b, b_in) = host(2, &[&a], None).await;
    let (c, c_in) = host(3, &[&a], None).await;
    let mut a_seen = judge(a_in, |_| Verdict::Accept);
    let _b_seen = judge(b_in, |_| Verdict::Accept);
    let mut c_seen = judge(c_in, |_| Verdict::Accept);

    // B and C only knew A; through A's routing table they learn of each
    // other.
    until("C to learn of B", || async {
        c.status().await.unwrap().known.contains(&b.id())
    })
    .await;
    until("B to learn of C", || async {
        b.status().await.unwrap().known.contains(&c.id())
    })
    .await;
    // Each names itself as Plaza's host, with its version.
    let agents = a.status().await.unwrap().agents;
    let b_agent = agents.iter().find(|(peer, _)| *peer == b.id());
    assert_eq!(
        b_agent.map(|(_, agent)| agent.as_str()),
        Some(concat!("plaza-host/", env!("CARGO_PKG_VERSION"))),
        "{agents:?}"
    );

    // A transaction B gossips reaches A and C, once each.
    let tx = payment(0);
    gossip(&b, &tx).await;
    assert_eq!(next_seen(&mut a_seen).await.0, tx);
    assert_eq!(next_seen(&mut c_seen).await.0, tx);
    // The same transaction gossiped again by another host is the same
    // message: nobody is handed it twice.
    assert!(c.publish(&tx).await.unwrap());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(a_seen.try_recv().is_err());
    assert!(c_seen.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_transactions_are_rejected_and_their_sender_penalised_while_ignored_ones_cost_nothing()
 {
    let (honest, honest_in) = host(11, &[], None).await;
    // The honest host takes the first payment and ignores the second (as
    // a mempool does with a nonce it has not reached).
    let mut seen = judge(honest_in, |tx| {
        if tx.tx.nonce == 0 {
            Verdict::Accept
        } else {
            Verdict::Ignore
        }
    });
    let (sender, _sender_in) = host(12, &[&honest], None).await;
    let (liar, _liar_in) = host(13, &[&honest], None).await;

    gossip(&sender, &payment(0)).await;
    gossip(&sender, &payment(1)).await;
    let mut from_sender = Vec::new();
    for _ in 0..2 {
        let (tx, from) = next_seen(&mut seen).await;
        assert_eq!(from, sender.id());
        from_sender.push(tx.tx.nonce);
    }
    from_sender.sort_unstable();
    assert_eq!(from_sender, [0, 1]);

    // A payment with a broken signature, and one signed for another
    // network.
    let mut forged = payment(2);
    forged.signature.0[5] ^= 0x40;
    let other_network = Transaction {
        chain_id: ChainId::new("plaza-elsewhere").unwrap(),
        signer: testkit::keypair(1, 0).address(),
        nonce: 3,
        valid_until: u64::MAX,
        op: Operation::Pay {
            to: testkit::keypair(1, 1).address(),
            amount: 5,
        },
    }
    .sign(&testkit::keypair(1, 0));
    gossip(&liar, &forged).await;
    gossip(&liar, &other_network).await;

    until("the liar's score to fall below zero", || async {
        honest
            .score(liar.id())
            .await
            .unwrap()
            .is_some_and(|score| score < 0.0)
    })
    .await;
    // Neither forgery reached the host's mempool, and the sender of the
    // ignored transaction lost nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        seen.try_recv().is_err(),
        "a forged transaction was handed on"
    );
    let score = honest.score(sender.id()).await.unwrap().unwrap();
    assert!(score >= 0.0, "the honest sender's score is {score}");
}

/// A blob of three pieces, the last one short.
fn model() -> Vec<u8> {
    (0..2 * PIECE_LEN + 12_345)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 9)) as u8)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_is_fetched_piece_by_piece_from_its_provider() {
    let bytes = model();
    let (_provider_dir, provider_store) = store();
    let blob = provider_store.put(Codec::Raw, &bytes).unwrap();
    let (provider, _) = host(21, &[], Some(provider_store)).await;
    provider.provide(blob).await.unwrap();

    let (_dir, fetcher_store) = store();
    let (fetcher, _) = host(22, &[&provider], Some(Arc::clone(&fetcher_store))).await;
    until("the fetcher to know the provider", || async {
        fetcher
            .status()
            .await
            .unwrap()
            .known
            .contains(&provider.id())
    })
    .await;
    assert_eq!(fetcher.providers(blob).await.unwrap(), [provider.id()]);
    fetcher.fetch(blob).await.unwrap();
    assert_eq!(fetcher_store.status(&blob).unwrap(), BlobStatus::Complete);
    assert_eq!(fetcher_store.get(&blob).unwrap(), bytes);

    // A blob nobody has is refused with what happened.
    let unknown = assets::ContentId::of(Codec::Raw, b"nobody has this");
    let err = fetcher.fetch(unknown).await.unwrap_err().to_string();
    assert!(err.contains("no peer provides"), "{err}");
}

/// A peer that answers the file protocol with the true piece list and
/// false pieces.
async fn liar_serving(info: BlobInfo) -> (PeerId, Multiaddr) {
    let protocol = peers::file_protocol(&testkit::chain_id()).unwrap();
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| {
            request_response::Behaviour::<FileCodec>::with_codec(
                FileCodec,
                [(protocol, ProtocolSupport::Full)],
                request_response::Config::default(),
            )
        })
        .unwrap()
        .build();
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .unwrap();
    let address = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            break address;
        }
    };
    let id = *swarm.local_peer_id();
    tokio::spawn(async move {
        loop {
            if let SwarmEvent::Behaviour(request_response::Event::Message {
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            }) = swarm.select_next_some().await
            {
                let response = match request {
                    FileRequest::Info(_) => FileResponse::Info(info.clone()),
                    FileRequest::Piece { index, .. } => {
                        FileResponse::Piece(vec![0xab; piece_len(info.size, index) as usize])
                    }
                };
                let _ = swarm.behaviour_mut().send_response(channel, response);
            }
        }
    });
    (id, address.with(libp2p::multiaddr::Protocol::P2p(id)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_a_bad_piece_is_dropped_and_the_blob_comes_from_another() {
    let bytes = model();
    let (_provider_dir, provider_store) = store();
    let blob = provider_store.put(Codec::Raw, &bytes).unwrap();
    let (provider, _) = host(31, &[], Some(provider_store)).await;
    let (liar, liar_address) = liar_serving(BlobInfo::of(Codec::Raw, &bytes)).await;

    let (_dir, fetcher_store) = store();
    let (fetcher, _) = host(32, &[&provider], Some(Arc::clone(&fetcher_store))).await;
    fetcher.dial(liar_address).await.unwrap();
    until("the fetcher to reach both", || async {
        let connected = fetcher.status().await.unwrap().connected;
        connected.contains(&liar) && connected.contains(&provider.id())
    })
    .await;

    fetcher
        .fetch_from(blob, &[liar, provider.id()])
        .await
        .unwrap();
    assert_eq!(fetcher_store.get(&blob).unwrap(), bytes);
    let status = fetcher.status().await.unwrap();
    assert_eq!(status.banned, [liar]);
    until("the liar to be disconnected", || async {
        !fetcher.status().await.unwrap().connected.contains(&liar)
    })
    .await;

    // Asked alone, the liar's false piece is the answer's reason.
    let (_other_dir, other_store) = store();
    let (other, _) = host(33, &[], Some(other_store)).await;
    let (liar, liar_address) = liar_serving(BlobInfo::of(Codec::Raw, &bytes)).await;
    other.dial(liar_address).await.unwrap();
    until("the other fetcher to reach the liar", || async {
        other.status().await.unwrap().connected.contains(&liar)
    })
    .await;
    let err = other
        .fetch_from(blob, &[liar])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("sent a bad piece"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_keeps_sending_stale_transactions_loses_score_and_a_few_cost_nothing() {
    let (honest, honest_in) = host(31, &[], None).await;
    // Everything gossiped is waiting already, or spent: of no use.
    let _seen = judge(honest_in, |_| Verdict::Stale);
    let (spammer, _spammer_in) = host(32, &[&honest], None).await;
    let (polite, _polite_in) = host(33, &[&honest], None).await;
    for nonce in 0..5 {
        gossip(&polite, &payment(10_000 + nonce)).await;
    }
    // Far more than the free allowance (200 at once, 20 a second more):
    // a hundred at a time until the spammer's score falls below zero (a
    // loaded machine's gossip may drop some of what is published at once).
    gossip(&spammer, &payment(0)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut nonce = 1;
    while !honest
        .score(spammer.id())
        .await
        .unwrap()
        .is_some_and(|score| score < 0.0)
    {
        assert!(
            Instant::now() < deadline,
            "the spammer's score never fell below zero ({nonce} sent)"
        );
        let batch: Vec<SignedTransaction> = (nonce..nonce + 100).map(payment).collect();
        nonce += 100;
        let sent = futures::future::join_all(batch.iter().map(|tx| spammer.publish(tx))).await;
        assert!(sent.iter().all(Result::is_ok));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let score = honest.score(polite.id()).await.unwrap().unwrap();
    assert!(score >= 0.0, "a peer that sent five stale ones has {score}");
}

/// A node that says who it is but speaks no Kademlia.
#[derive(libp2p::swarm::NetworkBehaviour)]
struct Stranger {
    identify: libp2p::identify::Behaviour,
    ping: libp2p::ping::Behaviour,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_speak_this_networks_kademlia_stays_out_of_the_routing_table() {
    let (honest, _honest_in) = host(41, &[], None).await;
    let mut stranger = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|key| Stranger {
            identify: libp2p::identify::Behaviour::new(
                libp2p::identify::Config::new("/plaza/plaza-test/1".into(), key.public())
                    // Addresses it would plant, were it believed.
                    .with_push_listen_addr_updates(true),
            ),
            ping: libp2p::ping::Behaviour::default(),
        })
        .unwrap()
        .build();
    let stranger_id = *stranger.local_peer_id();
    stranger.dial(honest.addresses()[0].clone()).unwrap();
    let driving = tokio::spawn(async move {
        loop {
            let _ = stranger.select_next_some().await;
        }
    });
    // A host that does speak it is taken in; the stranger, connected all
    // the while, is not.
    let (real, _real_in) = host(42, &[&honest], None).await;
    until("the real host to enter the routing table", || async {
        honest.status().await.unwrap().known.contains(&real.id())
    })
    .await;
    until("the stranger to be connected", || async {
        honest
            .status()
            .await
            .unwrap()
            .connected
            .contains(&stranger_id)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !honest.status().await.unwrap().known.contains(&stranger_id),
        "a peer without this network's Kademlia entered the routing table"
    );
    driving.abort();
}

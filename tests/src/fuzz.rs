//! Fuzzing on stable Rust: every decoder a player or a peer can reach,
//! fed well-formed inputs mutated with the structure of the wire in mind
//! (lengths and counts set to their edges, pieces spliced from other
//! messages, cut short, grown) and plain random bytes.
//!
//! A target is a decoder and the inputs to start from. [`run`] drives the
//! targets in turn from a seed, catches any panic (a finding), and keeps
//! the inputs that decode, so that later mutations start deeper; the
//! process's memory is watched so that no input can make a decoder hold
//! more than the bytes it came with justify.

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng as SmallRng;

/// Inputs kept per target to mutate from.
const CORPUS: usize = 512;
/// The largest input tried.
const MAX_INPUT: usize = 96 * 1024;

/// Feeds a decoder one input; whether it was accepted.
pub type Feed = Box<dyn FnMut(&[u8]) -> bool>;

/// One decoder under test.
pub struct Target {
    /// Its name.
    pub name: &'static str,
    /// Inputs to start from.
    pub seeds: Vec<Vec<u8>>,
    /// Feeds it one input; whether the input was accepted.
    pub feed: Feed,
}

/// What one target went through.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The target.
    pub name: &'static str,
    /// Inputs tried.
    pub inputs: u64,
    /// Inputs the decoder accepted.
    pub accepted: u64,
    /// Inputs that panicked, each with where and why.
    pub panics: Vec<(Vec<u8>, String)>,
}

fn interesting(rng: &mut SmallRng) -> u64 {
    const EDGES: [u64; 12] = [
        0,
        1,
        2,
        0x7f,
        0x80,
        0xff,
        0x7fff,
        0xffff,
        0x7fff_ffff,
        0xffff_ffff,
        u64::MAX / 2,
        u64::MAX,
    ];
    EDGES[rng.gen_range(0..EDGES.len())]
}

/// A mutation of `base`, with `other` to splice from.
pub fn mutate(rng: &mut SmallRng, base: &[u8], other: &[u8]) -> Vec<u8> {
    if rng.gen_ratio(1, 20) {
        let len = rng.gen_range(0..512);
        return (0..len).map(|_| rng.r#gen()).collect();
    }
    let mut out = base.to_vec();
    for _ in 0..rng.gen_range(1..=6) {
        let len = out.len();
        match rng.gen_range(0..10) {
            0 if len > 0 => {
                let at = rng.gen_range(0..len);
                out[at] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let at = rng.gen_range(0..len);
                out[at] = rng.r#gen();
            }
            2 if len > 0 => {
                // A length, count or index at its edges, in any width and
                // byte order.
                let width = [1usize, 2, 4, 8][rng.gen_range(0..4)];
                let at = rng.gen_range(0..len);
                let value = interesting(rng);
                let bytes = if rng.gen_bool(0.5) {
                    value.to_le_bytes()
                } else {
                    value.to_be_bytes()
                };
                for (offset, byte) in bytes.iter().take(width).enumerate() {
                    if let Some(slot) = out.get_mut(at + offset) {
                        *slot = *byte;
                    }
                }
            }
            3 => {
                let at = rng.gen_range(0..=len);
                let count = rng.gen_range(1..64);
                let fill: u8 = rng.r#gen();
                out.splice(at..at, std::iter::repeat_n(fill, count));
            }
            4 if len > 0 => {
                let start = rng.gen_range(0..len);
                let end = rng.gen_range(start..=len.min(start + 64));
                out.drain(start..end);
            }
            5 if len > 0 => out.truncate(rng.gen_range(0..len)),
            6 if len > 0 => {
                let start = rng.gen_range(0..len);
                let end = rng.gen_range(start..=len);
                let copy = out[start..end].to_vec();
                let at = rng.gen_range(0..=out.len());
                out.splice(at..at, copy);
            }
            7 if !other.is_empty() => {
                let start = rng.gen_range(0..other.len());
                let end = rng.gen_range(start..=other.len());
                let at = rng.gen_range(0..=len);
                out.splice(at..at, other[start..end].iter().copied());
            }
            8 => out.push(rng.r#gen()),
            _ if len > 0 => {
                let at = rng.gen_range(0..len);
                out[at] = [0x00, 0xff, 0x7f, 0x80][rng.gen_range(0..4)];
            }
            _ => out.push(0),
        }
    }
    out.truncate(MAX_INPUT);
    out
}

/// Runs `targets` in turn, `inputs` inputs each (or until `deadline`),
/// from `seed`. `memory` is asked for the process's resident bytes; a
/// target that pushes it past `memory_limit` is a finding too.
pub fn run(
    targets: &mut [Target],
    inputs: u64,
    seed: u64,
    deadline: Option<Instant>,
    memory_limit: u64,
) -> Vec<Outcome> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut outcomes = Vec::new();
    // A panic is a finding, reported with its input; the default hook's
    // message for each would flood the output.
    let hook = std::panic::take_hook();
    let last = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = last.clone();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut last) = seen.lock() {
            *last = info.to_string();
        }
    }));
    for target in targets.iter_mut() {
        let mut outcome = Outcome {
            name: target.name,
            ..Outcome::default()
        };
        let mut corpus = target.seeds.clone();
        if corpus.is_empty() {
            corpus.push(Vec::new());
        }
        for index in 0..inputs {
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                break;
            }
            let base = &corpus[rng.gen_range(0..corpus.len())];
            let other = &corpus[rng.gen_range(0..corpus.len())];
            let input = if index < target.seeds.len() as u64 {
                base.clone()
            } else {
                mutate(&mut rng, base, other)
            };
            outcome.inputs += 1;
            match catch_unwind(AssertUnwindSafe(|| (target.feed)(&input))) {
                Ok(true) => {
                    outcome.accepted += 1;
                    if corpus.len() < CORPUS {
                        corpus.push(input);
                    } else {
                        let at = rng.gen_range(0..corpus.len());
                        corpus[at] = input;
                    }
                }
                Ok(false) => {}
                Err(_) => {
                    if outcome.panics.len() < 8 {
                        let why = last.lock().map(|last| last.clone()).unwrap_or_default();
                        outcome.panics.push((input, why));
                    }
                }
            }
            if index % 4_096 == 0 && crate::resident_bytes() > memory_limit {
                outcome
                    .panics
                    .push((Vec::new(), "the process grew past its memory limit".into()));
                break;
            }
        }
        outcomes.push(outcome);
    }
    std::panic::set_hook(hook);
    outcomes
}

/// A parcel's arrangement of two things, signed by `key`.
fn arrangement(key: &ledger::Keypair) -> plaza_client::land::Arrangement {
    let id = |tag: &[u8]| ledger::AssetId(assets::ContentId::of(assets::Codec::Json, tag));
    plaza_client::land::Arrangement::sign(
        key,
        &ledger::testkit::chain_id(),
        (id(b"a pier"), plaza_client::land::Tenure::Owner(1)),
        1_800_000_000_000,
        vec![
            plaza_client::land::PlacedItem::new(id(b"a lamp"), [1.0, 2.0], 3),
            plaza_client::land::PlacedItem::new(id(b"a chair"), [-4.5, 6.0], 200),
        ],
    )
}

/// A seed's bytes. These values are small and always encode; one that
/// did not would seed the run with an empty input, which is still one a
/// decoder must refuse without panicking.
fn seed<T: borsh::BorshSerialize>(value: &T) -> Vec<u8> {
    plaza_client::protocol::encode(value).unwrap_or_default()
}

/// Every decoder a player or a peer can reach, with seeds.
pub fn targets() -> Vec<Target> {
    use ledger::{Operation, SignedTransaction};
    use plaza_client::join::{JoinReply, JoinRequest};
    use plaza_client::protocol::{
        self, AvatarState, Avatars, Browse, ClientMessage, Gait, Move, ServerMessage, Upload,
    };

    let key = ledger::testkit::keypair(40, 1);
    let tx = |op: Operation| ledger::testkit::signed(&key, 3, 1_000, op);
    let (_, mint) = ledger::testkit::mint_op(&key.address(), 40, 1, 250);
    let txs: Vec<SignedTransaction> = vec![
        tx(Operation::Pay {
            to: key.address(),
            amount: 5,
        }),
        tx(mint.clone()),
        tx(Operation::Rent {
            listing: ledger::ListingId(4),
            periods: 2,
        }),
    ];
    let manifest = ledger::testkit::manifest(&key.address(), 40, 2).0;
    let block = ledger::Block::new(
        ledger::testkit::chain_id(),
        7,
        1_000,
        key.address(),
        ledger::BlockHash([1; 32]),
        ledger::Commitments::default(),
        txs.clone(),
    );
    let client_messages = vec![
        seed(&ClientMessage::Hello {
            version: protocol::VERSION,
            world: "Plaza Square".into(),
        }),
        seed(&ClientMessage::Chat {
            text: "hello".into(),
        }),
        seed(&ClientMessage::Browse {
            request: 1,
            query: Browse {
                text: "lamp".into(),
                kind: Some("lighting".into()),
                page_size: 10,
                ..Browse::default()
            },
        }),
        seed(&ClientMessage::Submit {
            request: 2,
            tx: txs[0].clone(),
        }),
        seed(&ClientMessage::Fetch {
            request: 3,
            id: assets::ContentId::of(assets::Codec::Raw, b"x").to_bytes(),
        }),
        seed(&ClientMessage::Block {
            request: 5,
            account: key.address(),
            blocked: true,
        }),
        seed(&ClientMessage::Pass {
            pass: plaza_client::join::Pass::sign(
                &key,
                &ledger::testkit::chain_id(),
                &key.address(),
                1_800_000_000_000,
            ),
        }),
        seed(&ClientMessage::Wear {
            request: 4,
            slot: protocol::Slot::Head,
            asset: Some(ledger::AssetId(assets::ContentId::of(
                assets::Codec::Json,
                b"a hat",
            ))),
        }),
        seed(&ClientMessage::Arrange {
            request: 5,
            arrangement: arrangement(&key),
        }),
    ];
    let upload = vec![
        seed(&Upload::Begin {
            request: 1,
            id: assets::ContentId::of(assets::Codec::Raw, b"x").to_bytes(),
            size: 100,
        }),
        seed(&Upload::Bytes {
            request: 1,
            offset: 0,
            bytes: vec![7; 64],
        }),
    ];
    let avatar = AvatarState::new([1.0, 0.0, -2.0], 0.5, Gait::Walk);
    let joins = vec![
        seed(&JoinRequest::Hello {
            version: plaza_client::join::JOIN_VERSION,
            account: key.address(),
            world: Some("Plaza Square".into()),
            key_share: [5; 32],
        }),
        seed(&JoinRequest::Prove {
            signature: key.sign(b"x"),
            pass: plaza_client::join::Pass {
                since: 1_800_000_000_000,
                signature: key.sign(b"y"),
            },
        }),
        seed(&JoinRequest::Network {
            version: plaza_client::network::NETWORK_VERSION,
        }),
        seed(&JoinRequest::GenesisPart { part: 3 }),
        seed(&JoinRequest::SnapshotPart {
            height: 10,
            item: 0,
            part: 1,
        }),
    ];
    let replies = vec![
        seed(&JoinReply::Challenge {
            chain_id: "plaza-test".into(),
            host: key.address(),
            world: "Plaza Square".into(),
            challenge: [1; 32],
            key_share: [2; 32],
            signature: key.sign(b"y"),
        }),
        seed(&JoinReply::Token {
            client_id: 9,
            sealed: vec![3; 1_100],
        }),
        seed(&JoinReply::Network(plaza_client::network::NetworkInfo {
            chain_id: "plaza-test".into(),
            genesis: [4; 32],
            genesis_bytes: 57_000,
            height: 12,
            block_time: 1_800_000_000,
            host: key.address(),
            peers: vec![
                "/ip4/192.0.2.7/tcp/7482/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
                    .into(),
            ],
            consensus: vec!["/ip4/192.0.2.7/tcp/7483".into()],
            validators: vec![(key.address(), 100_000)],
            snapshot: Some(plaza_client::network::SnapshotOffer {
                height: 10,
                head_bytes: 3_000,
            }),
        })),
        seed(&JoinReply::GenesisPart {
            part: 0,
            bytes: vec![6; 2_000],
        }),
        seed(&JoinReply::SnapshotPart {
            height: 10,
            item: 1,
            part: 2,
            bytes: vec![7; 2_000],
        }),
    ];
    let glb = assets::pack::sample_models()
        .into_iter()
        .min_by_key(|model| model.glb.len())
        .map(|model| model.glb)
        .unwrap_or_default();
    let wallet = format!(
        r#"{{"format":"plaza-wallet-1","address":"{}","kdf":{{"algorithm":"argon2id","memory_kib":65536,"passes":3,"lanes":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA"}},"cipher":"xchacha20poly1305","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","sealed":"AAAA"}}"#,
        key.address()
    )
    .into_bytes();
    let verifier = ledger::Verifier::new(ledger::testkit::chain_id());
    let chain = ledger::testkit::chain_id();
    let presence = {
        use server_less::presence::{Presence, Present, Said, SignedPresence};
        let host = ledger::testkit::keypair(41, 1);
        let since = 1_800_000_000_000;
        SignedPresence::sign(
            Presence {
                chain_id: chain.as_str().to_owned(),
                host: host.address(),
                join: Some("127.0.0.1:7480".into()),
                world: "Plaza Square".into(),
                count: 2,
                seq: 9,
                sent_at: since,
                players: vec![Present {
                    id: 1,
                    account: key.address(),
                    pass: Some(plaza_client::join::Pass::sign(
                        &key,
                        &chain,
                        &host.address(),
                        since,
                    )),
                    state: avatar,
                    worn: Vec::new(),
                }],
                left: vec![2],
                said: vec![Said {
                    id: 1,
                    text: "hello".into(),
                }],
                arranged: vec![arrangement(&key)],
            },
            &host,
        )
    };
    let call =
        |call: &server_less::calls::HostCall| server_less::calls::encode(call).unwrap_or_default();
    let calls = vec![
        call(&server_less::calls::HostCall::Tell {
            world: "Plaza Square".into(),
            player: 3,
            from: key.address(),
            text: "psst".into(),
        }),
        call(&server_less::calls::HostCall::TradeAct {
            trade: 4,
            action: market::trade::Action::Accept,
        }),
    ];
    let answers = [
        server_less::calls::CallAnswer::Done,
        server_less::calls::CallAnswer::refused(protocol::ErrorCode::Busy, "busy"),
    ]
    .iter()
    .map(|answer| server_less::calls::encode(answer).unwrap_or_default())
    .collect();
    let limits = assets::ImportLimits::default();
    let path = Path::new("fuzzed-wallet.json");

    vec![
        Target {
            name: "client message",
            seeds: client_messages,
            feed: Box::new(|bytes| ClientMessage::decode(bytes).is_ok()),
        },
        Target {
            name: "upload",
            seeds: upload,
            feed: Box::new(|bytes| Upload::decode(bytes).is_ok()),
        },
        Target {
            name: "avatar move",
            seeds: vec![seed(&Move {
                seq: 4,
                state: avatar,
            })],
            feed: Box::new(|bytes| Move::decode(bytes).is_ok()),
        },
        Target {
            name: "server message",
            seeds: vec![
                seed(&ServerMessage::Chunk {
                    request: 1,
                    offset: 0,
                    size: 10,
                    bytes: vec![1; 10],
                }),
                seed(&ServerMessage::Error {
                    request: Some(2),
                    code: protocol::ErrorCode::Busy,
                    message: "busy".into(),
                }),
                seed(&ServerMessage::Appearance {
                    request: None,
                    player: 3,
                    worn: vec![(
                        protocol::Slot::Back,
                        ledger::AssetId(assets::ContentId::of(assets::Codec::Json, b"wings")),
                    )],
                }),
                seed(&ServerMessage::Parcel {
                    parcel: 2,
                    deed: Some(arrangement(&key).deed),
                    holder: Some(key.address()),
                    tenure: Some(plaza_client::land::Tenure::Renter(ledger::RentalId(7))),
                }),
                seed(&ServerMessage::Arranged {
                    request: Some(4),
                    parcel: 1,
                    placed: arrangement(&key).items,
                }),
            ],
            feed: Box::new(|bytes| ServerMessage::decode(bytes).is_ok()),
        },
        Target {
            name: "avatars",
            seeds: vec![seed(&Avatars {
                tick: 3,
                avatars: vec![(1, avatar), (2, avatar)],
            })],
            feed: Box::new(|bytes| Avatars::decode(bytes).is_ok()),
        },
        Target {
            name: "join request",
            seeds: joins,
            feed: Box::new(|bytes| {
                protocol::decode::<JoinRequest>(bytes, protocol::MAX_JOIN_FRAME_BYTES).is_ok()
            }),
        },
        Target {
            name: "join reply",
            seeds: replies,
            feed: Box::new(|bytes| {
                // A joining host reads the network's replies up to their
                // own bound.
                protocol::decode::<JoinReply>(bytes, plaza_client::network::MAX_NETWORK_FRAME_BYTES)
                    .is_ok_and(|reply| match reply {
                        JoinReply::Network(info) => info.check().is_ok(),
                        _ => true,
                    })
            }),
        },
        Target {
            name: "connect token",
            seeds: vec![connect_token()],
            feed: Box::new(|bytes| renet_netcode::ConnectToken::read(&mut &bytes[..]).is_ok()),
        },
        Target {
            name: "transaction (gossip)",
            seeds: txs.iter().map(SignedTransaction::to_bytes).collect(),
            feed: Box::new(move |bytes| match SignedTransaction::from_bytes(bytes) {
                Ok(tx) => {
                    let _ = verifier.verify_transaction(&tx);
                    true
                }
                Err(_) => false,
            }),
        },
        Target {
            name: "presence (gossip)",
            seeds: vec![presence.to_bytes()],
            feed: Box::new(move |bytes| {
                server_less::presence::SignedPresence::verified(bytes, &chain).is_ok()
            }),
        },
        Target {
            name: "call between hosts",
            seeds: calls,
            feed: Box::new(|bytes| {
                server_less::calls::decode::<server_less::calls::HostCall>(bytes).is_ok()
            }),
        },
        Target {
            name: "call answer",
            seeds: answers,
            feed: Box::new(|bytes| {
                server_less::calls::decode::<server_less::calls::CallAnswer>(bytes).is_ok()
            }),
        },
        Target {
            name: "block",
            seeds: vec![block.to_bytes()],
            feed: Box::new(|bytes| ledger::Block::from_bytes(bytes).is_ok()),
        },
        Target {
            name: "consensus message",
            seeds: server_less::consensus::sample_messages(),
            feed: Box::new(|bytes| server_less::consensus::decode_each(bytes) > 0),
        },
        Target {
            name: "manifest",
            seeds: vec![manifest],
            feed: Box::new(|bytes| assets::Manifest::from_json(bytes).is_ok()),
        },
        Target {
            name: "glb import",
            seeds: vec![glb],
            feed: Box::new(move |bytes| assets::check_model(bytes, &limits).is_ok()),
        },
        Target {
            name: "wallet file",
            seeds: vec![wallet],
            feed: Box::new(move |bytes| {
                std::str::from_utf8(bytes)
                    .is_ok_and(|text| plaza_client::wallet::Wallet::parse(path, text).is_ok())
            }),
        },
        renet_target(),
    ]
}

/// A connect token as a host writes one.
fn connect_token() -> Vec<u8> {
    let addr: SocketAddr = "127.0.0.1:7481"
        .parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 1)));
    let token = renet_netcode::ConnectToken::generate(
        Duration::from_secs(1_000),
        7,
        30,
        9,
        5,
        vec![addr],
        None,
        &[3; 32],
    );
    let mut bytes = Vec::new();
    if let Ok(token) = token {
        let _ = token.write(&mut bytes);
    }
    bytes
}

/// Renet packets into a host's renet server, from a connected client:
/// every channel read after each packet, the server made again now and
/// then so that state does not pile up across inputs.
fn renet_target() -> Target {
    use server_less::hostile::wire::{slice, small_reliable};
    let config = || plaza_client::protocol::connection_config(plaza_client::protocol::End::Host);
    let mut server = renet::RenetServer::new(config());
    server.add_connection(1);
    let mut fed = 0u64;
    let seeds = vec![
        slice(true, 0, 0, 0, 0, 2, &[1; 1200]),
        slice(false, 1, 1, 0, 1, 2, &[2; 100]),
        small_reliable(2, 0, &[(0, b"hello"), (1, b"")]),
        vec![1, 3, 1, 0, 1, 4, 1, 2, 3, 4],
        vec![4, 5, 9, 2, 0],
    ];
    Target {
        name: "renet packet",
        seeds,
        feed: Box::new(move |bytes| {
            fed += 1;
            if fed.is_multiple_of(512) || !server.is_connected(1) {
                server = renet::RenetServer::new(config());
                server.add_connection(1);
            }
            server.update(Duration::from_millis(10));
            let accepted = server.process_packet_from(bytes, 1).is_ok() && server.is_connected(1);
            for channel in [0u8, 1, 2] {
                while server.receive_message(1, channel).is_some() {}
            }
            accepted
        }),
    }
}

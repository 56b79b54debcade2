//! Attacks on the join endpoint: a proof relayed to another host, a pass
//! that is not the player's or not of now, a watcher of the exchange, and
//! a flood of connections that never finish.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use plaza_client::join::{JoinReply, JoinRequest, KeyShare, Pass, Transcript, join_host};
use plaza_client::protocol::ErrorCode;
use plaza_tests::net::{TestHost, answers, enter};

fn send(stream: &mut TcpStream, request: &JoinRequest) {
    plaza_client::join::send_frame(stream, request).unwrap();
}

fn read(stream: &mut TcpStream) -> JoinReply {
    plaza_client::join::receive_frame(stream).unwrap()
}

/// `key`'s pass for the host and network of `transcript`, dated now.
fn pass(key: &ledger::Keypair, transcript: &Transcript) -> Pass {
    Pass::sign(key, &transcript.chain_id, &transcript.host, now_ms())
}

fn now_ms() -> u64 {
    u64::try_from(plaza_client::time::unix_time().as_millis()).unwrap()
}

/// A host's challenge, asked for in `account`'s name with `share`.
fn challenge(
    join: SocketAddr,
    account: ledger::Address,
    share: [u8; 32],
) -> (TcpStream, Transcript) {
    let mut stream = TcpStream::connect(join).unwrap();
    let (transcript, _) =
        plaza_client::join::ask_challenge(&mut stream, account, None, share).unwrap();
    (stream, transcript)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_proof_given_to_one_host_does_not_log_in_at_another() {
    let first = TestHost::default().await;
    let second = TestHost::default().await;
    let (join_first, join_second) = (first.join(), second.join());
    // The same account on both networks: the same key.
    let ada = first.key("ada");
    tokio::task::spawn_blocking(move || {
        let account = ada.address();
        // The player signs what the first host asked; the attacker holds
        // a challenge from the second host and presents the proof there.
        let (_, at_first) = challenge(join_first, account, KeyShare::new().public());
        let proof = ada.sign(&at_first.player_message());
        let attacker = KeyShare::new();
        let (mut stream, at_second) = challenge(join_second, account, attacker.public());
        send(
            &mut stream,
            &JoinRequest::Prove {
                signature: proof,
                pass: pass(&ada, &at_second),
            },
        );
        assert!(
            matches!(
                read(&mut stream),
                JoinReply::Refused {
                    code: ErrorCode::BadSignature,
                    ..
                }
            ),
            "a relayed proof was taken"
        );
        // A relay that passes the second host's challenge to the player
        // unchanged gets a proof naming the second host and the player's
        // own key share, which the second host takes; but its token is
        // sealed to that key share, and the relay's own share (the one it
        // would have to put in the hello) makes the proof fail.
        let player = KeyShare::new();
        let (mut stream, relayed) = challenge(join_second, account, attacker.public());
        let mut as_the_player_saw_it = relayed.clone();
        as_the_player_saw_it.player_share = player.public();
        let proof = ada.sign(&as_the_player_saw_it.player_message());
        send(
            &mut stream,
            &JoinRequest::Prove {
                signature: proof,
                pass: pass(&ada, &relayed),
            },
        );
        assert!(matches!(
            read(&mut stream),
            JoinReply::Refused {
                code: ErrorCode::BadSignature,
                ..
            }
        ));
    })
    .await
    .unwrap();
    first.stop().await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_pass_is_not_the_players_for_this_host_or_not_of_now_is_refused() {
    let host = TestHost::default().await;
    let join = host.join();
    let (ada, bo) = (host.key("ada"), host.key("bo"));
    tokio::task::spawn_blocking(move || {
        let refused_with = |make: &dyn Fn(&Transcript) -> Pass| {
            let (mut stream, transcript) = challenge(join, ada.address(), KeyShare::new().public());
            send(
                &mut stream,
                &JoinRequest::Prove {
                    signature: ada.sign(&transcript.player_message()),
                    pass: make(&transcript),
                },
            );
            match read(&mut stream) {
                JoinReply::Refused { code, message } => (code, message),
                other => panic!("a bad pass was taken: {other:?}"),
            }
        };
        // Signed by another account, or by ada for another host: a
        // pass a host could show others in ada's name is ada's own.
        let (code, message) = refused_with(&|t| Pass::sign(&bo, &t.chain_id, &t.host, now_ms()));
        assert_eq!(code, ErrorCode::BadSignature, "{message}");
        let elsewhere = ledger::Keypair::from_seed([77; 32]).address();
        let (code, _) = refused_with(&|t| Pass::sign(&ada, &t.chain_id, &elsewhere, now_ms()));
        assert_eq!(code, ErrorCode::BadSignature);
        // Dated ten minutes ago or ahead: a pass is of the join it came with.
        for off in [-600_000_i64, 600_000] {
            let (code, message) = refused_with(&|t| {
                Pass::sign(
                    &ada,
                    &t.chain_id,
                    &t.host,
                    now_ms().saturating_add_signed(off),
                )
            });
            assert_eq!(code, ErrorCode::Invalid, "{message}");
            assert!(message.contains("clock"), "{message}");
        }
        // The same join with ada's own pass of now gets its token.
        let (mut stream, transcript) = challenge(join, ada.address(), KeyShare::new().public());
        send(
            &mut stream,
            &JoinRequest::Prove {
                signature: ada.sign(&transcript.player_message()),
                pass: pass(&ada, &transcript),
            },
        );
        assert!(matches!(read(&mut stream), JoinReply::Token { .. }));
    })
    .await
    .unwrap();
    host.stop().await;
}

/// Relays TCP between a client and `to`, keeping every byte either way.
fn recording_relay(to: SocketAddr) -> (SocketAddr, std::sync::mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, recorded) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut host = TcpStream::connect(to).unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        host.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut all = Vec::new();
        let mut buffer = [0u8; 4096];
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            let mut quiet = true;
            for upstream in [true, false] {
                let (from, to) = if upstream {
                    (&mut client, &mut host)
                } else {
                    (&mut host, &mut client)
                };
                if let Ok(n @ 1..) = from.read(&mut buffer) {
                    quiet = false;
                    all.extend_from_slice(&buffer[..n]);
                    let _ = to.write_all(&buffer[..n]);
                }
            }
            if quiet && all.len() > 1_200 {
                break;
            }
        }
        let _ = seen.send(all);
    });
    (addr, recorded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoever_watches_a_join_never_sees_the_session_keys() {
    let host = TestHost::default().await;
    let join = host.join();
    let cy = host.key("cy");
    tokio::task::spawn_blocking(move || {
        let (relay, recorded) = recording_relay(join);
        let joined = join_host(relay, &cy, None).unwrap();
        let wire = recorded.recv().unwrap();
        let token = &joined.token;
        for secret in [
            &token.client_to_server_key[..],
            &token.server_to_client_key[..],
            &token.private_data[..],
        ] {
            assert!(
                !wire.windows(secret.len()).any(|window| window == secret),
                "a secret of the token crossed the network in clear"
            );
        }
        // The token works: the session connects.
        assert!(wire.len() > 1_200);
        let mut client = enter(join, &cy);
        assert!(answers(&mut client));
    })
    .await
    .unwrap();
    host.stop().await;
}

/// A TCP connection to `to` from the loopback address `ip`: another
/// machine, as the host sees it.
fn connect_from(ip: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((ip, 0)).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(1))?;
    Ok(socket.into())
}

/// Whether the other end has closed `stream`.
fn closed(stream: &TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut byte = [0u8; 1];
    match (&*stream).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) => !matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_half_open_joins_from_one_address_leaves_others_able_to_join() {
    let host = TestHost::default().await;
    let join = host.join();
    let ada = host.key("ada");
    tokio::task::spawn_blocking(move || {
        // 300 connections from another address that never say a word.
        let flood: Vec<TcpStream> = (0..300)
            .filter_map(|_| connect_from([127, 0, 0, 2], join).ok())
            .collect();
        assert!(flood.len() > 100);
        // Someone else joins at once.
        let started = Instant::now();
        let mut client = enter(join, &ada);
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(answers(&mut client));
        // The door closed on all but a few at once, and those few are let
        // go once a join's time is up.
        std::thread::sleep(Duration::from_secs(4));
        let open = flood.iter().filter(|stream| !closed(stream)).count();
        assert_eq!(open, 0, "{open} half-open joins still held");
    })
    .await
    .unwrap();
    host.stop().await;
}

//! Players over real UDP on loopback: the join endpoint, renet with
//! netcode's secure mode, and the host behind them.

use std::time::Duration;

use ledger::{Address, Amount, AssetId, Nonce, Operation, RentTerms, Transaction};
use market::trade::{Action, Stage};
use plaza_client::client::Client;
use plaza_client::join::{JoinReply, JoinRequest, KeyShare};
use plaza_client::protocol::{
    self, AvatarState, Browse, ClientMessage, ErrorCode, Event, Gait, Holding, ServerMessage,
    TxState,
};

use plaza_tests::net::{T0, TestHost};

pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// `client` signs `op` with `nonce`.
pub(crate) fn signed(
    client: &Client,
    nonce: Nonce,
    now: u64,
    op: Operation,
) -> ledger::SignedTransaction {
    let chain_id = client.welcome().unwrap().chain_id.clone();
    Transaction {
        chain_id,
        signer: client.key().address(),
        nonce,
        valid_until: now + 600,
        op,
    }
    .sign(client.key())
}

/// `client`'s next nonce and balance.
fn account(client: &mut Client) -> (Nonce, Amount) {
    let (account, _, _) = client.inventory(WAIT).unwrap();
    (account.nonce, account.balance)
}

/// Submits `op` signed with the next nonce and waits until it is final.
pub(crate) fn run(client: &mut Client, now: u64, op: Operation) -> TxState {
    let (nonce, _) = account(client);
    let tx = signed(client, nonce, now, op);
    client.submit_final(tx, WAIT).unwrap()
}

pub(crate) fn player(
    net: &TestHost,
    join: std::net::SocketAddr,
    name: &str,
    world: &str,
) -> Client {
    let mut client = Client::connect(join, &net.key(name), WAIT).unwrap();
    client.enter(world, WAIT).unwrap();
    client
}

/// Assets `client` owns that are neither listed nor rented out.
fn free_assets(client: &mut Client) -> Vec<Holding> {
    let (_, owned, _) = client.inventory(WAIT).unwrap();
    owned
        .into_iter()
        .filter(|h| h.listing.is_none() && h.rented.is_none())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rental_over_udp_is_listed_rented_shown_and_settled_by_the_ledger() {
    let net = TestHost::manual();
    let sessions = net.serve().await;
    let join = sessions.join_addr();
    let handle = net.handle();
    let host = handle.status().await.unwrap().address;
    // Cy lists an asset Ada made; Dee rents it from the other world.
    let mut cy = player(&net, join, "cy", "Plaza Square");
    let mut dee = player(&net, join, "dee", "Harbour Market");
    // Not its parcel's deed (the founder's, whose key is made at init,
    // so where the deed falls among cy's assets changes from run to run).
    let asset: AssetId = free_assets(&mut cy)
        .into_iter()
        .map(|holding| holding.asset)
        .find(|asset| {
            let json = cy.fetch(&asset.0, WAIT).unwrap();
            assets::Manifest::from_json(&json).unwrap().kind != assets::AssetKind::Parcel
        })
        .expect("cy holds a free asset Ada made");
    let creator = net.key("ada").address();
    let balance = |address: Address| {
        let handle = handle.clone();
        async move { handle.account(address).await.unwrap().balance }
    };
    let before = [
        balance(cy.key().address()).await,
        balance(dee.key().address()).await,
        balance(creator).await,
        balance(host).await,
    ];

    let terms = RentTerms {
        price_per_period: 1_000,
        period_secs: 3_600,
        min_periods: 1,
        max_periods: 24,
        deposit: 500,
        reserved_for: None,
    };
    let state = run(
        &mut cy,
        T0,
        Operation::ListForRent {
            asset,
            terms,
            expires_at: T0 + 7 * 86_400,
        },
    );
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");

    let (hits, _) = dee
        .browse(
            Browse {
                owner: Some(cy.key().address()),
                rent: Some(true),
                page_size: 20,
                ..Browse::default()
            },
            WAIT,
        )
        .unwrap();
    let card = hits
        .iter()
        .find(|card| card.listing.asset == asset)
        .expect("the new listing is in the catalogue");
    assert!(card.name.is_some(), "the card carries the manifest's name");
    assert!(
        card.shown.iter().any(|s| s.world == "Harbour Market")
            && card.shown.iter().any(|s| s.world == "Plaza Square"),
        "shown in both worlds: {:?}",
        card.shown
    );
    let state = run(
        &mut dee,
        T0,
        Operation::Rent {
            listing: card.listing.id,
            periods: 2,
        },
    );
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");
    let (_, _, renting) = dee.inventory(WAIT).unwrap();
    let right = renting
        .iter()
        .find(|h| h.asset == asset)
        .expect("dee's inventory shows the use right");
    let rental = right.rented.expect("rented");
    assert_eq!(
        (rental.renter, rental.ends_at),
        (dee.key().address(), T0 + 2 * 3_600)
    );
    cy.wait_for("the rental started event", WAIT, |m| match m {
        ServerMessage::Event(Event::RentalStarted(rental)) if rental.asset == asset => Some(()),
        _ => None,
    })
    .unwrap();

    // Time passes; nobody sends anything; the ledger settles.
    net.clock().advance(2 * 3_600);
    let ended = dee
        .wait_for("the rental ended event", WAIT, |m| match m {
            ServerMessage::Event(Event::RentalEnded(rental)) if rental.asset == asset => {
                Some(rental.clone())
            }
            _ => None,
        })
        .unwrap();
    assert!(matches!(ended.status, ledger::RentalStatus::Settled { .. }));
    let (_, _, renting) = dee.inventory(WAIT).unwrap();
    assert!(renting.iter().all(|h| h.asset != asset));
    let (_, owned, _) = cy.inventory(WAIT).unwrap();
    let back = owned.iter().find(|h| h.asset == asset).unwrap();
    assert_eq!(back.rented, None, "the use right is back with cy");

    let rent = 2_000;
    let royalty = rent * 500 / 10_000;
    let fee = rent / 100;
    let after = [
        balance(cy.key().address()).await,
        balance(dee.key().address()).await,
        balance(creator).await,
        balance(host).await,
    ];
    assert_eq!(after[0], before[0] + rent - royalty - fee, "lessor");
    assert_eq!(
        after[1],
        before[1] - rent,
        "renter: rent paid, deposit back"
    );
    assert_eq!(after[2], before[2] + royalty, "creator's royalty");
    assert_eq!(after[3], before[3] + fee, "the fee to the block's proposer");
    // Cy was told of the payment.
    cy.wait_for("the payment", WAIT, |m| match m {
        ServerMessage::Event(Event::Balance { before, after }) if after > before => Some(()),
        _ => None,
    })
    .unwrap();
    sessions.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_window_swaps_assets_and_tokens_atomically() {
    let net = TestHost::manual();
    let sessions = net.serve().await;
    let join = sessions.join_addr();
    let handle = net.handle();
    let mut ada = player(&net, join, "ada", "Plaza Square");
    let mut bo = player(&net, join, "bo", "Plaza Square");
    let mut dee = player(&net, join, "dee", "Plaza Square");
    let bo_player = bo.welcome().unwrap().player;
    // Ada takes two of her assets off sale to trade them.
    let (for_sale, _) = ada
        .browse(
            Browse {
                owner: Some(ada.key().address()),
                rent: Some(false),
                page_size: 2,
                ..Browse::default()
            },
            WAIT,
        )
        .unwrap();
    for card in &for_sale {
        let state = run(
            &mut ada,
            T0,
            Operation::CancelListing {
                listing: card.listing.id,
            },
        );
        assert!(matches!(state, TxState::Applied { .. }), "{state:?}");
    }
    let ada_assets: Vec<AssetId> = free_assets(&mut ada)
        .iter()
        .take(2)
        .map(|h| h.asset)
        .collect();
    let bo_asset = free_assets(&mut bo)[0].asset;
    assert_eq!(ada_assets.len(), 2);
    let (ada_before, bo_before) = (
        handle.account(ada.key().address()).await.unwrap().balance,
        handle.account(bo.key().address()).await.unwrap().balance,
    );

    // Dee rents one of Ada's hourly listings: that asset cannot be traded.
    let rented = net.hourly_listings(&net.key("ada")).await.remove(0);
    let state = run(
        &mut dee,
        T0,
        Operation::Rent {
            listing: rented.listing.id,
            periods: 1,
        },
    );
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");

    let window = ada.trade_invite(bo_player, WAIT).unwrap();
    let trade = window.trade;
    bo.wait_trade(WAIT, |v| v.trade == trade && v.stage == Stage::Invited)
        .unwrap();
    let view = bo.trade_act(trade, Action::Accept, WAIT).unwrap();
    assert_eq!(view.stage, Stage::Open);
    let refused = ada
        .trade_act(
            trade,
            Action::AddAsset {
                asset: rented.asset(),
                revision: view.revision,
            },
            WAIT,
        )
        .unwrap_err();
    assert!(refused.to_string().contains("rent"), "{refused}");

    let mut revision = view.revision;
    for asset in &ada_assets {
        revision = ada
            .trade_act(
                trade,
                Action::AddAsset {
                    asset: *asset,
                    revision,
                },
                WAIT,
            )
            .unwrap()
            .revision;
    }
    // Bo sees Ada's changes before adding his own.
    bo.wait_trade(WAIT, |v| v.revision == revision).unwrap();
    revision = bo
        .trade_act(
            trade,
            Action::AddAsset {
                asset: bo_asset,
                revision,
            },
            WAIT,
        )
        .unwrap()
        .revision;
    revision = bo
        .trade_act(
            trade,
            Action::SetTokens {
                amount: 5_000,
                revision,
            },
            WAIT,
        )
        .unwrap()
        .revision;
    ada.wait_trade(WAIT, |v| v.revision == revision).unwrap();
    let view = bo
        .trade_act(trade, Action::Confirm { revision }, WAIT)
        .unwrap();
    assert_eq!(view.confirmed, [false, true]);
    // Ada changes her offer after Bo confirmed: both confirmations clear.
    let view = ada
        .trade_act(
            trade,
            Action::SetTokens {
                amount: 1,
                revision,
            },
            WAIT,
        )
        .unwrap();
    assert_eq!(view.confirmed, [false, false]);
    assert!(view.revision > revision);
    let view = ada
        .trade_act(
            trade,
            Action::SetTokens {
                amount: 0,
                revision: view.revision,
            },
            WAIT,
        )
        .unwrap();
    let revision = view.revision;
    bo.wait_trade(WAIT, |v| v.revision == revision).unwrap();
    ada.trade_act(trade, Action::Confirm { revision }, WAIT)
        .unwrap();
    let view = bo
        .trade_act(trade, Action::Confirm { revision }, WAIT)
        .unwrap();
    assert_eq!(view.stage, Stage::Signing);
    let terms = view.terms.clone().unwrap();
    let chain_id = bo.welcome().unwrap().chain_id.clone();
    ada.wait_trade(WAIT, |v| v.stage == Stage::Signing).unwrap();
    bo.trade_act(trade, Action::Sign(terms.sign(&chain_id, bo.key())), WAIT)
        .unwrap();
    let view = ada
        .trade_act(trade, Action::Sign(terms.sign(&chain_id, ada.key())), WAIT)
        .unwrap();
    assert_eq!(view.stage, Stage::Signed);
    let [a_signature, b_signature] = view.signatures.unwrap();
    let tx = signed(
        &ada,
        terms.a_nonce,
        T0,
        Operation::Trade(Box::new(ledger::Trade {
            terms,
            a_signature,
            b_signature,
        })),
    );
    let state = ada.submit_final(tx, WAIT).unwrap();
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");

    let (_, bo_owned, _) = bo.inventory(WAIT).unwrap();
    let (_, ada_owned, _) = ada.inventory(WAIT).unwrap();
    for asset in &ada_assets {
        assert!(bo_owned.iter().any(|h| h.asset == *asset));
    }
    assert!(ada_owned.iter().any(|h| h.asset == bo_asset));
    assert_eq!(
        handle.account(ada.key().address()).await.unwrap().balance,
        ada_before + 5_000
    );
    assert_eq!(
        handle.account(bo.key().address()).await.unwrap().balance,
        bo_before - 5_000
    );
    sessions.stop().await;
}

/// Joins by hand over TCP, signing the challenge with `signer`'s key in
/// `claimed`'s name; the host's reply.
fn join_as(
    join: std::net::SocketAddr,
    claimed: &ledger::Keypair,
    signer: &ledger::Keypair,
) -> JoinReply {
    use plaza_client::join::{ask_challenge, receive_frame, send_frame};
    let mut stream = std::net::TcpStream::connect(join).unwrap();
    let share = KeyShare::new();
    let (transcript, _) =
        ask_challenge(&mut stream, claimed.address(), None, share.public()).unwrap();
    let signature = signer.sign(&transcript.player_message());
    let since = u64::try_from(plaza_client::time::unix_time().as_millis()).unwrap();
    let pass =
        plaza_client::join::Pass::sign(signer, &transcript.chain_id, &transcript.host, since);
    send_frame(&mut stream, &JoinRequest::Prove { signature, pass }).unwrap();
    receive_frame(&mut stream).unwrap()
}

fn error_code(client: &mut Client, what: &'static str) -> ErrorCode {
    client
        .wait_for(what, WAIT, |m| match m {
            ServerMessage::Error { code, .. } => Some(*code),
            _ => None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_or_dropped_and_the_host_keeps_serving_others() {
    let net = TestHost::manual();
    let sessions = net.serve().await;
    let join = sessions.join_addr();
    let (ada, bo) = (net.key("ada"), net.key("bo"));

    // A join signed by another key gets no token.
    let reply = join_as(join, &ada, &bo);
    assert!(
        matches!(
            reply,
            JoinReply::Refused {
                code: ErrorCode::BadSignature,
                ..
            }
        ),
        "{reply:?}"
    );
    assert!(matches!(join_as(join, &ada, &ada), JoinReply::Token { .. }));

    let mut cy = player(&net, join, "cy", "Plaza Square");
    let mut dee = Client::connect(join, &net.key("dee"), WAIT).unwrap();

    // Out of session state: a market message before hello.
    dee.send(&ClientMessage::Browse {
        request: 1,
        query: Browse {
            page_size: 5,
            ..Browse::default()
        },
    })
    .unwrap();
    assert_eq!(
        error_code(&mut dee, "a wrong-state error"),
        ErrorCode::WrongState
    );
    dee.enter("Plaza Square", WAIT).unwrap();
    // An unknown world.
    dee.send(&ClientMessage::Hello {
        version: protocol::VERSION,
        world: "Atlantis".into(),
    })
    .unwrap();
    assert_eq!(
        error_code(&mut dee, "a not-found error"),
        ErrorCode::NotFound
    );

    // Malformed and oversized messages.
    dee.send_raw(protocol::CHANNEL_RELIABLE, vec![0xff, 1, 2, 3]);
    assert_eq!(
        error_code(&mut dee, "a malformed error"),
        ErrorCode::Malformed
    );
    dee.send_raw(
        protocol::CHANNEL_RELIABLE,
        vec![1; protocol::MAX_CLIENT_MESSAGE_BYTES + 1],
    );
    assert_eq!(
        error_code(&mut dee, "a too-large error"),
        ErrorCode::TooLarge
    );
    // A move off the edge of the world.
    dee.send_move(AvatarState::new([5_000.0, 0.0, 0.0], 0.0, Gait::Walk))
        .unwrap();
    assert_eq!(
        error_code(&mut dee, "an invalid-move error"),
        ErrorCode::Invalid
    );

    // A transaction in Dee's name signed by Cy's key, and one for Cy's
    // account sent over Dee's session.
    let (account, _, _) = dee.inventory(WAIT).unwrap();
    let mut forged = signed(
        &cy,
        account.nonce,
        T0,
        Operation::Pay {
            to: cy.key().address(),
            amount: 10,
        },
    );
    forged.tx.signer = dee.key().address();
    let (_, state) = dee.submit(forged, WAIT).unwrap();
    match state {
        TxState::Rejected {
            height: None,
            reason,
        } => {
            assert!(reason.contains("signature"), "{reason}")
        }
        other => panic!("a forged transaction was {other:?}"),
    }
    let (cy_account, _, _) = cy.inventory(WAIT).unwrap();
    let cys = signed(
        &cy,
        cy_account.nonce,
        T0,
        Operation::Pay {
            to: dee.key().address(),
            amount: 10,
        },
    );
    let err = dee.submit(cys, WAIT).unwrap_err();
    assert!(err.to_string().contains("this session is"), "{err}");

    // A replay of a transaction already in a block.
    let tx = signed(
        &dee,
        account.nonce,
        T0,
        Operation::Pay {
            to: cy.key().address(),
            amount: 10,
        },
    );
    assert!(matches!(
        dee.submit_final(tx.clone(), WAIT).unwrap(),
        TxState::Applied { .. }
    ));
    let (_, state) = dee.submit(tx, WAIT).unwrap();
    assert!(
        matches!(&state, TxState::Rejected { height: None, reason } if reason.contains("nonce")),
        "{state:?}"
    );

    // Garbage datagrams at the session port are dropped by netcode.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for size in [0usize, 1, 17, 1_200, 1_400] {
        socket
            .send_to(&vec![0x5a; size], sessions.udp_addr())
            .unwrap();
    }

    // A flood from one client: rate-limited, then disconnected.
    for _ in 0..400 {
        dee.send(&ClientMessage::Chat {
            text: "spam".into(),
        })
        .unwrap();
    }
    assert_eq!(
        error_code(&mut dee, "a rate-limit error"),
        ErrorCode::RateLimited
    );
    let deadline = std::time::Instant::now() + WAIT;
    let dropped = loop {
        if dee.pump().is_err() {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(dropped, "the flooding client is disconnected");

    // Meanwhile Cy is served as before.
    let (hits, _) = cy
        .browse(
            Browse {
                page_size: 5,
                ..Browse::default()
            },
            WAIT,
        )
        .unwrap();
    assert_eq!(hits.len(), 5);
    sessions.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_checked_against_their_content_id_before_they_are_stored() {
    use assets::{Codec, ContentId};
    use protocol::{CHANNEL_ASSETS, Upload};

    let net = TestHost::manual();
    let sessions = net.serve().await;
    let join = sessions.join_addr();
    let mut ada = player(&net, join, "ada", "Plaza Square");

    // A blob of several pieces arrives whole and waits to be minted; it
    // is nobody's to fetch until then.
    let uploads = net.host.as_ref().unwrap().uploads();
    let blob: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let id = ada.upload(Codec::Raw, &blob, WAIT).unwrap();
    assert!(uploads.contains(&id));
    assert!(ada.fetch(&id, WAIT).is_err());

    let answer = |client: &mut Client, request: u32| {
        client
            .wait_for("an upload's answer", WAIT, |m| match m {
                ServerMessage::Error {
                    request: Some(r),
                    code,
                    message,
                } if *r == request => Some(Err((*code, message.clone()))),
                ServerMessage::Stored { request: r, .. } if *r == request => Some(Ok(())),
                _ => None,
            })
            .unwrap()
    };
    let send = |client: &mut Client, upload: &Upload| {
        client.send_raw(CHANNEL_ASSETS, protocol::encode(upload).unwrap());
    };

    // Bytes that are not the named content: refused, nothing stored.
    let claimed = ContentId::of(Codec::Raw, b"what was promised");
    send(
        &mut ada,
        &Upload::Begin {
            request: 900,
            id: claimed.to_bytes(),
            size: 17,
        },
    );
    send(
        &mut ada,
        &Upload::Bytes {
            request: 900,
            offset: 0,
            bytes: b"something else!!!".to_vec(),
        },
    );
    let (code, message) = answer(&mut ada, 900).unwrap_err();
    assert_eq!(code, ErrorCode::Invalid);
    assert!(message.contains(&format!("not {claimed}")), "{message}");
    assert!(!uploads.contains(&claimed));

    // A manifest that is not one is refused, though its id is right.
    let junk = b"{\"name\": 1}".to_vec();
    let err = ada.upload(Codec::Json, &junk, WAIT).unwrap_err();
    assert!(err.to_string().contains("not a valid manifest"), "{err}");

    // Pieces out of order, or for no upload, end the upload with a reason.
    send(
        &mut ada,
        &Upload::Begin {
            request: 901,
            id: ContentId::of(Codec::Raw, &[1; 40]).to_bytes(),
            size: 40,
        },
    );
    send(
        &mut ada,
        &Upload::Bytes {
            request: 901,
            offset: 20,
            bytes: vec![1; 20],
        },
    );
    let (code, _) = answer(&mut ada, 901).unwrap_err();
    assert_eq!(code, ErrorCode::Invalid);
    // Too large to take at all.
    send(
        &mut ada,
        &Upload::Begin {
            request: 902,
            id: claimed.to_bytes(),
            size: protocol::MAX_UPLOAD_BYTES + 1,
        },
    );
    let (code, _) = answer(&mut ada, 902).unwrap_err();
    assert_eq!(code, ErrorCode::TooLarge);

    // An upload carries on across a change of world.
    let moving: Vec<u8> = (0..40_000u32).map(|i| (i % 241) as u8).collect();
    let moving_id = ContentId::of(Codec::Raw, &moving);
    send(
        &mut ada,
        &Upload::Begin {
            request: 903,
            id: moving_id.to_bytes(),
            size: moving.len() as u64,
        },
    );
    send(
        &mut ada,
        &Upload::Bytes {
            request: 903,
            offset: 0,
            bytes: moving[..16_384].to_vec(),
        },
    );
    ada.enter("Harbour Market", WAIT).unwrap();
    for (offset, piece) in [
        (16_384, &moving[16_384..32_768]),
        (32_768, &moving[32_768..]),
    ] {
        send(
            &mut ada,
            &Upload::Bytes {
                request: 903,
                offset,
                bytes: piece.to_vec(),
            },
        );
    }
    answer(&mut ada, 903).unwrap();
    assert!(uploads.contains(&moving_id));

    // Nothing refused or abandoned above holds any of ada's upload quota:
    // only the two blobs that arrived whole count.
    assert_eq!(
        uploads.held_by(&ada.key().address()),
        ((blob.len() + moving.len()) as u64, 2)
    );
    sessions.stop().await;
}

/// A client that stops reading its socket for a while (a long frame, say)
/// while several large downloads come in is not dropped: everything that
/// arrives meanwhile fits in what its channels take in, and the files
/// arrive whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_for_a_while_gets_its_downloads_whole() {
    use assets::Codec;

    let net = TestHost::manual();
    let sessions = net.serve().await;
    let join = sessions.join_addr();
    let mut ada = player(&net, join, "ada", "Plaza Square");
    // The first spans three of the store's 1 MiB pieces, read one at a
    // time while it is sent.
    let blobs: Vec<Vec<u8>> = (0..4u32)
        .map(|n| {
            let len = if n == 0 { 2_500_000 } else { 600_000 };
            (0..len).map(|i| ((i * 31 + n * 7) % 253) as u8).collect()
        })
        .collect();
    // Files the host serves: in its blob store.
    let store = net.host.as_ref().unwrap().blobs();
    let ids: Vec<_> = blobs
        .iter()
        .map(|blob| store.put(Codec::Raw, blob).unwrap())
        .collect();

    let requests: Vec<u32> = ids
        .iter()
        .map(|id| {
            let id = id.to_bytes();
            ada.ask(|request| ClientMessage::Fetch { request, id })
        })
        .collect();
    ada.pump().unwrap();
    // Two seconds without reading: the host keeps sending meanwhile.
    std::thread::sleep(Duration::from_secs(2));
    for (request, blob) in requests.iter().zip(&blobs) {
        let bytes = ada
            .wait_for("a download", WAIT, |m| match m {
                ServerMessage::Chunk {
                    request: r, bytes, ..
                } if r == request => Some(Ok(bytes.clone())),
                ServerMessage::Error {
                    request: Some(r),
                    message,
                    ..
                } if r == request => Some(Err(message.clone())),
                _ => None,
            })
            .unwrap()
            .unwrap();
        assert!(bytes == *blob, "download {request} differs");
    }
    assert!(ada.is_connected());
    sessions.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_dresses_in_what_its_account_holds_one_thing_a_slot_as_the_host_checks_it() {
    let net = TestHost::manual();
    let sessions = net.serve().await;
    let join = sessions.join_addr();
    let mut bo = player(&net, join, "bo", "Plaza Square");
    let worn = plaza_client::bot::dress(&mut bo, WAIT).unwrap();
    assert!(!worn.is_empty(), "bo holds something to wear");
    let mut slots: Vec<_> = worn.iter().map(|(slot, _)| *slot).collect();
    slots.dedup();
    assert_eq!(slots.len(), worn.len(), "one thing a slot: {worn:?}");
    // What the host says bo wears is what it put on.
    let me = bo.welcome().unwrap().player;
    assert_eq!(bo.appearances()[&me], worn);
    // Everything worn is bo's to wear.
    let (_, owned, renting) = bo.inventory(WAIT).unwrap();
    for (_, asset) in &worn {
        assert!(
            owned
                .iter()
                .chain(renting.iter())
                .any(|holding| holding.asset == *asset)
        );
    }
    sessions.stop().await;
}

//! A connected player that sends what renet and netcode were never meant
//! to receive.

use std::time::{Duration, Instant};

use plaza_client::protocol::{CHANNEL_AVATAR, CHANNEL_RELIABLE};
use plaza_tests::net::{TestHost, answers, enter, keep_up};
use plaza_tests::resident_bytes;
use server_less::hostile::{Attacker, wire};

/// Sends `packets` from a fresh attacker and checks that the attacker
/// alone is dropped: the honest player stays connected and answered for
/// longer than a session timeout, and a newcomer can still join.
async fn only_the_attacker_is_dropped(packets: Vec<Vec<u8>>) {
    let host = TestHost::default().await;
    let join = host.join();
    let (ada, eve, cy) = (host.key("ada"), host.key("bo"), host.key("cy"));
    let done = tokio::task::spawn_blocking(move || {
        let mut honest = enter(join, &ada);
        let mut attacker = Attacker::connect(join, &eve).unwrap();
        attacker.send_renet(&packets);
        // The attacker's session ends at once: the host tells it.
        let deadline = Instant::now() + Duration::from_secs(3);
        while attacker.is_connected() && Instant::now() < deadline {
            attacker.pump();
            honest.pump().unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!attacker.is_connected(), "the attacker was not dropped");
        // Longer than the 5 s session timeout: the honest player is still
        // there, and answered.
        assert!(keep_up(&mut [&mut honest], Duration::from_secs(6)));
        assert!(answers(&mut honest));
        let mut newcomer = enter(join, &cy);
        assert!(answers(&mut newcomer));
    });
    done.await.unwrap();
    assert_eq!(host.sessions().restarts(), 0, "the session server panicked");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reliable_slice_at_its_messages_count_drops_only_its_sender() {
    let packet = wire::slice(true, 0, CHANNEL_RELIABLE, 0, 2, 2, &[1; 1200]);
    only_the_attacker_is_dropped(vec![packet]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avatar_slice_past_its_count_drops_only_its_sender() {
    let packet = wire::slice(false, 0, CHANNEL_AVATAR, 0, 7, 3, &[1; 1200]);
    only_the_attacker_is_dropped(vec![packet]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slice_999999_after_a_first_slice_of_2_drops_only_its_sender() {
    let first = wire::slice(true, 0, CHANNEL_RELIABLE, 0, 0, 2, &[1; 1200]);
    let past = wire::slice(true, 1, CHANNEL_RELIABLE, 0, 999_999, 1_000_000, &[1; 1200]);
    only_the_attacker_is_dropped(vec![first, past]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreliable_slices_naming_a_larger_count_last_cannot_grow_the_host() {
    let host = TestHost::default().await;
    let join = host.join();
    let (ada, eve, mallory) = (host.key("ada"), host.key("bo"), host.key("dee"));
    let grown = tokio::task::spawn_blocking(move || {
        let mut honest = enter(join, &ada);
        let before = resident_bytes();
        // A message whose first slice names 2 slices and whose last names
        // 40: before the fix it wrapped the channel's accounting, and one
        // client sending 18 MB of them grew a host by 70 MB. Now the
        // sender is dropped at the first.
        let mut attacker = Attacker::connect(join, &eve).unwrap();
        let first = wire::slice(false, 0, CHANNEL_AVATAR, 0, 0, 2, &[7; 1200]);
        let last = wire::slice(false, 1, CHANNEL_AVATAR, 0, 39, 40, &[7; 1200]);
        attacker.send_renet(&[first, last]);
        let deadline = Instant::now() + Duration::from_secs(3);
        while attacker.is_connected() && Instant::now() < deadline {
            attacker.pump();
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!attacker.is_connected(), "the attacker was not dropped");
        // 18 MB of messages that never complete stay within the channel's
        // bound however they come.
        let mut flood = Attacker::connect(join, &mallory).unwrap();
        for message in 0..15_000u64 {
            let first = wire::slice(false, message, CHANNEL_AVATAR, message, 0, 40, &[7; 1200]);
            flood.send_renet(&[first]);
            if message % 200 == 0 {
                flood.pump();
                let _ = honest.pump();
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        assert!(keep_up(&mut [&mut honest], Duration::from_secs(2)));
        assert!(answers(&mut honest));
        resident_bytes().saturating_sub(before)
    })
    .await
    .unwrap();
    assert!(grown < 40 << 20, "the host grew by {} MB", grown >> 20);
    assert_eq!(host.sessions().restarts(), 0);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_messages_past_a_gap_fill_the_channel_and_drop_their_sender() {
    // Message 0 never comes, so nothing after it can be read: before the
    // fix an empty message cost nothing and they piled up for ever.
    let mut packets = Vec::new();
    let empty: &[u8] = &[];
    for batch in 0..80u64 {
        let messages: Vec<(u64, &[u8])> = (0..250).map(|i| (1 + batch * 250 + i, empty)).collect();
        packets.push(wire::small_reliable(batch, CHANNEL_RELIABLE, &messages));
    }
    only_the_attacker_is_dropped(packets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_with_forged_netcode_prefixes_from_a_players_address_are_counted_and_refused() {
    let host = TestHost::default().await;
    let join = host.join();
    let (ada, eve) = (host.key("ada"), host.key("bo"));
    tokio::task::spawn_blocking(move || {
        let mut honest = enter(join, &ada);
        let mut attacker = Attacker::connect(join, &eve).unwrap();
        // A prefix naming a 15-byte sequence number, and one naming 8
        // bytes in a packet too short for them and a MAC: each once
        // panicked the host's netcode.
        for _ in 0..500 {
            let mut long = vec![0u8; 40];
            long[0] = 0xf5;
            attacker.send_raw(&long);
            let mut short = vec![0u8; 18];
            short[0] = 0x85;
            attacker.send_raw(&short);
        }
        assert!(keep_up(&mut [&mut honest], Duration::from_secs(2)));
        attacker.pump();
        assert!(attacker.is_connected(), "forged datagrams ended a session");
        assert!(answers(&mut honest));
    })
    .await
    .unwrap();
    assert!(host.sessions().refused_datagrams() >= 1_000);
    assert_eq!(host.sessions().restarts(), 0);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_server_that_panics_starts_again_and_players_join_again() {
    let host = TestHost::default().await;
    let join = host.join();
    let ada = host.key("ada");
    let mut before = tokio::task::spawn_blocking(move || enter(join, &ada))
        .await
        .unwrap();
    host.sessions().panic_next_tick();
    let ada = host.key("ada");
    tokio::task::spawn_blocking(move || {
        // The player is told at once that its session ended, rather than
        // timing out.
        let deadline = Instant::now() + Duration::from_secs(2);
        while before.pump().is_ok() {
            assert!(Instant::now() < deadline, "the old session was not ended");
            std::thread::sleep(Duration::from_millis(10));
        }
        // And joins again, with the host still running.
        let mut again = enter(join, &ada);
        assert!(answers(&mut again));
    })
    .await
    .unwrap();
    assert_eq!(host.sessions().restarts(), 1);
    host.stop().await;
}

//! A player who tries to outrun the world: many moves at once, or one
//! long one after standing still.

use std::time::{Duration, Instant};

use plaza_client::client::Client;
use plaza_client::protocol::{AvatarState, Gait};
use plaza_tests::net::{TestHost, enter};

/// How far from `from` the observer sees `player`, the furthest over
/// `duration` of pumping both.
fn furthest_seen(
    observer: &mut Client,
    mover: &mut Client,
    player: u16,
    from: [f32; 3],
    duration: Duration,
) -> f32 {
    let until = Instant::now() + duration;
    let mut furthest = 0.0f32;
    while Instant::now() < until {
        observer.pump().unwrap();
        mover.pump().unwrap();
        if let Some((state, _)) = observer.avatars().get(&player) {
            let at = state.position();
            let (dx, dz) = (at[0] - from[0], at[2] - from[2]);
            furthest = furthest.max((dx * dx + dz * dz).sqrt());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    furthest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_sent_at_once_or_after_standing_still_cover_no_more_than_the_time_allows() {
    let host = TestHost::default().await;
    let join = host.join();
    let (ada, bo) = (host.key("ada"), host.key("bo"));
    tokio::task::spawn_blocking(move || {
        let mut observer = enter(join, &ada);
        let mut cheat = enter(join, &bo);
        let player = cheat.welcome().unwrap().player;
        let start = [0.0, 0.0, 0.0];
        // Twenty moves of 1.95 m, each within the old per-move allowance,
        // all sent at once: 39 m in one tick.
        for step in 1..=20 {
            let x = 1.95 * step as f32;
            cheat
                .send_move(AvatarState::new([x, 0.0, 0.0], 0.0, Gait::Run))
                .unwrap();
        }
        let seen = furthest_seen(
            &mut observer,
            &mut cheat,
            player,
            start,
            Duration::from_secs(1),
        );
        // A quarter second's running at most, and a tick of slack.
        assert!(
            seen < 6.0,
            "the cheat was seen {seen:.1} m away after one tick"
        );
        // Standing still for 6 s earns no credit: one 47 m move after it
        // is cut to what a quarter second allows.
        let rest = furthest_seen(
            &mut observer,
            &mut cheat,
            player,
            start,
            Duration::from_secs(6),
        );
        cheat
            .send_move(AvatarState::new([0.0, 0.0, -47.0], 0.0, Gait::Run))
            .unwrap();
        let leap = furthest_seen(
            &mut observer,
            &mut cheat,
            player,
            start,
            Duration::from_secs(1),
        );
        assert!(
            leap < rest + 6.0,
            "one move after standing still covered {leap:.1} m"
        );
        // Walking at an honest pace is never cut short: 7 m/s for 2 s.
        let mut at = observer
            .avatars()
            .get(&player)
            .map(|(s, _)| s.position())
            .unwrap();
        let begin = at;
        let walk_until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < walk_until {
            at[0] += 7.0 / 20.0;
            cheat
                .send_move(AvatarState::new(at, 0.0, Gait::Run))
                .unwrap();
            let tick = Instant::now() + Duration::from_millis(50);
            while Instant::now() < tick {
                cheat.pump().unwrap();
                observer.pump().unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let settled = furthest_seen(
            &mut observer,
            &mut cheat,
            player,
            begin,
            Duration::from_millis(500),
        );
        assert!(
            (settled - 14.0).abs() < 1.0,
            "an honest walk of 14 m was seen as {settled:.1} m"
        );
    })
    .await
    .unwrap();
    host.stop().await;
}

//! One connected client and the bounds it plays within: its rate buckets,
//! its strikes for breaking the protocol, and what it may watch.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ledger::{Address, Amount};
use renet::ClientId;
use tracing::warn;

use super::SessionSettings;
use super::avatars::{MAX_SPEED, STRIDE_BURST, STRIDE_SLACK};
use super::files::{Download, Uploading};
use super::server::{Server, error};
use crate::rate::Bucket;
use plaza_client::join::Pass;
use plaza_client::protocol::{self, ErrorCode, ProtocolError, SessionState, TICK_HZ, Worn};

/// One connected client.
pub(super) struct Session {
    pub(super) account: Address,
    /// The player's word that it plays here (from when it joined, or
    /// signed again since): shown to other hosts with its presence.
    pub(super) pass: Pass,
    /// When the pass was last taken.
    pub(super) passed: Instant,
    pub(super) state: SessionState,
    pub(super) world: usize,
    pub(super) player: u16,
    pub(super) avatar: Option<protocol::AvatarState>,
    /// Metres the avatar may still cover: refilled with time at
    /// [`MAX_SPEED`] and [`STRIDE_SLACK`], up to [`STRIDE_BURST`].
    pub(super) stride: Bucket,
    pub(super) last_seq: u32,
    pub(super) changed: bool,
    pub(super) in_flight: usize,
    pub(super) balance: Option<Amount>,
    pub(super) downloads: VecDeque<Download>,
    pub(super) upload: Option<Uploading>,
    /// An upload refused or abandoned: its pieces still on the way are
    /// dropped without a strike.
    pub(super) dropped_upload: Option<u32>,
    pub(super) trades: Vec<u64>,
    /// What the player wears, as checked against the ledger.
    pub(super) worn: Worn,
    /// Accounts whose chat and trade invitations it does not take.
    pub(super) blocked: std::collections::BTreeSet<Address>,
    pub(super) messages: Bucket,
    pub(super) moves: Bucket,
    pub(super) chats: Bucket,
    /// Parcel arrangements: one a second.
    pub(super) arrangements: Bucket,
    /// Protocol breaches lately; decays by one a second.
    pub(super) strikes: f32,
    /// When the last rate-limit notice was sent.
    pub(super) noticed: Option<Instant>,
}

/// Players disconnected after this many recent breaches.
pub(super) const MAX_STRIKES: f32 = 50.0;

/// Transactions one client may watch to finality.
pub(super) const MAX_WATCHED: usize = 64;

impl Session {
    /// A client of `account` (with its `pass`) that has just connected:
    /// in no world yet, with full rate buckets as `settings` size them.
    pub(super) fn new(account: Address, pass: Pass, settings: &SessionSettings) -> Session {
        let rate = settings.messages_per_sec;
        let per_tick = TICK_HZ as f32;
        Session {
            account,
            pass,
            passed: Instant::now(),
            state: SessionState::Connected,
            world: 0,
            player: 0,
            avatar: None,
            stride: Bucket::new(MAX_SPEED + STRIDE_SLACK, STRIDE_BURST),
            last_seq: 0,
            changed: false,
            in_flight: 0,
            balance: None,
            downloads: VecDeque::new(),
            upload: None,
            dropped_upload: None,
            trades: Vec::new(),
            worn: Worn::new(),
            blocked: std::collections::BTreeSet::new(),
            messages: Bucket::new(rate, rate * 2.0),
            moves: Bucket::new(per_tick * 1.5, per_tick),
            chats: Bucket::new(1.0, 5.0),
            arrangements: Bucket::new(1.0, 2.0),
            strikes: 0.0,
            noticed: None,
        }
    }

    /// Counts a breach at `now` (`limited`: a rate limit) and says what
    /// follows: whether the client is told (every breach, but a rate
    /// limit at most once a second) and whether it is dropped (past
    /// [`MAX_STRIKES`] recent breaches).
    pub(super) fn strike(&mut self, limited: bool, now: Instant) -> Strike {
        self.strikes += 1.0;
        let notify = !limited
            || self
                .noticed
                .is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1));
        if limited && notify {
            self.noticed = Some(now);
        }
        Strike {
            notify,
            disconnect: self.strikes > MAX_STRIKES,
        }
    }

    /// Time passing: `seconds` refill the rate buckets and wear strikes
    /// away, one a second.
    pub(super) fn refill(&mut self, seconds: f32) {
        self.messages.refill(seconds);
        self.moves.refill(seconds);
        self.chats.refill(seconds);
        self.arrangements.refill(seconds);
        self.stride.refill(seconds);
        self.strikes = (self.strikes - seconds).max(0.0);
    }
}

/// What a breach leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Strike {
    /// The client is told why.
    pub(super) notify: bool,
    /// The client is dropped.
    pub(super) disconnect: bool,
}

impl Server {
    /// A breach by `client`: answered, counted, and the client dropped
    /// if it keeps at it.
    pub(super) fn breach(&mut self, client: ClientId, request: Option<u32>, err: &ProtocolError) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let limited = err.code == ErrorCode::RateLimited;
        let Strike { notify, disconnect } = session.strike(limited, Instant::now());
        if notify {
            self.send(client, &error(request, err));
        }
        if disconnect {
            warn!(client, %err, "disconnecting a client that keeps breaking the protocol");
            self.let_go(client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::fixture::{Fixture, SQUARE};
    use plaza_client::protocol::{CHANNEL_RELIABLE, ClientMessage, ServerMessage};

    #[test]
    fn a_rate_limit_is_told_once_a_second_and_a_client_past_the_strikes_is_dropped() {
        let pass = Pass {
            since: 0,
            signature: ledger::Signature([0; 64]),
        };
        let mut session = Session::new(
            Address::from_bytes([1; 32]),
            pass,
            &SessionSettings::default(),
        );
        let start = Instant::now();
        let later = |ms: u64| start + Duration::from_millis(ms);
        let told = Strike {
            notify: true,
            disconnect: false,
        };
        assert_eq!(session.strike(true, start), told);
        // The same limit again within the second: counted, not told.
        assert!(!session.strike(true, later(500)).notify);
        assert_eq!(session.strike(true, later(1_000)), told);
        // Any other breach is always told.
        assert_eq!(session.strike(false, later(1_000)), told);
        assert_eq!(session.strike(false, later(1_001)), told);
        // Past the most recent breaches allowed, the client goes.
        while session.strikes < MAX_STRIKES {
            assert!(!session.strike(false, later(1_002)).disconnect);
        }
        assert!(session.strike(false, later(1_003)).disconnect);
        // Strikes wear away with time: a minute on, one breach is only told.
        session.refill(60.0);
        assert_eq!(session.strikes, 0.0);
        assert_eq!(session.strike(false, later(61_000)), told);
    }

    #[test]
    fn a_client_that_sends_garbage_is_told_why_then_dropped_and_the_others_play_on() {
        let mut fixture = Fixture::new();
        let (rude, rude_player) = fixture.enter("ada", SQUARE);
        let (polite, _) = fixture.enter("bo", SQUARE);
        for _ in 0..(MAX_STRIKES as usize + 10) {
            fixture.send_bytes(rude, CHANNEL_RELIABLE, vec![0xff; 9]);
        }
        let told = fixture.until(rude, "the refusal", |message| {
            matches!(message, ServerMessage::Error { .. })
        });
        let ServerMessage::Error { request, code, .. } = told else {
            unreachable!()
        };
        assert_eq!((request, code), (None, ErrorCode::Malformed));
        // The others hear that the rude player left.
        fixture.until(polite, "the rude player leaving", |message| {
            *message
                == ServerMessage::PlayerLeft {
                    player: rude_player,
                }
        });
        assert!(!fixture.connected(rude));
        assert!(fixture.connected(polite));
        fixture.send(polite, &ClientMessage::Inventory { request: 1 });
        fixture.until(polite, "an answer", |message| {
            message.request() == Some(1) && matches!(message, ServerMessage::Inventory { .. })
        });
    }
}

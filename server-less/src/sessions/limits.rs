//! One connected client and the bounds it plays within: its rate buckets,
//! its strikes for breaking the protocol, and what it may watch.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ledger::{Address, Amount};
use renet::ClientId;
use tracing::warn;

use super::files::{Download, Uploading};
use super::server::{Server, error};
use crate::rate::Bucket;
use plaza_client::protocol::{self, ErrorCode, ProtocolError, SessionState};

/// One connected client.
pub(super) struct Session {
    pub(super) account: Address,
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
    pub(super) messages: Bucket,
    pub(super) moves: Bucket,
    pub(super) chats: Bucket,
    /// Protocol breaches lately; decays by one a second.
    pub(super) strikes: f32,
    /// When the last rate-limit notice was sent.
    pub(super) noticed: Option<Instant>,
}

/// Players disconnected after this many recent breaches.
pub(super) const MAX_STRIKES: f32 = 50.0;

/// Transactions one client may watch to finality.
pub(super) const MAX_WATCHED: usize = 64;

impl Server {
    /// A breach by `client`: answered, counted, and the client dropped
    /// if it keeps at it.
    pub(super) fn breach(&mut self, client: ClientId, request: Option<u32>, err: &ProtocolError) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        session.strikes += 1.0;
        let strikes = session.strikes;
        let limited = err.code == ErrorCode::RateLimited;
        // One rate-limit notice a second is enough.
        let notify = !limited
            || session
                .noticed
                .is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
        if limited && notify {
            session.noticed = Some(Instant::now());
        }
        if notify {
            self.send(client, &error(request, err));
        }
        if strikes > MAX_STRIKES {
            warn!(client, %err, "disconnecting a client that keeps breaking the protocol");
            self.renet.disconnect(client);
        }
    }
}

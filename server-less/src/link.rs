//! The session server's end of the peer network, and the peer network's
//! end of it: presence published and heard (see [`crate::presence`]), and
//! calls made to other hosts and taken from them (see [`crate::calls`]).
//! Every queue is bounded; what does not fit is dropped (presence is sent
//! again ten times a second) or refused (a call is answered "busy").

use tokio::sync::mpsc;

use crate::calls::{InCall, OutCall};
use crate::presence::{Presence, SignedPresence};

/// Messages waiting each way between the session server and the peer
/// network.
pub const PRESENCE_QUEUE: usize = 256;

/// Calls waiting each way.
pub const CALL_QUEUE: usize = 64;

/// The session server's end.
pub struct WorldLink {
    /// Presence of this host's players, to publish.
    pub outgoing: mpsc::Sender<SignedPresence>,
    /// Presence of other hosts' players (checked: decoded, bounded and
    /// signed).
    pub incoming: mpsc::Receiver<Presence>,
    /// Calls to make to other hosts.
    pub calls: mpsc::Sender<OutCall>,
    /// Calls other hosts made of this one.
    pub called: mpsc::Receiver<InCall>,
}

/// The peer network's end of a [`WorldLink`].
pub struct WorldRelay {
    /// Presence to publish.
    pub outgoing: mpsc::Receiver<SignedPresence>,
    /// Where checked presence from other hosts goes.
    pub incoming: mpsc::Sender<Presence>,
    /// Calls to make.
    pub calls: mpsc::Receiver<OutCall>,
    /// Where calls from other hosts go.
    pub called: mpsc::Sender<InCall>,
}

/// A link and its relay, joined.
pub fn link() -> (WorldLink, WorldRelay) {
    let (out_tx, out_rx) = mpsc::channel(PRESENCE_QUEUE);
    let (in_tx, in_rx) = mpsc::channel(PRESENCE_QUEUE);
    let (calls_tx, calls_rx) = mpsc::channel(CALL_QUEUE);
    let (called_tx, called_rx) = mpsc::channel(CALL_QUEUE);
    (
        WorldLink {
            outgoing: out_tx,
            incoming: in_rx,
            calls: calls_tx,
            called: called_rx,
        },
        WorldRelay {
            outgoing: out_rx,
            incoming: in_tx,
            calls: calls_rx,
            called: called_tx,
        },
    )
}

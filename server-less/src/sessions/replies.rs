//! What ledger tasks and other hosts hand back to the session server's
//! tick, on one bounded queue: answers to players' requests, transactions
//! to watch, blobs and pieces to stream, trade outcomes and calls'
//! answers, and ledger checks of what avatars wear.

use std::future::Future;
use std::sync::mpsc::{SyncSender, TrySendError};

use assets::ContentId;
use ledger::{Address, Amount, AssetId, Height, TxId};
use renet::ClientId;
use tracing::warn;

use super::files::Download;
use super::presence::RemoteKey;
use super::server::{Server, refused};
use crate::calls::CallAnswer;
use crate::error::HostError;
use crate::node::{HostHandle, TradeOutcome};
use plaza_client::protocol::{ErrorCode, ServerMessage, Slot, TradeView};

/// Answers waiting for the tick: more than can be outstanding (1,024
/// players with 8 requests each, and a piece for each download read), so
/// that none is ever lost.
pub(super) const REPLY_QUEUE: usize = 16_384;

/// What a ledger task hands back to the tick.
pub(super) enum Reply {
    /// Send this to a client; the request is answered.
    Answer(ClientId, ServerMessage),
    /// The client's transaction is waiting: watch it to finality.
    Watch(ClientId, TxId),
    /// A blob to stream: its id and size, or why not.
    Blob(ClientId, u32, Result<(ContentId, u64), String>),
    /// A piece of a blob being streamed: request, piece index, bytes.
    Piece(ClientId, u32, u64, Result<Vec<u8>, String>),
    /// A trade action's outcome, for whoever asked.
    Trade(u64, super::trades::Asker, Result<TradeOutcome, HostError>),
    /// Another host's answer to a trade invitation sent for this host's
    /// player (the window, the inviter, its request, the host asked, the
    /// window sent).
    Invited(
        u64,
        ClientId,
        u32,
        Address,
        Box<TradeView>,
        Result<CallAnswer, String>,
    ),
    /// Another host's answer to a window's news (the window, if it
    /// closes should the news not arrive).
    Pushed(Option<u64>, Result<CallAnswer, String>),
    /// A window's home answered this host's player's action (the window
    /// here, the player and its request).
    Relayed(u64, ClientId, u32, Result<CallAnswer, String>),
    /// A player's balance when it entered a world.
    Balance(ClientId, Amount),
    /// Whether a player may wear an asset in a slot: the height checked
    /// at, or why not.
    Wear(ClientId, u32, Slot, AssetId, Result<Height, HostError>),
    /// The same for a player of another host (by world, key and
    /// account).
    RemoteWear(
        usize,
        RemoteKey,
        Address,
        Slot,
        AssetId,
        Result<Height, HostError>,
    ),
    /// Whether a parcel's holder holds the things of an arrangement (by
    /// world and parcel, for whoever asked).
    Arrange(
        usize,
        u16,
        Box<plaza_client::land::Arrangement>,
        super::land::Asker,
        Result<crate::node::Placeable, HostError>,
    ),
}

/// Hands an answer to the tick; if the queue is full the answer is lost
/// and the client's request times out, which is logged.
pub(super) fn deliver(replies: &SyncSender<Reply>, reply: Reply) {
    match replies.try_send(reply) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => {}
        Err(TrySendError::Full(_)) => warn!("session answers queue full: an answer was dropped"),
    }
}

impl Server {
    /// Runs `job` on the runtime; its message (if any) answers the
    /// client's request on a later tick.
    pub(super) fn ask<F>(
        &mut self,
        client: ClientId,
        job: impl FnOnce(HostHandle) -> F + Send + 'static,
    ) where
        F: Future<Output = Option<ServerMessage>> + Send + 'static,
    {
        if let Some(session) = self.sessions.get_mut(&client) {
            session.in_flight += 1;
        }
        let handle = self.handle.clone();
        let replies = self.replies.clone();
        self.runtime.spawn(async move {
            let message = job(handle).await.unwrap_or(ServerMessage::Error {
                request: None,
                code: ErrorCode::Unavailable,
                message: "no answer".into(),
            });
            deliver(&replies, Reply::Answer(client, message));
        });
    }

    pub(super) fn answered(&mut self, client: ClientId) {
        if let Some(session) = self.sessions.get_mut(&client) {
            session.in_flight = session.in_flight.saturating_sub(1);
        }
    }

    pub(super) fn drain_replies(&mut self) {
        for _ in 0..REPLY_QUEUE {
            let Ok(reply) = self.inbox.try_recv() else {
                break;
            };
            match reply {
                Reply::Answer(client, message) => {
                    self.answered(client);
                    self.send(client, &message);
                }
                Reply::Watch(client, id) => {
                    if self.sessions.contains_key(&client) {
                        self.watched.insert(id, client);
                    }
                }
                Reply::Balance(client, balance) => {
                    if let Some(session) = self.sessions.get_mut(&client) {
                        session.balance.get_or_insert(balance);
                    }
                }
                Reply::Blob(client, request, result) => {
                    self.answered(client);
                    match result {
                        Ok((id, size)) => {
                            if let Some(session) = self.sessions.get_mut(&client) {
                                session.downloads.push_back(Download {
                                    request,
                                    id,
                                    size,
                                    offset: 0,
                                    piece: None,
                                    loading: false,
                                });
                            }
                        }
                        Err(reason) => {
                            self.send(client, &refused(Some(request), ErrorCode::NotFound, reason))
                        }
                    }
                }
                Reply::Piece(client, request, index, result) => {
                    self.pieces_loading = self.pieces_loading.saturating_sub(1);
                    self.piece_arrived(client, request, index, result);
                }
                Reply::Trade(trade, asker, outcome) => self.traded(trade, asker, outcome),
                Reply::Invited(trade, client, request, host, sent, answer) => {
                    self.invite_answered(trade, (client, request), host, *sent, answer);
                }
                Reply::Pushed(trade, answer) => self.pushed(trade, answer),
                Reply::Relayed(trade, client, request, answer) => {
                    self.relay_answered(trade, client, request, answer);
                }
                Reply::Wear(client, request, slot, asset, checked) => {
                    self.wear_checked(client, request, slot, asset, checked);
                }
                Reply::Arrange(world, parcel, arrangement, asker, checked) => {
                    self.arrangement_checked(world, parcel, *arrangement, asker, checked);
                }
                Reply::RemoteWear(world, key, account, slot, asset, checked) => {
                    self.remote_checks = self.remote_checks.saturating_sub(1);
                    self.remote_wear_checked(world, (key, account), slot, asset, checked);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_for_a_full_queue_is_dropped_rather_than_waited_for() {
        let (replies, inbox) = std::sync::mpsc::sync_channel(1);
        deliver(&replies, Reply::Balance(1, 10));
        deliver(&replies, Reply::Balance(2, 20));
        assert!(matches!(inbox.try_recv(), Ok(Reply::Balance(1, 10))));
        assert!(inbox.try_recv().is_err());
        // A closed queue is not an error either.
        drop(inbox);
        deliver(&replies, Reply::Balance(3, 30));
    }
}

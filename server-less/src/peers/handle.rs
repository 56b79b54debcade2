//! What the rest of the host holds: commands to the event loop, each with
//! its own reply channel.

use std::sync::Arc;

use assets::{AssetError, BlobStatus, BlobStore, ContentId};
use ledger::SignedTransaction;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::PeerError;
use super::PeerStatus;
use super::event_loop::Failure;
use super::files::{FileRequest, FileResponse};
use crate::calls::{InCall, OutCall};
use crate::error::HostError;
use crate::presence::{Presence, SignedPresence};

pub(super) type Reply<T> = oneshot::Sender<T>;

pub(super) enum Command {
    Publish(Vec<u8>, Reply<Result<bool, HostError>>),
    PublishPresence(Vec<u8>),
    FollowPresence(mpsc::Sender<Presence>, Reply<Result<(), HostError>>),
    Dial(Multiaddr, Reply<Result<(), HostError>>),
    Status(Reply<PeerStatus>),
    Score(PeerId, Reply<Option<f64>>),
    Provide(ContentId, Reply<Result<(), HostError>>),
    Providers(ContentId, Reply<Vec<PeerId>>),
    Request(PeerId, FileRequest, Reply<Result<FileResponse, HostError>>),
    Ban(PeerId, Reply<()>),
    Call(Box<OutCall>),
    FollowCalls(mpsc::Sender<InCall>, Reply<()>),
}

/// Talks to the peer network's event loop. Cheap to clone; the loop stops
/// when the last handle is dropped.
#[derive(Clone)]
pub struct PeerHandle {
    pub(super) id: PeerId,
    pub(super) listening: Vec<Multiaddr>,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) store: Option<Arc<BlobStore>>,
}

impl PeerHandle {
    /// This host's peer id.
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// The addresses it listened on at start, each ending in its peer id,
    /// ready to give to other hosts as a bootstrap address.
    pub fn addresses(&self) -> Vec<Multiaddr> {
        self.listening
            .iter()
            .map(|address| {
                address
                    .clone()
                    .with(libp2p::multiaddr::Protocol::P2p(self.id))
            })
            .collect()
    }

    pub(super) async fn ask<T>(
        &self,
        command: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, HostError> {
        crate::node::ask(&self.commands, command).await
    }

    /// Gossips a transaction this host accepted. False when no peer
    /// listens for transactions (a host alone).
    pub async fn publish(&self, tx: &SignedTransaction) -> Result<bool, HostError> {
        let bytes = tx.to_bytes();
        self.ask(|reply| Command::Publish(bytes, reply)).await?
    }

    /// Publishes this host's presence to the hosts that follow it; if the
    /// loop is busy it is dropped (the next comes a tenth of a second on).
    pub fn publish_presence(&self, presence: &SignedPresence) {
        let _ = self
            .commands
            .try_send(Command::PublishPresence(presence.to_bytes()));
    }

    /// Follows the presence topic: checked presence from other hosts goes
    /// to `sessions` (dropped when it is full).
    pub async fn follow_presence(&self, sessions: mpsc::Sender<Presence>) -> Result<(), HostError> {
        self.ask(|reply| Command::FollowPresence(sessions, reply))
            .await?
    }

    /// Calls another host; its answer (or why none came) goes where the
    /// call says. A loop too busy to take it answers at once.
    pub fn call(&self, call: OutCall) {
        if let Err(err) = self.commands.try_send(Command::Call(Box::new(call))) {
            let (mpsc::error::TrySendError::Full(Command::Call(call))
            | mpsc::error::TrySendError::Closed(Command::Call(call))) = err
            else {
                return;
            };
            let _ = call
                .answer
                .send(Err("the peer network is too busy to call".to_owned()));
        }
    }

    /// Takes calls from other hosts: each goes to `sessions` (answered
    /// "busy" when it is full).
    pub async fn follow_calls(&self, sessions: mpsc::Sender<InCall>) -> Result<(), HostError> {
        self.ask(|reply| Command::FollowCalls(sessions, reply))
            .await
    }

    /// Connects to a host at `address`.
    pub async fn dial(&self, address: Multiaddr) -> Result<(), HostError> {
        self.ask(|reply| Command::Dial(address, reply)).await?
    }

    /// Where the network stands.
    pub async fn status(&self) -> Result<PeerStatus, HostError> {
        self.ask(Command::Status).await
    }

    /// The gossip score this host gives `peer`, if it is scored.
    pub async fn score(&self, peer: PeerId) -> Result<Option<f64>, HostError> {
        self.ask(|reply| Command::Score(peer, reply)).await
    }

    /// Announces that this host serves `blob`.
    pub async fn provide(&self, blob: ContentId) -> Result<(), HostError> {
        self.ask(|reply| Command::Provide(blob, reply)).await?
    }

    /// The hosts that announced `blob`.
    pub async fn providers(&self, blob: ContentId) -> Result<Vec<PeerId>, HostError> {
        self.ask(|reply| Command::Providers(blob, reply)).await
    }

    /// Asks `peer` for part of a file.
    pub async fn request(
        &self,
        peer: PeerId,
        request: FileRequest,
    ) -> Result<FileResponse, HostError> {
        self.ask(|reply| Command::Request(peer, request, reply))
            .await?
    }

    /// Drops `peer` and refuses it from now on.
    pub async fn ban(&self, peer: PeerId) -> Result<(), HostError> {
        self.ask(|reply| Command::Ban(peer, reply)).await
    }

    /// Fetches `blob` into the store from the hosts that provide it, unless
    /// it is there already.
    pub async fn fetch(&self, blob: ContentId) -> Result<(), HostError> {
        self.fetch_at_most(blob, u64::MAX).await
    }

    /// As [`PeerHandle::fetch`], but only a blob of at most `max_bytes`:
    /// a larger one is refused before any piece of it is asked for.
    pub async fn fetch_at_most(&self, blob: ContentId, max_bytes: u64) -> Result<(), HostError> {
        let store = self.store()?;
        if blocking(move || store.status(&blob)).await? == BlobStatus::Complete {
            return Ok(());
        }
        let providers = self.providers(blob).await?;
        self.fetch_limited(blob, &providers, max_bytes).await
    }

    /// Fetches `blob` into the store from the first of `peers` that has
    /// it. A peer that sends a false piece list or piece is dropped, and
    /// the next is asked.
    pub async fn fetch_from(&self, blob: ContentId, peers: &[PeerId]) -> Result<(), HostError> {
        self.fetch_limited(blob, peers, u64::MAX).await
    }

    pub(super) async fn fetch_limited(
        &self,
        blob: ContentId,
        peers: &[PeerId],
        max_bytes: u64,
    ) -> Result<(), HostError> {
        let mut last = None;
        for peer in peers {
            match self.fetch_one(blob, *peer, max_bytes).await {
                Ok(()) => {
                    info!(%blob, %peer, "blob fetched");
                    return Ok(());
                }
                Err(Failure::Lied(what, reason)) => {
                    warn!(%blob, %peer, what, %reason, "peer sent a bad file");
                    self.ban(*peer).await?;
                    last = Some(
                        PeerError::Lied {
                            peer: peer.to_string(),
                            what,
                            reason,
                        }
                        .to_string(),
                    );
                }
                Err(Failure::Failed(err)) => {
                    debug!(%blob, %peer, %err, "peer did not give the blob");
                    last = Some(err.to_string());
                }
            }
        }
        Err(PeerError::NoProvider {
            blob: blob.to_string(),
            last,
        }
        .into())
    }

    pub(super) async fn fetch_one(
        &self,
        blob: ContentId,
        peer: PeerId,
        max_bytes: u64,
    ) -> Result<(), Failure> {
        let store = self.store().map_err(Failure::Failed)?;
        let info = match self
            .request(peer, FileRequest::Info(blob))
            .await
            .map_err(Failure::Failed)?
        {
            FileResponse::Info(info) if info.id == blob => info,
            FileResponse::Info(info) => {
                return Err(Failure::Lied(
                    "piece list",
                    format!("it is the list of {}, not {blob}", info.id),
                ));
            }
            FileResponse::Piece(_) => {
                return Err(Failure::Lied(
                    "piece list",
                    "a piece came for a piece list".into(),
                ));
            }
            FileResponse::Missing => {
                return Err(Failure::Failed(HostError::peer(format!(
                    "{peer} does not have {blob}"
                ))));
            }
            FileResponse::Busy => {
                return Err(Failure::Failed(HostError::peer(format!("{peer} is busy"))));
            }
        };
        info.check(&store.limits())
            .map_err(|err| Failure::Lied("piece list", err.to_string()))?;
        if info.size > max_bytes {
            return Err(Failure::Failed(HostError::peer(format!(
                "{blob} is {} bytes, more than the {max_bytes} asked for",
                info.size
            ))));
        }
        let begun = Arc::clone(&store);
        blocking(move || begun.begin(&info))
            .await
            .map_err(Failure::Failed)?;
        let begun = Arc::clone(&store);
        let missing = blocking(move || begun.missing_pieces(&blob))
            .await
            .map_err(Failure::Failed)?;
        for index in missing {
            let bytes = match self
                .request(peer, FileRequest::Piece { blob, index })
                .await
                .map_err(Failure::Failed)?
            {
                FileResponse::Piece(bytes) => bytes,
                FileResponse::Info(_) => {
                    return Err(Failure::Lied(
                        "piece",
                        "a piece list came for a piece".into(),
                    ));
                }
                FileResponse::Missing | FileResponse::Busy => {
                    return Err(Failure::Failed(HostError::peer(format!(
                        "{peer} did not give piece {index} of {blob}"
                    ))));
                }
            };
            let put = Arc::clone(&store);
            match tokio::task::spawn_blocking(move || put.put_piece(&blob, index, &bytes)).await {
                Ok(Ok(_)) => {}
                Ok(Err(
                    err @ (AssetError::PieceMismatch { .. }
                    | AssetError::PieceLength { .. }
                    | AssetError::NoSuchPiece { .. }),
                )) => return Err(Failure::Lied("piece", err.to_string())),
                Ok(Err(err)) => return Err(Failure::Failed(err.into())),
                Err(_) => return Err(Failure::Failed(HostError::Stopped)),
            }
        }
        Ok(())
    }

    pub(super) fn store(&self) -> Result<Arc<BlobStore>, HostError> {
        self.store
            .clone()
            .ok_or_else(|| HostError::peer("this host keeps no files"))
    }
}

/// Runs a blob store call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, AssetError> + Send + 'static,
) -> Result<T, HostError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|_| HostError::Stopped)?
        .map_err(HostError::from)
}

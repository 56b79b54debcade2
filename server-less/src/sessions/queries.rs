//! Market queries and transactions a player sends: catalogue pages,
//! submitted transactions watched to finality.

use ledger::Address;
use renet::ClientId;

use super::convert::{page_message, query_of};
use super::limits::MAX_WATCHED;
use super::server::{Reply, Server, deliver, refused};
use crate::error::HostError;
use crate::node::HostHandle;
use plaza_client::protocol::{Browse, ErrorCode, ProtocolError, ServerMessage, TxState};

pub(super) fn unavailable(request: u32, err: &HostError) -> ServerMessage {
    refused(Some(request), ErrorCode::Unavailable, err.for_player())
}

impl Server {
    pub(super) fn browse(
        &mut self,
        client: ClientId,
        viewer: Address,
        request: u32,
        browse: Browse,
    ) {
        let query = match query_of(&browse, viewer) {
            Ok(query) => query,
            Err(err) => {
                self.breach(client, Some(request), &err);
                return;
            }
        };
        self.ask(client, async move |handle: HostHandle| {
            Some(match handle.browse(query).await {
                Ok(page) => page_message(request, page),
                Err(HostError::Market(err)) => {
                    refused(Some(request), ErrorCode::Invalid, err.to_string())
                }
                Err(err) => unavailable(request, &err),
            })
        });
    }

    pub(super) fn submit(
        &mut self,
        client: ClientId,
        account: Address,
        request: u32,
        tx: ledger::SignedTransaction,
    ) {
        if tx.tx.signer != account {
            let err = ProtocolError::new(
                ErrorCode::Refused,
                format!(
                    "the transaction is {}'s; this session is {account}'s",
                    tx.tx.signer
                ),
            );
            self.breach(client, Some(request), &err);
            return;
        }
        let watching = self.watched.values().filter(|c| **c == client).count();
        if watching >= MAX_WATCHED {
            let err = ProtocolError::new(
                ErrorCode::Busy,
                format!("{MAX_WATCHED} transactions are waiting: wait for some to be final"),
            );
            self.breach(client, Some(request), &err);
            return;
        }
        let id = tx.id();
        let replies = self.replies.clone();
        self.ask(client, async move |handle: HostHandle| {
            Some(match handle.submit(tx).await {
                Ok(_) => {
                    deliver(&replies, Reply::Watch(client, id));
                    ServerMessage::Tx {
                        request: Some(request),
                        id,
                        state: TxState::Pending,
                    }
                }
                Err(err) if err.is_internal() || matches!(err, HostError::Stopped) => {
                    unavailable(request, &err)
                }
                Err(err) => ServerMessage::Tx {
                    request: Some(request),
                    id,
                    state: TxState::Rejected {
                        height: None,
                        reason: err.to_string(),
                    },
                },
            })
        });
    }
}

//! Market queries and transactions a player sends: catalogue pages,
//! submitted transactions watched to finality.

use ledger::Address;
use renet::ClientId;

use super::convert::{page_message, query_of};
use super::limits::MAX_WATCHED;
use super::replies::{Reply, deliver};
use super::server::{Server, refused};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::fixture::{Fixture, SQUARE, code};
    use plaza_client::protocol::ClientMessage;

    #[test]
    fn a_catalogue_page_comes_back_and_a_bad_query_is_refused() {
        let mut fixture = Fixture::new();
        let (client, _) = fixture.enter("ada", SQUARE);
        let query = Browse {
            page_size: 2,
            ..Browse::default()
        };
        fixture.send(client, &ClientMessage::Browse { request: 1, query });
        let page = fixture.until(client, "a page", |message| message.request() == Some(1));
        let ServerMessage::Page { hits, next, .. } = page else {
            panic!("not a page: {page:?}");
        };
        assert_eq!(hits.len(), 2);
        assert!(
            next.is_some(),
            "the demo network has more than two listings"
        );
        // A cursor that is not one: refused, with the request's id.
        let query = Browse {
            after: Some("not a cursor".into()),
            ..Browse::default()
        };
        fixture.send(client, &ClientMessage::Browse { request: 2, query });
        let refused = fixture.until(client, "the refusal", |message| {
            message.request() == Some(2)
        });
        assert!(
            matches!(refused, ServerMessage::Error { .. }),
            "{refused:?}"
        );
    }

    #[test]
    fn a_transaction_is_watched_to_finality_and_one_signed_by_another_is_refused() {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let (ada_key, bo) = (fixture.key("ada"), fixture.key("bo").address());
        let pay = ledger::Operation::Pay { to: bo, amount: 5 };
        let tx = fixture.sign(ada, &ada_key, pay);
        let id = tx.id();
        fixture.send(ada, &ClientMessage::Submit { request: 1, tx });
        let pending = fixture.until(ada, "the answer", |message| message.request() == Some(1));
        assert_eq!(
            pending,
            ServerMessage::Tx {
                request: Some(1),
                id,
                state: TxState::Pending
            }
        );
        fixture.wait_applied(ada, id);
        assert!(fixture.server.watched.is_empty());

        // Bo's transaction sent over Ada's session: refused and struck.
        let (bo_client, _) = fixture.enter("bo", SQUARE);
        let bo_key = fixture.key("bo");
        let to_ada = ledger::Operation::Pay {
            to: ada_key.address(),
            amount: 5,
        };
        let theirs = fixture.sign(bo_client, &bo_key, to_ada);
        fixture.send(
            ada,
            &ClientMessage::Submit {
                request: 2,
                tx: theirs,
            },
        );
        let refused = fixture.until(ada, "the refusal", |message| message.request() == Some(2));
        assert_eq!(code(&refused), Some(ErrorCode::Refused), "{refused:?}");
        assert!(fixture.server.sessions[&ada].strikes >= 1.0);
    }

    #[test]
    fn a_client_watching_as_many_transactions_as_allowed_must_wait_for_one() {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        for n in 0..MAX_WATCHED {
            let id = ledger::TxId([n as u8; 32]);
            fixture.server.watched.insert(id, ada);
        }
        let key = fixture.key("ada");
        let op = ledger::Operation::Pay {
            to: fixture.key("bo").address(),
            amount: 1,
        };
        let tx = fixture.sign(ada, &key, op);
        fixture.send(ada, &ClientMessage::Submit { request: 3, tx });
        let busy = fixture.until(ada, "the refusal", |message| message.request() == Some(3));
        assert_eq!(code(&busy), Some(ErrorCode::Busy), "{busy:?}");
    }
}

//! News from the ledger: each committed block turned into the events
//! its players need (transactions final, balances, holdings, listings).

use std::collections::HashMap;

use ledger::{Address, Amount, LedgerError, TxId};
use renet::ClientId;

use super::server::Server;
use crate::node::BlockEvent;
use plaza_client::protocol::{Event, ServerMessage, SessionState, TxState};

impl Server {
    /// Tells each player what `event` changed for them.
    pub(super) fn block(&mut self, event: &BlockEvent) {
        self.keep_minted_files(event);
        let block = &event.block;
        let mut news: HashMap<Address, Vec<Event>> = HashMap::new();
        for listing in &block.listings {
            news.entry(listing.lister)
                .or_default()
                .push(Event::Listing(listing.clone()));
        }
        for rental in &block.rentals {
            let event = if rental.status == ledger::RentalStatus::Active {
                Event::RentalStarted(rental.clone())
            } else {
                Event::RentalEnded(rental.clone())
            };
            news.entry(rental.lessor).or_default().push(event.clone());
            news.entry(rental.renter).or_default().push(event);
        }
        let balances: HashMap<Address, Amount> = block
            .accounts
            .iter()
            .map(|(address, account)| (*address, account.balance))
            .collect();
        let heading = ServerMessage::Event(Event::Block {
            height: block.height,
            time: block.time,
        });
        let clients: Vec<ClientId> = self.sessions.keys().copied().collect();
        for client in clients {
            let Some(session) = self.sessions.get_mut(&client) else {
                continue;
            };
            if session.state != SessionState::InWorld {
                continue;
            }
            let account = session.account;
            let mut out = vec![heading.clone()];
            if let Some(after) = balances.get(&account).copied()
                && let Some(before) = session.balance.replace(after)
                && before != after
            {
                out.push(ServerMessage::Event(Event::Balance { before, after }));
            }
            if let Some(events) = news.get(&account) {
                out.extend(events.iter().cloned().map(ServerMessage::Event));
            }
            for message in out {
                self.send(client, &message);
            }
        }
        let finals = block.results.iter().map(|result| {
            let state = match &result.outcome {
                Ok(()) => TxState::Applied {
                    height: block.height,
                },
                Err(err) => TxState::Rejected {
                    height: Some(block.height),
                    reason: err.to_string(),
                },
            };
            (result.id, state)
        });
        let dropped = event.dropped.iter().map(|(id, err): &(TxId, LedgerError)| {
            (
                *id,
                TxState::Rejected {
                    height: None,
                    reason: err.to_string(),
                },
            )
        });
        let updates: Vec<(TxId, TxState)> = finals.chain(dropped).collect();
        for (id, state) in updates {
            if let Some(client) = self.watched.remove(&id) {
                self.send(
                    client,
                    &ServerMessage::Tx {
                        request: None,
                        id,
                        state,
                    },
                );
            }
        }
    }
}

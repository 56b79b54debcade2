//! News from the ledger: each committed block turned into the events
//! its players need (transactions final, balances, holdings, listings).

use std::collections::HashMap;

use ledger::{Address, Amount, LedgerError, TxId};
use renet::ClientId;

use super::server::Server;
use crate::node::BlockEvent;
use plaza_client::protocol::{Event, ServerMessage, SessionState, TxState};

impl Server {
    /// Tells every player in a world that its stalls and parcels may show
    /// other listings (blocks were missed, so which ones is not known),
    /// at the last height heard of: their clients read them again.
    pub(super) fn restock_all(&mut self) {
        let work = *self.handle.backlog().borrow();
        let news = ServerMessage::Event(Event::Block {
            height: self.height.max(work.height),
            time: work.time,
            restock: true,
        });
        let clients: Vec<ClientId> = self
            .sessions
            .iter()
            .filter(|(_, session)| session.state == SessionState::InWorld)
            .map(|(client, _)| *client)
            .collect();
        for client in clients {
            self.send(client, &news);
        }
    }

    /// Tells each player what `event` changed for them.
    pub(super) fn block(&mut self, event: &BlockEvent) {
        self.keep_minted_files(event);
        let block = &event.block;
        self.height = self.height.max(block.height);
        // What the block changed, for what its players wear and what
        // stands on its parcels.
        let changed: HashMap<ledger::AssetId, &ledger::Asset> =
            block.assets.iter().map(|asset| (asset.id, asset)).collect();
        self.undress(block, &changed);
        self.settle_parcels(event, &changed);
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
        // Whether each world's stalls show other listings now.
        let restock: Vec<bool> = self
            .worlds
            .iter()
            .map(|world| event.restock.contains(&world.world.info.name))
            .collect();
        let heading = |restock: bool| {
            ServerMessage::Event(Event::Block {
                height: block.height,
                time: block.time,
                restock,
            })
        };
        let clients: Vec<ClientId> = self.sessions.keys().copied().collect();
        for client in clients {
            let Some(session) = self.sessions.get_mut(&client) else {
                continue;
            };
            if session.state != SessionState::InWorld {
                continue;
            }
            let account = session.account;
            let mut out = vec![heading(
                restock.get(session.world).copied().unwrap_or(false),
            )];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::fixture::{Fixture, SQUARE};

    #[test]
    fn blocks_missed_have_every_worlds_stalls_read_again() {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let bo = fixture.connect(&fixture.key("bo"));
        fixture.server.restock_all();
        fixture.until(ada, "a restock", |message| {
            matches!(
                message,
                ServerMessage::Event(Event::Block { restock: true, .. })
            )
        });
        // Only players in a world are told.
        fixture.step();
        assert!(
            !fixture
                .heard(bo)
                .iter()
                .any(|message| matches!(message, ServerMessage::Event(_)))
        );
    }

    #[test]
    fn a_block_tells_its_players_the_height_and_the_balances_it_changed() {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let (bo, _) = fixture.enter("bo", SQUARE);
        let (cy, _) = fixture.enter("cy", SQUARE);
        // The sessions learn each balance as they enter.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while fixture
            .server
            .sessions
            .values()
            .any(|session| session.balance.is_none())
        {
            assert!(std::time::Instant::now() < deadline, "no balances");
            fixture.step();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let key = fixture.key("ada");
        let to = fixture.key("bo").address();
        let tx = fixture.sign(ada, &key, ledger::Operation::Pay { to, amount: 7 });
        let id = tx.id();
        fixture.send(
            ada,
            &plaza_client::protocol::ClientMessage::Submit { request: 1, tx },
        );
        let fin = fixture.until(ada, "finality", |message| {
            matches!(message, ServerMessage::Tx { request: None, id: got, .. } if *got == id)
        });
        let ServerMessage::Tx {
            state: TxState::Applied { height },
            ..
        } = fin
        else {
            panic!("not applied: {fin:?}");
        };
        // Bo is told of the 7 tokens; Ada of her fee and payment.
        let gained = fixture.until(bo, "bo's balance", |message| {
            matches!(message, ServerMessage::Event(Event::Balance { .. }))
        });
        let ServerMessage::Event(Event::Balance { before, after }) = gained else {
            unreachable!()
        };
        assert_eq!(after, before + 7);
        let paid = fixture.until(ada, "ada's balance", |message| {
            matches!(message, ServerMessage::Event(Event::Balance { .. }))
        });
        let ServerMessage::Event(Event::Balance { before, after }) = paid else {
            unreachable!()
        };
        assert!(after <= before - 7, "{before} -> {after}");
        // Cy heard the block go by (a payment: the stalls show the same
        // listings), and nothing of others' balances.
        let heard = fixture.until(cy, "the block", |message| {
            matches!(message, ServerMessage::Event(Event::Block { height: got, .. }) if *got == height)
        });
        assert!(matches!(
            heard,
            ServerMessage::Event(Event::Block { restock: false, .. })
        ));
        assert!(
            !fixture
                .heard(cy)
                .iter()
                .any(|message| matches!(message, ServerMessage::Event(Event::Balance { .. })))
        );
    }
}

//! Parcels and blocks: each block's word on who holds which parcel and
//! what it took from a holder, and what is done when blocks were missed.

use std::collections::HashMap;

use ledger::{Asset, AssetId};
use renet::ClientId;

use super::Plot;
use crate::node::BlockEvent;
use crate::sessions::server::Server;
use market::catalogue::ParcelChange;
use plaza_client::protocol::ServerMessage;

impl Server {
    /// After a block: a parcel with another deed, holder or tenure is
    /// cleared and everyone in its world told; a thing the block took
    /// from a parcel's holder (`changed`: the block's assets by id) leaves
    /// the parcel.
    pub(in crate::sessions) fn settle_parcels(
        &mut self,
        event: &BlockEvent,
        changed: &HashMap<AssetId, &Asset>,
    ) {
        let block = &event.block;
        // The worlds show the holders of a later block already.
        if block.height > self.parcels_at {
            self.parcels_at = block.height;
            let since = block.time.saturating_mul(1_000);
            for change in &event.parcels {
                self.parcel_changed(change, since);
            }
        }
        if changed.is_empty() {
            return;
        }
        for world in 0..self.worlds.len() {
            let mut taken = Vec::new();
            for (index, plot) in self.worlds[world].plots.iter_mut().enumerate() {
                let Some(holder) = plot.arrangement.as_ref().map(|shown| shown.holder) else {
                    continue;
                };
                let before = plot.shown.len();
                plot.shown.retain(|item| {
                    changed
                        .get(&item.asset)
                        .is_none_or(|after| market::wear::holds(after, &holder, block.time).is_ok())
                });
                if plot.shown.len() != before
                    && let Ok(index) = u16::try_from(index)
                {
                    taken.push(index);
                }
            }
            for parcel in taken {
                self.tell_arranged(world, parcel, None);
            }
        }
    }

    /// A parcel's new deed, holder or tenure, since `since_ms` (the
    /// block's time): what stood on it is gone, and its world is told.
    fn parcel_changed(&mut self, change: &ParcelChange, since_ms: u64) {
        let Some(world) = self
            .worlds
            .iter()
            .position(|state| state.world.info.name == change.world)
        else {
            return;
        };
        let state = &mut self.worlds[world];
        let index = usize::from(change.parcel);
        let Some(info) = state.world.info.parcels.get_mut(index) else {
            return;
        };
        let now = (change.deed, change.holder, change.tenure);
        if (info.deed, info.holder, info.tenure) == now {
            return;
        }
        if let Some(deed) = info.deed {
            state.to_announce.retain(|queued| queued.deed != deed);
        }
        (info.deed, info.holder, info.tenure) = now;
        if let Some(plot) = state.plots.get_mut(index) {
            *plot = Plot {
                since_ms,
                ..Plot::default()
            };
        }
        let clients: Vec<ClientId> = state.clients().collect();
        let news = ServerMessage::Parcel {
            parcel: change.parcel,
            deed: change.deed,
            holder: change.holder,
            tenure: change.tenure,
        };
        for client in clients {
            self.send(client, &news);
        }
    }

    /// Blocks were missed: every parcel's deed, holder and tenure is read
    /// again, and what stands on the parcels is hidden until it has been
    /// checked again against the ledger (as checks are free, a few each
    /// tick).
    pub(in crate::sessions) fn resettle_parcels(&mut self) {
        let lands = self.handle.lands();
        let since = lands.time.saturating_mul(1_000);
        for change in crate::node::parcels_of(&lands.worlds) {
            self.parcel_changed(&change, since);
        }
        self.parcels_at = self.parcels_at.max(lands.height);
        self.rechecks.clear();
        for world in 0..self.worlds.len() {
            let mut hidden = Vec::new();
            for (index, plot) in self.worlds[world].plots.iter_mut().enumerate() {
                let Ok(index) = u16::try_from(index) else {
                    continue;
                };
                if plot.arrangement.is_some() {
                    self.rechecks.push_back((world, index));
                    if !plot.shown.is_empty() {
                        plot.shown.clear();
                        hidden.push(index);
                    }
                }
            }
            for parcel in hidden {
                self.tell_arranged(world, parcel, None);
            }
        }
    }

    /// Checks again the arrangements waiting for it, as many as checks
    /// are free.
    pub(in crate::sessions) fn recheck_parcels(&mut self) {
        while self.remote_checks < crate::sessions::presence::MAX_REMOTE_CHECKS {
            let Some((world, parcel)) = self.rechecks.pop_front() else {
                return;
            };
            let arrangement = self
                .worlds
                .get(world)
                .and_then(|state| state.plots.get(usize::from(parcel)))
                .and_then(|plot| plot.arrangement.clone());
            if let Some(arrangement) = arrangement {
                self.check_arrangement(world, parcel, arrangement, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use crate::node::BlockEvent;
    use crate::sessions::fixture::{Fixture, SQUARE};
    use ledger::{Address, Operation};
    use market::catalogue::ParcelChange;
    use plaza_client::land::{Arrangement, PlacedItem, Tenure};
    use plaza_client::protocol::ServerMessage;
    use std::collections::HashMap;

    #[test]
    fn a_renter_holds_the_parcel_until_the_rental_ends_and_what_it_put_down_goes_with_it() {
        let mut fixture = Fixture::new();
        let bo_key = fixture.key("bo");
        let bo = fixture.connect(&bo_key);
        let welcome = fixture.welcomed(bo, SQUARE);
        let (cy, _) = fixture.enter("cy", SQUARE);
        // A parcel of the square let by the hour.
        let ServerMessage::Welcome { world, .. } = &welcome else {
            unreachable!()
        };
        let inventory = |fixture: &Fixture, who: Address| {
            fixture
                .block_on(fixture.server.handle.inventory(who))
                .unwrap()
        };
        let founder = world.parcels[0].holder.unwrap();
        let (index, listing) = world
            .parcels
            .iter()
            .enumerate()
            .find_map(|(index, parcel)| {
                let deed = parcel.deed?;
                let held = inventory(&fixture, founder);
                let asset = held.owned.iter().find(|asset| asset.id == deed)?;
                Some((u16::try_from(index).unwrap(), asset.listing?))
            })
            .expect("a parcel of the square is let");
        applied(
            &mut fixture,
            bo,
            &bo_key,
            Operation::Rent {
                listing,
                periods: 1,
            },
        );
        let news = fixture.until(
            cy,
            "the parcel let",
            |message| matches!(message, ServerMessage::Parcel { parcel, .. } if *parcel == index),
        );
        let ServerMessage::Parcel {
            holder,
            tenure,
            deed,
            ..
        } = news
        else {
            unreachable!()
        };
        assert_eq!(holder, Some(bo_key.address()));
        let rented = (deed.unwrap(), tenure.unwrap());
        assert!(matches!(rented.1, Tenure::Renter(_)), "{rented:?}");
        // Bo puts a thing of his down on it.
        let parcel = fixture.server.worlds[0].world.info.parcels[usize::from(index)].clone();
        let thing = placeable(&fixture, &bo_key.address())[0];
        let items = vec![PlacedItem::new(thing, parcel.centre(), 0)];
        let chain = fixture.chain_id.clone();
        let mine = Arrangement::sign(
            &bo_key,
            &chain,
            rented,
            crate::presence::unix_millis(),
            items.clone(),
        );
        assert_eq!(placed_of(&arrange(&mut fixture, bo, 1, mine)), items);
        fixture.until(cy, "bo's thing", |message| {
            matches!(message, ServerMessage::Arranged { parcel, placed, .. }
                if *parcel == index && !placed.is_empty())
        });
        // He hands the parcel back early: it is the founder's again, and
        // his thing is gone from it for everyone.
        let rental = inventory(&fixture, bo_key.address())
            .renting
            .iter()
            .find(|asset| asset.id == rented.0)
            .and_then(|asset| asset.rental)
            .unwrap()
            .id;
        applied(
            &mut fixture,
            bo,
            &bo_key,
            Operation::ReturnRental { rental },
        );
        let news = fixture.until(
            cy,
            "the parcel back",
            |message| matches!(message, ServerMessage::Parcel { parcel, .. } if *parcel == index),
        );
        assert!(matches!(news, ServerMessage::Parcel { holder: Some(h), .. } if h == founder));
        assert!(
            fixture.server.worlds[0].plots[usize::from(index)]
                .arrangement
                .is_none()
        );
        assert!(
            fixture.server.worlds[0].plots[usize::from(index)]
                .shown
                .is_empty()
        );
    }

    #[test]
    fn blocks_missed_hide_what_stands_on_the_parcels_until_it_is_checked_again() {
        let (mut fixture, cy, cy_key, (index, parcel), ada) = cy_and_ada();
        let thing = placeable(&fixture, &cy_key.address())[0];
        let items = vec![PlacedItem::new(thing, parcel.centre(), 0)];
        let chain = fixture.chain_id.clone();
        let mine = Arrangement::sign(
            &cy_key,
            &chain,
            deed_of(&parcel),
            crate::presence::unix_millis(),
            items.clone(),
        );
        arrange(&mut fixture, cy, 1, mine);
        fixture.until(ada, "cy's thing", |message| {
            matches!(message, ServerMessage::Arranged { placed, .. } if !placed.is_empty())
        });
        // As when the session server falls behind the ledger's blocks.
        fixture.server.resettle_parcels();
        let hidden = fixture.until(
            ada,
            "the thing hidden",
            |message| matches!(message, ServerMessage::Arranged { parcel, .. } if *parcel == index),
        );
        assert!(placed_of(&hidden).is_empty());
        let back = fixture.until(
            ada,
            "the thing back once checked",
            |message| matches!(message, ServerMessage::Arranged { parcel, .. } if *parcel == index),
        );
        assert_eq!(placed_of(&back), items);
        assert_eq!(fixture.server.remote_checks, 0);
    }

    #[test]
    fn a_block_at_or_below_the_holders_the_world_shows_changes_no_holder() {
        let mut fixture = Fixture::new();
        let (cy, _) = fixture.enter("cy", SQUARE);
        let before = fixture.server.worlds[0].world.info.parcels[1].clone();
        assert!(before.holder.is_some());
        let event = |height: ledger::Height| BlockEvent {
            block: ledger::CommittedBlock {
                height,
                hash: ledger::BlockHash([0; 32]),
                state_root: ledger::StateRoot([0; 32]),
                results: Vec::new(),
                time: 0,
                settlements: Vec::new(),
                accounts: Vec::new(),
                assets: Vec::new(),
                listings: Vec::new(),
                rentals: Vec::new(),
            },
            dropped: Vec::new(),
            restock: Vec::new(),
            parcels: vec![ParcelChange {
                world: SQUARE.into(),
                parcel: 1,
                deed: None,
                holder: None,
                tenure: None,
            }],
        };
        // News older than what the world shows (heard again after the
        // session server fell behind): nothing changes.
        let shown = fixture.server.parcels_at;
        fixture
            .server
            .settle_parcels(&event(shown), &HashMap::new());
        assert_eq!(fixture.server.worlds[0].world.info.parcels[1], before);
        // A later block's word is taken, and told.
        fixture
            .server
            .settle_parcels(&event(shown + 1), &HashMap::new());
        assert_eq!(fixture.server.worlds[0].world.info.parcels[1].holder, None);
        let news = fixture.until(cy, "the parcel's news", |message| {
            matches!(message, ServerMessage::Parcel { parcel: 1, .. })
        });
        assert!(matches!(news, ServerMessage::Parcel { holder: None, .. }));
    }
}

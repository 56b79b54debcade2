//! Parcels: each is a ledger asset (its deed), held by the deed's renter
//! during a rental and else by its owner (`market::catalogue` follows
//! them block by block). The holder puts things it holds down on its
//! parcel with an arrangement it signs ([`Arrangement`]); this host
//! checks it against the ledger (the signer holds the parcel, and each
//! thing, now) before anyone sees it, tells everyone in the world, and
//! passes it on to the world's other hosts, which check it again against
//! their own ledgers. The newest arrangement of a parcel wins. A block
//! that gives the parcel to someone else clears it; one that takes a
//! thing from the holder (its rental ended, it was sold) takes it off the
//! parcel, for every observer, before the next tick sends anything.

use std::collections::HashMap;

use ledger::{Asset, AssetId};
use renet::ClientId;

use super::replies::{Reply, deliver};
use super::server::{Server, error, refused};
use crate::error::HostError;
use crate::node::{BlockEvent, Placeable};
use crate::presence::MAX_ARRANGED;
use market::catalogue::ParcelChange;
use plaza_client::land::{ARRANGEMENT_SKEW_MS, Arrangement, PlacedItem};
use plaza_client::protocol::{ErrorCode, ProtocolError, ServerMessage};

/// What stands on one parcel.
#[derive(Clone, Debug, Default)]
pub(super) struct Plot {
    /// Its holder's newest arrangement taken.
    pub(super) arrangement: Option<Arrangement>,
    /// What of it is shown: the things its holder still holds.
    pub(super) shown: Vec<PlacedItem>,
}

/// Who asked for an arrangement to be checked: a player of this host
/// (its client and request), or another host of the world.
pub(super) type Asker = Option<(ClientId, u32)>;

impl super::server::WorldState {
    /// What to pass on to the world's other hosts in the next presence
    /// message, at most [`MAX_ARRANGED`]: the arrangements taken lately,
    /// and (each `keyframe`, once a second) one shown, parcel by parcel in
    /// turn, for hosts that came later.
    pub(super) fn arrangements_to_announce(&mut self, keyframe: bool) -> Vec<Arrangement> {
        let mut out: Vec<Arrangement> = Vec::new();
        while out.len() < MAX_ARRANGED {
            let Some(next) = self.to_announce.pop_front() else {
                break;
            };
            out.push(next);
        }
        if keyframe && out.len() < MAX_ARRANGED && !self.plots.is_empty() {
            for _ in 0..self.plots.len() {
                let at = self.announce_next % self.plots.len();
                self.announce_next = at + 1;
                if let Some(shown) = &self.plots[at].arrangement {
                    if !out.iter().any(|queued| queued.deed == shown.deed) {
                        out.push(shown.clone());
                    }
                    break;
                }
            }
        }
        out
    }
}

impl Server {
    /// `client` puts things down on a parcel it holds: checked here, then
    /// against the ledger.
    pub(super) fn arrange(&mut self, client: ClientId, request: u32, arrangement: Arrangement) {
        let Some(session) = self.sessions.get(&client) else {
            return;
        };
        let (world, account) = (session.world, session.account);
        if arrangement.holder != account {
            let err = ProtocolError::new(
                ErrorCode::Invalid,
                format!(
                    "an arrangement signed by {}, not by you ({account})",
                    arrangement.holder
                ),
            );
            self.send(client, &error(Some(request), &err));
            return;
        }
        match self.arrangement_fits(world, &arrangement) {
            Ok(parcel) => {
                self.check_arrangement(world, parcel, arrangement, Some((client, request)));
            }
            Err(err) => self.send(client, &error(Some(request), &err)),
        }
    }

    /// Another host's word on a parcel of `world`: taken, once checked,
    /// if it fits and is newer than what is shown.
    pub(super) fn arrangement_heard(&mut self, world: usize, arrangement: Arrangement) {
        let same = |plot: &Plot| {
            plot.arrangement.as_ref().is_some_and(|shown| {
                shown.holder == arrangement.holder && shown.made_at == arrangement.made_at
            })
        };
        let known = self
            .worlds
            .get(world)
            .is_some_and(|state| state.plots.iter().any(same));
        // Passed on again and again: only news is checked.
        if known {
            return;
        }
        if let Ok(parcel) = self.arrangement_fits(world, &arrangement) {
            self.check_arrangement(world, parcel, arrangement, None);
        }
    }

    /// The parcel of `world` that `arrangement` is for, by its index, if
    /// it may go there now: signed by its holder for this network, for a
    /// parcel whose deed it names and which its signer holds, every thing
    /// on the parcel, dated no later than a little past now and after
    /// the arrangement shown there.
    fn arrangement_fits(
        &self,
        world: usize,
        arrangement: &Arrangement,
    ) -> Result<u16, ProtocolError> {
        arrangement.check(&self.chain_id)?;
        let Some(state) = self.worlds.get(world) else {
            return Err(ProtocolError::new(ErrorCode::NotFound, "no such world"));
        };
        let Some((index, parcel)) = state
            .world
            .info
            .parcels
            .iter()
            .enumerate()
            .find(|(_, parcel)| parcel.deed == Some(arrangement.deed))
        else {
            return Err(ProtocolError::new(
                ErrorCode::NotFound,
                format!(
                    "no parcel of {} has the deed {}",
                    state.world.info.name, arrangement.deed
                ),
            ));
        };
        if parcel.holder != Some(arrangement.holder) {
            return Err(ProtocolError::new(
                ErrorCode::Refused,
                format!(
                    "{} does not hold {}: only its holder puts things down on it",
                    arrangement.holder, parcel.name
                ),
            ));
        }
        if let Some(item) = arrangement
            .items
            .iter()
            .find(|item| !parcel.contains(item.at()))
        {
            let [x, z] = item.at();
            return Err(ProtocolError::new(
                ErrorCode::Invalid,
                format!(
                    "{} is put at ({x}, {z}), outside {}",
                    item.asset, parcel.name
                ),
            ));
        }
        let now = crate::presence::unix_millis();
        if arrangement.made_at > now.saturating_add(ARRANGEMENT_SKEW_MS) {
            return Err(ProtocolError::new(
                ErrorCode::Invalid,
                "an arrangement dated in the future: check your clock",
            ));
        }
        let newer = state
            .plots
            .get(index)
            .and_then(|plot| plot.arrangement.as_ref())
            .is_none_or(|shown| shown.made_at < arrangement.made_at);
        if !newer {
            return Err(ProtocolError::new(
                ErrorCode::Refused,
                format!(
                    "{} shows an arrangement made at or after this one",
                    parcel.name
                ),
            ));
        }
        u16::try_from(index)
            .map_err(|_| ProtocolError::new(ErrorCode::NotFound, "a parcel past the last"))
    }

    /// Asks the ledger thread whether the holder holds each thing;
    /// `false` if it cannot be asked now (too many checks for other
    /// hosts in flight, or the player gone).
    fn check_arrangement(
        &mut self,
        world: usize,
        parcel: u16,
        arrangement: Arrangement,
        asker: Asker,
    ) -> bool {
        match asker {
            Some((client, _)) => {
                let Some(session) = self.sessions.get_mut(&client) else {
                    return false;
                };
                session.in_flight += 1;
            }
            None => {
                if self.remote_checks >= super::presence::MAX_REMOTE_CHECKS {
                    return false;
                }
                self.remote_checks += 1;
            }
        }
        let handle = self.handle.clone();
        let replies = self.replies.clone();
        let (holder, assets) = (
            arrangement.holder,
            arrangement.items.iter().map(|item| item.asset).collect(),
        );
        self.runtime.spawn(async move {
            let checked = handle.placeable(holder, assets).await;
            deliver(
                &replies,
                Reply::Arrange(world, parcel, Box::new(arrangement), asker, checked),
            );
        });
        true
    }

    /// The ledger thread's word on an arrangement: shown and told to all
    /// (the things its holder holds; a player of this host is refused the
    /// whole of it for one it does not), checked again if a block came
    /// since the state it was checked against.
    pub(super) fn arrangement_checked(
        &mut self,
        world: usize,
        parcel: u16,
        arrangement: Arrangement,
        asker: Asker,
        checked: Result<Placeable, HostError>,
    ) {
        match asker {
            Some((client, _)) => self.answered(client),
            None => self.remote_checks = self.remote_checks.saturating_sub(1),
        }
        let refuse = |server: &mut Server, code: ErrorCode, message: String| {
            if let Some((client, request)) = asker {
                server.send(client, &refused(Some(request), code, message));
            }
        };
        let placeable = match checked {
            Ok(placeable) => placeable,
            Err(err) => {
                let code = if err.is_internal() || matches!(err, HostError::Stopped) {
                    ErrorCode::Unavailable
                } else {
                    ErrorCode::Refused
                };
                refuse(self, code, err.for_player());
                return;
            }
        };
        if placeable.height < self.height {
            if !self.check_arrangement(world, parcel, arrangement, asker) {
                self.clear_unchecked(world, parcel);
            }
            return;
        }
        // The parcel may have changed hands while the ledger looked.
        match self.arrangement_fits(world, &arrangement) {
            Ok(now) if now == parcel => {}
            Ok(_) => return,
            Err(err) => {
                refuse(self, err.code, err.message);
                return;
            }
        }
        let mut shown = Vec::new();
        for (item, verdict) in arrangement.items.iter().zip(&placeable.verdicts) {
            match verdict {
                None => shown.push(*item),
                Some(reason) if asker.is_some() => {
                    refuse(self, ErrorCode::Refused, reason.clone());
                    return;
                }
                Some(_) => {}
            }
        }
        let Some(state) = self.worlds.get_mut(world) else {
            return;
        };
        let Some(plot) = state.plots.get_mut(usize::from(parcel)) else {
            return;
        };
        *plot = Plot {
            arrangement: Some(arrangement.clone()),
            shown,
        };
        // Passed on to the world's other hosts.
        state
            .to_announce
            .retain(|queued| queued.deed != arrangement.deed);
        state.to_announce.push_back(arrangement);
        if state.to_announce.len() > state.plots.len() {
            state.to_announce.pop_front();
        }
        self.tell_arranged(world, parcel, asker);
    }

    /// Tells everyone in `world` what stands on `parcel` now (answering
    /// `asker`'s request).
    fn tell_arranged(&mut self, world: usize, parcel: u16, asker: Asker) {
        let Some(state) = self.worlds.get(world) else {
            return;
        };
        let placed = state
            .plots
            .get(usize::from(parcel))
            .map(|plot| plot.shown.clone())
            .unwrap_or_default();
        let clients: Vec<ClientId> = state.clients().collect();
        for client in clients {
            let request = asker
                .filter(|(asking, _)| *asking == client)
                .map(|(_, request)| request);
            self.send(
                client,
                &ServerMessage::Arranged {
                    request,
                    parcel,
                    placed: placed.clone(),
                },
            );
        }
        if let Some((client, request)) = asker
            && self
                .sessions
                .get(&client)
                .is_none_or(|session| session.world != world)
        {
            // Gone to another world meanwhile: answered all the same.
            self.send(
                client,
                &ServerMessage::Arranged {
                    request: Some(request),
                    parcel,
                    placed,
                },
            );
        }
    }

    /// What stands on each parcel of `world`, told to a player entering
    /// it.
    pub(super) fn tell_parcels(&mut self, client: ClientId, world: usize) {
        let Some(state) = self.worlds.get(world) else {
            return;
        };
        let shown: Vec<(u16, Vec<PlacedItem>)> = state
            .plots
            .iter()
            .enumerate()
            .filter(|(_, plot)| !plot.shown.is_empty())
            .filter_map(|(index, plot)| Some((u16::try_from(index).ok()?, plot.shown.clone())))
            .collect();
        for (parcel, placed) in shown {
            self.send(
                client,
                &ServerMessage::Arranged {
                    request: None,
                    parcel,
                    placed,
                },
            );
        }
    }

    /// After a block: a parcel with another deed or holder is cleared and
    /// everyone in its world told; a thing the block took from a parcel's
    /// holder leaves the parcel.
    pub(super) fn settle_parcels(&mut self, event: &BlockEvent) {
        for change in &event.parcels {
            self.parcel_changed(change);
        }
        let block = &event.block;
        if block.assets.is_empty() {
            return;
        }
        let changed: HashMap<AssetId, &Asset> =
            block.assets.iter().map(|asset| (asset.id, asset)).collect();
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

    /// A parcel's new deed or holder: what stood on it is gone, and its
    /// world is told.
    fn parcel_changed(&mut self, change: &ParcelChange) {
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
        if info.deed == change.deed && info.holder == change.holder {
            return;
        }
        info.deed = change.deed;
        info.holder = change.holder;
        if let Some(plot) = state.plots.get_mut(index) {
            *plot = Plot::default();
        }
        let clients: Vec<ClientId> = state.clients().collect();
        let news = ServerMessage::Parcel {
            parcel: change.parcel,
            deed: change.deed,
            holder: change.holder,
        };
        for client in clients {
            self.send(client, &news);
        }
    }

    /// Blocks were missed: every parcel's deed and holder is read again,
    /// and every arrangement shown is checked again against the ledger.
    pub(super) fn resettle_parcels(&mut self) {
        let lands = self.handle.lands();
        let changes: Vec<ParcelChange> = lands
            .iter()
            .flat_map(|layout| {
                layout
                    .parcels
                    .iter()
                    .enumerate()
                    .filter_map(|(index, parcel)| {
                        Some(ParcelChange {
                            world: layout.name.clone(),
                            parcel: u16::try_from(index).ok()?,
                            deed: parcel.deed,
                            holder: parcel.holder,
                        })
                    })
            })
            .collect();
        for change in &changes {
            self.parcel_changed(change);
        }
        for world in 0..self.worlds.len() {
            let shown: Vec<(u16, Arrangement)> = self.worlds[world]
                .plots
                .iter_mut()
                .enumerate()
                .filter_map(|(index, plot)| {
                    Some((u16::try_from(index).ok()?, plot.arrangement.take()?))
                })
                .collect();
            for (parcel, arrangement) in shown {
                if !self.check_arrangement(world, parcel, arrangement, None) {
                    self.clear_unchecked(world, parcel);
                }
            }
        }
    }

    /// A parcel whose arrangement cannot be checked again shows nothing
    /// rather than what the ledger may no longer allow.
    fn clear_unchecked(&mut self, world: usize, parcel: u16) {
        let Some(plot) = self
            .worlds
            .get_mut(world)
            .and_then(|state| state.plots.get_mut(usize::from(parcel)))
        else {
            return;
        };
        if plot.arrangement.is_none() && !plot.shown.is_empty() {
            plot.shown.clear();
            self.tell_arranged(world, parcel, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::Presence;
    use crate::sessions::fixture::{Fixture, SQUARE, code};
    use assets::{AssetKind, Manifest};
    use ledger::{Address, Keypair, Operation};
    use plaza_client::protocol::{ClientMessage, ParcelInfo};

    /// The square's parcel `name` holds, by index, as the welcome said.
    fn held_parcel(welcome: &ServerMessage, holder: &Address) -> (u16, ParcelInfo) {
        let ServerMessage::Welcome { world, .. } = welcome else {
            panic!("not a welcome: {welcome:?}");
        };
        world
            .parcels
            .iter()
            .enumerate()
            .find(|(_, parcel)| parcel.holder == Some(*holder))
            .map(|(index, parcel)| (u16::try_from(index).unwrap(), parcel.clone()))
            .expect("the demo account holds a parcel of the square")
    }

    /// Things `who` holds (owns, not rented out) that may be put down.
    fn placeable(fixture: &Fixture, who: &Address) -> Vec<AssetId> {
        let held = fixture
            .block_on(fixture.server.handle.inventory(*who))
            .unwrap();
        held.owned
            .iter()
            .filter(|asset| asset.rental.is_none())
            .filter(|asset| {
                let bytes = fixture.server.blobs.get(&asset.id.0).unwrap();
                Manifest::from_json(&bytes).unwrap().kind != AssetKind::Parcel
            })
            .map(|asset| asset.id)
            .collect()
    }

    fn middle(parcel: &ParcelInfo) -> [f32; 2] {
        [0, 1].map(|axis| (parcel.min[axis] + parcel.max[axis]) / 2.0)
    }

    fn arrange(
        fixture: &mut Fixture,
        client: ClientId,
        request: u32,
        arrangement: Arrangement,
    ) -> ServerMessage {
        fixture.send(
            client,
            &ClientMessage::Arrange {
                request,
                arrangement,
            },
        );
        fixture.until(client, "the answer", |message| {
            message.request() == Some(request)
        })
    }

    fn placed_of(message: &ServerMessage) -> Vec<PlacedItem> {
        match message {
            ServerMessage::Arranged { placed, .. } => placed.clone(),
            other => panic!("not an arrangement: {other:?}"),
        }
    }

    #[test]
    fn a_holder_puts_things_down_for_everyone_and_the_ledger_takes_them_away() {
        let mut fixture = Fixture::new();
        let (cy_key, ada_key) = (fixture.key("cy"), fixture.key("ada"));
        let cy = fixture.connect(&cy_key);
        let welcome = fixture.welcomed(cy, SQUARE);
        let (index, parcel) = held_parcel(&welcome, &cy_key.address());
        let deed = parcel.deed.expect("a held parcel has its deed");
        let (ada, _) = fixture.enter("ada", SQUARE);
        let things = placeable(&fixture, &cy_key.address());
        assert!(things.len() >= 2, "cy holds {} things", things.len());
        let at = middle(&parcel);
        let items = vec![
            PlacedItem::new(things[0], at, 0),
            PlacedItem::new(things[1], [at[0] + 2.0, at[1]], 64),
        ];
        let chain = fixture.chain_id.clone();
        let now = crate::presence::unix_millis();
        let mine = Arrangement::sign(&cy_key, &chain, deed, now, items.clone());

        // Refused, each with why: another's parcel, a thing off it, a
        // thing not held, an arrangement signed by someone else.
        let theirs = Arrangement::sign(&ada_key, &chain, deed, now, items.clone());
        let answer = arrange(&mut fixture, ada, 1, theirs);
        assert_eq!(code(&answer), Some(ErrorCode::Refused), "{answer:?}");
        let off = Arrangement::sign(
            &cy_key,
            &chain,
            deed,
            now,
            vec![PlacedItem::new(things[0], [1e4, 1e4], 0)],
        );
        assert_eq!(
            code(&arrange(&mut fixture, cy, 2, off)),
            Some(ErrorCode::Invalid)
        );
        let ada_thing = placeable(&fixture, &ada_key.address())[0];
        let not_hers = Arrangement::sign(
            &cy_key,
            &chain,
            deed,
            now,
            vec![PlacedItem::new(ada_thing, at, 0)],
        );
        let answer = arrange(&mut fixture, cy, 3, not_hers);
        assert_eq!(code(&answer), Some(ErrorCode::Refused), "{answer:?}");
        let ServerMessage::Error { message, .. } = &answer else {
            unreachable!()
        };
        assert!(message.contains("does not hold"), "{message}");
        let answer = arrange(&mut fixture, ada, 4, mine.clone());
        assert_eq!(code(&answer), Some(ErrorCode::Invalid), "{answer:?}");
        assert!(
            !fixture
                .heard(ada)
                .iter()
                .any(|message| matches!(message, ServerMessage::Arranged { .. })),
            "nothing refused is shown"
        );

        // Cy's own: shown to her and to Ada.
        let answer = arrange(&mut fixture, cy, 5, mine.clone());
        assert_eq!(placed_of(&answer), items);
        let news = fixture.until(
            ada,
            "cy's things",
            |message| matches!(message, ServerMessage::Arranged { parcel, .. } if *parcel == index),
        );
        assert_eq!(placed_of(&news), items);
        // The same again, or an older one: refused.
        let answer = arrange(&mut fixture, cy, 6, mine);
        assert_eq!(code(&answer), Some(ErrorCode::Refused), "{answer:?}");
        // Someone entering later is told.
        let (bo, _) = fixture.enter("bo", SQUARE);
        let told = fixture.until(
            bo,
            "what stands on the parcel",
            |message| matches!(message, ServerMessage::Arranged { parcel, .. } if *parcel == index),
        );
        assert_eq!(placed_of(&told), items);

        // Cy gives the first thing away: it leaves the parcel for all.
        let gift = Operation::TransferAsset {
            asset: things[0],
            to: ada_key.address(),
        };
        let tx = fixture.sign(cy, &cy_key, gift);
        let id = tx.id();
        fixture.send(cy, &ClientMessage::Submit { request: 7, tx });
        fixture.wait_applied(cy, id);
        let news = fixture.until(ada, "the thing taken away", |message| {
            matches!(message, ServerMessage::Arranged { parcel, placed, .. }
                if *parcel == index && placed.len() == 1)
        });
        assert_eq!(placed_of(&news), items[1..]);

        // Cy gives the parcel to Dee: its new holder is told to all, and
        // what Cy put down is gone.
        let dee = fixture.key("dee").address();
        let tx = fixture.sign(
            cy,
            &cy_key,
            Operation::TransferAsset {
                asset: deed,
                to: dee,
            },
        );
        let id = tx.id();
        fixture.send(cy, &ClientMessage::Submit { request: 8, tx });
        fixture.wait_applied(cy, id);
        let news = fixture.until(
            bo,
            "the parcel's new holder",
            |message| matches!(message, ServerMessage::Parcel { parcel, .. } if *parcel == index),
        );
        assert_eq!(
            news,
            ServerMessage::Parcel {
                parcel: index,
                deed: Some(deed),
                holder: Some(dee),
            }
        );
        let world = &fixture.server.worlds[0];
        assert_eq!(
            world.world.info.parcels[usize::from(index)].holder,
            Some(dee)
        );
        assert!(world.plots[usize::from(index)].shown.is_empty());
    }

    #[test]
    fn an_arrangement_goes_to_the_other_hosts_and_theirs_is_shown_once_checked() {
        let mut fixture = Fixture::new();
        let cy_key = fixture.key("cy");
        let cy = fixture.connect(&cy_key);
        let welcome = fixture.welcomed(cy, SQUARE);
        let (index, parcel) = held_parcel(&welcome, &cy_key.address());
        let deed = parcel.deed.unwrap();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let things = placeable(&fixture, &cy_key.address());
        let chain = fixture.chain_id.clone();
        let first = Arrangement::sign(
            &cy_key,
            &chain,
            deed,
            crate::presence::unix_millis(),
            vec![PlacedItem::new(things[0], middle(&parcel), 0)],
        );
        arrange(&mut fixture, cy, 1, first.clone());
        // This host passes it on.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        'published: loop {
            assert!(std::time::Instant::now() < deadline, "never passed on");
            fixture.step();
            while let Ok(signed) = fixture.relay.outgoing.try_recv() {
                if signed.presence.arranged.contains(&first) {
                    break 'published;
                }
            }
        }

        // Another host passes on a newer one cy made there: shown here
        // once checked against this host's ledger. One made by someone who
        // does not hold the parcel, or an older one, is not.
        let host = Keypair::from_seed([42; 32]);
        let newer_items = vec![PlacedItem::new(things[1], middle(&parcel), 128)];
        let newer = Arrangement::sign(
            &cy_key,
            &chain,
            deed,
            first.made_at + 1,
            newer_items.clone(),
        );
        let squatter = Arrangement::sign(
            &fixture.key("bo"),
            &chain,
            deed,
            first.made_at + 2,
            newer_items.clone(),
        );
        let presence = |seq: u64, arranged: Vec<Arrangement>| Presence {
            chain_id: chain.as_str().to_owned(),
            host: host.address(),
            join: None,
            world: SQUARE.into(),
            count: 0,
            seq,
            sent_at: crate::presence::unix_millis(),
            players: Vec::new(),
            left: Vec::new(),
            said: Vec::new(),
            arranged,
        };
        // What Ada heard of the first is read.
        fixture.heard(ada);
        fixture
            .relay
            .incoming
            .try_send(presence(1, vec![squatter, first.clone()]))
            .unwrap();
        fixture
            .relay
            .incoming
            .try_send(presence(2, vec![newer]))
            .unwrap();
        let news = fixture.until(ada, "the other host's arrangement", |message| {
            matches!(message, ServerMessage::Arranged { request: None, parcel, .. }
                if *parcel == index)
        });
        assert_eq!(placed_of(&news), newer_items);
        let plot = &fixture.server.worlds[0].plots[usize::from(index)];
        assert_eq!(
            plot.arrangement.as_ref().unwrap().made_at,
            first.made_at + 1
        );
    }
}

//! Parcels: each is a ledger asset (its deed), held by the deed's renter
//! during a rental and else by its owner, under a tenure
//! (`market::wear::holding`; `market::catalogue` follows them block by
//! block). The holder puts things it holds down on its parcel with an
//! arrangement it signs ([`Arrangement`]); this host checks it against
//! the ledger (the signer holds the parcel under that tenure, and each
//! thing, now) before anyone sees it, tells everyone in the world, and
//! passes it on to the world's other hosts, which check it again against
//! their own ledgers. The newest arrangement of a parcel wins. A block
//! that gives the parcel to someone else (or to the same account under
//! another tenure) clears it; one that takes a thing from the holder (its
//! rental ended, it was sold) takes it off the parcel, for every
//! observer, before the next tick sends anything.

use std::time::{Duration, Instant};

use ledger::AssetId;
use renet::ClientId;
use tracing::debug;

mod blocks;

use super::replies::{Reply, deliver};
use super::server::{Server, WorldState, error, refused};
use crate::error::HostError;
use crate::node::{Placeable, PlaceableAsk};
use crate::presence::MAX_ARRANGED;
use plaza_client::land::{ARRANGEMENT_SKEW_MS, Arrangement, PlacedItem};
use plaza_client::protocol::{ErrorCode, ProtocolError, ServerMessage};

/// What stands on one parcel.
#[derive(Clone, Debug, Default)]
pub(super) struct Plot {
    /// Its holder's newest arrangement taken.
    pub(super) arrangement: Option<Arrangement>,
    /// What of it is shown: the things its holder still holds.
    pub(super) shown: Vec<PlacedItem>,
    /// When its holder got it, as far as this host knows (Unix
    /// milliseconds, by the block's time): no arrangement made before,
    /// less [`ARRANGEMENT_SKEW_MS`], is taken.
    pub(super) since_ms: u64,
    /// When another host last passed on a new arrangement of it: one a
    /// second is taken.
    pub(super) heard_at: Option<Instant>,
}

/// Another host's new arrangements of one parcel, one in this long at
/// most.
const HEARD_EVERY: Duration = Duration::from_secs(1);

/// Who asked for an arrangement to be checked: a player of this host
/// (its client and request), or nobody (another host's word, or one
/// shown checked again).
pub(super) type Asker = Option<(ClientId, u32)>;

impl WorldState {
    /// What to pass on to the world's other hosts in the next presence
    /// message, at most [`MAX_ARRANGED`]: the arrangements this host's
    /// players made lately, and (each `keyframe`, once a second) one
    /// shown, parcel by parcel in turn, for hosts that came later.
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
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let (world, account) = (session.world, session.account);
        let refusal = if !session.arrangements.take() {
            Some(ProtocolError::new(
                ErrorCode::RateLimited,
                "one arrangement a second: wait a moment",
            ))
        } else if arrangement.holder != account {
            Some(ProtocolError::new(
                ErrorCode::Invalid,
                format!(
                    "an arrangement signed by {}, not by you ({account})",
                    arrangement.holder
                ),
            ))
        } else {
            arrangement.check(&self.chain_id).err()
        };
        if let Some(err) = refusal {
            self.send(client, &error(Some(request), &err));
            return;
        }
        match self.arrangement_fits(world, &arrangement, true) {
            Ok(parcel) => {
                self.check_arrangement(world, parcel, arrangement, Some((client, request)));
            }
            Err(err) => self.send(client, &error(Some(request), &err)),
        }
    }

    /// Another host's word on a parcel of `world` (its signature already
    /// checked with the presence that carried it): taken, once checked,
    /// if it fits and is news.
    pub(super) fn arrangement_heard(&mut self, world: usize, arrangement: Arrangement) {
        let known = self.worlds.get(world).is_some_and(|state| {
            state
                .plots
                .iter()
                .any(|plot| plot.arrangement.as_ref() == Some(&arrangement))
        });
        // Passed on again and again: only news is checked.
        if known {
            return;
        }
        match self.arrangement_fits(world, &arrangement, false) {
            Ok(parcel) => {
                // One a second of each parcel: a holder signing many at
                // once costs the ledger no more than a player may.
                let now = Instant::now();
                let Some(plot) = self.worlds[world].plots.get_mut(usize::from(parcel)) else {
                    return;
                };
                if plot
                    .heard_at
                    .is_some_and(|heard| now.saturating_duration_since(heard) < HEARD_EVERY)
                {
                    debug!(deed = %arrangement.deed, "another host's arrangements come too fast");
                    return;
                }
                plot.heard_at = Some(now);
                self.check_arrangement(world, parcel, arrangement, None);
            }
            Err(err) => debug!(
                deed = %arrangement.deed,
                reason = %err.message,
                "another host's arrangement of a parcel not taken"
            ),
        }
    }

    /// The parcel of `world` that `arrangement` is for, by its index, if
    /// it may go there now: for a parcel whose deed it names, which its
    /// signer holds under the tenure it names, every thing on the parcel
    /// (and, for this host's own player, `local`, on no other parcel: a
    /// stale word from elsewhere is not refused for it), dated after the
    /// holder got the parcel and no later than a little past now, and the
    /// arrangement shown there or newer.
    fn arrangement_fits(
        &self,
        world: usize,
        arrangement: &Arrangement,
        local: bool,
    ) -> Result<u16, ProtocolError> {
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
        if parcel.tenure != Some(arrangement.tenure) {
            return Err(ProtocolError::new(
                ErrorCode::Refused,
                format!(
                    "{} has changed hands since this was arranged: arrange it again",
                    parcel.name
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
        if let Some((asset, elsewhere)) = self.standing_elsewhere(arrangement).filter(|_| local) {
            return Err(ProtocolError::new(
                ErrorCode::Refused,
                format!("{asset} stands on {elsewhere} already: take it up there first"),
            ));
        }
        let now = crate::presence::unix_millis();
        if arrangement.made_at > now.saturating_add(ARRANGEMENT_SKEW_MS) {
            return Err(ProtocolError::new(
                ErrorCode::Invalid,
                "an arrangement dated in the future: check your clock",
            ));
        }
        let plot = state.plots.get(index);
        let since = plot.map_or(0, |plot| plot.since_ms);
        if arrangement.made_at.saturating_add(ARRANGEMENT_SKEW_MS) < since {
            return Err(ProtocolError::new(
                ErrorCode::Refused,
                format!(
                    "an arrangement made before {} last came to its holder",
                    parcel.name
                ),
            ));
        }
        // The one shown may be checked again (blocks were missed).
        let newer = plot
            .and_then(|plot| plot.arrangement.as_ref())
            .is_none_or(|shown| shown.made_at < arrangement.made_at || shown == arrangement);
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

    /// A thing of `arrangement` that this host shows on another parcel
    /// (of any world), and that parcel's name.
    fn standing_elsewhere(&self, arrangement: &Arrangement) -> Option<(AssetId, String)> {
        for state in &self.worlds {
            for (plot, info) in state.plots.iter().zip(&state.world.info.parcels) {
                if info.deed == Some(arrangement.deed) {
                    continue;
                }
                if let Some(item) = arrangement
                    .items
                    .iter()
                    .find(|item| plot.shown.iter().any(|shown| shown.asset == item.asset))
                {
                    return Some((item.asset, info.name.clone()));
                }
            }
        }
        None
    }

    /// Asks the ledger thread whether the holder holds the parcel and each
    /// thing; `false` if it cannot be asked now (too many checks for
    /// other hosts in flight, or the player gone).
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
        let ask = PlaceableAsk {
            holder: arrangement.holder,
            deed: arrangement.deed,
            tenure: arrangement.tenure,
            things: arrangement.items.iter().map(|item| item.asset).collect(),
        };
        self.runtime.spawn(async move {
            let checked = handle.placeable(ask).await;
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
    /// since the state it was checked against. One shown that no longer
    /// passes is taken away.
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
            match asker {
                Some((client, request)) => {
                    server.send(client, &refused(Some(request), code, message));
                }
                None => debug!(deed = %arrangement.deed, %message, "an arrangement not shown"),
            }
            // One shown that fails its check again goes.
            if asker.is_none() {
                server.take_away(world, parcel, &arrangement);
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
            if !self.check_arrangement(world, parcel, arrangement.clone(), asker) {
                let unchecked = "it could not be checked again".to_owned();
                refuse(self, ErrorCode::Unavailable, unchecked);
            }
            return;
        }
        if let Some((client, _)) = asker
            && self
                .sessions
                .get(&client)
                .is_none_or(|session| session.world != world)
        {
            let gone = "you left that world before it was checked".to_owned();
            refuse(self, ErrorCode::Refused, gone);
            return;
        }
        // The parcel may have changed hands while the ledger looked.
        if let Err(err) = self.arrangement_fits(world, &arrangement, asker.is_some()) {
            refuse(self, err.code, err.message);
            return;
        }
        if let Some(why) = placeable.parcel {
            refuse(self, ErrorCode::Refused, why);
            return;
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
        let again = plot.arrangement.as_ref() == Some(&arrangement) && plot.shown == shown;
        plot.arrangement = Some(arrangement.clone());
        plot.shown = shown;
        if asker.is_some() {
            // Passed on to the world's other hosts: one a parcel at most.
            state
                .to_announce
                .retain(|queued| queued.deed != arrangement.deed);
            state.to_announce.push_back(arrangement);
        }
        if !again || asker.is_some() {
            self.tell_arranged(world, parcel, asker);
        }
    }

    /// Takes `arrangement` off `parcel` of `world` if it is the one there
    /// (it failed its check again), telling everyone in the world.
    fn take_away(&mut self, world: usize, parcel: u16, arrangement: &Arrangement) {
        let Some(plot) = self
            .worlds
            .get_mut(world)
            .and_then(|state| state.plots.get_mut(usize::from(parcel)))
        else {
            return;
        };
        if plot.arrangement.as_ref() != Some(arrangement) {
            return;
        }
        let shown = !plot.shown.is_empty();
        plot.arrangement = None;
        plot.shown.clear();
        if shown {
            self.tell_arranged(world, parcel, None);
        }
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
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::presence::Presence;
    use crate::sessions::fixture::{Fixture, SQUARE, code};
    use assets::{AssetKind, Manifest};
    use ledger::{Address, Keypair, Operation};
    use plaza_client::land::Tenure;
    use plaza_client::protocol::{ClientMessage, ParcelInfo};

    /// The square's parcel `holder` holds, by index, as `welcome` said.
    pub(super) fn held_parcel(welcome: &ServerMessage, holder: &Address) -> (u16, ParcelInfo) {
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

    /// Cy (who holds a parcel of the square) and Ada in the square: the
    /// fixture, Cy's client and key, her parcel (index and what the
    /// welcome said of it), and Ada's client.
    pub(super) fn cy_and_ada() -> (Fixture, ClientId, Keypair, (u16, ParcelInfo), ClientId) {
        let mut fixture = Fixture::new();
        let cy_key = fixture.key("cy");
        let cy = fixture.connect(&cy_key);
        let welcome = fixture.welcomed(cy, SQUARE);
        let parcel = held_parcel(&welcome, &cy_key.address());
        let (ada, _) = fixture.enter("ada", SQUARE);
        (fixture, cy, cy_key, parcel, ada)
    }

    /// The deed of `parcel` and the tenure its holder holds it under.
    pub(super) fn deed_of(parcel: &ParcelInfo) -> (AssetId, Tenure) {
        (parcel.deed.unwrap(), parcel.tenure.unwrap())
    }

    /// Things `who` holds (owns, not rented out) that may be put down.
    pub(super) fn placeable(fixture: &Fixture, who: &Address) -> Vec<AssetId> {
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

    pub(super) fn arrange(
        fixture: &mut Fixture,
        client: ClientId,
        request: u32,
        arrangement: Arrangement,
    ) -> ServerMessage {
        // One a second is the rate: the tests' own are spaced by it.
        if let Some(session) = fixture.server.sessions.get_mut(&client) {
            session.arrangements.refill(1.0);
        }
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

    pub(super) fn placed_of(message: &ServerMessage) -> Vec<PlacedItem> {
        match message {
            ServerMessage::Arranged { placed, .. } => placed.clone(),
            other => panic!("not an arrangement: {other:?}"),
        }
    }

    /// `client` signs and sends `op`, and waits until it applied.
    pub(super) fn applied(fixture: &mut Fixture, client: ClientId, key: &Keypair, op: Operation) {
        let tx = fixture.sign(client, key, op);
        let id = tx.id();
        fixture.send(client, &ClientMessage::Submit { request: 900, tx });
        fixture.wait_applied(client, id);
    }

    #[test]
    fn a_holder_puts_things_down_for_everyone_and_the_ledger_takes_them_away() {
        let (mut fixture, cy, cy_key, (index, parcel), ada) = cy_and_ada();
        let ada_key = fixture.key("ada");
        let deed = deed_of(&parcel);
        let things = placeable(&fixture, &cy_key.address());
        assert!(things.len() >= 2, "cy holds {} things", things.len());
        let at = parcel.centre();
        let items = vec![
            PlacedItem::new(things[0], at, 0),
            PlacedItem::new(things[1], [at[0] + 2.0, at[1]], 64),
        ];
        let chain = fixture.chain_id.clone();
        let now = crate::presence::unix_millis();
        let mine = Arrangement::sign(&cy_key, &chain, deed, now, items.clone());

        // Refused, each with why: another's parcel, a thing off it, a
        // thing not held, an arrangement signed by someone else, one for
        // a tenure that is not the parcel's.
        let theirs = Arrangement::sign(&ada_key, &chain, deed, now, items.clone());
        let answer = arrange(&mut fixture, ada, 1, theirs);
        assert_eq!(code(&answer), Some(ErrorCode::Refused), "{answer:?}");
        let off = vec![PlacedItem::new(things[0], [1e4, 1e4], 0)];
        let off = Arrangement::sign(&cy_key, &chain, deed, now, off);
        let answer = arrange(&mut fixture, cy, 2, off);
        assert_eq!(code(&answer), Some(ErrorCode::Invalid), "{answer:?}");
        let ada_thing = placeable(&fixture, &ada_key.address())[0];
        let not_hers = vec![PlacedItem::new(ada_thing, at, 0)];
        let not_hers = Arrangement::sign(&cy_key, &chain, deed, now, not_hers);
        let answer = arrange(&mut fixture, cy, 3, not_hers);
        assert_eq!(code(&answer), Some(ErrorCode::Refused), "{answer:?}");
        let ServerMessage::Error { message, .. } = &answer else {
            unreachable!()
        };
        assert!(message.contains("does not hold"), "{message}");
        let answer = arrange(&mut fixture, ada, 4, mine.clone());
        assert_eq!(code(&answer), Some(ErrorCode::Invalid), "{answer:?}");
        let stale = (deed.0, Tenure::Owner(99));
        let stale = Arrangement::sign(&cy_key, &chain, stale, now, items.clone());
        let answer = arrange(&mut fixture, cy, 5, stale);
        assert_eq!(code(&answer), Some(ErrorCode::Refused), "{answer:?}");
        assert!(
            !fixture
                .heard(ada)
                .iter()
                .any(|message| matches!(message, ServerMessage::Arranged { .. })),
            "nothing refused is shown"
        );

        // Cy's own: shown to her and to Ada.
        let answer = arrange(&mut fixture, cy, 6, mine.clone());
        assert_eq!(placed_of(&answer), items);
        let news = fixture.until(
            ada,
            "cy's things",
            |message| matches!(message, ServerMessage::Arranged { parcel, .. } if *parcel == index),
        );
        assert_eq!(placed_of(&news), items);
        // An older one: refused. Two at once: the second waits its turn.
        let older = Arrangement::sign(&cy_key, &chain, deed, now - 1, Vec::new());
        let answer = arrange(&mut fixture, cy, 7, older);
        assert_eq!(code(&answer), Some(ErrorCode::Refused), "{answer:?}");
        // One a second, two at once: a third at once is refused.
        let session = fixture.server.sessions.get_mut(&cy).unwrap();
        session.arrangements = crate::rate::Bucket::new(1.0, 2.0);
        for (request, step) in [(8, 1), (9, 2), (10, 3)] {
            let arrangement = Arrangement::sign(&cy_key, &chain, deed, now + step, items.clone());
            fixture.send(
                cy,
                &ClientMessage::Arrange {
                    request,
                    arrangement,
                },
            );
        }
        let answer = fixture.until(cy, "the third's answer", |m| m.request() == Some(10));
        assert_eq!(code(&answer), Some(ErrorCode::RateLimited), "{answer:?}");
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
        applied(&mut fixture, cy, &cy_key, gift);
        let news = fixture.until(ada, "the thing taken away", |message| {
            matches!(message, ServerMessage::Arranged { parcel, placed, .. }
                if *parcel == index && placed.len() == 1)
        });
        assert_eq!(placed_of(&news), items[1..]);

        // Cy gives the parcel to Dee: its new holder is told to all, and
        // what Cy put down is gone.
        let dee = fixture.key("dee").address();
        let give = Operation::TransferAsset {
            asset: deed.0,
            to: dee,
        };
        applied(&mut fixture, cy, &cy_key, give);
        let news = fixture.until(
            bo,
            "the parcel's new holder",
            |message| matches!(message, ServerMessage::Parcel { parcel, .. } if *parcel == index),
        );
        let ServerMessage::Parcel { holder, tenure, .. } = news else {
            unreachable!()
        };
        assert_eq!(holder, Some(dee));
        assert_ne!(
            tenure,
            Some(deed.1),
            "a new owner holds it under a new tenure"
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
        let (mut fixture, cy, cy_key, (index, parcel), ada) = cy_and_ada();
        let deed = deed_of(&parcel);
        let things = placeable(&fixture, &cy_key.address());
        let chain = fixture.chain_id.clone();
        let first = Arrangement::sign(
            &cy_key,
            &chain,
            deed,
            crate::presence::unix_millis(),
            vec![PlacedItem::new(things[0], parcel.centre(), 0)],
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

        // Another host passes on one made by somebody who does not hold
        // the parcel, one older than the one shown, and a newer one Cy
        // made there: only the last is shown, once checked against this
        // host's ledger.
        let host = Keypair::from_seed([42; 32]);
        let at = parcel.centre();
        let squatter = Arrangement::sign(
            &fixture.key("bo"),
            &chain,
            deed,
            first.made_at + 2,
            vec![PlacedItem::new(things[2], at, 1)],
        );
        let older = Arrangement::sign(
            &cy_key,
            &chain,
            deed,
            first.made_at - 1,
            vec![PlacedItem::new(things[3], at, 2)],
        );
        let newer_items = vec![PlacedItem::new(things[1], at, 128)];
        let newer = Arrangement::sign(
            &cy_key,
            &chain,
            deed,
            first.made_at + 1,
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
        for (seq, arranged) in [(1, vec![squatter, older]), (2, vec![newer.clone()])] {
            fixture
                .relay
                .incoming
                .try_send(presence(seq, arranged))
                .unwrap();
        }
        let news = fixture.until(ada, "the other host's arrangement", |message| {
            matches!(message, ServerMessage::Arranged { request: None, parcel, .. }
                if *parcel == index)
        });
        assert_eq!(placed_of(&news), newer_items);
        while fixture.server.remote_checks > 0 {
            fixture.step();
        }
        let plot = &fixture.server.worlds[0].plots[usize::from(index)];
        assert_eq!(plot.arrangement.as_ref(), Some(&newer));
        assert_eq!(plot.shown, newer_items);
        assert!(
            !fixture
                .heard(ada)
                .iter()
                .any(|message| matches!(message, ServerMessage::Arranged { .. })),
            "nothing else was shown"
        );
    }
}

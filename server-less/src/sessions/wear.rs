//! What avatars wear: a player puts on what it holds (checked against the
//! ledger's committed state: `market::wear`), everyone in its world is
//! told, and each block takes off what it took from its wearer (a rental
//! settled or returned, a sale, a trade, a transfer) before the next tick
//! sends anything.

use std::collections::HashMap;

use ledger::{Asset, AssetId, CommittedBlock, Height};
use renet::ClientId;

use super::replies::{Reply, deliver};
use super::server::{Server, refused};
use crate::error::HostError;
use plaza_client::protocol::{ErrorCode, MAX_WORN, ServerMessage, SessionState, Slot, Worn};

impl Server {
    /// `client` asks to wear `asset` in `slot`, or to take off what is
    /// there: taking off is at once, putting on once the ledger thread
    /// has checked it.
    pub(super) fn wear(
        &mut self,
        client: ClientId,
        request: u32,
        slot: Slot,
        asset: Option<AssetId>,
    ) {
        let Some(asset) = asset else {
            self.change_worn(client, Some(request), |worn| {
                worn.retain(|(on, _)| *on != slot)
            });
            return;
        };
        self.check_wear(client, request, slot, asset);
    }

    /// Asks the ledger thread whether `client` may wear `asset` in `slot`.
    fn check_wear(&mut self, client: ClientId, request: u32, slot: Slot, asset: AssetId) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        session.in_flight += 1;
        let who = session.account;
        let handle = self.handle.clone();
        let replies = self.replies.clone();
        self.runtime.spawn(async move {
            let checked = handle.may_wear(who, asset, slot).await;
            deliver(&replies, Reply::Wear(client, request, slot, asset, checked));
        });
    }

    /// The ledger thread's word on a wear request: worn and told to all,
    /// checked again if a block came since the state it was checked
    /// against, or refused with the reason.
    pub(super) fn wear_checked(
        &mut self,
        client: ClientId,
        request: u32,
        slot: Slot,
        asset: AssetId,
        checked: Result<Height, HostError>,
    ) {
        self.answered(client);
        match checked {
            Ok(height) if height < self.height => self.check_wear(client, request, slot, asset),
            Ok(_) => self.change_worn(client, Some(request), |worn| {
                worn.retain(|(on, what)| *on != slot && *what != asset);
                worn.push((slot, asset));
                worn.sort_unstable();
            }),
            Err(err) => {
                let code = if err.is_internal() || matches!(err, HostError::Stopped) {
                    ErrorCode::Unavailable
                } else {
                    ErrorCode::Refused
                };
                self.send(client, &refused(Some(request), code, err.for_player()));
            }
        }
    }

    /// Changes what `client` wears by `change`, and tells the player
    /// (answering `request`, if any) and, if it changed, everyone in its
    /// world.
    fn change_worn(
        &mut self,
        client: ClientId,
        request: Option<u32>,
        change: impl FnOnce(&mut Worn),
    ) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let before = session.worn.clone();
        change(&mut session.worn);
        session.worn.truncate(MAX_WORN);
        let (player, world, worn) = (session.player, session.world, session.worn.clone());
        let in_world = session.state == SessionState::InWorld;
        if worn == before && request.is_none() {
            return;
        }
        self.send(
            client,
            &ServerMessage::Appearance {
                request,
                player,
                worn: worn.clone(),
            },
        );
        if worn == before || !in_world {
            return;
        }
        let news = ServerMessage::Appearance {
            request: None,
            player,
            worn,
        };
        let others: Vec<ClientId> = self
            .worlds
            .get(world)
            .map(|world| world.clients().collect())
            .unwrap_or_default();
        for other in others {
            if other != client {
                self.send(other, &news);
            }
        }
    }

    /// Takes off everything every player wears (blocks were missed):
    /// this host's players' clients put on again what they hold, and other
    /// hosts' players' claims are checked again as they come.
    pub(super) fn undress_all(&mut self) {
        let clients: Vec<ClientId> = self
            .sessions
            .iter()
            .filter(|(_, session)| !session.worn.is_empty())
            .map(|(client, _)| *client)
            .collect();
        for client in clients {
            self.change_worn(client, None, Vec::clear);
        }
        for world in 0..self.worlds.len() {
            let dressed: Vec<_> = self.worlds[world]
                .remotes
                .iter_mut()
                .filter(|(_, remote)| !remote.worn.is_empty() || !remote.claimed.is_empty())
                .map(|(key, remote)| {
                    remote.worn.clear();
                    remote.claimed.clear();
                    *key
                })
                .collect();
            for key in dressed {
                self.remote_appearance(world, key);
            }
        }
    }

    /// Takes off what `block` took from its wearers: an asset the block
    /// changed (`changed`, by id) that its wearer no longer holds at the
    /// block's time.
    pub(super) fn undress(&mut self, block: &CommittedBlock, changed: &HashMap<AssetId, &Asset>) {
        if changed.is_empty() {
            return;
        }
        let losing: Vec<(ClientId, Vec<AssetId>)> = self
            .sessions
            .iter()
            .filter_map(|(client, session)| {
                let lost: Vec<AssetId> = session
                    .worn
                    .iter()
                    .filter_map(|(_, asset)| {
                        let after = changed.get(asset)?;
                        market::wear::holds(after, &session.account, block.time)
                            .is_err()
                            .then_some(*asset)
                    })
                    .collect();
                (!lost.is_empty()).then_some((*client, lost))
            })
            .collect();
        for (client, lost) in losing {
            self.change_worn(client, None, |worn| {
                worn.retain(|(_, asset)| !lost.contains(asset))
            });
        }
        // Players of other hosts, shown by this host, alike.
        for world in 0..self.worlds.len() {
            let mut undressed = Vec::new();
            for (key, remote) in &mut self.worlds[world].remotes {
                let before = remote.worn.len();
                let account = remote.account;
                let held = |asset: &AssetId| {
                    changed.get(asset).is_none_or(|after| {
                        market::wear::holds(after, &account, block.time).is_ok()
                    })
                };
                remote.worn.retain(|(_, asset)| held(asset));
                // Put on again later, it is checked again.
                remote.claimed.retain(|(_, asset)| held(asset));
                if remote.worn.len() != before {
                    undressed.push(*key);
                }
            }
            for key in undressed {
                self.remote_appearance(world, key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::fixture::{Fixture, SQUARE};
    use assets::{AssetKind, Manifest};
    use ledger::Operation;
    use plaza_client::protocol::{Browse, ClientMessage, PlayerInfo};

    const DEMO: [&str; 4] = ["ada", "bo", "cy", "dee"];

    fn kind(fixture: &Fixture, asset: &AssetId) -> AssetKind {
        let bytes = fixture.server.blobs.get(&asset.0).unwrap();
        Manifest::from_json(&bytes).unwrap().kind
    }

    /// A demo account holding a wearable of its own (not rented out):
    /// its name and the asset.
    fn an_owned_wearable(fixture: &Fixture) -> (&'static str, AssetId) {
        for name in DEMO {
            let account = fixture.key(name).address();
            let held = fixture
                .block_on(fixture.server.handle.inventory(account))
                .unwrap();
            for asset in held.owned {
                if asset.rental.is_none() && kind(fixture, &asset.id) == AssetKind::Wearable {
                    return (name, asset.id);
                }
            }
        }
        panic!("no demo account owns a wearable");
    }

    fn wear(fixture: &mut Fixture, client: ClientId, request: u32, slot: Slot, asset: AssetId) {
        fixture.send(
            client,
            &ClientMessage::Wear {
                request,
                slot,
                asset: Some(asset),
            },
        );
    }

    fn appearance_of(player: u16) -> impl Fn(&ServerMessage) -> bool {
        move |message| matches!(message, ServerMessage::Appearance { request: None, player: got, .. } if *got == player)
    }

    fn worn(message: &ServerMessage) -> Worn {
        match message {
            ServerMessage::Appearance { worn, .. } => worn.clone(),
            other => panic!("not an appearance: {other:?}"),
        }
    }

    /// Submits `op` signed by `name` over `client`'s session and waits
    /// until it is applied.
    fn applied(fixture: &mut Fixture, client: ClientId, name: &str, op: Operation, request: u32) {
        let key = fixture.key(name);
        let tx = fixture.sign(client, &key, op);
        let id = tx.id();
        fixture.send(client, &ClientMessage::Submit { request, tx });
        fixture.wait_applied(client, id);
    }

    #[test]
    fn what_a_player_holds_is_worn_for_all_to_see_and_what_it_does_not_is_refused() {
        let mut fixture = Fixture::new();
        let (owner, hat) = an_owned_wearable(&fixture);
        let other = DEMO.into_iter().find(|name| *name != owner).unwrap();
        let (wearer, player) = fixture.enter(owner, SQUARE);
        let (watcher, _) = fixture.enter(other, SQUARE);

        // A wearable is not carried in the hand.
        wear(&mut fixture, wearer, 1, Slot::Hand, hat);
        let wrong = fixture.until(wearer, "a refusal", |message| message.request() == Some(1));
        assert!(
            matches!(&wrong, ServerMessage::Error { code: ErrorCode::Refused, message, .. } if message.contains("not worn on the hand")),
            "{wrong:?}"
        );
        // Someone else's: refused, and nobody is told anything.
        wear(&mut fixture, watcher, 2, Slot::Head, hat);
        let forged = fixture.until(watcher, "a refusal", |message| message.request() == Some(2));
        assert!(
            matches!(&forged, ServerMessage::Error { code: ErrorCode::Refused, message, .. } if message.contains("does not hold")),
            "{forged:?}"
        );

        // On the head: the wearer is answered, the other player told.
        wear(&mut fixture, wearer, 3, Slot::Head, hat);
        let answer = fixture.until(wearer, "the answer", |message| message.request() == Some(3));
        assert_eq!(worn(&answer), vec![(Slot::Head, hat)]);
        let seen = fixture.until(watcher, "the news", appearance_of(player));
        assert_eq!(worn(&seen), vec![(Slot::Head, hat)]);
        assert!(
            !fixture
                .heard(watcher)
                .iter()
                .any(|message| matches!(message, ServerMessage::Appearance { .. })),
            "the refused attempts were told"
        );

        // Someone arriving later sees it in the welcome.
        let late = DEMO
            .into_iter()
            .find(|name| *name != owner && *name != other)
            .unwrap();
        let client = fixture.connect(&fixture.key(late));
        let welcome = fixture.welcomed(client, SQUARE);
        let ServerMessage::Welcome { players, .. } = welcome else {
            unreachable!()
        };
        let info: &PlayerInfo = players.iter().find(|info| info.player == player).unwrap();
        assert_eq!(info.worn, vec![(Slot::Head, hat)]);

        // Given away, it leaves the wearer for everyone after the block.
        let to = fixture.key(other).address();
        applied(
            &mut fixture,
            wearer,
            owner,
            Operation::TransferAsset { asset: hat, to },
            4,
        );
        let gone = fixture.until(watcher, "the hat leaving", appearance_of(player));
        assert_eq!(worn(&gone), Vec::new());
        assert!(fixture.server.sessions[&wearer].worn.is_empty());
    }

    #[test]
    fn a_rented_wearable_is_worn_until_the_rental_ends_and_then_leaves_every_view() {
        let mut fixture = Fixture::new();
        // A wearable listed for rent, and a renter who is not its lessor.
        let (first, _) = fixture.enter("ada", SQUARE);
        let query = Browse {
            kind: Some("wearable".into()),
            rent: Some(true),
            page_size: 10,
            ..Browse::default()
        };
        fixture.send(first, &ClientMessage::Browse { request: 1, query });
        let page = fixture.until(first, "a page", |message| message.request() == Some(1));
        let ServerMessage::Page { hits, .. } = page else {
            panic!("not a page: {page:?}");
        };
        let card = hits.first().expect("a wearable for rent").clone();
        let renter = DEMO
            .into_iter()
            .find(|name| fixture.key(name).address() != card.listing.lister)
            .unwrap();
        let watcher_name = DEMO
            .into_iter()
            .find(|name| *name != renter && *name != "ada")
            .unwrap();
        let (wearer, player) = fixture.enter(renter, SQUARE);
        let (watcher, _) = fixture.enter(watcher_name, SQUARE);
        let asset = card.listing.asset;

        // Not yet rented: not the renter's to wear.
        wear(&mut fixture, wearer, 2, Slot::Back, asset);
        let early = fixture.until(wearer, "a refusal", |message| message.request() == Some(2));
        assert!(matches!(early, ServerMessage::Error { .. }), "{early:?}");

        let rent = Operation::Rent {
            listing: card.listing.id,
            periods: 1,
        };
        applied(&mut fixture, wearer, renter, rent, 3);
        wear(&mut fixture, wearer, 4, Slot::Back, asset);
        let answer = fixture.until(wearer, "the answer", |message| message.request() == Some(4));
        assert_eq!(worn(&answer), vec![(Slot::Back, asset)]);
        let seen = fixture.until(watcher, "the news", appearance_of(player));
        assert_eq!(worn(&seen), vec![(Slot::Back, asset)]);

        // Returned: the ledger settles it, and it leaves every view.
        fixture.send(wearer, &ClientMessage::Inventory { request: 5 });
        let held = fixture.until(wearer, "the inventory", |message| {
            message.request() == Some(5)
        });
        let ServerMessage::Inventory { renting, .. } = held else {
            panic!("not an inventory: {held:?}");
        };
        let rental = renting
            .iter()
            .find(|holding| holding.asset == asset)
            .and_then(|holding| holding.rented)
            .expect("the rental")
            .id;
        applied(
            &mut fixture,
            wearer,
            renter,
            Operation::ReturnRental { rental },
            6,
        );
        let gone = fixture.until(watcher, "the wearable leaving", appearance_of(player));
        assert_eq!(worn(&gone), Vec::new());
        let own = fixture.until(wearer, "its own news", appearance_of(player));
        assert_eq!(worn(&own), Vec::new());
    }
}

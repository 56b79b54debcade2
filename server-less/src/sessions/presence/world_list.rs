//! The worlds the network knows and how many players are in each: this
//! host's worlds (its own players there, and those the other hosts of
//! the world say they have) and the worlds only other hosts serve (with
//! where they take players), told to this host's players on entry and,
//! when it changed, every two seconds.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Instant;

use renet::ClientId;

use super::super::server::Server;
use super::{HOST_HEARD_LATELY, HostRecord};
use plaza_client::protocol::{MAX_HOSTS_TOLD, MAX_WORLDS_TOLD, ServerMessage, WorldEntry};

/// A world only other hosts serve: its players, and where its hosts take
/// players (with when each was last heard).
type Elsewhere = (u32, Vec<(Instant, String)>);

/// Whether `record`'s host counts now: heard from lately, not ignored.
fn counts(record: &HostRecord) -> bool {
    record.heard.elapsed() < HOST_HEARD_LATELY && record.ignored_until.is_none()
}

impl Server {
    /// The world list as it stands: this host's worlds first, in order,
    /// then the others by players (most first) and name; at most
    /// [`MAX_WORLDS_TOLD`].
    pub(in crate::sessions) fn world_list(&self) -> Vec<WorldEntry> {
        let mut list: Vec<WorldEntry> = self
            .worlds
            .iter()
            .map(|state| {
                let name = &state.world.info.name;
                let elsewhere: u32 = self
                    .hosts
                    .values()
                    .filter(|record| counts(record))
                    .filter_map(|record| record.worlds.get(name))
                    .map(|count| u32::from(*count))
                    .sum();
                let here = u32::try_from(state.clients().count()).unwrap_or(u32::MAX);
                WorldEntry {
                    name: name.clone(),
                    players: here.saturating_add(elsewhere),
                    here: true,
                    joins: Vec::new(),
                }
            })
            .collect();
        let mut elsewhere: BTreeMap<&String, Elsewhere> = BTreeMap::new();
        for record in self.hosts.values().filter(|record| counts(record)) {
            let Some(join) = record.join else {
                continue;
            };
            for (name, count) in &record.worlds {
                if list.iter().any(|entry| &entry.name == name) {
                    continue;
                }
                let entry = elsewhere.entry(name).or_default();
                entry.0 = entry.0.saturating_add(u32::from(*count));
                entry.1.push((record.heard, join.to_string()));
            }
        }
        let mut others: Vec<WorldEntry> = elsewhere
            .into_iter()
            .map(|(name, (players, mut joins))| {
                joins.sort_by_key(|(heard, _)| Reverse(*heard));
                WorldEntry {
                    name: name.clone(),
                    players,
                    here: false,
                    joins: joins
                        .into_iter()
                        .map(|(_, join)| join)
                        .take(MAX_HOSTS_TOLD)
                        .collect(),
                }
            })
            .collect();
        others.sort_by(|a, b| b.players.cmp(&a.players).then_with(|| a.name.cmp(&b.name)));
        list.extend(others);
        list.truncate(MAX_WORLDS_TOLD);
        list
    }

    /// Tells this host's players the world list, if it changed since it
    /// was last told.
    pub(in crate::sessions) fn tell_worlds(&mut self) {
        let list = self.world_list();
        if list == self.worlds_told {
            return;
        }
        self.worlds_told = list.clone();
        let message = ServerMessage::Worlds { worlds: list };
        let clients: Vec<ClientId> = self
            .worlds
            .iter()
            .flat_map(|world| world.clients())
            .collect();
        for client in clients {
            self.send(client, &message);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::presence::Presence;
    use crate::sessions::fixture::{Fixture, SQUARE, present};
    use ledger::Keypair;
    use plaza_client::protocol::{ClientMessage, ServerMessage, VERSION, WorldEntry};

    fn worlds_of(message: ServerMessage) -> Vec<WorldEntry> {
        match message {
            ServerMessage::Worlds { worlds } => worlds,
            other => panic!("not the world list: {other:?}"),
        }
    }

    #[test]
    fn players_hear_the_worlds_the_network_knows_and_how_many_are_in_each() {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let first = worlds_of(fixture.until(ada, "the world list", |message| {
            matches!(message, ServerMessage::Worlds { .. })
        }));
        let served: Vec<String> = fixture
            .server
            .worlds
            .iter()
            .map(|state| state.world.info.name.clone())
            .collect();
        assert_eq!(
            first
                .iter()
                .map(|entry| entry.name.clone())
                .collect::<Vec<_>>(),
            served
        );
        assert!(
            first
                .iter()
                .all(|entry| entry.here && entry.joins.is_empty())
        );
        assert_eq!(first[0].players, 1);

        // Another host has two players in the square and three in a
        // world this host does not serve.
        let host = Keypair::from_seed([9; 32]);
        let bo = fixture.key("bo").address();
        let told = |world: &str, count: u16, seq: u64| {
            let presence = Presence {
                chain_id: fixture.chain_id.as_str().to_owned(),
                host: host.address(),
                join: Some("127.0.0.1:7490".into()),
                world: world.into(),
                count,
                seq,
                sent_at: crate::presence::unix_millis(),
                players: if world == SQUARE {
                    vec![present(1, bo, [0.0, 0.0, 0.0], Vec::new())]
                } else {
                    Vec::new()
                },
                left: Vec::new(),
                said: Vec::new(),
                arranged: Vec::new(),
            };
            fixture.relay.incoming.try_send(presence).unwrap();
        };
        told(SQUARE, 2, 1);
        told("Dune Sea", 3, 1);
        let list = worlds_of(fixture.until(ada, "the new world list", |message| {
            matches!(message, ServerMessage::Worlds { worlds } if worlds.iter().any(|entry| entry.name == "Dune Sea"))
        }));
        assert_eq!(list[0].name, SQUARE);
        assert_eq!(list[0].players, 3, "ada here and the other host's two");
        let dunes = list.last().unwrap();
        assert_eq!(
            dunes,
            &WorldEntry {
                name: "Dune Sea".into(),
                players: 3,
                here: false,
                joins: vec!["127.0.0.1:7490".into()],
            }
        );

        // A newcomer hears it on entry; one who goes to another world
        // here is counted there.
        let (cy, _) = fixture.enter("cy", SQUARE);
        let list = worlds_of(fixture.until(cy, "the world list on entry", |message| {
            matches!(message, ServerMessage::Worlds { .. })
        }));
        assert_eq!(list[0].players, 4);
        let harbour = served[1].clone();
        fixture.send(
            cy,
            &ClientMessage::Hello {
                version: VERSION,
                world: harbour.clone(),
            },
        );
        let list = worlds_of(fixture.until(ada, "the list after cy moved", |message| {
            matches!(message, ServerMessage::Worlds { worlds } if worlds.iter().any(|entry| entry.name == harbour && entry.players == 1))
        }));
        assert_eq!(list[0].players, 3);
    }
}

//! Presence between hosts: every host serving a world tells the others,
//! over the peer network's presence topic, where its players in that
//! world are and what they say they wear, ten times a second (the players
//! that moved, and all of them once a second). Each message is signed by
//! the host that owns those players' sessions, so a receiving host knows
//! whom to hold it against; it still believes nothing: a relayed avatar
//! that moves faster than the world allows is cut short, and every worn
//! item is checked against its own ledger before anyone sees it (see
//! `sessions::presence`). Parcels' arrangements ride along, each signed
//! by its parcel's holder and checked the same way (`sessions::land`). A
//! host speaks for an account only with that player's [`Pass`], signed by
//! the account for the host.

use std::collections::HashMap;

use borsh::{BorshDeserialize, BorshSerialize};
use ledger::{Address, ChainId, Keypair, Signature};
use plaza_client::join::Pass;
use plaza_client::land::Arrangement;
use plaza_client::protocol::{AvatarState, MAX_CHAT_BYTES, MAX_WORN, Worn};

use crate::peers::PeerError;

/// Players one presence message names at most; a host with more in one
/// world sends several ([`split`] also keeps each within
/// [`MAX_PRESENCE_BYTES`], so a message of players with their passes and
/// whole outfits names fewer).
pub const MAX_PRESENT: usize = 64;

/// The largest presence message, bytes.
pub const MAX_PRESENCE_BYTES: usize = 16 * 1024;

/// The longest world name a presence message carries.
const MAX_WORLD_NAME: usize = 64;

/// What a host signs presence with, before the message.
const DOMAIN: &[u8] = b"plaza/presence/5";

/// One player of the sending host, as it stands.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Present {
    /// Its number on the sending host.
    pub id: u16,
    /// Its account (proven to the sending host when it joined).
    pub account: Address,
    /// The player's pass for the sending host: with a player the receiver
    /// has not shown yet (new, and in the message naming all of them once
    /// a second), so that a host cannot speak for an account that never
    /// joined it, and the newer word wins when two hosts speak for one.
    pub pass: Option<Pass>,
    /// Where it is.
    pub state: AvatarState,
    /// What the sending host says it wears.
    pub worn: Worn,
}

/// Where a host's players in one world are.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Presence {
    /// The network.
    pub chain_id: String,
    /// The sending host, whose key signs it.
    pub host: Address,
    /// Where players join it (`ip:port`), if it says: a player whose host
    /// goes away joins another of the world's hosts there.
    pub join: Option<String>,
    /// The world.
    pub world: String,
    /// How many players the host has in the world now (all of them, not
    /// only those this message names): worlds are listed with their
    /// players by it.
    pub count: u16,
    /// Counts up with each message the host sends for this world (from
    /// the time its session server started, in microseconds, so that it
    /// counts on across restarts); an older one arriving late is dropped.
    pub seq: u64,
    /// When the host sent it, by its clock (unix milliseconds): a message
    /// too far from the receiver's time is dropped, and how far a player
    /// may have moved since its last message is reckoned from these.
    pub sent_at: u64,
    /// Players that moved or changed (all of them once a second).
    pub players: Vec<Present>,
    /// Players that left the world since the last message, by number.
    pub left: Vec<u16>,
    /// What its players said since the last message (each heard within
    /// the chat distance of where the player is).
    pub said: Vec<Said>,
    /// Parcels' arrangements, each signed by its parcel's holder: those
    /// the host took lately, and those it shows, in turn.
    pub arranged: Vec<Arrangement>,
}

/// A chat line of one of the sending host's players.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Said {
    /// The player, by its number on the sending host.
    pub id: u16,
    /// The line.
    pub text: String,
}

/// Chat lines one presence message carries at most.
pub const MAX_SAID: usize = 16;

/// Parcels' arrangements one presence message carries at most.
pub const MAX_ARRANGED: usize = 2;

/// A presence message and its host's signature.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedPresence {
    /// What it says.
    pub presence: Presence,
    /// The host's signature of [`DOMAIN`] and the presence's bytes.
    pub signature: Signature,
}

fn signed_bytes(presence: &Presence) -> Vec<u8> {
    let mut bytes = DOMAIN.to_vec();
    // Borsh of plain fields cannot fail.
    bytes.extend(borsh::to_vec(presence).unwrap_or_default());
    bytes
}

impl SignedPresence {
    /// `presence` signed by `key`, the host's key (whose address it names).
    pub fn sign(presence: Presence, key: &Keypair) -> Self {
        let signature = key.sign(&signed_bytes(&presence));
        SignedPresence {
            presence,
            signature,
        }
    }

    /// The message's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    /// Reads a presence message from the peer network for `chain`:
    /// bounded, decoded, in range, signed by the host it names, and every
    /// pass it carries its player's for that host.
    pub fn verified(bytes: &[u8], chain: &ChainId) -> Result<Presence, PeerError> {
        Self::verified_with(bytes, chain, &mut PassCache::default())
    }

    /// The same, a pass found good before (the same pass from the same
    /// host, as `known` remembers) not checked again: a host sends every
    /// player's pass once a second.
    pub fn verified_with(
        bytes: &[u8],
        chain: &ChainId,
        known: &mut PassCache,
    ) -> Result<Presence, PeerError> {
        let bad = |reason: String| PeerError::Presence { reason };
        if bytes.len() > MAX_PRESENCE_BYTES {
            return Err(bad(format!(
                "{} bytes, the most is {MAX_PRESENCE_BYTES}",
                bytes.len()
            )));
        }
        let signed: SignedPresence =
            borsh::from_slice(bytes).map_err(|err| bad(format!("cannot decode: {err}")))?;
        let presence = signed.presence;
        if presence.chain_id != chain.as_str() {
            return Err(bad(format!("for network {:?}", presence.chain_id)));
        }
        if presence.world.len() > MAX_WORLD_NAME {
            return Err(bad("a world name too long".to_owned()));
        }
        if let Some(join) = &presence.join {
            let usable = join.parse::<std::net::SocketAddr>().is_ok_and(|addr| {
                !addr.ip().is_unspecified() && !addr.ip().is_multicast() && addr.port() != 0
            });
            if !usable {
                return Err(bad(format!(
                    "a join address {join:?} that is not a reachable ip:port"
                )));
            }
        }
        if presence.players.len() > MAX_PRESENT || presence.left.len() > MAX_PRESENT {
            return Err(bad(format!(
                "{} players and {} left: the most is {MAX_PRESENT} each",
                presence.players.len(),
                presence.left.len()
            )));
        }
        if presence.said.len() > MAX_SAID {
            return Err(bad(format!(
                "{} chat lines: the most is {MAX_SAID}",
                presence.said.len()
            )));
        }
        if let Some(line) = presence.said.iter().find(|line| {
            line.text.trim().is_empty()
                || line.text.len() > MAX_CHAT_BYTES
                || line.text.chars().any(char::is_control)
        }) {
            return Err(bad(format!(
                "player {}'s chat line is empty, over {MAX_CHAT_BYTES} bytes or has control characters",
                line.id
            )));
        }
        if presence.arranged.len() > MAX_ARRANGED {
            return Err(bad(format!(
                "{} arrangements: the most is {MAX_ARRANGED}",
                presence.arranged.len()
            )));
        }
        if let Some(player) = presence.players.iter().find(|p| p.worn.len() > MAX_WORN) {
            return Err(bad(format!(
                "player {} wears {} things: the most is {MAX_WORN}",
                player.id,
                player.worn.len()
            )));
        }
        let key = presence
            .host
            .verifying_key()
            .map_err(|err| bad(format!("host key: {err}")))?;
        key.verify_strict(&signed_bytes(&presence), &signed.signature.to_dalek())
            .map_err(|_| bad(format!("not signed by {}", presence.host)))?;
        for arrangement in &presence.arranged {
            arrangement.check(chain).map_err(|err| {
                bad(format!(
                    "an arrangement of the parcel {}: {}",
                    arrangement.deed, err.message
                ))
            })?;
        }
        for player in &presence.players {
            let Some(pass) = player.pass else {
                continue;
            };
            let seen = (presence.host, player.account);
            if known.good.get(&seen) == Some(&pass) {
                continue;
            }
            if !pass.is_for(chain, &presence.host, &player.account) {
                return Err(bad(format!(
                    "player {}'s pass is not {}'s for {}",
                    player.id, player.account, presence.host
                )));
            }
            if known.good.len() >= MAX_PASSES_KNOWN {
                known.good.clear();
            }
            known.good.insert(seen, pass);
        }
        Ok(presence)
    }
}

/// Passes a [`PassCache`] remembers at most; past it, it starts again.
const MAX_PASSES_KNOWN: usize = 16_384;

/// Passes found to be their players' for the hosts that sent them, by
/// host and account.
#[derive(Debug, Default)]
pub struct PassCache {
    good: HashMap<(Address, Address), Pass>,
}

/// `template` (a host's message for one world, naming no players, with
/// who left, what was said and parcels' arrangements) once for each part
/// of `players`: parts of at most [`MAX_PRESENT`] players, each message
/// within [`MAX_PRESENCE_BYTES`] once signed; who left goes in the first,
/// what was said and the arrangements in the last (once every speaker
/// has been named). One message
/// when there are no players. Each part's `seq` is the caller's to set.
pub fn split(template: Presence, players: Vec<Present>) -> Vec<Presence> {
    let fixed = SignedPresence {
        presence: template.clone(),
        signature: Signature([0; 64]),
    }
    .to_bytes()
    .len();
    let room = MAX_PRESENCE_BYTES.saturating_sub(fixed);
    let mut parts: Vec<Vec<Present>> = Vec::new();
    let mut part: Vec<Present> = Vec::new();
    let mut used = 0;
    for present in players {
        // Borsh of plain fields cannot fail.
        let size = borsh::to_vec(&present).map_or(room, |bytes| bytes.len());
        if !part.is_empty() && (part.len() == MAX_PRESENT || used + size > room) {
            parts.push(std::mem::take(&mut part));
            used = 0;
        }
        used += size;
        part.push(present);
    }
    if !part.is_empty() || parts.is_empty() {
        parts.push(part);
    }
    let last = parts.len() - 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(index, players)| Presence {
            players,
            left: if index == 0 {
                template.left.clone()
            } else {
                Vec::new()
            },
            said: if index == last {
                template.said.clone()
            } else {
                Vec::new()
            },
            arranged: if index == last {
                template.arranged.clone()
            } else {
                Vec::new()
            },
            ..template.clone()
        })
        .collect()
}

/// Unix time in milliseconds, by this machine's clock.
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plaza_client::land::{MAX_PLACED, PlacedItem, Tenure};
    use plaza_client::protocol::{Gait, Slot};

    fn presence(host: &Keypair) -> Presence {
        let player = Keypair::from_seed([4; 32]);
        let chain = ChainId::new("plaza-test".to_owned()).unwrap();
        Presence {
            chain_id: "plaza-test".into(),
            host: host.address(),
            join: Some("127.0.0.1:7480".into()),
            world: "Plaza Square".into(),
            count: 1,
            seq: 3,
            sent_at: 1_800_000_000_000,
            players: vec![Present {
                id: 1,
                account: player.address(),
                pass: Some(Pass::sign(
                    &player,
                    &chain,
                    &host.address(),
                    1_800_000_000_000,
                )),
                state: AvatarState::new([1.0, 0.0, 2.0], 0.0, Gait::Walk),
                worn: vec![(
                    Slot::Head,
                    ledger::AssetId(assets::ContentId::of(assets::Codec::Json, b"hat")),
                )],
            }],
            left: vec![2],
            said: vec![Said {
                id: 1,
                text: "hello from the harbour".into(),
            }],
            arranged: vec![Arrangement::sign(
                &player,
                &chain,
                (
                    ledger::AssetId(assets::ContentId::of(assets::Codec::Json, b"pier")),
                    Tenure::Owner(2),
                ),
                7,
                vec![PlacedItem::new(
                    ledger::AssetId(assets::ContentId::of(assets::Codec::Json, b"lamp")),
                    [1.5, -2.0],
                    64,
                )],
            )],
        }
    }

    #[test]
    fn presence_is_read_only_when_signed_by_the_host_it_names_for_this_network() {
        let host = Keypair::from_seed([1; 32]);
        let chain = ChainId::new("plaza-test".to_owned()).unwrap();
        let signed = SignedPresence::sign(presence(&host), &host);
        assert_eq!(
            SignedPresence::verified(&signed.to_bytes(), &chain).unwrap(),
            presence(&host)
        );
        // Another host's signature over it, a changed field, another
        // network, garbage: refused.
        let other = Keypair::from_seed([2; 32]);
        let forged = SignedPresence::sign(presence(&host), &other);
        assert!(SignedPresence::verified(&forged.to_bytes(), &chain).is_err());
        let mut changed = signed.clone();
        changed.presence.seq += 1;
        assert!(SignedPresence::verified(&changed.to_bytes(), &chain).is_err());
        let elsewhere = ChainId::new("plaza-other".to_owned()).unwrap();
        assert!(SignedPresence::verified(&signed.to_bytes(), &elsewhere).is_err());
        assert!(SignedPresence::verified(&[0xff; 40], &chain).is_err());
        // Too many players: refused before the signature is checked.
        let mut crowd = presence(&host);
        crowd.players = vec![crowd.players[0].clone(); MAX_PRESENT + 1];
        let crowd = SignedPresence::sign(crowd, &host);
        assert!(SignedPresence::verified(&crowd.to_bytes(), &chain).is_err());
        // A chat line with a control character: refused.
        let mut shout = presence(&host);
        shout.said[0].text = "bell\u{7}".into();
        let shout = SignedPresence::sign(shout, &host);
        assert!(SignedPresence::verified(&shout.to_bytes(), &chain).is_err());
        // An arrangement the host moved (its holder did not sign that),
        // or too many: refused, though the host signed the message.
        let mut moved = presence(&host);
        moved.arranged[0].items[0].at_cm[0] += 100;
        let moved = SignedPresence::sign(moved, &host);
        let err = SignedPresence::verified(&moved.to_bytes(), &chain).unwrap_err();
        assert!(err.to_string().contains("arrangement"), "{err}");
        let mut many = presence(&host);
        many.arranged = vec![many.arranged[0].clone(); MAX_ARRANGED + 1];
        let many = SignedPresence::sign(many, &host);
        assert!(SignedPresence::verified(&many.to_bytes(), &chain).is_err());
    }

    #[test]
    fn a_host_speaks_for_an_account_only_with_that_players_pass_for_it() {
        let (host, other) = (Keypair::from_seed([1; 32]), Keypair::from_seed([2; 32]));
        let chain = ChainId::new("plaza-test".to_owned()).unwrap();
        let player = Keypair::from_seed([4; 32]);
        let with = |pass: Option<Pass>| {
            let mut presence = presence(&host);
            presence.players[0].pass = pass;
            SignedPresence::verified(&SignedPresence::sign(presence, &host).to_bytes(), &chain)
        };
        let own = Pass::sign(&player, &chain, &host.address(), 1_800_000_000_000);
        assert!(with(Some(own)).is_ok());
        // A pass the host signed itself, one the player gave another host,
        // one for another network, or a redated one: refused.
        let made_up = Pass::sign(&host, &chain, &host.address(), 1_800_000_000_000);
        let elsewhere = Pass::sign(&player, &chain, &other.address(), 1_800_000_000_000);
        let other_net = Pass::sign(
            &player,
            &ChainId::new("plaza-other".to_owned()).unwrap(),
            &host.address(),
            1_800_000_000_000,
        );
        let redated = Pass {
            since: own.since + 1,
            ..own
        };
        for pass in [made_up, elsewhere, other_net, redated] {
            let err = with(Some(pass)).unwrap_err().to_string();
            assert!(err.contains("pass"), "{err}");
        }
        // A player already shown moves on without one.
        assert!(with(None).is_ok());
        // A pass found good is not checked again, but only that pass: a
        // forged one for the same host and player still is.
        let mut known = PassCache::default();
        let signed = |pass: Pass| {
            let mut presence = presence(&host);
            presence.players[0].pass = Some(pass);
            SignedPresence::sign(presence, &host).to_bytes()
        };
        for _ in 0..2 {
            assert!(SignedPresence::verified_with(&signed(own), &chain, &mut known).is_ok());
        }
        for pass in [made_up, redated] {
            assert!(SignedPresence::verified_with(&signed(pass), &chain, &mut known).is_err());
        }
    }

    #[test]
    fn a_host_splits_its_word_into_messages_that_fit_the_limit_however_full() {
        // The most players a message names, twice over, each with its
        // pass and everything it may wear; the most who left; the most
        // lines, each as long as a line may be; the longest world name
        // and address.
        let host = Keypair::from_seed([1; 32]);
        let player = Keypair::from_seed([4; 32]);
        let chain = ChainId::new("plaza-test".to_owned()).unwrap();
        let worn: Worn = Slot::ALL
            .iter()
            .enumerate()
            .map(|(index, slot)| {
                let bytes = [u8::try_from(index).unwrap(); 8];
                let id = assets::ContentId::of(assets::Codec::Raw, &bytes);
                (*slot, ledger::AssetId(id))
            })
            .collect();
        assert_eq!(worn.len(), MAX_WORN);
        let template = Presence {
            chain_id: chain.as_str().to_owned(),
            host: host.address(),
            join: Some("[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535".into()),
            world: "w".repeat(MAX_WORLD_NAME),
            count: u16::MAX,
            seq: u64::MAX,
            sent_at: u64::MAX,
            players: Vec::new(),
            left: vec![u16::MAX; MAX_PRESENT],
            said: (0..MAX_SAID)
                .map(|id| Said {
                    id: u16::try_from(id).unwrap(),
                    text: "é".repeat(MAX_CHAT_BYTES / 2),
                })
                .collect(),
            arranged: (0..MAX_ARRANGED)
                .map(|n| {
                    let id = |tag: usize| {
                        let bytes = [u8::try_from(tag).unwrap(); 8];
                        ledger::AssetId(assets::ContentId::of(assets::Codec::Raw, &bytes))
                    };
                    let items = (0..MAX_PLACED)
                        .map(|item| PlacedItem::new(id(100 + item), [-1e6, 1e6], u8::MAX))
                        .collect();
                    let deed = (id(n), Tenure::Renter(ledger::RentalId(u64::MAX)));
                    Arrangement::sign(&player, &chain, deed, u64::MAX, items)
                })
                .collect(),
        };
        let present = |id: usize, pass: bool, worn: &Worn| Present {
            id: u16::try_from(id).unwrap(),
            account: player.address(),
            pass: pass.then(|| Pass::sign(&player, &chain, &host.address(), u64::MAX)),
            state: AvatarState::new([1.0, 0.0, 2.0], 0.0, Gait::Run),
            worn: worn.clone(),
        };
        let fullest: Vec<Present> = (0..2 * MAX_PRESENT)
            .map(|id| present(id, true, &worn))
            .collect();
        let parts = split(template.clone(), fullest.clone());
        assert!(parts.len() > 2, "{} parts", parts.len());
        for part in &parts {
            let bytes = SignedPresence::sign(part.clone(), &host).to_bytes();
            assert!(
                bytes.len() <= MAX_PRESENCE_BYTES,
                "{} bytes, the limit {MAX_PRESENCE_BYTES}",
                bytes.len()
            );
            assert!(SignedPresence::verified(&bytes, &chain).is_ok());
        }
        // Every player once, in order; who left first, what was said last.
        let named: Vec<Present> = parts.iter().flat_map(|part| part.players.clone()).collect();
        assert_eq!(named, fullest);
        assert_eq!(parts[0].left, template.left);
        assert!(parts[1..].iter().all(|part| part.left.is_empty()));
        assert_eq!(parts[parts.len() - 1].said, template.said);
        assert_eq!(parts[parts.len() - 1].arranged, template.arranged);
        assert!(
            parts[..parts.len() - 1]
                .iter()
                .all(|part| part.said.is_empty() && part.arranged.is_empty())
        );
        // Movers with nothing on and no pass: the most a message names.
        let movers: Vec<Present> = (0..2 * MAX_PRESENT)
            .map(|id| present(id, false, &Vec::new()))
            .collect();
        let parts = split(template.clone(), movers);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|part| part.players.len() == MAX_PRESENT));
        // Nobody: one message still (who left, what was said).
        assert_eq!(split(template, Vec::new()).len(), 1);
    }
}

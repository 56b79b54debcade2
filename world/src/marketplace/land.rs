//! Putting things down on a parcel the player holds, and taking them up:
//! the whole parcel's arrangement, signed with the player's key, sent to
//! the host, which checks it against the ledger and shows it to everyone.
//! The player keeps its last arrangement of each parcel in a file of its
//! own: a host that shows nothing on a parcel the player still holds
//! (under the same tenure) is given it again, so what the player put down
//! outlives every host of the world restarting.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ledger::{Address, AssetId};
use plaza_client::client::Session;
use plaza_client::land::{Arrangement, MAX_PLACED, PlacedItem};
use plaza_client::protocol::{ClientMessage, decode, encode};
use tracing::warn;

use super::{Asked, Marketplace, Refusal, kept};

/// Arrangements a player keeps, at most (one a parcel it holds).
const MAX_KEPT: usize = 32;
/// The most of a land file that is read, bytes: a line of hex per
/// arrangement, the largest about 1.5 KiB.
const MAX_FILE_BYTES: u64 = 128 * 1024;

/// Where the player's arrangements stand.
#[derive(Clone, Debug, Default)]
pub struct LandView {
    /// The date of the last arrangement signed (Unix milliseconds): each
    /// one is dated after it, so the host takes it as the newest.
    last_made: u64,
    /// The host's refusal of the last one, if it refused.
    pub problem: Option<String>,
    /// Whether an arrangement waits for the host's answer.
    pub waiting: bool,
    /// The one waiting.
    sent: Option<Arrangement>,
    /// The last arrangement of each parcel a host took, by deed.
    pub mine: HashMap<AssetId, Arrangement>,
    /// Where they are kept, if anywhere.
    file: Option<PathBuf>,
    /// Parcels whose arrangement was given again since the player came
    /// into the world, and when it came.
    pub(super) restored: HashSet<AssetId>,
    pub(super) arrived: Option<Instant>,
}

impl LandView {
    /// Arrangements kept in `file`: what it holds now (a line of hex of
    /// each one's borsh bytes; one that does not read is skipped).
    pub fn kept_in(file: PathBuf) -> LandView {
        let mut view = LandView::default();
        let Ok(text) = kept::read(&file, MAX_FILE_BYTES, "arrangements") else {
            // Not written over either.
            return view;
        };
        for line in text.iter().flat_map(|text| text.lines()) {
            if line.trim().is_empty() {
                continue;
            }
            match unhex(line.trim()).and_then(|bytes| decode(&bytes, MAX_FILE_BYTES as usize).ok())
            {
                Some(arrangement) => view.remember(arrangement),
                None => warn!(file = %file.display(), "an arrangement that does not read: skipped"),
            }
        }
        view.file = Some(file);
        view
    }

    /// Keeps `arrangement` as its parcel's latest, forgetting the oldest
    /// past [`MAX_KEPT`].
    fn remember(&mut self, arrangement: Arrangement) {
        if self
            .mine
            .get(&arrangement.deed)
            .is_some_and(|kept| kept.made_at > arrangement.made_at)
        {
            return;
        }
        self.mine.insert(arrangement.deed, arrangement);
        while self.mine.len() > MAX_KEPT {
            let oldest = self
                .mine
                .values()
                .min_by_key(|kept| kept.made_at)
                .map(|kept| kept.deed);
            match oldest {
                Some(deed) => self.mine.remove(&deed),
                None => break,
            };
        }
    }

    /// Writes the arrangements to the file, whole (if there is one).
    fn keep(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let mut lines: Vec<String> = self
            .mine
            .values()
            .filter_map(|arrangement| encode(arrangement).ok())
            .map(|bytes| hex(&bytes))
            .collect();
        lines.sort();
        kept::write(file, &lines, "arrangements");
    }

    /// The host took the arrangement sent: kept.
    pub(super) fn taken(&mut self) {
        self.waiting = false;
        if let Some(sent) = self.sent.take() {
            self.remember(sent);
            self.keep();
        }
    }

    /// The host refused the arrangement sent.
    pub(super) fn refused(&mut self, why: String) {
        self.waiting = false;
        self.sent = None;
        self.problem = Some(why);
    }
}

/// Where the player `account` keeps its arrangements, under the client's
/// data directory.
pub fn land_file(data: &Path, account: &Address) -> PathBuf {
    data.join("land").join(format!("{account}.txt"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

impl Marketplace {
    /// Asks the host to show `items` on parcel `parcel` of the world, in
    /// place of what stands there. Refused at once if the player does
    /// not hold the parcel, or it has no deed.
    pub fn arrange(
        &mut self,
        client: &mut Session<'_>,
        parcel: u16,
        items: Vec<PlacedItem>,
    ) -> Result<(), Refusal> {
        let welcome = client
            .welcome()
            .ok_or_else(|| Refusal("enter a world first".into()))?;
        let info = welcome
            .world
            .parcels
            .get(usize::from(parcel))
            .ok_or_else(|| Refusal(format!("this world has no parcel {parcel}")))?;
        if info.holder != Some(self.me) {
            return Err(Refusal(format!(
                "you do not hold {}: only its holder puts things down on it",
                info.name
            )));
        }
        let (Some(deed), Some(tenure)) = (info.deed, info.tenure) else {
            return Err(Refusal(format!("{} has no deed on the ledger", info.name)));
        };
        if items.len() > MAX_PLACED {
            return Err(Refusal(format!(
                "{} holds {MAX_PLACED} things at most: take one up first",
                info.name
            )));
        }
        let now = u64::try_from(plaza_client::time::unix_time().as_millis()).unwrap_or(u64::MAX);
        let made_at = now.max(self.land.last_made.saturating_add(1));
        self.land.last_made = made_at;
        let arrangement = Arrangement::sign(
            client.key(),
            &welcome.chain_id,
            (deed, tenure),
            made_at,
            items,
        );
        self.land.problem = None;
        self.land.waiting = true;
        self.land.sent = Some(arrangement.clone());
        self.ask(client, Asked::Arrange, |request| ClientMessage::Arrange {
            request,
            arrangement,
        });
        Ok(())
    }

    /// The player came into a world (or to another host): its kept
    /// arrangements may be given again there.
    pub fn arrived_in_world(&mut self) {
        self.land.restored.clear();
        self.land.arrived = None;
    }

    /// The player keeps its arrangements of parcels in `file`.
    pub fn with_land(mut self, file: PathBuf) -> Self {
        self.land = LandView::kept_in(file);
        self
    }

    /// Gives the host again the player's kept arrangement of each parcel
    /// of the world it holds under the same tenure where the host shows
    /// nothing (it forgot: every host of the world restarted), once each
    /// time the player comes into the world, two seconds after it came
    /// (what the host shows arrives first).
    pub fn restore_land(&mut self, client: &mut Session<'_>) {
        let arrived = *self.land.arrived.get_or_insert_with(Instant::now);
        if arrived.elapsed() < std::time::Duration::from_secs(2) || self.land.waiting {
            return;
        }
        let Some(welcome) = client.welcome() else {
            return;
        };
        let again: Vec<Arrangement> = welcome
            .world
            .parcels
            .iter()
            .enumerate()
            .filter(|(index, parcel)| {
                parcel.holder == Some(self.me)
                    && u16::try_from(*index)
                        .is_ok_and(|index| !client.placed().contains_key(&index))
            })
            .filter_map(|(_, parcel)| {
                let kept = self.land.mine.get(&parcel.deed?)?;
                (Some(kept.tenure) == parcel.tenure
                    && !kept.items.is_empty()
                    && !self.land.restored.contains(&kept.deed))
                .then(|| kept.clone())
            })
            .collect();
        for arrangement in again {
            self.land.restored.insert(arrangement.deed);
            self.ask(client, Asked::Restore, |request| ClientMessage::Arrange {
                request,
                arrangement,
            });
        }
    }
}

/// `current` with `item` put down (in place of where it stood, if it
/// stood there already).
pub fn with_item(current: &[PlacedItem], item: PlacedItem) -> Vec<PlacedItem> {
    let mut items: Vec<PlacedItem> = current
        .iter()
        .filter(|placed| placed.asset != item.asset)
        .copied()
        .collect();
    items.push(item);
    items
}

/// `current` with `asset` taken up.
pub fn without_item(current: &[PlacedItem], asset: &ledger::AssetId) -> Vec<PlacedItem> {
    current
        .iter()
        .filter(|placed| placed.asset != *asset)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrangements_are_kept_in_a_file_the_newest_of_each_parcel_and_junk_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("land").join("me.txt");
        let key = ledger::Keypair::from_seed([5; 32]);
        let chain = ledger::ChainId::new("plaza-test").unwrap();
        let id = |n: u8| ledger::AssetId(assets::ContentId::of(assets::Codec::Json, &[n]));
        let deed = (id(9), plaza_client::land::Tenure::Owner(2));
        let lamp = vec![PlacedItem::new(id(1), [1.0, 2.0], 0)];
        let mut view = LandView::kept_in(file.clone());
        for made_at in [5, 7] {
            view.sent = Some(Arrangement::sign(&key, &chain, deed, made_at, lamp.clone()));
            view.taken();
        }
        // An older one taken late does not replace the newer.
        view.sent = Some(Arrangement::sign(&key, &chain, deed, 6, Vec::new()));
        view.taken();
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str("not hex at all\nabcd\n");
        std::fs::write(&file, text).unwrap();
        let back = LandView::kept_in(file);
        assert_eq!(back.mine.len(), 1);
        assert_eq!(back.mine[&deed.0].made_at, 7);
        assert_eq!(back.mine[&deed.0].items, lamp);
    }

    #[test]
    fn an_item_is_put_down_once_and_taken_up_by_its_asset() {
        let id = |n: u8| ledger::AssetId(assets::ContentId::of(assets::Codec::Json, &[n]));
        let lamp = PlacedItem::new(id(1), [1.0, 2.0], 0);
        let chair = PlacedItem::new(id(2), [3.0, 2.0], 0);
        let items = with_item(&with_item(&[], lamp), chair);
        assert_eq!(items, [lamp, chair]);
        let moved = PlacedItem::new(id(1), [5.0, 5.0], 64);
        assert_eq!(with_item(&items, moved), [chair, moved]);
        assert_eq!(without_item(&items, &id(2)), [lamp]);
    }
}

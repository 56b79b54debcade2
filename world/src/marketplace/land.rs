//! Putting things down on a parcel the player holds, and taking them up:
//! the whole parcel's arrangement, signed with the player's key, sent to
//! the host, which checks it against the ledger and shows it to everyone.

use plaza_client::client::Session;
use plaza_client::land::{Arrangement, MAX_PLACED, PlacedItem};
use plaza_client::protocol::ClientMessage;

use super::{Asked, Marketplace, Refusal};

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
        self.ask(client, Asked::Arrange, |request| ClientMessage::Arrange {
            request,
            arrangement,
        });
        Ok(())
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

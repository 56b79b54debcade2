//! Asking the host to put something on, or take it off.

use ledger::AssetId;
use plaza_client::client::Session;
use plaza_client::protocol::{ClientMessage, Slot};

use super::{Asked, Marketplace};

/// Refusals remembered, so a refused wearable is not asked for again.
const REFUSED_KEPT: usize = 64;

impl Marketplace {
    /// Asks the host to put `asset` on in `slot`, unless it is already
    /// asked for or the host refused it (until the account next changes).
    pub fn wear(&mut self, client: &mut Session<'_>, slot: Slot, asset: AssetId) {
        let why = Asked::Wear(asset);
        if self.wear_refused.contains(&asset) || self.waiting_for(&why) {
            return;
        }
        self.ask(client, why, |request| ClientMessage::Wear {
            request,
            slot,
            asset: Some(asset),
        });
    }

    /// Asks the host to take off what is worn in `slot`.
    pub fn take_off(&mut self, client: &mut Session<'_>, slot: Slot) {
        self.ask(client, Asked::TakeOff, |request| ClientMessage::Wear {
            request,
            slot,
            asset: None,
        });
    }

    /// Whether the host lately refused to put `asset` on (the client does
    /// not ask again until the ledger moves on).
    pub fn refused_to_wear(&self, asset: &AssetId) -> bool {
        self.wear_refused.contains(asset)
    }

    /// The host would not put `asset` on, for `reason`.
    pub(super) fn wear_refused(&mut self, asset: AssetId, reason: String) {
        if self.wear_refused.len() >= REFUSED_KEPT {
            self.wear_refused.clear();
        }
        self.wear_refused.insert(asset);
        tracing::warn!(%asset, %reason, "the host would not put a wearable on");
    }
}

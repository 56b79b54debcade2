//! What a parcel's holder puts down on it. The holder signs the whole
//! arrangement (the deed and the tenure it holds it under, the things and
//! where each stands, and when it was made), so any host of the world can
//! carry it to any other and none can change it: every host checks it
//! against its own ledger (the signer holds the parcel's deed under that
//! tenure, and holds each thing, now) before showing it, and the newest
//! arrangement of a parcel wins. Once the parcel changes hands (even back
//! to the same account) the tenure is another, so an old arrangement is
//! not shown again; and as an owner's tenure outlasts a rental of its
//! parcel, hosts also refuse one made before the parcel last came back to
//! its holder (less [`ARRANGEMENT_SKEW_MS`]).

use borsh::{BorshDeserialize, BorshSerialize};
use ledger::{Address, AssetId, ChainId, Keypair, Signature};
pub use market::wear::Tenure;

use crate::join::signed_by;
use crate::protocol::{ErrorCode, ProtocolError};

/// Most things on one parcel.
pub const MAX_PLACED: usize = 16;

/// How far in the future (by the receiver's clock) an arrangement may be
/// dated, in milliseconds: clocks differ a little.
pub const ARRANGEMENT_SKEW_MS: u64 = 60_000;

/// What a holder signs, before the arrangement's bytes.
const DOMAIN: &[u8] = b"plaza/arrangement/v1\0";

/// A thing standing on a parcel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct PlacedItem {
    /// The asset.
    pub asset: AssetId,
    /// Where it stands (x, z), in the world's centimetres.
    pub at_cm: [i32; 2],
    /// Which way it faces, in 256ths of a turn.
    pub turn: u8,
}

impl PlacedItem {
    /// `asset` standing at `at` (x, z, metres), facing `turn`.
    pub fn new(asset: AssetId, at: [f32; 2], turn: u8) -> PlacedItem {
        // `as` saturates, and a place off the world is refused by the
        // host that checks it against the parcel.
        PlacedItem {
            asset,
            at_cm: at.map(|v| (v * 100.0).round() as i32),
            turn,
        }
    }

    /// Where it stands (x, z), in metres.
    pub fn at(&self) -> [f32; 2] {
        self.at_cm.map(|cm| cm as f32 / 100.0)
    }
}

/// Everything on one parcel, signed by its holder.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Arrangement {
    /// The parcel's deed: the ledger asset that is the parcel.
    pub deed: AssetId,
    /// Its holder, who signed this.
    pub holder: Address,
    /// The tenure the holder holds the deed under.
    pub tenure: Tenure,
    /// When the holder made it, by its clock (Unix milliseconds).
    pub made_at: u64,
    /// The things, at most [`MAX_PLACED`], each asset once.
    pub items: Vec<PlacedItem>,
    /// The holder's signature of [`Arrangement::message`].
    pub signature: Signature,
}

impl Arrangement {
    /// What the holder signs: a domain, then the borsh encoding of the
    /// network's name, the deed, the holder, the tenure, the time and the
    /// things.
    pub fn message(
        chain_id: &ChainId,
        deed: &AssetId,
        holder: &Address,
        tenure: &Tenure,
        made_at: u64,
        items: &[PlacedItem],
    ) -> Vec<u8> {
        let mut out = DOMAIN.to_vec();
        // Borsh of plain fields cannot fail.
        let fields = (chain_id.as_str(), deed, holder, tenure, made_at, items);
        out.extend(borsh::to_vec(&fields).unwrap_or_default());
        out
    }

    /// `key`'s arrangement of the parcel `deed`, held under `tenure`, on
    /// network `chain_id`.
    pub fn sign(
        key: &Keypair,
        chain_id: &ChainId,
        (deed, tenure): (AssetId, Tenure),
        made_at: u64,
        items: Vec<PlacedItem>,
    ) -> Arrangement {
        let holder = key.address();
        let signature = key.sign(&Arrangement::message(
            chain_id, &deed, &holder, &tenure, made_at, &items,
        ));
        Arrangement {
            deed,
            holder,
            tenure,
            made_at,
            items,
            signature,
        }
    }

    /// Checks the arrangement's shape (how many things, each asset once)
    /// and that its holder signed it for network
    /// `chain_id`. Whether the holder holds the parcel and the things is
    /// the ledger's to say.
    pub fn check(&self, chain_id: &ChainId) -> Result<(), ProtocolError> {
        self.check_shape()?;
        let message = Arrangement::message(
            chain_id,
            &self.deed,
            &self.holder,
            &self.tenure,
            self.made_at,
            &self.items,
        );
        if !signed_by(&self.holder, &message, &self.signature) {
            return Err(ProtocolError::new(
                ErrorCode::Invalid,
                format!(
                    "an arrangement not signed by its holder {} for this network",
                    self.holder
                ),
            ));
        }
        Ok(())
    }

    /// Checks what a decoder can: how many things, each asset once.
    pub fn check_shape(&self) -> Result<(), ProtocolError> {
        let invalid = |message: String| Err(ProtocolError::new(ErrorCode::Invalid, message));
        if self.items.len() > MAX_PLACED {
            return invalid(format!(
                "{} things on a parcel: at most {MAX_PLACED}",
                self.items.len()
            ));
        }
        for (index, item) in self.items.iter().enumerate() {
            if self.items[..index]
                .iter()
                .any(|other| other.asset == item.asset)
            {
                return invalid(format!("{} is put down twice", item.asset));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u8, at: [f32; 2]) -> PlacedItem {
        PlacedItem::new(
            AssetId(assets::ContentId::of(assets::Codec::Json, &[n])),
            at,
            n,
        )
    }

    #[test]
    fn an_arrangement_is_its_holders_for_one_network_and_cannot_be_changed() {
        let key = Keypair::from_seed([9; 32]);
        let chain = ChainId::new("plaza-test").unwrap();
        let deed = (item(200, [0.0; 2]).asset, Tenure::Owner(3));
        let signed = Arrangement::sign(&key, &chain, deed, 1_000, vec![item(1, [3.0, 4.0])]);
        assert_eq!(signed.check(&chain), Ok(()));
        // Another network, another place, another holder: refused.
        let other = ChainId::new("plaza-other").unwrap();
        assert_eq!(signed.check(&other).unwrap_err().code, ErrorCode::Invalid);
        let mut moved = signed.clone();
        moved.items[0].at_cm = [500, 400];
        assert!(moved.check(&chain).is_err());
        let mut claimed = signed.clone();
        claimed.holder = Keypair::from_seed([8; 32]).address();
        assert!(claimed.check(&chain).is_err());
        // Nor does it hold for another tenure of the same parcel.
        let mut later = signed.clone();
        later.tenure = Tenure::Owner(4);
        assert!(later.check(&chain).is_err());
        assert_eq!(signed.items[0].at(), [3.0, 4.0]);
        // Too many, or twice: refused before any signature.
        let many = (0..=MAX_PLACED as u8).map(|n| item(n, [0.0; 2])).collect();
        let too_many = Arrangement::sign(&key, &chain, deed, 1, many);
        assert!(
            too_many
                .check_shape()
                .unwrap_err()
                .message
                .contains("at most")
        );
        let twice = Arrangement::sign(&key, &chain, deed, 1, vec![item(1, [0.0; 2]); 2]);
        assert!(twice.check_shape().unwrap_err().message.contains("twice"));
    }
}

//! Proofs that an address owns or rents an asset at a height, checkable by
//! anyone who trusts the state root of that height.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec;
use crate::error::LedgerError;
use crate::ids::{AssetId, Height, RentalId, StateRoot, Timestamp};
use crate::keys::Address;
use crate::state::{Asset, StateKey};
use crate::tree;

/// An asset's record at a height and the Merkle path from it to that
/// height's state root.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AssetProof {
    /// The asset.
    pub asset: AssetId,
    /// The height the proof is for.
    pub height: Height,
    /// The asset record, exactly as stored in the state tree.
    pub record: Vec<u8>,
    /// The path to the root.
    pub path: tree::Proof,
}

/// What a proof shows an address holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holding {
    /// The address holds title.
    Owner,
    /// The address rents the asset.
    Renter {
        /// The rental.
        rental: RentalId,
        /// When it ends.
        ends_at: Timestamp,
    },
}

impl AssetProof {
    /// The encoded proof, for sending to another world.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Reads an encoded proof.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LedgerError> {
        codec::decode("asset proof", bytes, 1 << 16)
    }
}

/// Checks that `proof` leads to `root` and returns the asset record it
/// proves. Pure: needs nothing but its arguments.
pub fn verify_asset(root: &StateRoot, proof: &AssetProof) -> Result<Asset, LedgerError> {
    let key = StateKey::Asset(&proof.asset).hash();
    tree::verify(&root.0, &key, &proof.record, &proof.path)?;
    let asset: Asset = codec::decode("asset record", &proof.record, 1 << 16)
        .map_err(|_| LedgerError::InvalidProof("the proven record is not an asset"))?;
    if asset.id != proof.asset {
        return Err(LedgerError::InvalidProof(
            "the proven record is another asset",
        ));
    }
    Ok(asset)
}

/// Checks that `proof` shows, under `root`, that `holder` owns or rents the
/// asset, and says which. Pure: needs nothing but its arguments.
pub fn verify_holding(
    root: &StateRoot,
    proof: &AssetProof,
    holder: &Address,
) -> Result<Holding, LedgerError> {
    let asset = verify_asset(root, proof)?;
    if let Some(rental) = asset.rental
        && &rental.renter == holder
    {
        return Ok(Holding::Renter {
            rental: rental.id,
            ends_at: rental.ends_at,
        });
    }
    if &asset.owner == holder {
        return Ok(Holding::Owner);
    }
    Err(LedgerError::InvalidProof(
        "the address neither owns nor rents the asset",
    ))
}

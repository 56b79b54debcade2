//! Names of things on the ledger: chains, assets, listings, rentals,
//! transactions, blocks, and the units they are counted in.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

use assets::ContentId;
use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec::{hex, parse_hex};
use crate::error::LedgerError;

/// A token amount in base units.
pub type Amount = u64;
/// Seconds since the Unix epoch, as set by a block's proposer.
pub type Timestamp = u64;
/// A block's position in the chain; genesis is height 0.
pub type Height = u64;
/// A per-account transaction counter.
pub type Nonce = u64;
/// Basis points: 1/100 of a percent (10,000 = 100 %).
pub type BasisPoints = u16;

/// Basis points in a whole.
pub const BPS_DENOMINATOR: u64 = 10_000;

/// The name of a ledger network. Signatures cover it, so a transaction
/// signed for one network is worthless on another.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId(String);

impl ChainId {
    /// Longest chain id, in bytes.
    pub const MAX_LEN: usize = 32;

    /// A chain id of 1 to 32 characters from `a-z`, `0-9` and `-`.
    pub fn new(name: impl Into<String>) -> Result<Self, LedgerError> {
        let name = name.into();
        let valid = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(ChainId(name))
        } else {
            Err(LedgerError::InvalidChainId(name))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({})", self.0)
    }
}

impl BorshSerialize for ChainId {
    fn serialize<W: Write>(&self, writer: &mut W) -> std::io::Result<()> {
        self.0.serialize(writer)
    }
}

impl BorshDeserialize for ChainId {
    fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
        let len = u32::deserialize_reader(reader)? as usize;
        if len > Self::MAX_LEN {
            return Err(invalid_data(format!("chain id of {len} bytes")));
        }
        let mut bytes = vec![0u8; len];
        reader.read_exact(&mut bytes)?;
        let name = String::from_utf8(bytes).map_err(|_| invalid_data("chain id is not UTF-8"))?;
        ChainId::new(name).map_err(|err| invalid_data(err.to_string()))
    }
}

/// An asset is named by the content id of its manifest: one manifest, one
/// asset, the same in every world.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetId(pub ContentId);

impl AssetId {
    /// Longest binary content id accepted inside a transaction.
    const MAX_BYTES: usize = 64;

    /// The manifest's content id.
    pub fn content_id(&self) -> ContentId {
        self.0
    }
}

impl From<ContentId> for AssetId {
    fn from(id: ContentId) -> Self {
        AssetId(id)
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssetId({})", self.0)
    }
}

impl FromStr for AssetId {
    type Err = LedgerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ContentId::from_str(text)
            .map(AssetId)
            .map_err(|err| LedgerError::InvalidAssetId(err.to_string()))
    }
}

impl BorshSerialize for AssetId {
    fn serialize<W: Write>(&self, writer: &mut W) -> std::io::Result<()> {
        let bytes = self.0.to_bytes();
        // Content ids are at most 64 bytes, so the length fits one byte.
        writer.write_all(&[bytes.len() as u8])?;
        writer.write_all(&bytes)
    }
}

impl BorshDeserialize for AssetId {
    fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
        let len = usize::from(u8::deserialize_reader(reader)?);
        if len > Self::MAX_BYTES {
            return Err(invalid_data(format!("asset id of {len} bytes")));
        }
        let mut bytes = [0u8; Self::MAX_BYTES];
        reader.read_exact(&mut bytes[..len])?;
        ContentId::from_bytes(&bytes[..len])
            .map(AssetId)
            .map_err(|err| invalid_data(err.to_string()))
    }
}

fn invalid_data(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.into())
}

/// Defines a 32-byte hash newtype shown as hex.
macro_rules! hash_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize)]
        pub struct $name(pub [u8; 32]);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), hex(&self.0[..8]))
            }
        }

        impl FromStr for $name {
            type Err = LedgerError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                parse_hex::<32>(text).map($name).ok_or_else(|| LedgerError::Decode {
                    what: stringify!($name),
                    reason: format!("{text:?} is not 64 hex digits"),
                })
            }
        }
    };
}

hash_type!(
    /// A transaction's id: blake3 of its signed bytes.
    TxId
);
hash_type!(
    /// A block's hash: blake3 of its domain-tagged header.
    BlockHash
);
hash_type!(
    /// The root of the state tree after a block.
    StateRoot
);
hash_type!(
    /// The hash of a validator set: every validator's address and power,
    /// in address order ([`crate::validator_set_hash`]).
    ValidatorSetHash
);

/// Defines a sequential id newtype.
macro_rules! seq_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}

seq_id!(
    /// A listing, numbered in the order listings were made.
    ListingId,
    "listing #"
);
seq_id!(
    /// A rental, numbered in the order rentals began.
    RentalId,
    "rental #"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};
    use assets::Codec;

    #[test]
    fn chain_ids_are_short_lowercase_names() {
        assert!(ChainId::new("plaza-devnet-1").is_ok());
        for bad in ["", "Plaza", "plaza net", "a".repeat(33).as_str(), "plazä"] {
            assert!(ChainId::new(bad).is_err(), "{bad:?}");
        }
        let bytes = encode(&"BAD".to_string());
        assert!(decode::<ChainId>("chain id", &bytes, 64).is_err());
    }

    #[test]
    fn asset_ids_round_trip_and_reject_garbage() {
        let id = AssetId(ContentId::of(Codec::Json, b"{}"));
        let bytes = encode(&id);
        assert_eq!(decode::<AssetId>("asset id", &bytes, 128).unwrap(), id);
        assert_eq!(id.to_string().parse::<AssetId>().unwrap(), id);
        let mut garbage = bytes.clone();
        garbage[3] ^= 0xff;
        assert!(decode::<AssetId>("asset id", &garbage, 128).is_err());
        assert!(decode::<AssetId>("asset id", &[200, 1, 2], 128).is_err());
    }
}

//! The one canonical binary encoding for everything hashed or signed.
//!
//! Plaza uses borsh: little-endian fixed-width integers, `u32` length
//! prefixes, one-byte enum tags and no maps, so a value has exactly one
//! encoding. Decoding rejects trailing bytes and any byte string longer than
//! the caller's limit, before anything is allocated for it.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::LedgerError;

/// Domain tag of a transaction signature.
pub(crate) const TX_DOMAIN: &[u8] = b"plaza/tx/v1";
/// Domain tag of a trade-terms signature.
pub(crate) const TRADE_DOMAIN: &[u8] = b"plaza/trade/v1";
/// Domain of the hash of a trade's two offers.
pub(crate) const TRADE_OFFERS_DOMAIN: &[u8] = b"plaza/trade-offers/v1";
/// Domain tag of a block hash. Version 2: headers commit to the state
/// root after their parent and to the validator sets.
pub(crate) const BLOCK_DOMAIN: &[u8] = b"plaza/block/v2";
/// Domain of a validator set's hash.
pub(crate) const VALIDATOR_SET_DOMAIN: &[u8] = b"plaza/validator-set/v1";
/// Domain tag of a block's transaction-list hash.
pub(crate) const TX_LIST_DOMAIN: &[u8] = b"plaza/tx-list/v1";
/// Domain tag of a state record's key in the state tree.
pub(crate) const STATE_KEY_DOMAIN: &[u8] = b"plaza/state-key/v1";
/// Domain tag of the hash of a genesis specification.
pub(crate) const GENESIS_DOMAIN: &[u8] = b"plaza/genesis/v1";

/// The canonical bytes of `value`.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("writing to a Vec cannot fail")
}

/// Appends the canonical bytes of `value` to `out`.
pub(crate) fn encode_into<T: BorshSerialize>(value: &T, out: &mut Vec<u8>) {
    value.serialize(out).expect("writing to a Vec cannot fail");
}

/// Reads a `T` from exactly `bytes`, which must be at most `max_len` long.
pub fn decode<T: BorshDeserialize>(
    what: &'static str,
    bytes: &[u8],
    max_len: usize,
) -> Result<T, LedgerError> {
    if bytes.len() > max_len {
        return Err(LedgerError::TooLarge {
            what,
            size: bytes.len(),
            max: max_len,
        });
    }
    borsh::from_slice(bytes).map_err(|err| LedgerError::Decode {
        what,
        reason: err.to_string(),
    })
}

/// blake3 over a domain tag and the parts that follow it.
pub(crate) fn tagged_hash(domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(domain.len() as u64).to_le_bytes());
    hasher.update(domain);
    for part in parts {
        hasher.update(part);
    }
    *hasher.finalize().as_bytes()
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Parses lower- or upper-case hexadecimal of exactly `N` bytes.
pub(crate) fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_trailing_bytes_and_oversize_input() {
        let bytes = encode(&(7u64, 9u32));
        assert_eq!(decode::<(u64, u32)>("pair", &bytes, 64).unwrap(), (7, 9));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode::<(u64, u32)>("pair", &longer, 64),
            Err(LedgerError::Decode { what: "pair", .. })
        ));
        assert!(matches!(
            decode::<(u64, u32)>("pair", &bytes, 4),
            Err(LedgerError::TooLarge {
                size: 12,
                max: 4,
                ..
            })
        ));
        // A huge length prefix fails cleanly instead of allocating.
        let lying = [0xff, 0xff, 0xff, 0xff, 1];
        assert!(decode::<Vec<u64>>("list", &lying, 64).is_err());
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(parse_hex::<4>("0001abff"), Some(bytes));
        assert_eq!(parse_hex::<4>("0001abf"), None);
        assert_eq!(parse_hex::<4>("0001abfg"), None);
    }
}

//! Verified streaming: a blob cut into pieces of 1 MiB that can each be
//! checked against the blob's content id on their own.
//!
//! blake3 hashes its input as a binary tree of 1 KiB chunks. A 1 MiB piece
//! that starts at a multiple of 1 MiB is a whole subtree of that tree, so
//! its chaining value can be computed from the piece alone, and the
//! chaining values of all pieces combine, by blake3's own parent rule, into
//! the root hash: the digest in the blob's content id. A receiver that has
//! the list of chaining values checks the list against the content id
//! before it fetches anything, then checks each piece against its entry as
//! it arrives. (This is the idea behind Bao; here the pieces are large and
//! the list is sent whole.)

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root,
};

use crate::error::AssetError;

/// The size of a piece: 1 MiB, a power of two number of blake3 chunks.
pub const PIECE_LEN: usize = 1 << 20;

/// Pieces a blob of `len` bytes is cut into.
pub fn piece_count(len: u64) -> u64 {
    len.div_ceil(PIECE_LEN as u64)
}

/// The byte length of piece `index` of a blob of `len` bytes.
pub fn piece_len(len: u64, index: u64) -> u64 {
    let start = index.saturating_mul(PIECE_LEN as u64);
    len.saturating_sub(start).min(PIECE_LEN as u64)
}

/// What a piece is checked against: its chaining value, or for a blob of
/// one piece, the blob's root hash itself.
pub fn piece_value(piece: &[u8], index: u64, blob_len: u64) -> ChainingValue {
    if blob_len <= PIECE_LEN as u64 {
        return *blake3::hash(piece).as_bytes();
    }
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(index * PIECE_LEN as u64);
    hasher.update(piece);
    hasher.finalize_non_root()
}

/// The chaining value of every piece of `blob`, hashed on all cores.
pub fn piece_values(blob: &[u8]) -> Vec<ChainingValue> {
    use rayon::prelude::*;
    let len = blob.len() as u64;
    blob.par_chunks(PIECE_LEN)
        .enumerate()
        .map(|(index, piece)| piece_value(piece, index as u64, len))
        .collect()
}

/// The blake3 root of a blob of `len` bytes whose pieces have `values`.
pub fn root_of(values: &[ChainingValue], len: u64) -> Result<[u8; 32], AssetError> {
    let expected = piece_count(len);
    if len == 0 || values.len() as u64 != expected {
        return Err(AssetError::PieceList {
            reason: format!(
                "{} piece values for {len} bytes, which make {expected} pieces",
                values.len()
            ),
        });
    }
    if values.len() == 1 {
        return Ok(values[0]);
    }
    let (left, right) = split(values, len);
    let left_len = (left.len() * PIECE_LEN) as u64;
    Ok(*merge_subtrees_root(
        &subtree(left, left_len),
        &subtree(right, len - left_len),
        Mode::Hash,
    )
    .as_bytes())
}

/// The chaining value of the subtree over `values`, `len` bytes long.
fn subtree(values: &[ChainingValue], len: u64) -> ChainingValue {
    if values.len() == 1 {
        return values[0];
    }
    let (left, right) = split(values, len);
    let left_len = (left.len() * PIECE_LEN) as u64;
    merge_subtrees_non_root(
        &subtree(left, left_len),
        &subtree(right, len - left_len),
        Mode::Hash,
    )
}

/// blake3 splits a subtree of more than one chunk so that its left part is
/// the largest power of two chunks smaller than the whole; above one piece
/// that is always a whole number of pieces.
fn split(values: &[ChainingValue], len: u64) -> (&[ChainingValue], &[ChainingValue]) {
    let left_len = blake3::hazmat::left_subtree_len(len);
    let left_pieces = (left_len / PIECE_LEN as u64) as usize;
    values.split_at(left_pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
            .collect()
    }

    #[test]
    fn piece_values_combine_into_the_blake3_of_the_whole() {
        let sizes = [
            1,
            1000,
            PIECE_LEN,
            PIECE_LEN + 1,
            2 * PIECE_LEN,
            3 * PIECE_LEN - 7,
            5 * PIECE_LEN + 123,
            8 * PIECE_LEN,
        ];
        for len in sizes {
            let data = blob(len);
            let values = piece_values(&data);
            assert_eq!(values.len() as u64, piece_count(len as u64));
            let root = root_of(&values, len as u64).unwrap();
            assert_eq!(&root, blake3::hash(&data).as_bytes(), "{len} bytes");
        }
    }

    #[test]
    fn a_changed_piece_or_list_is_caught() {
        let len = 3 * PIECE_LEN + 10;
        let mut data = blob(len);
        let values = piece_values(&data);
        data[PIECE_LEN + 5] ^= 1;
        let piece = &data[PIECE_LEN..2 * PIECE_LEN];
        assert_ne!(piece_value(piece, 1, len as u64), values[1]);
        let mut forged = values.clone();
        forged.swap(0, 1);
        assert_ne!(
            root_of(&forged, len as u64).unwrap(),
            root_of(&values, len as u64).unwrap()
        );
        assert!(root_of(&values[..3], len as u64).is_err());
        assert!(root_of(&values, 0).is_err());
    }
}

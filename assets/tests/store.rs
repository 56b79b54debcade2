//! The blob store on a real RocksDB directory: whole blobs, pieces that
//! arrive one by one across a restart, and pieces that do not match.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use assets::pieces::PIECE_LEN;
use assets::{AssetError, BlobInfo, BlobStatus, BlobStore, Codec, ContentId, StoreLimits};

fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

fn open(dir: &std::path::Path) -> BlobStore {
    BlobStore::open(dir, StoreLimits::default()).unwrap()
}

#[test]
fn a_blob_is_stored_whole_and_read_back_by_id_and_by_piece() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = data(3 * PIECE_LEN + PIECE_LEN / 2, 1);
    let id = {
        let store = open(dir.path());
        let id = store.put(Codec::Raw, &bytes).unwrap();
        assert_eq!(id, ContentId::of(Codec::Raw, &bytes));
        assert_eq!(
            store.put(Codec::Raw, &bytes).unwrap(),
            id,
            "storing twice is harmless"
        );
        id
    };
    let store = open(dir.path());
    assert_eq!(store.status(&id).unwrap(), BlobStatus::Complete);
    assert_eq!(store.get(&id).unwrap(), bytes);
    let info = store.info(&id).unwrap().unwrap();
    assert_eq!(info, BlobInfo::of(Codec::Raw, &bytes));
    assert_eq!(info.piece_count(), 4);
    for index in 0..4 {
        let piece = store.piece(&id, index).unwrap();
        let start = index as usize * PIECE_LEN;
        assert_eq!(piece, bytes[start..(start + PIECE_LEN).min(bytes.len())]);
    }
    assert!(matches!(
        store.piece(&id, 4),
        Err(AssetError::NoSuchPiece {
            index: 4,
            count: 4,
            ..
        })
    ));
    let other = ContentId::of(Codec::Raw, b"never stored");
    assert!(matches!(store.get(&other), Err(AssetError::UnknownBlob(_))));
    assert_eq!(store.status(&other).unwrap(), BlobStatus::Unknown);
}

#[test]
fn a_fetch_resumes_after_a_restart_with_the_pieces_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = data(5 * PIECE_LEN - 3, 2);
    let info = BlobInfo::of(Codec::Raw, &bytes);
    let piece = |index: u64| {
        let start = index as usize * PIECE_LEN;
        &bytes[start..(start + PIECE_LEN).min(bytes.len())]
    };
    {
        let store = open(dir.path());
        assert_eq!(
            store.begin(&info).unwrap(),
            BlobStatus::Partial { have: 0, count: 5 }
        );
        store.put_piece(&info.id, 3, piece(3)).unwrap();
        let status = store.put_piece(&info.id, 0, piece(0)).unwrap();
        assert_eq!(status, BlobStatus::Partial { have: 2, count: 5 });
        assert!(matches!(
            store.get(&info.id),
            Err(AssetError::Incomplete {
                missing: 3,
                count: 5,
                ..
            })
        ));
    }
    let store = open(dir.path());
    assert_eq!(
        store.begin(&info).unwrap(),
        BlobStatus::Partial { have: 2, count: 5 }
    );
    assert_eq!(store.missing_pieces(&info.id).unwrap(), vec![1, 2, 4]);
    assert_eq!(store.piece(&info.id, 3).unwrap(), piece(3));
    for index in [4, 1] {
        store.put_piece(&info.id, index, piece(index)).unwrap();
    }
    assert_eq!(
        store.put_piece(&info.id, 2, piece(2)).unwrap(),
        BlobStatus::Complete
    );
    assert!(store.missing_pieces(&info.id).unwrap().is_empty());
    assert_eq!(store.get(&info.id).unwrap(), bytes);
    // A piece that arrives again changes nothing.
    assert_eq!(
        store.put_piece(&info.id, 2, piece(2)).unwrap(),
        BlobStatus::Complete
    );
}

#[test]
fn a_piece_that_does_not_match_is_refused_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bytes = data(2 * PIECE_LEN + 100, 3);
    let info = BlobInfo::of(Codec::Raw, &bytes);
    store.begin(&info).unwrap();
    let mut bad = bytes[PIECE_LEN..2 * PIECE_LEN].to_vec();
    bad[12_345] ^= 0x40;
    assert!(matches!(
        store.put_piece(&info.id, 1, &bad),
        Err(AssetError::PieceMismatch { index: 1, .. })
    ));
    // Another piece's bytes in this piece's place.
    assert!(matches!(
        store.put_piece(&info.id, 1, &bytes[..PIECE_LEN]),
        Err(AssetError::PieceMismatch { index: 1, .. })
    ));
    assert!(matches!(
        store.put_piece(&info.id, 2, &bytes[2 * PIECE_LEN..2 * PIECE_LEN + 99]),
        Err(AssetError::PieceLength {
            index: 2,
            expected: 100,
            got: 99,
            ..
        })
    ));
    assert!(matches!(
        store.put_piece(&info.id, 3, &bytes[..100]),
        Err(AssetError::NoSuchPiece { index: 3, .. })
    ));
    assert_eq!(store.missing_pieces(&info.id).unwrap(), vec![0, 1, 2]);
    assert!(matches!(
        store.piece(&info.id, 1),
        Err(AssetError::Incomplete { .. })
    ));
    let unknown = ContentId::of(Codec::Raw, b"not begun");
    assert!(matches!(
        store.put_piece(&unknown, 0, b"x"),
        Err(AssetError::UnknownBlob(_))
    ));
}

#[test]
fn a_piece_list_that_does_not_hash_to_the_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bytes = data(3 * PIECE_LEN, 4);
    let mut info = BlobInfo::of(Codec::Raw, &bytes);
    info.pieces.swap(0, 2);
    assert!(matches!(
        store.begin(&info),
        Err(AssetError::PieceListMismatch { .. })
    ));
    let mut short = BlobInfo::of(Codec::Raw, &bytes);
    short.pieces.pop();
    assert!(matches!(
        store.begin(&short),
        Err(AssetError::PieceList { .. })
    ));
    let mut lying = BlobInfo::of(Codec::Raw, &bytes);
    lying.size += 1;
    assert!(
        store.begin(&lying).is_err(),
        "a size that makes another piece count"
    );
    assert_eq!(store.status(&info.id).unwrap(), BlobStatus::Unknown);
    // The wire form round-trips and refuses truncation.
    let good = BlobInfo::of(Codec::Raw, &bytes);
    let wire = good.to_bytes();
    assert_eq!(BlobInfo::from_bytes(&wire).unwrap(), good);
    assert!(BlobInfo::from_bytes(&wire[..wire.len() - 1]).is_err());
    assert!(BlobInfo::from_bytes(&wire[..20]).is_err());
}

#[test]
fn limits_are_enforced_with_their_own_errors() {
    let dir = tempfile::tempdir().unwrap();
    let limits = StoreLimits {
        max_blob_bytes: 4 * PIECE_LEN as u64,
        max_pieces: 2,
    };
    let store = BlobStore::open(dir.path(), limits).unwrap();
    assert!(matches!(
        store.put(Codec::Raw, &data(4 * PIECE_LEN + 1, 5)),
        Err(AssetError::TooLarge { max, .. }) if max == 4 * PIECE_LEN as u64
    ));
    let three = data(3 * PIECE_LEN, 6);
    assert!(matches!(
        store.put(Codec::Raw, &three),
        Err(AssetError::TooManyPieces { count: 3, max: 2 })
    ));
    assert!(matches!(
        store.begin(&BlobInfo::of(Codec::Raw, &three)),
        Err(AssetError::TooManyPieces { count: 3, max: 2 })
    ));
    assert!(matches!(store.put(Codec::Raw, b""), Err(AssetError::Empty)));
    assert!(store.put(Codec::Raw, &data(2 * PIECE_LEN, 7)).is_ok());
}

#[test]
fn a_piece_damaged_on_disk_is_reported_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = data(2 * PIECE_LEN, 8);
    let id = {
        let store = open(dir.path());
        let id = store.put(Codec::Raw, &bytes).unwrap();
        store.sync().unwrap();
        id
    };
    // Flip one byte of piece 1 in the pack file, behind the store's back.
    let pack = dir.path().join("packs/000000.pack");
    let mut on_disk = std::fs::read(&pack).unwrap();
    assert_eq!(
        on_disk, bytes,
        "a fresh store's first pack holds exactly the blob"
    );
    on_disk[PIECE_LEN + 77] ^= 0x01;
    std::fs::write(&pack, &on_disk).unwrap();
    let store = open(dir.path());
    assert_eq!(store.piece(&id, 0).unwrap(), bytes[..PIECE_LEN]);
    assert!(matches!(store.piece(&id, 1), Err(AssetError::Corrupt(_))));
    // The damaged piece is now missing, so a fetch or a put brings it back.
    assert_eq!(
        store.status(&id).unwrap(),
        BlobStatus::Partial { have: 1, count: 2 }
    );
    assert_eq!(store.missing_pieces(&id).unwrap(), vec![1]);
    assert!(matches!(
        store.get(&id),
        Err(AssetError::Incomplete { missing: 1, .. })
    ));
    assert_eq!(store.put(Codec::Raw, &bytes).unwrap(), id);
    assert_eq!(store.get(&id).unwrap(), bytes);
    drop(store);
    // A cut-off pack file (the put above appended the blob again after
    // the first copy): the pieces past the cut are reported missing.
    std::fs::write(&pack, &on_disk[..PIECE_LEN + 10]).unwrap();
    let store = open(dir.path());
    assert!(matches!(store.piece(&id, 1), Err(AssetError::Corrupt(_))));
    assert!(matches!(store.piece(&id, 0), Err(AssetError::Corrupt(_))));
    assert_eq!(
        store.status(&id).unwrap(),
        BlobStatus::Partial { have: 0, count: 2 }
    );
}

#[test]
fn a_misstated_size_is_corrected_by_the_genuine_last_piece() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bytes = data(2 * PIECE_LEN + 500, 9);
    let mut info = BlobInfo::of(Codec::Raw, &bytes);
    // The piece values do not pin the last piece's length: a peer can
    // claim a size one byte short with the same piece count.
    info.size -= 1;
    store.begin(&info).unwrap();
    store.put_piece(&info.id, 0, &bytes[..PIECE_LEN]).unwrap();
    store
        .put_piece(&info.id, 1, &bytes[PIECE_LEN..2 * PIECE_LEN])
        .unwrap();
    // A short last piece of the claimed length does not match its value.
    assert!(
        store
            .put_piece(&info.id, 2, &bytes[2 * PIECE_LEN..bytes.len() - 1])
            .is_err()
    );
    assert_eq!(
        store
            .put_piece(&info.id, 2, &bytes[2 * PIECE_LEN..])
            .unwrap(),
        BlobStatus::Complete
    );
    assert_eq!(store.get(&info.id).unwrap(), bytes);
    assert_eq!(
        store.info(&info.id).unwrap().unwrap().size,
        bytes.len() as u64
    );
}

#[test]
fn stored_blobs_survive_reopening_after_more_writes() {
    let dir = tempfile::tempdir().unwrap();
    let blobs: Vec<Vec<u8>> = (0..5)
        .map(|seed| data(PIECE_LEN + seed * 1000 + 1, seed as u32 + 20))
        .collect();
    let mut ids = Vec::new();
    for blob in &blobs {
        // Each opening appends to the same pack file after the last.
        let store = open(dir.path());
        ids.push(store.put(Codec::Raw, blob).unwrap());
    }
    let store = open(dir.path());
    for (id, blob) in ids.iter().zip(&blobs) {
        assert_eq!(&store.get(id).unwrap(), blob);
    }
    let mut listed = store.ids().unwrap();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
}

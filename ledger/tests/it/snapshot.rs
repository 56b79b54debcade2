//! A ledger rebuilt from a snapshot is the ledger it was taken from: same
//! root, same records, and the same next block gives the same state. Bad
//! chunks and lying manifests are caught, and a restore resumes.

use ledger::snapshot::SnapshotManifest;
use ledger::{Ledger, LedgerError, Operation, Restore, StateRoot};

use crate::common::{Net, hourly};

/// A network with accounts, assets, a listing, an active rental and a
/// settled one, so that every kind of record is in its state.
fn busy_net() -> Net {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let hat = net.mint(&alice, 1, 500);
    let coat = net.mint(&alice, 2, 0);
    let hats = net.list_for_rent(&alice, hat, hourly());
    let coats = net.list_for_rent(&alice, coat, hourly());
    net.rent(&bob, hats, 1);
    net.rent(&carol, coats, 5);
    // The hat's rental ends and settles; the coat's is still running.
    net.advance(3_700);
    net.run(
        &bob,
        Operation::Pay {
            to: carol.address(),
            amount: 7,
        },
    )
    .unwrap();
    net
}

fn take(ledger: &Ledger, chunk_bytes: usize) -> (SnapshotManifest, Vec<Vec<u8>>) {
    let mut chunks = Vec::new();
    let manifest = ledger
        .snapshot(chunk_bytes, |index, bytes| {
            assert_eq!(index as usize, chunks.len());
            chunks.push(bytes);
            Ok(())
        })
        .unwrap();
    (manifest, chunks)
}

#[test]
fn a_restored_ledger_is_the_ledger_it_was_taken_from() {
    let mut net = busy_net();
    let genesis = net.ledger.block(0).unwrap().block.hash();
    let (manifest, chunks) = take(&net.ledger, 200);
    assert!(chunks.len() > 3, "small chunks make several");
    assert_eq!(manifest.height, net.ledger.height());
    assert_eq!(manifest.state_root, net.ledger.state_root());
    assert_eq!(
        SnapshotManifest::from_bytes(&manifest.to_bytes()).unwrap(),
        manifest
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("restored");
    let mut restore = Restore::begin(&path, manifest.clone()).unwrap();
    // Out of order is fine.
    for index in restore.missing().into_iter().rev() {
        restore.add(index, &chunks[index as usize]).unwrap();
    }
    let mut restored = restore.finish(genesis).unwrap();
    assert_eq!(restored.height(), net.ledger.height());
    assert_eq!(restored.state_root(), net.ledger.state_root());
    assert_eq!(restored.chain(), net.ledger.chain());
    assert_eq!(restored.accounts().unwrap(), net.ledger.accounts().unwrap());
    assert_eq!(restored.assets().unwrap(), net.ledger.assets().unwrap());
    assert_eq!(restored.listings().unwrap(), net.ledger.listings().unwrap());
    assert_eq!(restored.rentals().unwrap(), net.ledger.rentals().unwrap());
    assert_eq!(
        restored.validators().unwrap(),
        net.ledger.validators().unwrap()
    );
    assert_eq!(
        restored.next_rental_due().unwrap(),
        net.ledger.next_rental_due().unwrap()
    );
    assert!(restored.next_rental_due().unwrap().is_some());

    // The next block, which settles the coat's rental, does the same to
    // both.
    net.time += 5 * 3_600;
    let block = net.block_at(net.time, Vec::new());
    let on_restored = restored.commit_block(block.clone()).unwrap();
    let on_original = net.ledger.commit_block(block).unwrap();
    assert_eq!(on_restored.settlements.len(), 1);
    assert_eq!(on_restored, on_original);
    drop(restored);
    // It opens as any ledger does.
    let reopened = Ledger::open(&path).unwrap();
    assert_eq!(reopened.state_root(), net.ledger.state_root());
}

#[test]
fn bad_chunks_and_lying_manifests_are_caught_and_a_restore_resumes() {
    let net = busy_net();
    let genesis = net.ledger.block(0).unwrap().block.hash();
    let (manifest, chunks) = take(&net.ledger, 200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("restored");

    let mut restore = Restore::begin(&path, manifest.clone()).unwrap();
    let mut bad = chunks[1].clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        restore.add(1, &bad),
        Err(LedgerError::ChunkMismatch { index: 1 })
    );
    assert!(matches!(
        restore.add(99, &chunks[1]),
        Err(LedgerError::BadSnapshot(_))
    ));
    restore.add(0, &chunks[0]).unwrap();
    restore.add(1, &chunks[1]).unwrap();
    // Interrupted: taken up again, only the rest is missing. Meanwhile the
    // directory is no ledger to make from a genesis.
    drop(restore);
    let genesis_spec = {
        let mut spec = ledger::Genesis::new(ledger::testkit::chain_id(), Vec::new(), Vec::new());
        spec.time = 1;
        spec
    };
    assert!(matches!(
        Ledger::create(&path, &genesis_spec),
        Err(LedgerError::BadSnapshot(reason)) if reason.contains("being restored")
    ));
    let mut restore = Restore::begin(&path, manifest.clone()).unwrap();
    assert_eq!(
        restore.missing(),
        (2..chunks.len() as u32).collect::<Vec<_>>()
    );
    assert!(matches!(
        Restore::begin(dir.path().join("restored-again"), manifest.clone())
            .and_then(|other| other.finish(genesis)),
        Err(LedgerError::RestoreIncomplete { .. })
    ));
    drop(restore);
    // Another snapshot cannot be restored over it.
    let mut other = manifest.clone();
    other.height += 1;
    assert!(matches!(
        Restore::begin(&path, other),
        Err(LedgerError::BadSnapshot(_))
    ));
    restore = Restore::begin(&path, manifest.clone()).unwrap();
    for index in restore.missing() {
        restore.add(index, &chunks[index as usize]).unwrap();
    }
    restore.finish(genesis).unwrap();

    // A manifest that lies about the root: its chunks all match it, but
    // the state they rebuild is not the root it names.
    let mut lying = manifest.clone();
    lying.state_root = StateRoot([9; 32]);
    let liar = dir.path().join("lied-to");
    let mut restore = Restore::begin(&liar, lying).unwrap();
    for index in restore.missing() {
        restore.add(index, &chunks[index as usize]).unwrap();
    }
    assert_eq!(
        restore.finish(genesis).err(),
        Some(LedgerError::SnapshotRootMismatch {
            height: manifest.height,
            expected: StateRoot([9; 32]),
            got: manifest.state_root,
        })
    );
    // Nothing there opens as a ledger.
    assert!(Ledger::open(&liar).is_err());

    // A manifest that lists forged chunks with their own hashes: the state
    // is not the root's. One account's balance is raised in a copy of the
    // chunk that holds it.
    let dir2 = tempfile::tempdir().unwrap();
    let mut forged_chunks = chunks.clone();
    forged_chunks[0][4 + 1 + 32] ^= 0x10;
    let mut forged = manifest.clone();
    forged.chunks[0] = ledger::snapshot::chunk_hash(&forged_chunks[0]);
    let mut restore = Restore::begin(dir2.path().join("forged"), forged).unwrap();
    for index in restore.missing() {
        restore.add(index, &forged_chunks[index as usize]).unwrap();
    }
    assert!(matches!(
        restore.finish(genesis),
        Err(LedgerError::SnapshotRootMismatch { .. })
    ));
}

#[test]
fn a_store_that_holds_a_ledger_is_not_restored_over() {
    let net = busy_net();
    let (manifest, _) = take(&net.ledger, 1 << 20);
    assert_eq!(manifest.chunks.len(), 1);
    let path = net.dir.path().to_path_buf();
    drop(net.ledger);
    assert!(matches!(
        Restore::begin(&path, manifest),
        Err(LedgerError::BadSnapshot(reason)) if reason.contains("already holds a ledger")
    ));
}

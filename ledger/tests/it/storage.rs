//! The store on disk: reopening, refusing the wrong genesis, reporting
//! corruption.

use ledger::testkit::{chain_id, keypair};
use ledger::{Genesis, Ledger, LedgerError, Operation, Validator};

use crate::common::{Net, hourly};

#[test]
fn a_reopened_ledger_is_where_it_was() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let hat = net.mint(&alice, 1, 100);
    let listing = net.list_for_rent(&alice, hat, hourly());
    net.rent(&bob, listing, 2);
    let (height, root, chain) = (
        net.ledger.height(),
        net.ledger.state_root(),
        net.ledger.chain().clone(),
    );
    let asset = net.ledger.asset(&hat).unwrap();
    let accounts = net.ledger.accounts().unwrap();

    let Net { dir, ledger, .. } = net;
    drop(ledger);
    let reopened = Ledger::open(dir.path()).unwrap();
    assert_eq!(reopened.height(), height);
    assert_eq!(reopened.state_root(), root);
    assert_eq!(reopened.chain(), &chain);
    assert_eq!(reopened.asset(&hat).unwrap(), asset);
    assert_eq!(reopened.accounts().unwrap(), accounts);
    assert_eq!(reopened.state_root_at(height).unwrap(), root);
}

#[test]
fn a_store_from_another_genesis_is_refused() {
    let net = Net::new();
    let Net { dir, ledger, .. } = net;
    drop(ledger);
    let other = Genesis::new(
        chain_id(),
        vec![(keypair(4, 0).address(), 5)],
        vec![Validator {
            address: keypair(4, 1).address(),
            power: 1,
        }],
    );
    assert!(matches!(
        Ledger::create(dir.path(), &other),
        Err(LedgerError::GenesisMismatch { .. })
    ));
    // The ledger that was there is untouched.
    assert_eq!(Ledger::open(dir.path()).unwrap().height(), 0);
}

#[test]
fn opening_nothing_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-ledger");
    assert!(matches!(
        Ledger::open(&missing),
        Err(LedgerError::NotInitialized(_))
    ));
}

#[test]
fn a_corrupt_record_is_reported_not_misread() {
    let mut net = Net::new();
    let alice = net.alice.clone();
    net.run(
        &alice,
        Operation::Pay {
            to: net.bob.address(),
            amount: 1,
        },
    )
    .unwrap();
    let Net { dir, ledger, .. } = net;
    drop(ledger);
    // Damage Alice's account record behind the ledger's back.
    damage_newest_account(dir.path(), &alice.address());
    let ledger = Ledger::open(dir.path()).unwrap();
    assert!(matches!(
        ledger.account(&alice.address()),
        Err(LedgerError::Corrupt(_))
    ));
}

#[test]
fn a_store_in_another_format_is_refused_with_what_to_do_and_left_as_it_was() {
    let net = Net::new();
    let height = net.ledger.height();
    let Net { dir, ledger, .. } = net;
    drop(ledger);
    let set_format = |format: Option<u32>| {
        let mut options = rocksdb::Options::default();
        options.create_if_missing(false);
        let names = rocksdb::DB::list_cf(&options, dir.path()).unwrap();
        let db = rocksdb::DB::open_cf(&options, dir.path(), &names).unwrap();
        let meta = db.cf_handle("meta").unwrap();
        match format {
            Some(format) => db.put_cf(meta, b"format", format.to_be_bytes()).unwrap(),
            None => db.delete_cf(meta, b"format").unwrap(),
        }
    };
    // A store from before the format marker.
    set_format(None);
    match Ledger::open(dir.path()) {
        Err(err @ LedgerError::StoreFormat { found: 1, .. }) => {
            assert!(err.to_string().contains("plaza-host init"), "{err}");
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("an old store was opened"),
    }
    set_format(Some(ledger::STORE_FORMAT));
    assert_eq!(Ledger::open(dir.path()).unwrap().height(), height);
}

#[test]
fn a_host_that_cannot_read_its_state_refuses_the_block_instead_of_skipping_a_transaction() {
    let net = Net::new();
    let alice = net.alice.clone();
    let pay = net.tx(
        &alice,
        Operation::Pay {
            to: net.bob.address(),
            amount: 1,
        },
    );
    let Net {
        dir,
        ledger,
        validator,
        time,
        ..
    } = net;
    drop(ledger);
    damage_newest_account(dir.path(), &alice.address());
    let mut ledger = Ledger::open(dir.path()).unwrap();
    let root = ledger.state_root();
    let block = ledger
        .next_block(time + 1, validator.address(), vec![pay])
        .unwrap();
    // Another host would apply the payment; this one must not record it as
    // rejected, so the block is refused and nothing is committed.
    assert!(matches!(
        ledger.commit_block(block),
        Err(LedgerError::Corrupt(_))
    ));
    assert_eq!(ledger.height(), 0);
    assert_eq!(ledger.state_root(), root);
}

/// Writes garbage as the newest version of `address`'s account, straight
/// into RocksDB. A record's key is its address and the complement of the
/// height that wrote it, so all-zero height bytes sort before every real
/// version.
fn damage_newest_account(path: &std::path::Path, address: &ledger::Address) {
    let mut options = rocksdb::Options::default();
    options.create_if_missing(false);
    let names = rocksdb::DB::list_cf(&options, path).unwrap();
    let db = rocksdb::DB::open_cf(&options, path, &names).unwrap();
    let accounts = db.cf_handle("accounts").unwrap();
    let mut key = address.as_bytes().to_vec();
    key.extend_from_slice(&[0; 8]);
    db.put_cf(accounts, key, [1, 2, 3]).unwrap();
}

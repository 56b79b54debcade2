//! Ownership and rental proofs, checked against nothing but a state root.

use ledger::{AssetProof, Holding, LedgerError, verify_asset, verify_holding};

use crate::common::{Net, hourly};

#[test]
fn a_proof_shows_the_owner_and_later_the_renter_at_each_height() {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let hat = net.mint(&alice, 1, 0);
    let owned_at = net.ledger.height();
    let root_owned = net.ledger.state_root();
    let listing = net.list_for_rent(&alice, hat, hourly());
    net.rent(&bob, listing, 1);
    let rented_at = net.ledger.height();
    let root_rented = net.ledger.state_root();

    // At the earlier height, Alice owns it and nobody rents it.
    let proof = net.ledger.prove_asset(&hat, owned_at).unwrap();
    assert_eq!(net.ledger.state_root_at(owned_at).unwrap(), root_owned);
    assert_eq!(
        verify_holding(&root_owned, &proof, &alice.address()),
        Ok(Holding::Owner)
    );
    assert!(verify_holding(&root_owned, &proof, &bob.address()).is_err());
    // That proof does not hold against the later root.
    assert!(verify_asset(&root_rented, &proof).is_err());

    // At the later height, Bob rents it and Alice still owns it.
    let proof = net.ledger.prove_asset(&hat, rented_at).unwrap();
    let rental = net.ledger.asset(&hat).unwrap().unwrap().rental.unwrap();
    assert_eq!(
        verify_holding(&root_rented, &proof, &bob.address()),
        Ok(Holding::Renter {
            rental: rental.id,
            ends_at: rental.ends_at
        })
    );
    assert_eq!(
        verify_holding(&root_rented, &proof, &alice.address()),
        Ok(Holding::Owner)
    );
    assert!(verify_holding(&root_rented, &proof, &carol.address()).is_err());

    // A proof travels as bytes and still checks.
    let bytes = proof.to_bytes();
    let back = AssetProof::from_bytes(&bytes).unwrap();
    assert_eq!(back, proof);
    assert!(matches!(
        verify_holding(&root_rented, &back, &bob.address()),
        Ok(Holding::Renter { .. })
    ));
}

#[test]
fn forged_proofs_fail() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let hat = net.mint(&alice, 1, 0);
    let root = net.ledger.state_root();
    let proof = net.ledger.prove_asset(&hat, net.ledger.height()).unwrap();

    // Claim Bob owns it by rewriting the record.
    let mut asset = net.ledger.asset(&hat).unwrap().unwrap();
    asset.owner = bob.address();
    let mut forged = proof.clone();
    forged.record = ledger::encode(&asset);
    assert_eq!(
        verify_holding(&root, &forged, &bob.address()),
        Err(LedgerError::InvalidProof(
            "the path does not lead to the root"
        ))
    );
    // Tamper with a sibling hash.
    let mut forged = proof.clone();
    if let Some(level) = forged
        .path
        .levels
        .iter_mut()
        .find(|l| !l.siblings.is_empty())
    {
        level.siblings[0][5] ^= 1;
    }
    assert!(verify_asset(&root, &forged).is_err());
    // Present the proof as another asset's.
    let other = net.mint(&alice, 2, 0);
    let mut forged = proof.clone();
    forged.asset = other;
    assert!(verify_asset(&net.ledger.state_root(), &forged).is_err());
    assert!(verify_asset(&root, &forged).is_err());

    assert!(matches!(
        net.ledger
            .prove_asset(&ledger::testkit::asset_id(9, 77), net.ledger.height()),
        Err(LedgerError::AssetNotFound(_))
    ));
    assert!(matches!(
        net.ledger.prove_asset(&hat, net.ledger.height() + 1),
        Err(LedgerError::UnknownHeight { .. })
    ));
    assert!(AssetProof::from_bytes(&[1, 2, 3]).is_err());
}

//! Replays, forged and malleated signatures, weak keys.

use curve25519_dalek::scalar::Scalar;
use ledger::testkit::chain_id;
use ledger::{Address, ChainId, LedgerError, Operation, Signature, Transaction};

use crate::common::Net;

fn pay(net: &Net, amount: u64) -> Operation {
    Operation::Pay {
        to: net.bob.address(),
        amount,
    }
}

#[test]
fn a_transaction_signed_for_another_chain_is_rejected() {
    let mut net = Net::new();
    let alice = net.alice.clone();
    let elsewhere = Transaction {
        chain_id: ChainId::new("plaza-elsewhere").unwrap(),
        signer: alice.address(),
        nonce: 0,
        valid_until: u64::MAX,
        op: pay(&net, 10),
    }
    .sign(&alice);
    assert_eq!(
        net.submit(elsewhere.clone()),
        Err(LedgerError::WrongChain {
            expected: chain_id(),
            got: elsewhere.tx.chain_id.clone(),
        })
    );
    // Relabelling it for this chain breaks its signature.
    let mut relabelled = elsewhere;
    relabelled.tx.chain_id = chain_id();
    assert_eq!(
        net.submit(relabelled),
        Err(LedgerError::BadSignature {
            signer: alice.address()
        })
    );
    assert_eq!(net.ledger.account(&alice.address()).unwrap().nonce, 0);
}

#[test]
fn a_transaction_cannot_be_replayed() {
    let mut net = Net::new();
    let alice = net.alice.clone();
    let tx = net.tx(&alice, pay(&net, 10));
    net.submit(tx.clone()).unwrap();
    assert_eq!(
        net.submit(tx.clone()),
        Err(LedgerError::StaleNonce {
            account: alice.address(),
            expected: 1,
            got: 0
        })
    );
    // Nor twice in one block.
    let next = net.tx(&alice, pay(&net, 10));
    let block = net.commit_after(1, vec![next.clone(), next]);
    assert_eq!(block.results[0].outcome, Ok(()));
    assert!(matches!(
        block.results[1].outcome,
        Err(LedgerError::StaleNonce { .. })
    ));
    let gap = net.tx_with_nonce(&alice, 5, pay(&net, 10));
    assert_eq!(
        net.submit(gap),
        Err(LedgerError::FutureNonce {
            account: alice.address(),
            expected: 2,
            got: 5
        })
    );
    assert_eq!(net.balance(&net.bob.clone()), crate::common::START + 20);
}

#[test]
fn an_expired_transaction_is_rejected() {
    let mut net = Net::new();
    let alice = net.alice.clone();
    let tx = Transaction {
        chain_id: chain_id(),
        signer: alice.address(),
        nonce: 0,
        valid_until: net.time,
        op: pay(&net, 10),
    }
    .sign(&alice);
    assert_eq!(
        net.submit(tx),
        Err(LedgerError::Expired {
            valid_until: net.time - 1,
            now: net.time
        })
    );
}

#[test]
fn a_forged_or_tampered_signature_is_rejected() {
    let mut net = Net::new();
    let (alice, mallory) = (net.alice.clone(), net.dave.clone());
    // Mallory signs a payment out of Alice's account.
    let forged = Transaction {
        chain_id: chain_id(),
        signer: alice.address(),
        nonce: 0,
        valid_until: u64::MAX,
        op: Operation::Pay {
            to: mallory.address(),
            amount: 1_000,
        },
    }
    .sign(&mallory);
    assert_eq!(
        net.submit(forged),
        Err(LedgerError::BadSignature {
            signer: alice.address()
        })
    );
    // A valid transaction with its amount changed after signing.
    let mut tampered = net.tx(&alice, pay(&net, 10));
    tampered.tx.op = pay(&net, 10_000);
    assert_eq!(
        net.submit(tampered),
        Err(LedgerError::BadSignature {
            signer: alice.address()
        })
    );
    assert_eq!(net.balance(&alice), crate::common::START);
}

#[test]
fn a_signature_with_non_canonical_s_is_rejected() {
    let mut net = Net::new();
    let alice = net.alice.clone();
    let tx = net.tx(&alice, pay(&net, 10));
    // s + ℓ is the same scalar mod ℓ, so a lax verifier accepts it; it is
    // below 2^253, so it even passes the old "top three bits" check.
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&tx.signature.0[32..]);
    let s = Scalar::from_canonical_bytes(s_bytes).unwrap();
    let malleated = add_group_order(s.to_bytes());
    assert_eq!(malleated[31] & 0xe0, 0);
    let mut bad = tx.clone();
    bad.signature.0[32..].copy_from_slice(&malleated);
    assert_ne!(bad.id(), tx.id());
    assert_eq!(
        net.submit(bad),
        Err(LedgerError::BadSignature {
            signer: alice.address()
        })
    );
    // The original still goes through, once.
    net.submit(tx).unwrap();
}

#[test]
fn a_small_order_public_key_is_rejected() {
    let mut net = Net::new();
    // The identity point as a "key", with R = identity and s = 0: the
    // equation s·B = R + k·A holds for every message, so a verifier that
    // skipped the small-order checks would accept anything it signs.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = Address::from_bytes(identity);
    let mut signature = [0u8; 64];
    signature[0] = 1;
    let tx = ledger::SignedTransaction {
        tx: Transaction {
            chain_id: chain_id(),
            signer: weak,
            nonce: 0,
            valid_until: u64::MAX,
            op: Operation::Pay {
                to: net.bob.address(),
                amount: 1,
            },
        },
        signature: Signature(signature),
    };
    assert_eq!(
        net.submit(tx),
        Err(LedgerError::WeakPublicKey { address: weak })
    );

    // A real key with a small-order R is rejected as well.
    let alice = net.alice.clone();
    let mut tx = net.tx(&alice, pay(&net, 1));
    tx.signature.0[..32].copy_from_slice(&identity);
    assert_eq!(
        net.submit(tx),
        Err(LedgerError::BadSignature {
            signer: alice.address()
        })
    );
}

#[test]
fn many_transactions_with_a_few_bad_signatures_are_sorted_out_in_one_block() {
    let mut net = Net::new();
    let players = [
        net.alice.clone(),
        net.bob.clone(),
        net.carol.clone(),
        net.dave.clone(),
    ];
    let mut txs = Vec::new();
    for round in 0..100u64 {
        for player in &players {
            let mut tx = net.tx_with_nonce(
                player,
                round,
                Operation::Pay {
                    to: net.validator.address(),
                    amount: 1,
                },
            );
            if round % 37 == 5 && player.address() == net.carol.address() {
                tx.signature.0[10] ^= 0x40;
            }
            txs.push(tx);
        }
    }
    let block = net.commit_after(1, txs);
    let bad: Vec<usize> = block
        .results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.outcome.is_err())
        .map(|(i, _)| i)
        .collect();
    // Carol's round-5 signature is bad, so her later nonces are all in the
    // future: round 5 onwards fails for her, and only for her.
    assert!(bad.iter().all(|i| i % 4 == 2 && i / 4 >= 5), "{bad:?}");
    assert_eq!(
        block.results[5 * 4 + 2].outcome,
        Err(LedgerError::BadSignature {
            signer: net.carol.address()
        })
    );
    assert_eq!(bad.len(), 95);
}

/// s + ℓ as 32 little-endian bytes.
fn add_group_order(s: [u8; 32]) -> [u8; 32] {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(s[i]) + u16::from(L[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    out
}

#[test]
fn an_oversized_transaction_inside_a_block_is_rejected() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let many: Vec<ledger::AssetId> = (0..1_000)
        .map(|i| ledger::testkit::asset_id(6, i))
        .collect();
    let terms = ledger::TradeTerms {
        a: alice.address(),
        b: bob.address(),
        a_gives: ledger::TradeSide {
            assets: many,
            tokens: 0,
        },
        b_gives: ledger::TradeSide {
            assets: Vec::new(),
            tokens: 1,
        },
        a_nonce: 0,
        b_nonce: 0,
        expires_at: u64::MAX,
        revision: 0,
        offers_hash: [0; 32],
    }
    .with_offers_hash();
    let op = Operation::Trade(Box::new(ledger::Trade {
        a_signature: terms.sign(&chain_id(), &alice),
        b_signature: terms.sign(&chain_id(), &bob),
        terms,
    }));
    let tx = net.tx(&alice, op);
    assert!(tx.to_bytes().len() > ledger::MAX_TX_BYTES);
    assert!(matches!(
        net.submit(tx),
        Err(LedgerError::TooLarge {
            what: "signed transaction",
            ..
        })
    ));
    assert_eq!(net.ledger.account(&alice.address()).unwrap().nonce, 0);
}

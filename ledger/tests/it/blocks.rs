//! Blocks that do not follow the chain are refused whole.

use ledger::testkit::{chain_id, keypair};
use ledger::{
    Block, BlockHash, ChainId, Commitments, LedgerError, MAX_BLOCK_TXS, Operation, StateRoot,
    ValidatorSetHash,
};

use crate::common::Net;

#[test]
fn a_block_must_follow_the_last_one() {
    let mut net = Net::new();
    let tx = net.tx(
        &net.alice.clone(),
        Operation::Pay {
            to: net.bob.address(),
            amount: 1,
        },
    );
    let root = net.ledger.state_root();
    let head = net.ledger.chain().clone();
    let proposer = net.validator.address();

    let skip = Block::new(
        chain_id(),
        2,
        net.time + 1,
        proposer,
        head.last_block,
        Commitments::default(),
        vec![tx.clone()],
    );
    assert_eq!(
        net.ledger.commit_block(skip),
        Err(LedgerError::BlockHeight {
            committed: 0,
            got: 2
        })
    );
    let orphan = Block::new(
        chain_id(),
        1,
        net.time + 1,
        proposer,
        BlockHash([7; 32]),
        Commitments::default(),
        vec![tx.clone()],
    );
    assert_eq!(
        net.ledger.commit_block(orphan),
        Err(LedgerError::BlockParent {
            expected: head.last_block,
            got: BlockHash([7; 32])
        })
    );
    let backwards = net.block_at(net.time - 1, vec![tx.clone()]);
    assert_eq!(
        net.ledger.commit_block(backwards),
        Err(LedgerError::BlockTime {
            previous: net.time,
            got: net.time - 1
        })
    );
    let stranger = keypair(3, 3).address();
    let usurped = net
        .ledger
        .next_block(net.time + 1, stranger, vec![tx.clone()])
        .unwrap();
    assert_eq!(
        net.ledger.commit_block(usurped),
        Err(LedgerError::UnknownProposer(stranger))
    );
    let other = ChainId::new("plaza-elsewhere").unwrap();
    let foreign = Block::new(
        other.clone(),
        1,
        net.time + 1,
        proposer,
        head.last_block,
        net.ledger.next_commitments().unwrap(),
        vec![tx.clone()],
    );
    assert_eq!(
        net.ledger.commit_block(foreign),
        Err(LedgerError::BlockWrongChain {
            expected: chain_id(),
            got: other
        })
    );
    let mut swapped = net.block_at(net.time + 1, vec![tx.clone()]);
    swapped.txs[0].tx.nonce = 9;
    assert_eq!(
        net.ledger.commit_block(swapped),
        Err(LedgerError::TxRootMismatch { height: 1 })
    );

    // A header that commits to another state, or to other validators.
    let mut forged_root = net.block_at(net.time + 1, vec![tx.clone()]);
    forged_root.header.commitments.state_root = StateRoot([5; 32]);
    assert_eq!(
        net.ledger.commit_block(forged_root.clone()),
        Err(LedgerError::StateRootMismatch {
            height: 1,
            expected: root,
            got: StateRoot([5; 32])
        })
    );
    assert_eq!(
        net.ledger.prepare(forged_root).err(),
        Some(LedgerError::StateRootMismatch {
            height: 1,
            expected: root,
            got: StateRoot([5; 32])
        })
    );
    let mut forged_set = net.block_at(net.time + 1, vec![tx.clone()]);
    forged_set.header.commitments.validators = ValidatorSetHash([6; 32]);
    assert_eq!(
        net.ledger.commit_block(forged_set),
        Err(LedgerError::ValidatorSetMismatch {
            height: 1,
            which: "its own"
        })
    );
    let mut forged_next = net.block_at(net.time + 1, vec![tx.clone()]);
    forged_next.header.commitments.next_validators = ValidatorSetHash([6; 32]);
    assert_eq!(
        net.ledger.commit_block(forged_next),
        Err(LedgerError::ValidatorSetMismatch {
            height: 1,
            which: "the next height's"
        })
    );

    // Nothing moved.
    assert_eq!(net.ledger.height(), 0);
    assert_eq!(net.ledger.state_root(), root);
    assert_eq!(net.balance(&net.alice.clone()), crate::common::START);

    // The same transaction in a proper block goes through; equal time is fine.
    let good = net.block_at(net.time, vec![tx]);
    assert_eq!(good.header.commitments.state_root, root);
    let committed = net.ledger.commit_block(good).unwrap();
    assert_eq!(committed.results[0].outcome, Ok(()));
    assert_eq!(net.ledger.height(), 1);
    assert_ne!(net.ledger.state_root(), root);
}

#[test]
fn an_oversized_block_is_refused() {
    let net = Net::new();
    let tx = net.tx(
        &net.alice.clone(),
        Operation::Pay {
            to: net.bob.address(),
            amount: 1,
        },
    );
    let block = net.block_at(net.time + 1, vec![tx; MAX_BLOCK_TXS + 1]);
    assert_eq!(
        net.ledger
            .verifier()
            .verify_block(block.clone())
            .unwrap_err(),
        LedgerError::TooManyTransactions {
            count: MAX_BLOCK_TXS + 1,
            max: MAX_BLOCK_TXS
        }
    );
    assert!(Block::from_bytes(&block.to_bytes()).is_err());
}

#[test]
fn every_transaction_gets_a_result_and_those_that_spent_their_nonce_are_indexed() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let good = net.tx(
        &alice,
        Operation::Pay {
            to: bob.address(),
            amount: 5,
        },
    );
    let bad = net.tx_with_nonce(
        &bob,
        3,
        Operation::Pay {
            to: alice.address(),
            amount: 5,
        },
    );
    // Refused in its turn: its nonce is spent, so it is final and found.
    let overdraft = net.tx(
        &net.carol.clone(),
        Operation::Pay {
            to: bob.address(),
            amount: u64::MAX,
        },
    );
    let block = net.commit_after(1, vec![good.clone(), bad.clone(), overdraft.clone()]);
    assert_eq!(block.results.len(), 3);
    assert_eq!(block.results[0].id, good.id());
    let location = net.ledger.transaction(&good.id()).unwrap().unwrap();
    assert_eq!((location.height, location.index), (1, 0));
    // Out of turn: it changed nothing and may yet go through later.
    assert_eq!(net.ledger.transaction(&bad.id()).unwrap(), None);
    let location = net.ledger.transaction(&overdraft.id()).unwrap().unwrap();
    assert_eq!((location.height, location.index), (1, 2));
    let stored = net.ledger.block(1).unwrap();
    assert_eq!(stored.results[0].rejection, None);
    assert!(
        stored.results[1]
            .rejection
            .as_deref()
            .unwrap()
            .contains("future nonce")
    );
    assert_eq!(stored.state_root, block.state_root);
    assert_eq!(stored.block.hash(), block.hash);
    assert!(matches!(
        net.ledger.block(2),
        Err(LedgerError::UnknownHeight {
            requested: 2,
            committed: 1
        })
    ));
}

//! Validator staking: a stake or unstake changes the validators two
//! blocks later, the stake is held apart from every balance, and a change
//! that breaks a rule is refused and changes nothing.

use ledger::testkit::{chain_id, keypair};
use ledger::{
    Address, Genesis, Ledger, LedgerError, MAX_SUPPLY, MAX_VALIDATOR_CHANGES, MAX_VALIDATORS,
    MIN_STAKE, Operation, VALIDATOR_CHANGE_DELAY, Validator,
};

use crate::common::{Net, START, T0};

fn powers(net: &Net) -> Vec<(ledger::Address, u64)> {
    let mut powers: Vec<_> = net
        .ledger
        .validators()
        .unwrap()
        .into_iter()
        .map(|validator| (validator.address, validator.power))
        .collect();
    powers.sort();
    powers
}

fn sorted(mut powers: Vec<(ledger::Address, u64)>) -> Vec<(ledger::Address, u64)> {
    powers.sort();
    powers
}

/// Every token is in a balance, in escrow or staked.
fn assert_supply(net: &Net) {
    assert_eq!(net.total_tokens(), u128::from(net.ledger.chain().supply));
}

#[test]
fn a_stake_is_in_force_two_blocks_on_and_an_unstake_returns_the_tokens_then() {
    let mut net = Net::new();
    assert_eq!(VALIDATOR_CHANGE_DELAY, 2);
    let genesis = (net.validator.address(), 10);
    assert_eq!(net.ledger.chain().staked, 10);
    assert_supply(&net);

    // Two stakes in one block: one change at a time, the second waits
    // for the first.
    let alice = net.alice.clone();
    let nonce = net.ledger.account(&alice.address()).unwrap().nonce;
    let block = net.commit_after(
        1,
        vec![
            net.tx_with_nonce(&alice, nonce, Operation::Stake { amount: 5_000 }),
            net.tx_with_nonce(&alice, nonce + 1, Operation::Stake { amount: 1 }),
        ],
    );
    let staked_at = net.ledger.height();
    assert_eq!(block.results[0].outcome, Ok(()));
    assert_eq!(
        block.results[1].outcome,
        Err(LedgerError::ValidatorChangeWaiting {
            validator: alice.address(),
            from: staked_at + 2,
        })
    );
    assert_eq!(net.balance(&net.alice), START - 5_000);
    assert_eq!(net.ledger.chain().staked, 5_010);
    // Known already as the validators of the height after next.
    assert_eq!(
        net.ledger.validators_at(staked_at + 2).unwrap().len(),
        2,
        "alice among the validators of height {}",
        staked_at + 2
    );
    assert_eq!(net.ledger.validators_at(staked_at + 1).unwrap().len(), 1);
    assert!(matches!(
        net.ledger.validators_at(staked_at + 3),
        Err(LedgerError::ValidatorsUnknown { .. })
    ));
    // Not yet in force: the validators of the next height are unchanged,
    // and a block alice proposes is refused.
    assert_eq!(powers(&net), vec![genesis]);
    let early = net
        .ledger
        .next_block(net.time + 1, net.alice.address(), Vec::new())
        .unwrap();
    assert!(matches!(
        net.ledger.commit_block(early),
        Err(LedgerError::UnknownProposer(who)) if who == net.alice.address()
    ));
    assert_supply(&net);

    // The block after names the validators of height `staked_at + 2`.
    net.advance(1);
    assert_eq!(
        powers(&net),
        sorted(vec![genesis, (net.alice.address(), 5_000)])
    );
    assert!(net.ledger.chain().validator_changes.is_empty());
    // Now alice may propose.
    let block = net
        .ledger
        .next_block(net.time + 1, net.alice.address(), Vec::new())
        .unwrap();
    net.time += 1;
    net.ledger.commit_block(block).unwrap();

    // More stake adds power; more unstake than staked is refused, and so
    // is leaving less than the least stake.
    net.run(&net.alice.clone(), Operation::Stake { amount: 1_000 })
        .unwrap();
    net.advance(1);
    assert_eq!(
        net.run(&net.alice.clone(), Operation::Unstake { amount: 6_001 }),
        Err(LedgerError::NotEnoughStake {
            validator: net.alice.address(),
            bonded: 6_000,
            asked: 6_001,
        })
    );
    assert_eq!(
        net.run(&net.alice.clone(), Operation::Unstake { amount: 5_500 }),
        Err(LedgerError::StakeTooSmall {
            validator: net.alice.address(),
            power: 500,
        })
    );
    net.run(&net.alice.clone(), Operation::Unstake { amount: 6_000 })
        .unwrap();
    let unstaked_at = net.ledger.height();
    // The tokens stay bonded until the change is in force.
    assert_eq!(net.balance(&net.alice), START - 6_000);
    assert_eq!(net.ledger.chain().staked, 6_010);
    assert_supply(&net);
    while net.ledger.height() < unstaked_at + 1 {
        net.advance(1);
    }
    assert_eq!(powers(&net), vec![genesis]);
    assert_eq!(net.balance(&net.alice), START);
    assert_eq!(net.ledger.chain().staked, 10);
    assert!(net.ledger.chain().validator_changes.is_empty());
    assert_supply(&net);
}

#[test]
fn stakes_that_break_a_rule_are_refused_and_change_nothing() {
    let mut net = Net::new();
    let validator = net.validator.clone();
    let before = (powers(&net), net.ledger.chain().staked);

    assert_eq!(
        net.run(&validator, Operation::Unstake { amount: 10 }),
        Err(LedgerError::LastValidator(validator.address()))
    );
    assert_eq!(
        net.run(&net.bob.clone(), Operation::Unstake { amount: 1 }),
        Err(LedgerError::NotEnoughStake {
            validator: net.bob.address(),
            bonded: 0,
            asked: 1,
        })
    );
    assert_eq!(
        net.run(&net.bob.clone(), Operation::Stake { amount: 0 }),
        Err(LedgerError::ZeroAmount { what: "a stake" })
    );
    assert!(matches!(
        net.run(&net.bob.clone(), Operation::Stake { amount: START + 1 }),
        Err(LedgerError::InsufficientFunds { .. })
    ));
    assert_eq!(
        net.run(&net.bob.clone(), Operation::Stake { amount: 999 }),
        Err(LedgerError::StakeTooSmall {
            validator: net.bob.address(),
            power: 999,
        })
    );
    assert_eq!((powers(&net), net.ledger.chain().staked), before);
    assert_eq!(net.balance(&net.bob), START);
    assert!(net.ledger.chain().validator_changes.is_empty());

    // With another validator coming, the genesis one may leave, and its
    // stake comes back to it as tokens.
    net.run(&net.bob.clone(), Operation::Stake { amount: 2_000 })
        .unwrap();
    net.run(&validator, Operation::Unstake { amount: 10 })
        .unwrap();
    // The next block puts the unstake in force: bob is then the last
    // validator, and may not leave.
    assert_eq!(
        net.run(&net.bob.clone(), Operation::Unstake { amount: 2_000 }),
        Err(LedgerError::LastValidator(net.bob.address()))
    );
    assert_eq!(powers(&net), vec![(net.bob.address(), 2_000)]);
    assert_eq!(net.balance(&validator), 10);
    assert_supply(&net);
    // Only bob may propose now.
    let refused = net.block_at(net.time + 1, Vec::new());
    assert!(matches!(
        net.ledger.commit_block(refused),
        Err(LedgerError::UnknownProposer(who)) if who == validator.address()
    ));
    let block = net
        .ledger
        .next_block(net.time + 1, net.bob.address(), Vec::new())
        .unwrap();
    net.ledger.commit_block(block).unwrap();
}

#[test]
fn validator_changes_waiting_at_once_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let validator = keypair(6, 0);
    let stakers: Vec<_> = (0..=MAX_VALIDATOR_CHANGES as u64)
        .map(|i| keypair(5, i))
        .collect();
    let mut genesis = Genesis::new(
        chain_id(),
        stakers
            .iter()
            .map(|key| (key.address(), MIN_STAKE))
            .collect(),
        vec![Validator {
            address: validator.address(),
            power: MIN_STAKE,
        }],
    );
    genesis.time = T0;
    let mut ledger = Ledger::create(dir.path(), &genesis).unwrap();
    let txs = stakers
        .iter()
        .map(|key| {
            ledger::Transaction {
                chain_id: chain_id(),
                signer: key.address(),
                nonce: 0,
                valid_until: u64::MAX,
                op: Operation::Stake { amount: MIN_STAKE },
            }
            .sign(key)
        })
        .collect();
    let block = ledger.next_block(T0 + 1, validator.address(), txs).unwrap();
    let committed = ledger.commit_block(block).unwrap();
    let (last, first) = committed.results.split_last().unwrap();
    assert!(first.iter().all(|result| result.outcome.is_ok()));
    assert_eq!(last.outcome, Err(LedgerError::ValidatorChangesFull));
    assert_eq!(
        ledger.chain().validator_changes.len(),
        MAX_VALIDATOR_CHANGES
    );
    let block = ledger
        .next_block(T0 + 2, validator.address(), Vec::new())
        .unwrap();
    ledger.commit_block(block).unwrap();
    assert_eq!(
        ledger.validators().unwrap().len(),
        MAX_VALIDATOR_CHANGES + 1
    );
    assert!(ledger.chain().validator_changes.is_empty());
}

#[test]
fn a_full_validator_set_takes_no_newcomer_but_its_members_may_add_stake() {
    let dir = tempfile::tempdir().unwrap();
    let members: Vec<_> = (0..MAX_VALIDATORS as u64).map(|i| keypair(7, i)).collect();
    let newcomer = keypair(8, 0);
    let mut genesis = Genesis::new(
        chain_id(),
        vec![(newcomer.address(), 5_000), (members[1].address(), 5_000)],
        members
            .iter()
            .map(|key| Validator {
                address: key.address(),
                power: 1,
            })
            .collect(),
    );
    genesis.time = T0;
    let mut ledger = Ledger::create(dir.path(), &genesis).unwrap();
    let stake = |key: &ledger::Keypair, nonce: u64| {
        ledger::Transaction {
            chain_id: chain_id(),
            signer: key.address(),
            nonce,
            valid_until: u64::MAX,
            op: Operation::Stake { amount: MIN_STAKE },
        }
        .sign(key)
    };
    let block = ledger
        .next_block(
            T0 + 1,
            members[0].address(),
            vec![stake(&newcomer, 0), stake(&members[1], 0)],
        )
        .unwrap();
    let committed = ledger.commit_block(block).unwrap();
    assert_eq!(
        committed.results[0].outcome,
        Err(LedgerError::TooManyValidators(newcomer.address()))
    );
    assert_eq!(committed.results[1].outcome, Ok(()));

    let mut too_many = genesis.clone();
    too_many.validators.push(Validator {
        address: newcomer.address(),
        power: 1,
    });
    let other = tempfile::tempdir().unwrap();
    assert!(matches!(
        Ledger::create(other.path(), &too_many),
        Err(LedgerError::InvalidGenesis(_))
    ));

    let mut rich = genesis;
    rich.balances = vec![(newcomer.address(), MAX_SUPPLY)];
    let third = tempfile::tempdir().unwrap();
    assert!(matches!(
        Ledger::create(third.path(), &rich),
        Err(LedgerError::InvalidGenesis(_))
    ));
}

/// Alice's two precommits for different blocks at `height`, round 0.
fn double_vote(signer: &ledger::Keypair, height: u64) -> ledger::evidence::Equivocation {
    use ledger::evidence::{Equivocation, Signed, VoteKind, vote_signing_bytes};
    let vote = |value: u8| {
        let value = Some(ledger::BlockHash([value; 32]));
        Signed::Vote {
            kind: VoteKind::Precommit,
            value,
            signature: signer.sign(&vote_signing_bytes(
                &chain_id(),
                VoteKind::Precommit,
                height,
                0,
                value.as_ref(),
                &signer.address(),
            )),
        }
    };
    Equivocation {
        validator: signer.address(),
        height,
        round: 0,
        first: vote(1),
        second: vote(2),
    }
}

/// A network where alice has staked 100,000, in force from this height.
fn alice_validating() -> Net {
    let mut net = Net::new();
    let alice = net.alice.clone();
    net.run(&alice, Operation::Stake { amount: 100_000 })
        .unwrap();
    net.advance(1);
    net.advance(1);
    net
}

#[test]
fn a_validator_caught_signing_two_votes_is_slashed_and_leaves_the_set() {
    let mut net = alice_validating();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    assert!(powers(&net).contains(&(alice.address(), 100_000)));
    let supply = net.ledger.chain().supply;
    let staked = net.ledger.chain().staked;
    let balance = net.balance(&alice);

    // Anyone may report her: bob does, and carol in the same block, whose
    // report comes too late to slash her twice.
    let evidence = double_vote(&alice, net.ledger.height());
    let carol = net.carol.clone();
    let both = net.commit_after(
        1,
        vec![
            net.tx(
                &bob,
                Operation::ReportEquivocation(Box::new(evidence.clone())),
            ),
            net.tx(
                &carol,
                Operation::ReportEquivocation(Box::new(evidence.clone())),
            ),
        ],
    );
    assert_eq!(both.results[0].outcome, Ok(()));
    assert_eq!(
        both.results[1].outcome,
        Err(LedgerError::AlreadySlashed(alice.address()))
    );
    let burnt = 100_000 * u64::from(ledger::evidence::SLASH_BPS) / 10_000;
    assert_eq!(net.ledger.chain().supply, supply - burnt);
    assert_eq!(net.ledger.chain().staked, staked - burnt);
    assert_supply(&net);
    // Reported again in the same block: refused, nothing more burnt.
    let nonce = net.ledger.account(&bob.address()).unwrap().nonce;
    let twice = net.commit_after(
        1,
        vec![
            net.tx_with_nonce(
                &bob,
                nonce,
                Operation::ReportEquivocation(Box::new(evidence.clone())),
            ),
            net.tx_with_nonce(
                &bob,
                nonce + 1,
                Operation::ReportEquivocation(Box::new(evidence)),
            ),
        ],
    );
    // (The first of these finds her on her way out already: the block
    // before her last height puts the change in force.)
    assert!(twice.results.iter().all(|result| result.outcome.is_err()));
    assert_eq!(net.ledger.chain().supply, supply - burnt);
    // From the height after next she is no longer a validator, and the
    // rest of her stake is back.
    net.advance(1);
    assert!(
        !powers(&net)
            .iter()
            .any(|(address, _)| *address == alice.address())
    );
    assert_eq!(net.balance(&alice), balance + 100_000 - burnt);
    assert_supply(&net);
    // The same evidence again, long after: spent.
    let old = double_vote(&alice, net.ledger.height() - 3);
    assert!(matches!(
        net.run(&bob, Operation::ReportEquivocation(Box::new(old))),
        Err(LedgerError::AlreadySlashed(_))
    ));
    // Now there is nothing left to slash.
    let later = double_vote(&alice, net.ledger.height());
    assert_eq!(
        net.run(&bob, Operation::ReportEquivocation(Box::new(later))),
        Err(LedgerError::NotAValidator(alice.address()))
    );
}

#[test]
fn reports_that_are_not_equivocation_are_refused_and_slash_nothing() {
    let mut net = alice_validating();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let supply = net.ledger.chain().supply;
    let height = net.ledger.height();
    // The same vote twice.
    let mut same = double_vote(&alice, height);
    same.second = same.first;
    assert!(matches!(
        net.run(&bob, Operation::ReportEquivocation(Box::new(same))),
        Err(LedgerError::NotEquivocation(_))
    ));
    // Votes bob signed in alice's name.
    let mut forged = double_vote(&bob, height);
    forged.validator = alice.address();
    assert!(matches!(
        net.run(&bob, Operation::ReportEquivocation(Box::new(forged))),
        Err(LedgerError::NotEquivocation(_))
    ));
    // About a height not reached yet.
    let future = double_vote(&alice, height + 10);
    assert!(matches!(
        net.run(&bob, Operation::ReportEquivocation(Box::new(future))),
        Err(LedgerError::EvidenceOutOfWindow { .. })
    ));
    // Naming an address that is no key: refused once bob's nonce is
    // spent, so final and findable like any other refusal.
    let mut keyless = double_vote(&alice, height);
    keyless.validator = (0..=u8::MAX)
        .map(|byte| Address::from_bytes([byte; 32]))
        .find(|address| address.verifying_key().is_err())
        .unwrap();
    let nonce = net.ledger.account(&bob.address()).unwrap().nonce;
    let tx = net.tx(&bob, Operation::ReportEquivocation(Box::new(keyless)));
    let id = tx.id();
    let refused = net.submit(tx);
    assert!(
        matches!(
            refused,
            Err(LedgerError::InvalidPublicKey { .. } | LedgerError::WeakPublicKey { .. })
        ),
        "{refused:?}"
    );
    assert_eq!(net.ledger.account(&bob.address()).unwrap().nonce, nonce + 1);
    assert!(net.ledger.transaction(&id).unwrap().is_some());
    assert_eq!(net.ledger.chain().supply, supply);
    assert!(powers(&net).contains(&(alice.address(), 100_000)));
}

//! Validator staking: a stake or unstake changes the validators two
//! blocks later, the stake is held apart from every balance, and a change
//! that breaks a rule is refused and changes nothing.

use ledger::testkit::{chain_id, keypair};
use ledger::{
    Genesis, Ledger, LedgerError, MAX_SUPPLY, MAX_VALIDATOR_CHANGES, MAX_VALIDATORS, MIN_STAKE,
    Operation, VALIDATOR_CHANGE_DELAY, Validator,
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
        .next_block(net.time + 1, net.alice.address(), Vec::new());
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
        .next_block(net.time + 1, net.alice.address(), Vec::new());
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
        .next_block(net.time + 1, net.bob.address(), Vec::new());
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
    let block = ledger.next_block(T0 + 1, validator.address(), txs);
    let committed = ledger.commit_block(block).unwrap();
    let (last, first) = committed.results.split_last().unwrap();
    assert!(first.iter().all(|result| result.outcome.is_ok()));
    assert_eq!(last.outcome, Err(LedgerError::ValidatorChangesFull));
    assert_eq!(
        ledger.chain().validator_changes.len(),
        MAX_VALIDATOR_CHANGES
    );
    let block = ledger.next_block(T0 + 2, validator.address(), Vec::new());
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
    let block = ledger.next_block(
        T0 + 1,
        members[0].address(),
        vec![stake(&newcomer, 0), stake(&members[1], 0)],
    );
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

//! The pure state transition: a block and the state before it in, the
//! changed records out. No clock, no randomness, no I/O of its own: time
//! and proposer come from the block header, state through [`StateReader`].

// Money is counted here: every sum is checked.
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

mod ops;
pub(crate) mod overlay;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::LedgerError;
use crate::ids::{Amount, AssetId, Height, ListingId, RentalId, Timestamp, TxId};
use crate::keys::Address;
use crate::settle::{self, Settlement};
use crate::state::{Account, Asset, ChainState, Listing, Rental, RentalStatus, Validator};
use crate::tx::Transaction;
use crate::verify::VerifiedBlock;

use overlay::{Counters, Overlay};

/// Blocks between a stake or unstake and the first height whose
/// validators include it. A change made in block `h` is in force from
/// height `h + 2`: the state after block `h + 1`, which every host has
/// before height `h + 2` starts, already names the new validators.
pub const VALIDATOR_CHANGE_DELAY: Height = 2;
/// Most validators a network may have.
pub const MAX_VALIDATORS: usize = 100;
/// Most validator changes waiting to take effect at once.
pub const MAX_VALIDATOR_CHANGES: usize = 64;
/// What minting an asset costs its creator, paid to the block's proposer:
/// minting is open to everyone, and every host keeps what is minted.
pub const MINT_FEE: Amount = 100;
/// The least stake a validator holds: staking must reach it, and
/// unstaking must leave at least this much or nothing. (Genesis validators
/// hold what the genesis gives them.)
pub const MIN_STAKE: Amount = 1_000;

/// Read access to committed state, as the state transition needs it.
pub trait StateReader: Sync {
    /// An account, if it ever held anything.
    fn account(&self, address: &Address) -> Result<Option<Account>, LedgerError>;
    /// An asset.
    fn asset(&self, id: &AssetId) -> Result<Option<Asset>, LedgerError>;
    /// A listing.
    fn listing(&self, id: ListingId) -> Result<Option<Listing>, LedgerError>;
    /// A rental.
    fn rental(&self, id: RentalId) -> Result<Option<Rental>, LedgerError>;
    /// A validator: an address with voting power.
    fn validator(&self, address: &Address) -> Result<Option<Validator>, LedgerError>;
    /// Every validator, by address.
    fn validators(&self) -> Result<Vec<Validator>, LedgerError>;
    /// Active rentals whose end is at or before `time`, by end then id.
    fn rentals_due(&self, time: Timestamp) -> Result<Vec<(Timestamp, RentalId)>, LedgerError>;
}

/// What happened to one transaction of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxResult {
    /// The transaction.
    pub id: TxId,
    /// `Ok` if it was applied; the reason if it was skipped.
    pub outcome: Result<(), LedgerError>,
    /// Whether it was signed for this chain, in time and in turn, and so
    /// spent its signer's nonce: such a transaction is final whatever its
    /// outcome, and findable by its id. One refused before that changed
    /// nothing.
    pub nonce_spent: bool,
}

/// How a transaction ended, as stored with its block.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StoredTxResult {
    /// The transaction.
    pub id: TxId,
    /// `None` if it was applied; the error message if it was skipped.
    pub rejection: Option<String>,
}

impl From<&TxResult> for StoredTxResult {
    fn from(result: &TxResult) -> Self {
        StoredTxResult {
            id: result.id,
            rejection: result.outcome.as_ref().err().map(ToString::to_string),
        }
    }
}

/// Everything a block changes, ready to be committed.
#[derive(Debug)]
pub struct BlockEffects {
    /// The chain record after the block.
    pub chain: ChainState,
    /// Changed accounts, by address.
    pub accounts: Vec<(Address, Account)>,
    /// Changed assets, by id.
    pub assets: Vec<(AssetId, Asset)>,
    /// Changed listings, by id.
    pub listings: Vec<(ListingId, Listing)>,
    /// Changed rentals, by id.
    pub rentals: Vec<(RentalId, Rental)>,
    /// Validators whose power changed (0: no longer validators), by
    /// address.
    pub validators: Vec<Validator>,
    /// Rentals that became active: their (end, id).
    pub due_added: Vec<(Timestamp, RentalId)>,
    /// Rentals that stopped being active: their (end, id).
    pub due_removed: Vec<(Timestamp, RentalId)>,
    /// One result per transaction, in block order.
    pub results: Vec<TxResult>,
    /// Rentals settled at the block's start, then those returned early.
    pub settlements: Vec<Settlement>,
}

/// Applies `block` to the state `chain` and `state` describe.
///
/// First every rental whose end is at or before the block time is settled;
/// then each transaction is checked and applied in order, a failing one
/// skipped with its error: of a transaction that is signed, for this
/// chain, in time and in its signer's turn, only the nonce is spent;
/// anything else leaves no trace. A block that does not
/// follow `chain` is refused whole.
pub fn apply_block<R: StateReader>(
    state: &R,
    chain: &ChainState,
    verified: &VerifiedBlock,
) -> Result<BlockEffects, LedgerError> {
    let block = verified.block();
    let header = &block.header;
    if verified.chain_id() != &chain.chain_id {
        return Err(LedgerError::VerifiedForOtherChain {
            expected: chain.chain_id.clone(),
            verified_for: verified.chain_id().clone(),
        });
    }
    if header.chain_id != chain.chain_id {
        return Err(LedgerError::BlockWrongChain {
            expected: chain.chain_id.clone(),
            got: header.chain_id.clone(),
        });
    }
    if Some(header.height) != chain.height.checked_add(1) {
        return Err(LedgerError::BlockHeight {
            committed: chain.height,
            got: header.height,
        });
    }
    if header.parent != chain.last_block {
        return Err(LedgerError::BlockParent {
            expected: chain.last_block,
            got: header.parent,
        });
    }
    if header.time < chain.time {
        return Err(LedgerError::BlockTime {
            previous: chain.time,
            got: header.time,
        });
    }
    if state.validator(&header.proposer)?.is_none() {
        return Err(LedgerError::UnknownProposer(header.proposer));
    }

    let mut overlay = Overlay::new(
        state,
        counters(chain),
        chain.validator_changes.clone(),
        chain.slashed.clone(),
    );
    let mut settlements = settle_due(&mut overlay, chain, header.time, header.proposer)?;
    change_validators(&mut overlay, header.height)?;

    let context = ops::Context {
        chain_id: &chain.chain_id,
        params: chain.params,
        height: header.height,
        time: header.time,
        proposer: header.proposer,
    };
    let mut results = Vec::with_capacity(block.txs.len());
    for (tx, (id, signature)) in block.txs.iter().zip(verified.checks()) {
        let (outcome, nonce_spent) =
            match ops::spend_nonce(&mut overlay, &context, &tx.tx, signature) {
                Ok(()) => {
                    overlay.keep();
                    (ops::apply_op(&mut overlay, &context, &tx.tx), true)
                }
                Err(err) => (Err(err), false),
            };
        let outcome = match outcome {
            Ok(settlement) => {
                overlay.keep();
                settlements.extend(settlement);
                Ok(())
            }
            // A host that cannot read its own state must not decide the
            // transaction's fate: refuse the block instead.
            Err(err) if err.is_host_fault() => return Err(err),
            Err(err) => {
                overlay.undo();
                Err(err)
            }
        };
        results.push(TxResult {
            id: *id,
            outcome,
            nonce_spent,
        });
    }

    let changes = overlay.into_changes();
    let mut due_added = Vec::new();
    let mut due_removed = Vec::new();
    for (id, rental) in &changes.rentals {
        let active = rental.status == RentalStatus::Active;
        let was_active = changes.were_active.contains(id);
        if active && !was_active {
            due_added.push((rental.ends_at, *id));
        } else if was_active && !active {
            due_removed.push((rental.ends_at, *id));
        }
    }
    let next = ChainState {
        chain_id: chain.chain_id.clone(),
        height: header.height,
        time: header.time,
        last_block: block.hash(),
        next_listing: changes.counters.next_listing,
        next_rental: changes.counters.next_rental,
        escrow: changes.counters.escrow,
        staked: changes.counters.staked,
        validator_changes: changes.validator_changes,
        slashed: changes.slashed,
        supply: changes.counters.supply,
        params: chain.params,
    };
    Ok(BlockEffects {
        chain: next,
        accounts: changes.accounts,
        assets: changes.assets,
        listings: changes.listings,
        rentals: changes.rentals,
        validators: changes.validators,
        due_added,
        due_removed,
        results,
        settlements,
    })
}

fn counters(chain: &ChainState) -> Counters {
    Counters {
        next_listing: chain.next_listing,
        next_rental: chain.next_rental,
        escrow: chain.escrow,
        staked: chain.staked,
        supply: chain.supply,
    }
}

/// Puts in force, in block `height` before its transactions, the
/// validator changes whose first height is the next: their new power, and
/// the unstaked tokens back to their owners. Changes the block itself
/// makes are in force two heights on, never in the block that makes them.
fn change_validators<R: StateReader>(
    overlay: &mut Overlay<'_, R>,
    height: Height,
) -> Result<(), LedgerError> {
    let next = height
        .checked_add(1)
        .ok_or(LedgerError::Overflow { what: "a height" })?;
    for change in overlay.take_validator_changes(next) {
        overlay.set_validator(Validator {
            address: change.validator,
            power: change.power,
        });
        if change.release > 0 {
            let mut counters = overlay.counters();
            counters.staked = counters.staked.checked_sub(change.release).ok_or_else(|| {
                LedgerError::Corrupt(format!(
                    "{} unstaked {} but only {} is staked",
                    change.validator, change.release, counters.staked
                ))
            })?;
            overlay.set_counters(counters);
            overlay.credit(change.validator, change.release)?;
        }
    }
    overlay.keep();
    Ok(())
}

/// Settles the rentals that have run their course by `time`. A block does
/// this before any transaction, so that their assets are free for the
/// block's trades.
fn settle_due<R: StateReader>(
    overlay: &mut Overlay<'_, R>,
    chain: &ChainState,
    time: Timestamp,
    proposer: Address,
) -> Result<Vec<Settlement>, LedgerError> {
    let mut settlements = Vec::new();
    for (ends_at, id) in overlay.base().rentals_due(time)? {
        let rental = overlay.require_rental(id)?;
        if rental.status != RentalStatus::Active || rental.ends_at != ends_at {
            return Err(LedgerError::Corrupt(format!(
                "due index lists {id} ending at {ends_at}, but it is {:?} ending at {}",
                rental.status, rental.ends_at
            )));
        }
        settlements.push(settle::settle(
            overlay,
            rental,
            settle::Ending::AtEnd,
            time,
            proposer,
            chain.params.network_fee_bps,
        )?);
        overlay.keep();
    }
    Ok(settlements)
}

/// Runs the ledger's checks on `tx` as if it were the only transaction of
/// the block after `chain` at `time`, on `state`, without its signature
/// (which is checked apart) and without keeping anything: the rentals due
/// by then are settled first, as the block would.
pub fn check_transaction<R: StateReader>(
    state: &R,
    chain: &ChainState,
    tx: &Transaction,
    time: Timestamp,
) -> Result<(), LedgerError> {
    if time < chain.time {
        return Err(LedgerError::BlockTime {
            previous: chain.time,
            got: time,
        });
    }
    // The network fees of the block go to its proposer; none is known
    // yet, so they are credited to an address nobody holds, which cannot
    // change the outcome of another account's transaction.
    let proposer = Address::from_bytes([0; 32]);
    let mut overlay = Overlay::new(
        state,
        counters(chain),
        chain.validator_changes.clone(),
        chain.slashed.clone(),
    );
    settle_due(&mut overlay, chain, time, proposer)?;
    change_validators(&mut overlay, chain.height.saturating_add(1))?;
    let context = ops::Context {
        chain_id: &chain.chain_id,
        params: chain.params,
        height: chain.height.saturating_add(1),
        time,
        proposer,
    };
    ops::apply_tx(&mut overlay, &context, tx, &Ok(())).map(|_| ())
}

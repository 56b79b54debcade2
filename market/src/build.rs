//! Builders: from what a user means to do (an [`Operation`]: list this
//! asset, rent that listing for three periods, submit this signed trade)
//! to an unsigned ledger transaction, checked by the ledger's own rules
//! against the state the user sees, so that a problem is known before
//! anything is signed.

use ledger::{
    Address, ChainId, ChainState, LedgerError, Nonce, Operation, StateReader, Timestamp,
    Transaction,
};

use crate::error::MarketError;

/// How long a built transaction stays valid, in seconds.
pub const VALID_SECS: u64 = 600;

/// The unsigned transaction by which `signer` does `op`, checked by
/// the ledger's rules against `state` and `chain` as they would stand in a
/// block at `now`; it is valid for [`VALID_SECS`].
///
/// `nonce` is the nonce to use: the account's next one, or later when
/// the signer has transactions in flight (the checks then run as if they
/// were not, since their effects are not known yet). A trade uses the
/// signer's nonce from the signed terms, whatever `nonce` says.
pub fn build(
    state: &impl StateReader,
    chain: &ChainState,
    signer: Address,
    nonce: Nonce,
    op: Operation,
    now: Timestamp,
) -> Result<Transaction, MarketError> {
    let next = state.account(&signer)?.unwrap_or_default().nonce;
    let nonce = nonce_for(&op, &signer, nonce);
    if nonce < next {
        return Err(LedgerError::StaleNonce {
            account: signer,
            expected: next,
            got: nonce,
        }
        .into());
    }
    if let Operation::Trade(trade) = &op {
        // The ledger checks both parties' signatures before anything else.
        let terms = &trade.terms;
        terms.verify(&chain.chain_id, &terms.a, &trade.a_signature)?;
        terms.verify(&chain.chain_id, &terms.b, &trade.b_signature)?;
    }
    // The ledger's rules are checked as if it were the account's next
    // transaction (those in flight are not known yet); it is signed with
    // its own nonce.
    let mut tx = transaction(chain.chain_id.clone(), signer, next, op, now);
    tx.nonce = next;
    ledger::check_transaction(state, chain, &tx, now)?;
    tx.nonce = nonce;
    Ok(tx)
}

/// The nonce `signer` signs `op` with, `next` being the nonce it would
/// use otherwise (its account's next): a party to a trade uses the nonce
/// the trade's terms fixed when both signed them.
pub fn nonce_for(op: &Operation, signer: &Address, next: Nonce) -> Nonce {
    match op {
        Operation::Trade(trade) if trade.terms.a == *signer => trade.terms.a_nonce,
        Operation::Trade(trade) if trade.terms.b == *signer => trade.terms.b_nonce,
        _ => next,
    }
}

/// The transaction by which `signer` does `op` at the host's time `now`,
/// unsigned and unchecked: the nonce [`nonce_for`] gives from `next`,
/// valid for [`VALID_SECS`]. Every client signs what this makes; [`build`]
/// also checks it against the ledger's rules first.
pub fn transaction(
    chain_id: ChainId,
    signer: Address,
    next: Nonce,
    op: Operation,
    now: Timestamp,
) -> Transaction {
    Transaction {
        chain_id,
        signer,
        nonce: nonce_for(&op, &signer, next),
        valid_until: now.saturating_add(VALID_SECS),
        op,
    }
}

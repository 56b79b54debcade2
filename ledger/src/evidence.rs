//! Evidence that a validator signed two different things for one height
//! and round (equivocation), and the bytes validators sign in consensus.
//!
//! Consensus signs votes and proposals over the bytes written here, so
//! that the ledger can check a report of equivocation with nothing but
//! the two signed messages: both must be the validator's, for this
//! network, for the same height, round and kind of message, and for
//! different blocks. An accepted report burns [`SLASH_BPS`] of the
//! validator's stake and takes it out of the validator set from
//! [`VALIDATOR_CHANGE_DELAY`](crate::VALIDATOR_CHANGE_DELAY) heights on,
//! the rest of its stake coming back to it then, as an unstake would.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::LedgerError;
use crate::ids::{BasisPoints, BlockHash, ChainId, Height};
use crate::keys::{Address, Signature};

/// The share of an equivocating validator's stake that is burnt, in basis
/// points: a tenth.
pub const SLASH_BPS: BasisPoints = 1_000;
/// How many heights back a report of equivocation is taken.
pub const EVIDENCE_WINDOW: Height = 100_000;

const VOTE: &[u8] = b"plaza/consensus/vote/1";
const PROPOSAL: &[u8] = b"plaza/consensus/proposal/1";

/// The start of every message signed in consensus: what it is (a tag) and
/// the network it is for, so that a vote cannot pass for a proposal and
/// nothing signed on one network counts on another.
pub fn signing_prefix(tag: &[u8], chain: &ChainId) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(tag);
    out.push(0);
    let chain = chain.as_str().as_bytes();
    out.extend_from_slice(&(chain.len() as u32).to_be_bytes());
    out.extend_from_slice(chain);
    out
}

/// Prevote or precommit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum VoteKind {
    /// The first vote of a round.
    Prevote,
    /// The second.
    Precommit,
}

/// The bytes a validator signs for a vote: a tag, the network, the kind,
/// height and round, the block voted for (or nil) and the validator.
pub fn vote_signing_bytes(
    chain: &ChainId,
    kind: VoteKind,
    height: Height,
    round: i64,
    value: Option<&BlockHash>,
    validator: &Address,
) -> Vec<u8> {
    let mut out = signing_prefix(VOTE, chain);
    out.push(match kind {
        VoteKind::Prevote => 1,
        VoteKind::Precommit => 2,
    });
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&round.to_be_bytes());
    match value {
        None => out.push(0),
        Some(hash) => {
            out.push(1);
            out.extend_from_slice(&hash.0);
        }
    }
    out.extend_from_slice(validator.as_bytes());
    out
}

/// The bytes a proposer signs for a proposal: a tag, the network, height
/// and round, the block, the round of its polka and the proposer.
pub fn proposal_signing_bytes(
    chain: &ChainId,
    height: Height,
    round: i64,
    value: &BlockHash,
    pol_round: i64,
    proposer: &Address,
) -> Vec<u8> {
    let mut out = signing_prefix(PROPOSAL, chain);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&round.to_be_bytes());
    out.extend_from_slice(&value.0);
    out.extend_from_slice(&pol_round.to_be_bytes());
    out.extend_from_slice(proposer.as_bytes());
    out
}

/// One message a validator signed in consensus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Signed {
    /// A vote for a block, or nil.
    Vote {
        /// Prevote or precommit.
        kind: VoteKind,
        /// The block, or nil.
        value: Option<BlockHash>,
        /// The signature.
        signature: Signature,
    },
    /// A proposal of a block.
    Proposal {
        /// The block.
        value: BlockHash,
        /// The round of its polka, or -1.
        pol_round: i64,
        /// The signature.
        signature: Signature,
    },
}

/// Two messages one validator signed for one height and round that
/// disagree: a report the ledger checks and punishes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Equivocation {
    /// The validator.
    pub validator: Address,
    /// The height both messages are for.
    pub height: Height,
    /// The round both messages are for.
    pub round: i64,
    /// One message.
    pub first: Signed,
    /// The other.
    pub second: Signed,
}

impl Equivocation {
    fn bytes(&self, chain: &ChainId, signed: &Signed) -> (Vec<u8>, Signature) {
        match signed {
            Signed::Vote {
                kind,
                value,
                signature,
            } => (
                vote_signing_bytes(
                    chain,
                    *kind,
                    self.height,
                    self.round,
                    value.as_ref(),
                    &self.validator,
                ),
                *signature,
            ),
            Signed::Proposal {
                value,
                pol_round,
                signature,
            } => (
                proposal_signing_bytes(
                    chain,
                    self.height,
                    self.round,
                    value,
                    *pol_round,
                    &self.validator,
                ),
                *signature,
            ),
        }
    }

    /// Checks that the two messages are of one kind, disagree, and are
    /// both signed by the validator for `chain`. Pure: it reads no state.
    pub fn check(&self, chain: &ChainId) -> Result<(), LedgerError> {
        let conflicting = match (&self.first, &self.second) {
            (
                Signed::Vote {
                    kind: a, value: x, ..
                },
                Signed::Vote {
                    kind: b, value: y, ..
                },
            ) => a == b && x != y,
            (Signed::Proposal { value: x, .. }, Signed::Proposal { value: y, .. }) => x != y,
            _ => false,
        };
        if !conflicting {
            return Err(LedgerError::NotEquivocation(
                "the two messages are not two different votes or proposals of one kind",
            ));
        }
        let key = self.validator.verifying_key()?;
        for signed in [&self.first, &self.second] {
            let (bytes, signature) = self.bytes(chain, signed);
            key.verify_strict(&bytes, &signature.to_dalek())
                .map_err(|_| {
                    LedgerError::NotEquivocation("a message is not signed by the validator")
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    fn chain() -> ChainId {
        ChainId::new("plaza-test").unwrap()
    }

    fn vote(key: &Keypair, value: u8) -> Signed {
        let value = Some(BlockHash([value; 32]));
        Signed::Vote {
            kind: VoteKind::Precommit,
            value,
            signature: key.sign(&vote_signing_bytes(
                &chain(),
                VoteKind::Precommit,
                5,
                0,
                value.as_ref(),
                &key.address(),
            )),
        }
    }

    #[test]
    fn two_signed_votes_for_different_blocks_are_equivocation_and_nothing_else_is() {
        let key = Keypair::from_seed([3; 32]);
        let report = |first, second| Equivocation {
            validator: key.address(),
            height: 5,
            round: 0,
            first,
            second,
        };
        assert!(report(vote(&key, 1), vote(&key, 2)).check(&chain()).is_ok());
        // The same vote twice is no offence.
        assert!(
            report(vote(&key, 1), vote(&key, 1))
                .check(&chain())
                .is_err()
        );
        // Signed for another network, or by someone else.
        assert!(
            report(vote(&key, 1), vote(&key, 2))
                .check(&ChainId::new("plaza-other").unwrap())
                .is_err()
        );
        let other = Keypair::from_seed([4; 32]);
        assert!(
            report(vote(&key, 1), vote(&other, 2))
                .check(&chain())
                .is_err()
        );
        // Of another round than the report says.
        let mut moved = report(vote(&key, 1), vote(&key, 2));
        moved.round = 1;
        assert!(moved.check(&chain()).is_err());
    }
}

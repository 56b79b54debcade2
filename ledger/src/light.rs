//! Checking certified headers without replaying blocks.
//!
//! A block is final when validators with more than two thirds of the
//! height's voting power precommit to its hash: their signatures are its
//! [`Commit`]. Each header commits to the hash of the validators that
//! certify it and of those that certify the next height, so a verifier
//! that trusts one set (the genesis validators) follows the chain's sets
//! through [`SetChange`]s, each certified by the set before it, and then
//! trusts whatever header the current set certifies: its state root, and
//! through it any record proved against that root.
//!
//! Pure: every check takes its inputs as arguments.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::block::{BlockHeader, validator_set_hash};
use crate::codec;
use crate::error::LedgerError;
use crate::evidence::{VoteKind, vote_signing_bytes};
use crate::ids::{BlockHash, ChainId, Height, StateRoot};
use crate::keys::{Address, Signature};
use crate::state::Validator;

/// Most signatures a commit may carry (one per validator).
pub const MAX_COMMIT_SIGNATURES: usize = 256;
/// Most validator-set changes one proof may follow.
pub const MAX_SET_CHANGES: usize = 4_096;
/// Largest encoded [`CertifiedState`].
pub const MAX_CERTIFIED_STATE_BYTES: usize = 8 << 20;

/// The precommits that finalised a block.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Commit {
    /// The block's height.
    pub height: Height,
    /// The consensus round that decided it.
    pub round: i64,
    /// The block's hash.
    pub block: BlockHash,
    /// Each precommitting validator and its signature.
    pub signatures: Vec<(Address, Signature)>,
}

/// A certified header, and the validators that certified it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CertifiedHeader {
    /// The header.
    pub header: BlockHeader,
    /// Its commit.
    pub commit: Commit,
}

/// A change of validators: a header certified by the set in force, whose
/// next set differs, and the members of that next set.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SetChange {
    /// The last header the old set certified.
    pub certified: CertifiedHeader,
    /// The validators of the height after it.
    pub next: Vec<Validator>,
}

/// Proof that a state root is the chain's: the validator-set changes from
/// the genesis set to the set of `header`'s height, and `header`, which
/// commits to the root of the state after its parent.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CertifiedState {
    /// The changes, oldest first.
    pub changes: Vec<SetChange>,
    /// The header naming the state root.
    pub header: CertifiedHeader,
}

impl CertifiedState {
    /// The encoded proof.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Reads a proof, checking its bounds.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LedgerError> {
        let state: CertifiedState =
            codec::decode("certified state", bytes, MAX_CERTIFIED_STATE_BYTES)?;
        if state.changes.len() > MAX_SET_CHANGES {
            return Err(LedgerError::TooLarge {
                what: "validator-set changes",
                size: state.changes.len(),
                max: MAX_SET_CHANGES,
            });
        }
        Ok(state)
    }

    /// The height whose state the proof certifies: the state after the
    /// block before `header`.
    pub fn state_height(&self) -> Height {
        self.header.header.height.saturating_sub(1)
    }

    /// Checks the proof from `trusted`, the validators of height
    /// `from + 1` (the genesis validators and 0, or those after the blocks
    /// a network made before consensus began), on: each change certified
    /// by the set before it, heights rising, and the header certified by
    /// the last set. Returns the state root after height
    /// [`CertifiedState::state_height`].
    pub fn verify(
        &self,
        chain: &ChainId,
        trusted: &[Validator],
        from: Height,
    ) -> Result<StateRoot, LedgerError> {
        let mut validators = trusted.to_vec();
        let mut after: Height = from;
        for change in &self.changes {
            let header = &change.certified.header;
            if header.height <= after {
                return Err(LedgerError::BadCertificate(format!(
                    "the set changes at height {} after one at {after}",
                    header.height
                )));
            }
            verify_commit(chain, &change.certified, &validators)?;
            if validator_set_hash(&change.next) != header.commitments.next_validators {
                return Err(LedgerError::BadCertificate(format!(
                    "the validators given for height {} are not those block {} names",
                    header.height.saturating_add(1),
                    header.height
                )));
            }
            validators = change.next.clone();
            after = header.height;
        }
        let header = &self.header.header;
        if header.height <= after {
            return Err(LedgerError::BadCertificate(format!(
                "the certified header (height {}) is not after the last set change (height {after})",
                header.height
            )));
        }
        verify_commit(chain, &self.header, &validators)?;
        Ok(header.commitments.state_root)
    }
}

/// Checks that `certified.commit` finalises `certified.header` on `chain`
/// with more than two thirds of `validators`' power, `validators` being
/// the set the header commits to.
pub fn verify_commit(
    chain: &ChainId,
    certified: &CertifiedHeader,
    validators: &[Validator],
) -> Result<(), LedgerError> {
    let (header, commit) = (&certified.header, &certified.commit);
    if &header.chain_id != chain {
        return Err(LedgerError::BadCertificate(format!(
            "a header of {}, not {chain}",
            header.chain_id
        )));
    }
    if validator_set_hash(validators) != header.commitments.validators {
        return Err(LedgerError::BadCertificate(format!(
            "block {} is certified by other validators than those trusted",
            header.height
        )));
    }
    let hash = header.hash();
    if commit.height != header.height || commit.block != hash {
        return Err(LedgerError::BadCertificate(format!(
            "the commit is for block {} at height {}, not block {hash} at height {}",
            commit.block, commit.height, header.height
        )));
    }
    if commit.signatures.len() > MAX_COMMIT_SIGNATURES {
        return Err(LedgerError::TooLarge {
            what: "commit signatures",
            size: commit.signatures.len(),
            max: MAX_COMMIT_SIGNATURES,
        });
    }
    let total: u128 = validators.iter().map(|v| u128::from(v.power)).sum();
    let mut signed: u128 = 0;
    let mut counted: Vec<Address> = Vec::with_capacity(commit.signatures.len());
    for (address, signature) in &commit.signatures {
        if counted.contains(address) {
            return Err(LedgerError::BadCertificate(format!(
                "{address} signs block {} twice",
                header.height
            )));
        }
        let validator = validators
            .iter()
            .find(|v| &v.address == address)
            .ok_or_else(|| {
                LedgerError::BadCertificate(format!(
                    "{address} signs block {} but is not one of its validators",
                    header.height
                ))
            })?;
        let bytes = vote_signing_bytes(
            chain,
            VoteKind::Precommit,
            commit.height,
            commit.round,
            Some(&commit.block),
            address,
        );
        address
            .verifying_key()?
            .verify_strict(&bytes, &signature.to_dalek())
            .map_err(|_| {
                LedgerError::BadCertificate(format!(
                    "{address}'s signature on block {} is not valid",
                    header.height
                ))
            })?;
        counted.push(*address);
        signed += u128::from(validator.power);
    }
    if signed * 3 <= total * 2 {
        return Err(LedgerError::BadCertificate(format!(
            "block {} is signed by {signed} of {total} power, not more than two thirds",
            header.height
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{Block, Commitments};
    use crate::keys::Keypair;

    fn chain() -> ChainId {
        ChainId::new("plaza-test").unwrap()
    }

    fn keys(seed: u8, n: u8) -> Vec<Keypair> {
        (0..n)
            .map(|i| Keypair::from_seed([seed.wrapping_add(i); 32]))
            .collect()
    }

    fn set(keys: &[Keypair], power: u64) -> Vec<Validator> {
        keys.iter()
            .map(|k| Validator {
                address: k.address(),
                power,
            })
            .collect()
    }

    fn header(height: Height, now: &[Validator], next: &[Validator]) -> BlockHeader {
        Block::new(
            chain(),
            height,
            100 + height,
            now[0].address,
            BlockHash([height as u8; 32]),
            Commitments {
                state_root: StateRoot([7; 32]),
                validators: validator_set_hash(now),
                next_validators: validator_set_hash(next),
            },
            Vec::new(),
        )
        .header
    }

    fn certify(header: BlockHeader, signers: &[Keypair]) -> CertifiedHeader {
        let block = header.hash();
        let signatures = signers
            .iter()
            .map(|key| {
                let bytes = vote_signing_bytes(
                    &chain(),
                    VoteKind::Precommit,
                    header.height,
                    0,
                    Some(&block),
                    &key.address(),
                );
                (key.address(), key.sign(&bytes))
            })
            .collect();
        CertifiedHeader {
            commit: Commit {
                height: header.height,
                round: 0,
                block,
                signatures,
            },
            header,
        }
    }

    #[test]
    fn a_state_is_certified_through_a_set_change_and_forgeries_are_not() {
        let old = keys(1, 4);
        let new = keys(20, 3);
        let (old_set, new_set) = (set(&old, 10), set(&new, 5));
        let change = SetChange {
            certified: certify(header(5, &old_set, &new_set), &old[..3]),
            next: new_set.clone(),
        };
        let state = CertifiedState {
            changes: vec![change.clone()],
            header: certify(header(9, &new_set, &new_set), &new[..3]),
        };
        assert_eq!(state.verify(&chain(), &old_set, 0), Ok(StateRoot([7; 32])));
        // Trusting the set from a height past the change is not following
        // it.
        assert!(state.verify(&chain(), &old_set, 5).is_err());
        assert_eq!(state.state_height(), 8);
        let back = CertifiedState::from_bytes(&state.to_bytes()).unwrap();
        assert_eq!(back, state);

        let fails = |state: &CertifiedState, what: &str| {
            let err = state.verify(&chain(), &old_set, 0).unwrap_err().to_string();
            assert!(err.contains(what), "{err:?} lacks {what:?}");
        };
        // Two of four old validators are not more than two thirds.
        let mut weak = state.clone();
        weak.changes[0].certified = certify(header(5, &old_set, &new_set), &old[..2]);
        fails(&weak, "not more than two thirds");
        // Without the change, the new set is not trusted.
        let mut skipped = state.clone();
        skipped.changes.clear();
        fails(&skipped, "other validators than those trusted");
        // Another next set than the header names.
        let mut swapped = state.clone();
        swapped.changes[0].next = set(&new, 6);
        fails(&swapped, "are not those block 5 names");
        // A state root changed after signing.
        let mut moved = state.clone();
        moved.header.header.commitments.state_root = StateRoot([8; 32]);
        fails(&moved, "the commit is for block");
        // A signature by someone outside the set, or a bad one.
        let mut stranger = state.clone();
        stranger.header = certify(header(9, &new_set, &new_set), &keys(40, 3));
        fails(&stranger, "is not one of its validators");
        let mut forged = state.clone();
        forged.header.commit.signatures[0].1 = Signature([3; 64]);
        fails(&forged, "signature on block 9 is not valid");
        let mut twice = state.clone();
        let first = twice.header.commit.signatures[0];
        twice.header.commit.signatures[1] = first;
        fails(&twice, "twice");
        // Another network's.
        assert!(
            state
                .verify(&ChainId::new("plaza-other").unwrap(), &old_set, 0)
                .is_err()
        );
        // Heights must rise.
        let mut backwards = state.clone();
        backwards.header = certify(header(4, &new_set, &new_set), &new[..3]);
        fails(&backwards, "is not after the last set change");
    }
}

//! Plaza's types as the malachite engine sees them.
//!
//! Consensus decides a block by its hash: the signed proposal and every
//! vote carry only the 32-byte [`BlockHash`], and the block itself travels
//! as the proposal's parts, which each validator reassembles and checks
//! against the ledger before it votes for the hash.

use std::fmt;

use ledger::Address;
use malachitebft_core_types::{
    self as core, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType,
};
use malachitebft_signing_ed25519::{Ed25519, PublicKey, Signature};

use crate::error::HostError;

/// A height as consensus counts it: the ledger's block height.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainHeight(pub u64);

impl fmt::Display for ChainHeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl core::Height for ChainHeight {
    const ZERO: Self = ChainHeight(0);
    // Height 0 is the genesis block, which nobody votes on.
    const INITIAL: Self = ChainHeight(1);

    fn increment_by(&self, n: u64) -> Self {
        ChainHeight(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(ChainHeight)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: its ledger address, which is its ed25519 key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorAddress(pub Address);

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl core::Address for ValidatorAddress {}

/// What consensus decides: the hash of a block.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockHash(pub [u8; 32]);

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({self})")
    }
}

impl core::Value for BlockHash {
    type Id = BlockHash;

    fn id(&self) -> BlockHash {
        *self
    }
}

/// A validator: its address, key and voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    address: ValidatorAddress,
    public_key: PublicKey,
    power: u64,
}

impl Validator {
    /// The validator the ledger records, its address read as its key.
    pub fn from_ledger(validator: &ledger::Validator) -> Result<Self, HostError> {
        let public_key = PublicKey::from_bytes(*validator.address.as_bytes()).map_err(|err| {
            HostError::Consensus(format!(
                "validator {} has no usable ed25519 key: {err}",
                validator.address
            ))
        })?;
        Ok(Validator {
            address: ValidatorAddress(validator.address),
            public_key,
            power: validator.power,
        })
    }
}

impl core::Validator<Plaza> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> u64 {
        self.power
    }
}

/// The validators of one height, in address order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total_power: u64,
}

impl ValidatorSet {
    /// The set of `validators`; refused when empty, when an address
    /// appears twice, when one has no power or the total overflows.
    pub fn new(validators: &[ledger::Validator]) -> Result<Self, HostError> {
        let mut set: Vec<Validator> = validators
            .iter()
            .map(Validator::from_ledger)
            .collect::<Result<_, _>>()?;
        set.sort_by_key(|validator| validator.address);
        if set.is_empty() {
            return Err(HostError::Consensus(
                "a validator set needs a validator".into(),
            ));
        }
        if let Some(pair) = set
            .windows(2)
            .find(|pair| pair[0].address == pair[1].address)
        {
            return Err(HostError::Consensus(format!(
                "validator {} appears twice",
                pair[0].address
            )));
        }
        if let Some(idle) = set.iter().find(|validator| validator.power == 0) {
            return Err(HostError::Consensus(format!(
                "validator {} has no voting power",
                idle.address
            )));
        }
        let total_power = set
            .iter()
            .try_fold(0u64, |total, validator| total.checked_add(validator.power))
            .ok_or_else(|| HostError::Consensus("the validators' total power overflows".into()))?;
        Ok(ValidatorSet {
            validators: set,
            total_power,
        })
    }

    /// The validators, in address order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The proposer of `round` at `height`: picked by a hash of both,
    /// weighted by power, so every validator proposes in proportion to
    /// its power and all of them agree on who it is.
    pub fn proposer(&self, height: ChainHeight, round: Round) -> &Validator {
        let mut seed = [0u8; 16];
        seed[..8].copy_from_slice(&height.0.to_be_bytes());
        seed[8..].copy_from_slice(&round.as_i64().to_be_bytes());
        let digest = blake3::hash(&seed);
        let mut pick = [0u8; 8];
        pick.copy_from_slice(&digest.as_bytes()[..8]);
        let mut ticket = u64::from_be_bytes(pick) % self.total_power;
        for validator in &self.validators {
            if ticket < validator.power {
                return validator;
            }
            ticket -= validator.power;
        }
        // The tickets cover exactly the total power.
        &self.validators[self.validators.len() - 1]
    }
}

impl core::ValidatorSet<Plaza> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> u64 {
        self.total_power
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators
            .binary_search_by(|validator| validator.address.cmp(address))
            .ok()
            .map(|index| &self.validators[index])
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// A proposal: a block hash for a height and round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The height.
    pub height: ChainHeight,
    /// The round.
    pub round: Round,
    /// The block proposed.
    pub value: BlockHash,
    /// The round in which the block last had a polka, if any.
    pub pol_round: Round,
    /// Who proposes it.
    pub proposer: ValidatorAddress,
}

impl core::Proposal<Plaza> for Proposal {
    fn height(&self) -> ChainHeight {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockHash {
        &self.value
    }

    fn take_value(self) -> BlockHash {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

/// One piece of a streamed proposal: who proposes what at which height
/// and round, then the block's bytes in pieces, then the proposer's
/// signature over all of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// The first part.
    Init {
        /// The height.
        height: ChainHeight,
        /// The round.
        round: Round,
        /// The round of the block's last polka, if any.
        pol_round: Round,
        /// Who proposes it.
        proposer: ValidatorAddress,
        /// The proposer's signature over [`init_bytes`] of these fields
        /// and the stream's id, so that nobody else can open a stream in
        /// its name.
        ///
        /// [`init_bytes`]: super::init_bytes
        signature: Signature,
    },
    /// A piece of the block's bytes.
    Data(Vec<u8>),
    /// The last part: the proposer's signature over the others.
    Fin(Signature),
}

impl core::ProposalPart<Plaza> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin(_))
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug)]
pub struct Vote {
    /// Prevote or precommit.
    pub kind: VoteType,
    /// The height.
    pub height: ChainHeight,
    /// The round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockHash>,
    /// Who votes.
    pub validator: ValidatorAddress,
    /// A signed extension (Plaza uses none).
    pub extension: Option<SignedExtension<Plaza>>,
}

impl Vote {
    fn new(
        kind: VoteType,
        height: ChainHeight,
        round: Round,
        value: NilOrVal<BlockHash>,
        validator: ValidatorAddress,
    ) -> Self {
        Vote {
            kind,
            height,
            round,
            value,
            validator,
            extension: None,
        }
    }
}

// Two votes are the same vote whatever their extension: the engine
// compares votes it derives again after a restart with those it logged.
impl PartialEq for Vote {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.height == other.height
            && self.round == other.round
            && self.value == other.value
            && self.validator == other.validator
    }
}

impl Eq for Vote {}

impl core::Vote<Plaza> for Vote {
    fn height(&self) -> ChainHeight {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.kind
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<Plaza>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<Plaza>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<Plaza>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// Plaza's consensus context.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plaza;

impl core::Context for Plaza {
    type Address = ValidatorAddress;
    type Height = ChainHeight;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockHash;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: ChainHeight,
        round: Round,
    ) -> &'a Validator {
        validator_set.proposer(height, round)
    }

    fn new_proposal(
        &self,
        height: ChainHeight,
        round: Round,
        value: BlockHash,
        pol_round: Round,
        address: ValidatorAddress,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: ChainHeight,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote::new(VoteType::Prevote, height, round, value_id, address)
    }

    fn new_precommit(
        &self,
        height: ChainHeight,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote::new(VoteType::Precommit, height, round, value_id, address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::testkit::keypair;
    use malachitebft_core_types::{Context, ValidatorSet as _};

    fn set(powers: &[u64]) -> ValidatorSet {
        let validators: Vec<ledger::Validator> = powers
            .iter()
            .enumerate()
            .map(|(i, power)| ledger::Validator {
                address: keypair(9, i as u64).address(),
                power: *power,
            })
            .collect();
        ValidatorSet::new(&validators).unwrap()
    }

    #[test]
    fn proposers_rotate_in_proportion_to_power_and_everyone_agrees() {
        let validators = set(&[1, 1, 2]);
        let mut turns = std::collections::HashMap::new();
        for height in 1..=4_000u64 {
            let proposer = Plaza.select_proposer(&validators, ChainHeight(height), Round::new(0));
            *turns.entry(proposer.address).or_insert(0u32) += 1;
            // The same question always gets the same answer.
            assert_eq!(
                validators.proposer(ChainHeight(height), Round::new(0)),
                proposer
            );
        }
        let heavy = validators
            .validators()
            .iter()
            .find(|v| v.power == 2)
            .unwrap()
            .address;
        let share = f64::from(turns[&heavy]) / 4_000.0;
        assert!(
            (0.45..0.55).contains(&share),
            "the heaviest proposed {share}"
        );
        assert_eq!(turns.len(), 3);
        // A new round of the same height usually has another proposer.
        let changes = (1..=100u64)
            .filter(|h| {
                validators.proposer(ChainHeight(*h), Round::new(0)).address
                    != validators.proposer(ChainHeight(*h), Round::new(1)).address
            })
            .count();
        assert!(changes > 40, "{changes}");
    }

    #[test]
    fn bad_validator_sets_are_refused() {
        let one = ledger::Validator {
            address: keypair(9, 0).address(),
            power: 1,
        };
        assert!(ValidatorSet::new(&[]).is_err());
        assert!(ValidatorSet::new(&[one, one]).is_err());
        assert!(ValidatorSet::new(&[ledger::Validator { power: 0, ..one }]).is_err());
        let set = ValidatorSet::new(&[one]).unwrap();
        assert_eq!(set.total_voting_power(), 1);
        assert!(set.get_by_address(&ValidatorAddress(one.address)).is_some());
        assert!(
            set.get_by_address(&ValidatorAddress(keypair(9, 1).address()))
                .is_none()
        );
    }
}

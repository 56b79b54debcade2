//! Block 0: the chain's name, its first balances and validators, its rules.

// Money is counted here: every sum is checked.
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

use borsh::{BorshDeserialize, BorshSerialize};

use crate::block::{Block, Commitments};
use crate::codec::{self, GENESIS_DOMAIN, tagged_hash};
use crate::error::LedgerError;
use crate::execute::{BlockEffects, MAX_VALIDATORS};
use crate::ids::{Amount, BPS_DENOMINATOR, BlockHash, ChainId, Timestamp};
use crate::keys::Address;
use crate::state::{Account, ChainParams, ChainState, Validator};

/// The most tokens a network may have: a quarter of 2^64.
pub const MAX_SUPPLY: Amount = u64::MAX / 4;

/// Everything a chain starts from. Hosts that start from the same genesis
/// get the same block 0 and can follow each other.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Genesis {
    /// The network's name.
    pub chain_id: ChainId,
    /// Block 0's time.
    pub time: Timestamp,
    /// Initial balances; with the validators' stakes, the token supply
    /// for ever.
    pub balances: Vec<(Address, Amount)>,
    /// The first validators. Each one's power is tokens it has staked,
    /// which it can unstake like any other stake.
    pub validators: Vec<Validator>,
    /// Network rules.
    pub params: ChainParams,
}

impl Genesis {
    /// A genesis with the default rules and time 0.
    pub fn new(
        chain_id: ChainId,
        balances: Vec<(Address, Amount)>,
        validators: Vec<Validator>,
    ) -> Self {
        Genesis {
            chain_id,
            time: 0,
            balances,
            validators,
            params: ChainParams::default(),
        }
    }

    /// Checks the genesis can start a chain and returns the token supply.
    pub fn validate(&self) -> Result<Amount, LedgerError> {
        let invalid = |reason: String| LedgerError::InvalidGenesis(reason);
        if self.validators.is_empty() {
            return Err(invalid("at least one validator is needed".into()));
        }
        let mut validators: Vec<&Address> = self.validators.iter().map(|v| &v.address).collect();
        validators.sort_unstable();
        if let Some(pair) = validators.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(invalid(format!("validator {} appears twice", pair[0])));
        }
        if let Some(validator) = self.validators.iter().find(|v| v.power == 0) {
            return Err(invalid(format!(
                "validator {} has no voting power",
                validator.address
            )));
        }
        let mut holders: Vec<&Address> = self.balances.iter().map(|(a, _)| a).collect();
        holders.sort_unstable();
        if let Some(pair) = holders.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(invalid(format!("{} has two balances", pair[0])));
        }
        let supply = self
            .balances
            .iter()
            .map(|(_, amount)| *amount)
            .chain(self.validators.iter().map(|validator| validator.power))
            .try_fold(0u64, |sum, amount| sum.checked_add(amount))
            .ok_or_else(|| {
                invalid("the balances and stakes add up to more than 2^64 - 1".into())
            })?;
        // Consensus multiplies the validators' total power by small
        // numbers to compare it with two thirds; this leaves it room.
        if supply > MAX_SUPPLY {
            return Err(invalid(format!(
                "the balances and stakes add up to {supply}, more than the {MAX_SUPPLY} allowed"
            )));
        }
        if self.validators.len() > MAX_VALIDATORS {
            return Err(invalid(format!(
                "{} validators, more than the {MAX_VALIDATORS} allowed",
                self.validators.len()
            )));
        }
        let params = &self.params;
        let shares =
            u64::from(params.network_fee_bps).saturating_add(u64::from(params.max_royalty_bps));
        if shares > BPS_DENOMINATOR {
            return Err(invalid(format!(
                "network fee ({}) plus the royalty cap ({}) exceed 10000 basis points",
                params.network_fee_bps, params.max_royalty_bps
            )));
        }
        if params.max_rental_periods == 0 {
            return Err(invalid(
                "rentals must be allowed at least one period".into(),
            ));
        }
        Ok(supply)
    }

    /// The hash of this specification; block 0 names it as its parent.
    pub fn hash(&self) -> BlockHash {
        BlockHash(tagged_hash(GENESIS_DOMAIN, &[&codec::encode(self)]))
    }

    /// Block 0: no transactions, no proposer, the specification's hash as
    /// its parent.
    pub fn block(&self) -> Block {
        Block::new(
            self.chain_id.clone(),
            0,
            self.time,
            Address::from_bytes([0; 32]),
            self.hash(),
            Commitments::default(),
            Vec::new(),
        )
    }

    /// The state block 0 creates.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn effects(&self) -> Result<BlockEffects, LedgerError> {
        let supply = self.validate()?;
        let mut accounts: Vec<(Address, Account)> = self
            .balances
            .iter()
            .filter(|(_, amount)| *amount > 0)
            .map(|(address, amount)| {
                (
                    *address,
                    Account {
                        balance: *amount,
                        nonce: 0,
                    },
                )
            })
            .collect();
        accounts.sort_unstable_by_key(|(address, _)| *address);
        Ok(BlockEffects {
            chain: ChainState {
                chain_id: self.chain_id.clone(),
                height: 0,
                time: self.time,
                last_block: self.block().hash(),
                next_listing: 0,
                next_rental: 0,
                escrow: 0,
                staked: self
                    .validators
                    .iter()
                    .map(|validator| validator.power)
                    .sum(),
                validator_changes: Vec::new(),
                slashed: Vec::new(),
                supply,
                params: self.params,
            },
            accounts,
            assets: Vec::new(),
            listings: Vec::new(),
            rentals: Vec::new(),
            validators: self.validators.clone(),
            due_added: Vec::new(),
            due_removed: Vec::new(),
            results: Vec::new(),
            settlements: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    fn validator(seed: u8) -> Validator {
        Validator {
            address: Keypair::from_seed([seed; 32]).address(),
            power: 1,
        }
    }

    #[test]
    fn genesis_checks_its_inputs() {
        let chain = ChainId::new("plaza-test").unwrap();
        let alice = Keypair::from_seed([1; 32]).address();
        let ok = Genesis::new(chain.clone(), vec![(alice, 10)], vec![validator(9)]);
        // The supply is the balances and the validators' stakes.
        assert_eq!(ok.validate().unwrap(), 11);
        assert_eq!(ok.block().header.height, 0);
        assert_eq!(ok.block().header.parent, ok.hash());

        let no_validators = Genesis::new(chain.clone(), vec![], vec![]);
        assert!(matches!(
            no_validators.validate(),
            Err(LedgerError::InvalidGenesis(_))
        ));
        let twice = Genesis::new(
            chain.clone(),
            vec![(alice, 1), (alice, 2)],
            vec![validator(9)],
        );
        assert!(twice.validate().is_err());
        let bob = Keypair::from_seed([2; 32]).address();
        let too_much = Genesis::new(
            chain.clone(),
            vec![(alice, u64::MAX), (bob, 1)],
            vec![validator(9)],
        );
        assert!(too_much.validate().is_err());
        let mut greedy = ok.clone();
        greedy.params.max_royalty_bps = 9_950;
        assert!(greedy.validate().is_err());
        let two_same = Genesis::new(chain, vec![], vec![validator(9), validator(9)]);
        assert!(two_same.validate().is_err());
    }
}

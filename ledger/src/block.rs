//! Blocks: a header that chains to its parent, and the transactions in order.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec::{self, BLOCK_DOMAIN, TX_LIST_DOMAIN, VALIDATOR_SET_DOMAIN, tagged_hash};
use crate::error::LedgerError;
use crate::execute::TxResult;
use crate::ids::{BlockHash, ChainId, Height, StateRoot, Timestamp, TxId, ValidatorSetHash};
use crate::keys::Address;
use crate::settle::Settlement;
use crate::state::{Account, Asset, Listing, Rental, Validator};
use crate::tx::SignedTransaction;

/// Most transactions one block may carry.
pub const MAX_BLOCK_TXS: usize = 10_000;
/// Largest encoded block accepted: room for a full block of ordinary
/// transactions (up to 2 KiB each), or for fewer of the largest.
pub const MAX_BLOCK_BYTES: usize = MAX_BLOCK_TXS * 2_048;

/// What a block's hash covers.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockHeader {
    /// The network.
    pub chain_id: ChainId,
    /// One more than the parent's.
    pub height: Height,
    /// Block time, chosen by the proposer; never earlier than the parent's.
    pub time: Timestamp,
    /// The validator that proposed the block; it earns the network fees of
    /// the rents and sales the block settles.
    pub proposer: Address,
    /// The parent block's hash.
    pub parent: BlockHash,
    /// Hash of the ids of the block's transactions, in order.
    pub tx_root: [u8; 32],
    /// What the chain was when the block was proposed.
    pub commitments: Commitments,
}

/// What a header commits to of the chain before its block, so that a
/// certified header vouches for a state and for who certifies the next
/// header, without its transactions being replayed: a state snapshot is
/// checked against `state_root`, and a light client follows the
/// validator sets from one certified header to the next.
///
/// Block 0 commits to nothing before it: all zeros.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Commitments {
    /// The state root after the parent block.
    pub state_root: StateRoot,
    /// The hash of the validators that certify this block.
    pub validators: ValidatorSetHash,
    /// The hash of the validators that certify the next block.
    pub next_validators: ValidatorSetHash,
}

/// The hash of a validator set: each validator's address and power, in
/// address order (the order does not depend on how the set was listed).
pub fn validator_set_hash(validators: &[Validator]) -> ValidatorSetHash {
    let mut sorted: Vec<&Validator> = validators.iter().collect();
    sorted.sort_by_key(|validator| validator.address);
    let mut bytes = Vec::with_capacity(8 + sorted.len() * 40);
    bytes.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
    for validator in sorted {
        bytes.extend_from_slice(validator.address.as_bytes());
        bytes.extend_from_slice(&validator.power.to_le_bytes());
    }
    ValidatorSetHash(tagged_hash(VALIDATOR_SET_DOMAIN, &[&bytes]))
}

impl BlockHeader {
    /// The block's hash.
    pub fn hash(&self) -> BlockHash {
        BlockHash(tagged_hash(BLOCK_DOMAIN, &[&codec::encode(self)]))
    }
}

/// A block: its header and its transactions.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// Height, time, proposer, parent.
    pub header: BlockHeader,
    /// Transactions, applied in this order.
    pub txs: Vec<SignedTransaction>,
}

impl Block {
    /// Assembles a block, computing the hash of its transaction list.
    pub fn new(
        chain_id: ChainId,
        height: Height,
        time: Timestamp,
        proposer: Address,
        parent: BlockHash,
        commitments: Commitments,
        txs: Vec<SignedTransaction>,
    ) -> Self {
        let tx_root = tx_list_hash(txs.iter().map(SignedTransaction::id));
        Block {
            header: BlockHeader {
                chain_id,
                height,
                time,
                proposer,
                parent,
                tx_root,
                commitments,
            },
            txs,
        }
    }

    /// The block's hash.
    pub fn hash(&self) -> BlockHash {
        self.header.hash()
    }

    /// The encoded block.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Reads a block, checking its size limits and that its header's
    /// transaction hash matches its transactions.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LedgerError> {
        let block: Block = codec::decode("block", bytes, MAX_BLOCK_BYTES)?;
        block.check_shape()?;
        Ok(block)
    }

    /// Checks what can be checked without state: the transaction count and
    /// the transaction hash.
    pub fn check_shape(&self) -> Result<(), LedgerError> {
        if self.txs.len() > MAX_BLOCK_TXS {
            return Err(LedgerError::TooManyTransactions {
                count: self.txs.len(),
                max: MAX_BLOCK_TXS,
            });
        }
        let computed = tx_list_hash(self.txs.iter().map(SignedTransaction::id));
        if computed != self.header.tx_root {
            return Err(LedgerError::TxRootMismatch {
                height: self.header.height,
            });
        }
        Ok(())
    }
}

/// The hash of a list of transaction ids.
pub(crate) fn tx_list_hash(ids: impl Iterator<Item = TxId>) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(TX_LIST_DOMAIN.len() as u64).to_le_bytes());
    hasher.update(TX_LIST_DOMAIN);
    for id in ids {
        hasher.update(&id.0);
    }
    *hasher.finalize().as_bytes()
}

/// What committing a block did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedBlock {
    /// The block's height.
    pub height: Height,
    /// The block's hash.
    pub hash: BlockHash,
    /// The state root after it.
    pub state_root: StateRoot,
    /// Each transaction's outcome, in block order.
    pub results: Vec<TxResult>,
    /// The block's time.
    pub time: Timestamp,
    /// Rentals it settled: those that ended, then those returned early.
    pub settlements: Vec<Settlement>,
    /// Accounts the block changed, as they are after it, by address.
    pub accounts: Vec<(Address, Account)>,
    /// Assets the block changed, as they are after it, by id.
    pub assets: Vec<Asset>,
    /// Listings the block made or changed, as they are after it, by id.
    pub listings: Vec<Listing>,
    /// Rentals the block made or changed, as they are after it, by id.
    pub rentals: Vec<Rental>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;
    use crate::tx::{Operation, Transaction};

    fn block() -> Block {
        let keypair = Keypair::from_seed([9; 32]);
        let chain_id = ChainId::new("plaza-test").unwrap();
        let tx = Transaction {
            chain_id: chain_id.clone(),
            signer: keypair.address(),
            nonce: 0,
            valid_until: 100,
            op: Operation::Pay {
                to: keypair.address(),
                amount: 1,
            },
        }
        .sign(&keypair);
        Block::new(
            chain_id,
            1,
            10,
            keypair.address(),
            BlockHash([1; 32]),
            Commitments::default(),
            vec![tx],
        )
    }

    #[test]
    fn blocks_round_trip_and_hash_their_header() {
        let block = block();
        let back = Block::from_bytes(&block.to_bytes()).unwrap();
        assert_eq!(back, block);
        assert_eq!(back.hash(), block.hash());
        let mut later = block.clone();
        later.header.time += 1;
        assert_ne!(later.hash(), block.hash());
    }

    #[test]
    fn headers_commit_to_the_state_and_the_validator_sets() {
        let block = block();
        let mut other_root = block.clone();
        other_root.header.commitments.state_root = StateRoot([3; 32]);
        assert_ne!(other_root.hash(), block.hash());
        let mut other_set = block.clone();
        other_set.header.commitments.next_validators = ValidatorSetHash([3; 32]);
        assert_ne!(other_set.hash(), block.hash());

        let a = Validator {
            address: Address::from_bytes([1; 32]),
            power: 10,
        };
        let b = Validator {
            address: Address::from_bytes([2; 32]),
            power: 20,
        };
        // The order a set is listed in does not matter; powers do.
        assert_eq!(validator_set_hash(&[a, b]), validator_set_hash(&[b, a]));
        let heavier = Validator { power: 21, ..b };
        assert_ne!(
            validator_set_hash(&[a, b]),
            validator_set_hash(&[a, heavier])
        );
        assert_ne!(validator_set_hash(&[a]), validator_set_hash(&[a, b]));
    }

    #[test]
    fn a_swapped_transaction_list_is_caught() {
        let mut block = block();
        block.txs[0].tx.nonce = 1;
        let err = Block::from_bytes(&block.to_bytes()).unwrap_err();
        assert_eq!(err, LedgerError::TxRootMismatch { height: 1 });
    }
}

//! Plaza's ledger: signed transactions, escrowed rentals and trades,
//! committed block by block to RocksDB under a Merkle state root.
//!
//! The state transition ([`apply_block`]) is pure: the block header brings
//! the time and the proposer, a [`StateReader`] the state, and nothing else
//! goes in. With the `store` feature, `Ledger` wraps it with signature
//! verification, the RocksDB `Store` and the state tree; without it the
//! crate is the pure core (types, rules, proofs, the state transition) that
//! a client or the market links without RocksDB.

mod block;
mod codec;
mod error;
pub mod evidence;
mod execute;
mod genesis;
mod hashing;
mod ids;
mod keys;
#[cfg(feature = "store")]
mod ledger;
pub mod light;
mod proof;
mod rules;
mod settle;
pub mod snapshot;
mod state;
#[cfg(feature = "store")]
mod store;
pub mod tree;
mod tx;
mod verify;

#[cfg(feature = "test-utils")]
pub mod testkit;

pub use crate::block::CommittedBlock;
pub use crate::block::{
    Block, BlockHeader, Commitments, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, validator_set_hash,
};
pub use crate::codec::{decode, encode};
pub use crate::error::LedgerError;
pub use crate::execute::{
    BlockEffects, MAX_VALIDATOR_CHANGES, MAX_VALIDATORS, MIN_STAKE, MINT_FEE, StateReader,
    StoredTxResult, TxResult, VALIDATOR_CHANGE_DELAY, apply_block, check_transaction,
};
pub use crate::genesis::{Genesis, MAX_SUPPLY};
pub use crate::ids::{
    Amount, AssetId, BPS_DENOMINATOR, BasisPoints, BlockHash, ChainId, Height, ListingId, Nonce,
    RentalId, StateRoot, Timestamp, TxId, ValidatorSetHash,
};
pub use crate::keys::{Address, Keypair, Signature};
#[cfg(feature = "store")]
pub use crate::ledger::{Ledger, PreparedBlock, Restore};
pub use crate::proof::{AssetProof, Holding, verify_asset, verify_holding};
pub use crate::rules::{
    RentCosts, check_asset_fillable, check_listing_fillable, check_open, check_owned_and_free,
    rent_costs,
};
pub use crate::settle::{Settlement, Split, periods_used, rent_paid_and_refund};
pub use crate::state::{
    Account, ActiveRental, Asset, ChainParams, ChainState, Listing, ListingStatus, ListingTerms,
    RentTerms, Rental, RentalStatus, Slash, StateKey, Validator, ValidatorChange,
};
#[cfg(feature = "store")]
pub use crate::store::{STORE_FORMAT, Store, StoredBlock, TxLocation};
pub use crate::tx::{
    MAX_TRADE_ASSETS, MAX_TX_BYTES, ManifestBytes, Operation, SignedTransaction, Trade, TradeSide,
    TradeTerms, Transaction,
};
pub use crate::verify::{BATCH_TXS, VerifiedBlock, Verifier};

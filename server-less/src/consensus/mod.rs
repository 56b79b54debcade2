//! Consensus among many hosts with the malachite BFT engine (Tendermint
//! family): Plaza's context, and the signing of its messages.
//!
//! A height's validators take turns to propose (weighted by power, see
//! [`ValidatorSet::proposer`]); the proposer builds the block from its
//! mempool and streams it in parts, the others check it against their
//! ledger and vote for its hash, and a block with the precommits of more
//! than two thirds of the power is final. Votes and proposals are signed
//! with the validator's ledger key, over bytes that name the network.

mod app;
mod catch_up;
mod codec;
mod context;
mod proposals;
mod settings;
mod signed;
mod signing;
mod slashing;
mod streams;
mod wal_check;

pub use app::{Bft, MAX_CLOCK_SKEW_SECS};
pub use codec::{
    MAX_PART_BYTES, PlazaCodec, decode_certificate, decode_each, encode_certificate, light_commit,
    sample_messages,
};
pub use settings::{BftSettings, Faults, local_timeouts};

pub use context::{
    BlockHash, ChainHeight, Plaza, Proposal, ProposalPart, Validator, ValidatorAddress,
    ValidatorSet, Vote,
};
pub use signing::{
    PlazaSigner, PlazaVerifier, init_bytes, parts_bytes, proposal_bytes, vote_bytes,
};

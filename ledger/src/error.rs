//! The one error type of the `ledger` crate.
//!
//! A transaction that fails any check is rejected with one of these and
//! changes nothing; a block that fails a block-level check is refused whole.

use thiserror::Error;

use crate::ids::{
    Amount, AssetId, BlockHash, ChainId, Height, ListingId, Nonce, RentalId, StateRoot, Timestamp,
};
use crate::keys::Address;

/// Everything the ledger can refuse or fail at.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LedgerError {
    // ---- Input that cannot be read ----
    /// Bytes that do not decode as the named structure.
    #[error("malformed {what}: {reason}")]
    Decode {
        /// What was being read.
        what: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// Input over a size limit.
    #[error("{what} is {size} bytes, over the limit of {max}")]
    TooLarge {
        /// What was being read.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A chain id outside `[a-z0-9-]{1,32}`.
    #[error("invalid chain id {0:?}: use 1 to 32 characters from a-z, 0-9 and '-'")]
    InvalidChainId(String),
    /// Address text that is not a valid `plaza1…` address.
    #[error("invalid address {text:?}: {reason}")]
    AddressText {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Asset id text that is not a Plaza content id.
    #[error("invalid asset id: {0}")]
    InvalidAssetId(String),

    // ---- Signatures ----
    /// The transaction is for another network.
    #[error("transaction is for chain {got}, this is chain {expected}")]
    WrongChain {
        /// This ledger's chain.
        expected: ChainId,
        /// The transaction's chain.
        got: ChainId,
    },
    /// The signer's address is not an ed25519 point.
    #[error("address {address} is not a valid ed25519 public key")]
    InvalidPublicKey {
        /// The address.
        address: Address,
    },
    /// The signer's key has small order, or a small-order component, so
    /// signatures under it prove nothing or too little.
    #[error("address {address} is a small-order or mixed-order ed25519 key and cannot sign")]
    WeakPublicKey {
        /// The address.
        address: Address,
    },
    /// The transaction signature does not verify.
    #[error("signature does not verify for signer {signer}")]
    BadSignature {
        /// The claimed signer.
        signer: Address,
    },
    /// A trade party's signature does not verify over the trade's terms.
    #[error("trade signature of party {party} does not verify over the trade's terms")]
    BadTradeSignature {
        /// The party whose signature failed.
        party: Address,
    },

    // ---- Ordering and time ----
    /// The nonce was already used: a replay or a duplicate.
    #[error("stale nonce for {account}: it has used nonces below {expected}, got {got}")]
    StaleNonce {
        /// The account.
        account: Address,
        /// The nonce it must use next.
        expected: Nonce,
        /// The nonce given.
        got: Nonce,
    },
    /// The nonce skips ahead of the account's next one.
    #[error("future nonce for {account}: expected {expected}, got {got}")]
    FutureNonce {
        /// The account.
        account: Address,
        /// The nonce it must use next.
        expected: Nonce,
        /// The nonce given.
        got: Nonce,
    },
    /// The transaction's validity window has passed.
    #[error("transaction expired: valid until {valid_until}, block time is {now}")]
    Expired {
        /// Its deadline.
        valid_until: Timestamp,
        /// The block time.
        now: Timestamp,
    },

    // ---- Tokens ----
    /// Not enough tokens.
    #[error("insufficient funds: {account} needs {needed} but holds {available}")]
    InsufficientFunds {
        /// The paying account.
        account: Address,
        /// The amount needed.
        needed: Amount,
        /// Its balance.
        available: Amount,
    },
    /// An unstake of more than the validator has bonded.
    #[error(
        "{validator} has {bonded} staked (after the changes not yet in force) and cannot unstake {asked}"
    )]
    NotEnoughStake {
        /// The validator.
        validator: Address,
        /// Its bond once every change already made is in force.
        bonded: Amount,
        /// The unstake asked for.
        asked: Amount,
    },
    /// A stake or unstake that would leave a validator with less than the
    /// least stake.
    #[error("{validator} would have {power} staked; a validator holds at least {min} (or, unstaking, nothing)", min = crate::execute::MIN_STAKE)]
    StakeTooSmall {
        /// The validator.
        validator: Address,
        /// Its stake after the change.
        power: Amount,
    },
    /// A stake or unstake while another of the same validator waits.
    #[error(
        "a stake change of {validator} waits to take effect at height {from}; stake or unstake again from then"
    )]
    ValidatorChangeWaiting {
        /// The validator.
        validator: Address,
        /// When the waiting change takes effect.
        from: Height,
    },
    /// A report of equivocation that is not one.
    #[error("not evidence of equivocation: {0}")]
    NotEquivocation(&'static str),
    /// A report of equivocation about an address with no stake to slash.
    #[error("{0} is not a validator: there is nothing to slash")]
    NotAValidator(Address),
    /// A report of equivocation about a validator already slashed for it.
    #[error("{0} has been slashed already and is leaving the validator set")]
    AlreadySlashed(Address),
    /// A report of equivocation too old, or about a height not reached.
    #[error("evidence from height {height} is outside the window the ledger takes at height {now}")]
    EvidenceOutOfWindow {
        /// The height of the evidence.
        height: Height,
        /// The height of the block.
        now: Height,
    },
    /// An unstake that would leave the network without validators.
    #[error("{0} is the last validator and cannot unstake everything")]
    LastValidator(Address),
    /// A stake that would make the validator set larger than allowed.
    #[error("the network has {max} validators already; {0} cannot join", max = crate::execute::MAX_VALIDATORS)]
    TooManyValidators(Address),
    /// Too many validator changes waiting to take effect.
    #[error("{max} validator changes are waiting to take effect; stake or unstake again in a few blocks", max = crate::execute::MAX_VALIDATOR_CHANGES)]
    ValidatorChangesFull,
    /// A payment or price of zero.
    #[error("{what} must be more than zero")]
    ZeroAmount {
        /// What was zero.
        what: &'static str,
    },
    /// Integer arithmetic would overflow.
    #[error("arithmetic overflow computing {what}")]
    Overflow {
        /// The quantity being computed.
        what: &'static str,
    },
    /// An operation whose two sides are the same account.
    #[error("{what}: {address} cannot deal with itself")]
    SelfDealing {
        /// The operation.
        what: &'static str,
        /// The account.
        address: Address,
    },

    // ---- Assets ----
    /// No asset with this id.
    #[error("asset {0} does not exist")]
    AssetNotFound(AssetId),
    /// The asset was minted already.
    #[error("asset {0} already exists")]
    AssetExists(AssetId),
    /// A mint's manifest is not a valid manifest in canonical form.
    #[error("the manifest to mint is not valid: {0}")]
    BadManifest(String),
    /// A mint's manifest names someone else as its creator.
    #[error(
        "the manifest names {creator} as its creator, but {signer} signed the mint: only the creator may mint it"
    )]
    NotTheCreator {
        /// Who signed the mint.
        signer: Address,
        /// Who the manifest names.
        creator: String,
    },
    /// The royalty is over the network's cap.
    #[error("royalty of {bps} basis points is over the cap of {max}")]
    RoyaltyTooHigh {
        /// The royalty asked for.
        bps: u16,
        /// The cap.
        max: u16,
    },
    /// The signer does not own the asset.
    #[error("{signer} cannot {action} asset {asset}: it is owned by {owner}")]
    NotOwner {
        /// What was attempted.
        action: &'static str,
        /// The asset.
        asset: AssetId,
        /// Who tried.
        signer: Address,
        /// Who owns it.
        owner: Address,
    },
    /// The signer rents the asset and tried to act as its owner.
    #[error("{renter} rents asset {asset} under {rental} and cannot {action} it")]
    RenterCannot {
        /// What was attempted.
        action: &'static str,
        /// The asset.
        asset: AssetId,
        /// The renter.
        renter: Address,
        /// The rental.
        rental: RentalId,
    },
    /// The asset is rented, so its owner cannot move, list or trade it.
    #[error("asset {asset} is locked by {rental} until {until}: it cannot {action} it meanwhile")]
    AssetLocked {
        /// What was attempted.
        action: &'static str,
        /// The asset.
        asset: AssetId,
        /// The rental holding it.
        rental: RentalId,
        /// When the rental ends.
        until: Timestamp,
    },

    // ---- Listings ----
    /// No listing with this id.
    #[error("{0} does not exist")]
    ListingNotFound(ListingId),
    /// The asset already has an open listing.
    #[error("asset {asset} is already listed as {listing}; cancel that listing first")]
    AlreadyListed {
        /// The asset.
        asset: AssetId,
        /// Its open listing.
        listing: ListingId,
    },
    /// The listing was cancelled or sold.
    #[error("{listing} is closed: {status}")]
    ListingClosed {
        /// The listing.
        listing: ListingId,
        /// Why: "cancelled" or "sold".
        status: &'static str,
    },
    /// The listing's expiry has passed.
    #[error("{listing} expired at {expired_at}; block time is {now}")]
    ListingExpired {
        /// The listing.
        listing: ListingId,
        /// Its expiry.
        expired_at: Timestamp,
        /// The block time.
        now: Timestamp,
    },
    /// The asset changed owner after it was listed.
    #[error("{listing} is stale: asset {asset} changed owner after it was listed")]
    ListingStale {
        /// The listing.
        listing: ListingId,
        /// The asset.
        asset: AssetId,
    },
    /// A rent operation on a sale listing, or the other way round.
    #[error("{listing} is a {actual} listing, not a {expected} listing")]
    WrongListingKind {
        /// The listing.
        listing: ListingId,
        /// The kind the operation needs.
        expected: &'static str,
        /// The listing's kind.
        actual: &'static str,
    },
    /// Only the lister may cancel a listing.
    #[error("{signer} cannot cancel {listing}: it was made by {lister}")]
    NotLister {
        /// The listing.
        listing: ListingId,
        /// Who tried.
        signer: Address,
        /// Who listed.
        lister: Address,
    },
    /// The rent listing is reserved for another renter.
    #[error("{listing} is reserved for {reserved_for}; {signer} cannot rent it")]
    ReservedForOther {
        /// The listing.
        listing: ListingId,
        /// The reserved renter.
        reserved_for: Address,
        /// Who tried.
        signer: Address,
    },
    /// The number of periods is outside the listing's range.
    #[error("{periods} periods is outside the listing's range of {min} to {max}")]
    PeriodsOutOfRange {
        /// Periods asked for.
        periods: u32,
        /// Fewest allowed.
        min: u32,
        /// Most allowed.
        max: u32,
    },
    /// Listing terms that make no sense.
    #[error("invalid listing terms: {0}")]
    InvalidTerms(&'static str),

    // ---- Rentals ----
    /// No rental with this id.
    #[error("{0} does not exist")]
    RentalNotFound(RentalId),
    /// The rental has ended already.
    #[error("{rental} is not active: it was {status}")]
    RentalNotActive {
        /// The rental.
        rental: RentalId,
        /// "settled" or "returned".
        status: &'static str,
    },
    /// Only the renter may return a rental.
    #[error("{signer} cannot return {rental}: the renter is {renter}")]
    NotRenter {
        /// The rental.
        rental: RentalId,
        /// Who tried.
        signer: Address,
        /// The renter.
        renter: Address,
    },

    // ---- Trades ----
    /// The submitter is neither party of the trade.
    #[error("{signer} is not a party of this trade")]
    NotTradeParty {
        /// Who submitted.
        signer: Address,
    },
    /// Trade terms that make no sense.
    #[error("invalid trade: {0}")]
    InvalidTrade(&'static str),
    /// The terms' hash of the offers is not the hash of their offers.
    #[error(
        "the trade's offers hash does not match its offers: the terms were altered after they were confirmed"
    )]
    TradeOffersHash,
    /// One side gives more assets than allowed.
    #[error("a trade side gives {count} assets, more than the {max} allowed")]
    TooManyTradeAssets {
        /// Assets on that side.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The trade's expiry has passed.
    #[error("trade expired at {expired_at}; block time is {now}")]
    TradeExpired {
        /// Its expiry.
        expired_at: Timestamp,
        /// The block time.
        now: Timestamp,
    },
    /// A party's nonce in the terms is not its current nonce.
    #[error("trade terms give {party} nonce {got}, but its next nonce is {expected}")]
    TradeNonce {
        /// The party.
        party: Address,
        /// Its account's next nonce.
        expected: Nonce,
        /// The nonce in the terms.
        got: Nonce,
    },

    // ---- Blocks ----
    /// The block is for another network.
    #[error("block is for chain {got}, this is chain {expected}")]
    BlockWrongChain {
        /// This ledger's chain.
        expected: ChainId,
        /// The block's chain.
        got: ChainId,
    },
    /// The block does not follow the last committed one.
    #[error("block height {got} does not follow the committed height {committed}")]
    BlockHeight {
        /// Last committed height.
        committed: Height,
        /// The block's height.
        got: Height,
    },
    /// The block's parent is not the last committed block.
    #[error("block's parent {got} is not the last committed block {expected}")]
    BlockParent {
        /// Hash of the last committed block.
        expected: BlockHash,
        /// The block's parent.
        got: BlockHash,
    },
    /// Block time went backwards.
    #[error("block time {got} is before the previous block's time {previous}")]
    BlockTime {
        /// The previous block's time.
        previous: Timestamp,
        /// This block's time.
        got: Timestamp,
    },
    /// The proposer is not a validator.
    #[error("block proposer {0} is not a validator")]
    UnknownProposer(Address),
    /// Too many transactions in one block.
    #[error("block has {count} transactions, more than the {max} allowed")]
    TooManyTransactions {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The header's transaction hash does not match the transactions.
    #[error("block {height}'s transaction hash does not match its transactions")]
    TxRootMismatch {
        /// The block's height.
        height: Height,
    },
    /// The header commits to another state than the one it follows.
    #[error(
        "block {height} commits to state root {got}, but the state it follows has root {expected}"
    )]
    StateRootMismatch {
        /// The block's height.
        height: Height,
        /// The root after its parent.
        expected: StateRoot,
        /// The root its header names.
        got: StateRoot,
    },
    /// The header commits to another validator set than the chain's.
    #[error("block {height} commits to other validators for {which} height than the chain names")]
    ValidatorSetMismatch {
        /// The block's height.
        height: Height,
        /// Which of its two sets differs.
        which: &'static str,
    },
    /// The block's signatures were checked for a different chain.
    #[error("block was verified for chain {verified_for}, this is chain {expected}")]
    VerifiedForOtherChain {
        /// This ledger's chain.
        expected: ChainId,
        /// The chain it was verified for.
        verified_for: ChainId,
    },

    // ---- Genesis ----
    /// A genesis specification that cannot start a chain.
    #[error("invalid genesis: {0}")]
    InvalidGenesis(String),

    // ---- Storage ----
    /// RocksDB reported an error.
    #[error("storage error: {0}")]
    Storage(String),
    /// Stored bytes that do not decode, or stored records that disagree.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The store was made for a different genesis.
    #[error(
        "store at {path} holds chain {found} (genesis {found_genesis}), not the requested genesis {expected_genesis}"
    )]
    GenesisMismatch {
        /// The store's directory.
        path: String,
        /// The chain it holds.
        found: ChainId,
        /// Its genesis block hash.
        found_genesis: BlockHash,
        /// The requested genesis block hash.
        expected_genesis: BlockHash,
    },
    /// A store written in another layout than this build's.
    #[error(
        "{path} holds a ledger in store format {found}, written by another version of Plaza; this one reads format {expected}. Move it aside and make a new network (`plaza-host init`)"
    )]
    StoreFormat {
        /// The store's directory.
        path: String,
        /// Its format.
        found: u32,
        /// The format this build reads.
        expected: u32,
    },
    /// A header certificate, or a chain of them, that does not hold.
    #[error("not certified: {0}")]
    BadCertificate(String),
    /// A snapshot that cannot be restored as it is.
    #[error("bad snapshot: {0}")]
    BadSnapshot(String),
    /// A snapshot chunk whose bytes are not those its manifest names.
    #[error("snapshot chunk {index} does not match its hash in the manifest")]
    ChunkMismatch {
        /// The chunk's number.
        index: u32,
    },
    /// A restored state whose root is not the one trusted.
    #[error(
        "the snapshot of height {height} rebuilds state root {got}, not the trusted {expected}"
    )]
    SnapshotRootMismatch {
        /// The snapshot's height.
        height: Height,
        /// The root trusted for that height.
        expected: StateRoot,
        /// The root of the state the chunks hold.
        got: StateRoot,
    },
    /// Finishing a restore that lacks chunks.
    #[error("the restore lacks {missing} of the snapshot's chunks")]
    RestoreIncomplete {
        /// How many chunks are missing.
        missing: usize,
    },
    /// Opening a store that was never initialised.
    #[error("no ledger at {0}: create it from a genesis first")]
    NotInitialized(String),
    /// A height whose validators are not known from the committed state.
    #[error(
        "the validators of height {requested} are not known at height {committed}: only those of the next two heights are"
    )]
    ValidatorsUnknown {
        /// The height asked for.
        requested: Height,
        /// The last committed height.
        committed: Height,
    },
    /// A height that is not committed (yet).
    #[error("height {requested} is not committed; the last committed height is {committed}")]
    UnknownHeight {
        /// The height asked for.
        requested: Height,
        /// The last committed height.
        committed: Height,
    },

    // ---- Proofs ----
    /// A proof that does not verify against the root.
    #[error("proof does not verify: {0}")]
    InvalidProof(&'static str),
}

impl LedgerError {
    /// Whether the error is this host's own trouble (its disk, its store)
    /// rather than something wrong with the input. Such an error stops the
    /// block instead of being recorded against a transaction, since another
    /// host would not see it.
    pub fn is_host_fault(&self) -> bool {
        matches!(self, LedgerError::Storage(_) | LedgerError::Corrupt(_))
    }

    /// Whether the store could not be opened because another process holds
    /// it (RocksDB's lock on its directory).
    pub fn is_locked(&self) -> bool {
        matches!(self, LedgerError::Storage(reason) if reason.contains("lock"))
    }
}

#[cfg(feature = "store")]
impl From<rocksdb::Error> for LedgerError {
    fn from(err: rocksdb::Error) -> Self {
        LedgerError::Storage(err.into_string())
    }
}

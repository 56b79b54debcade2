//! Transactions: who signs, what they do, and the bytes their signature
//! covers.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec::{self, TRADE_DOMAIN, TRADE_OFFERS_DOMAIN, TX_DOMAIN};
use crate::error::LedgerError;
use crate::evidence::Equivocation;
use crate::ids::{
    Amount, AssetId, BasisPoints, ChainId, ListingId, Nonce, RentalId, Timestamp, TxId,
};
use crate::keys::{Address, Keypair, Signature};
use crate::state::RentTerms;

/// Largest encoded signed transaction accepted: a mint carrying the
/// largest manifest fits.
pub const MAX_TX_BYTES: usize = assets::MAX_MANIFEST_BYTES + 4096;
/// Most assets one side of a trade may give.
pub const MAX_TRADE_ASSETS: usize = 16;

/// What a transaction does. Exactly one per transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Operation {
    /// Create the asset of this manifest: its id is the manifest's content
    /// id, and the manifest must name the signer as its creator, who is
    /// the asset's first owner and receives its royalties. Costs
    /// [`MINT_FEE`](crate::MINT_FEE), paid to the block's proposer.
    Mint {
        /// The asset's manifest, in canonical form.
        manifest: ManifestBytes,
        /// The creator's share of every rent and sale.
        royalty_bps: BasisPoints,
    },
    /// Give an asset's title to someone else.
    TransferAsset {
        /// The asset.
        asset: AssetId,
        /// The new owner.
        to: Address,
    },
    /// Send tokens.
    Pay {
        /// The recipient.
        to: Address,
        /// How much.
        amount: Amount,
    },
    /// Offer an asset for rent.
    ListForRent {
        /// The asset.
        asset: AssetId,
        /// Price, periods, deposit and reservation.
        terms: RentTerms,
        /// The listing cannot be filled at or after this block time.
        expires_at: Timestamp,
    },
    /// Offer an asset for sale.
    ListForSale {
        /// The asset.
        asset: AssetId,
        /// The price.
        price: Amount,
        /// The listing cannot be bought at or after this block time.
        expires_at: Timestamp,
    },
    /// Withdraw an open listing.
    CancelListing {
        /// The listing.
        listing: ListingId,
    },
    /// Rent through a rent listing for a number of periods.
    Rent {
        /// The listing.
        listing: ListingId,
        /// How many periods.
        periods: u32,
    },
    /// Buy through a sale listing.
    Buy {
        /// The listing.
        listing: ListingId,
    },
    /// Hand a rented asset back before its rental ends; the unused whole
    /// periods are refunded.
    ReturnRental {
        /// The rental.
        rental: RentalId,
    },
    /// Swap assets and tokens between two parties, all legs or none.
    /// Boxed: it is far larger than every other operation.
    Trade(Box<Trade>),
    /// Bond tokens as validator stake: the signer's voting power grows by
    /// `amount` from [`VALIDATOR_CHANGE_DELAY`] blocks on, and it becomes a
    /// validator if it was not one.
    ///
    /// [`VALIDATOR_CHANGE_DELAY`]: crate::VALIDATOR_CHANGE_DELAY
    Stake {
        /// Tokens bonded.
        amount: Amount,
    },
    /// Take bonded tokens back: the signer's voting power shrinks by
    /// `amount` from [`VALIDATOR_CHANGE_DELAY`] blocks on, when the tokens
    /// return to its balance; with no power left it stops being a
    /// validator.
    ///
    /// [`VALIDATOR_CHANGE_DELAY`]: crate::VALIDATOR_CHANGE_DELAY
    Unstake {
        /// Tokens unbonded.
        amount: Amount,
    },
    /// Report a validator that signed two different votes or proposals for
    /// one height and round: it is slashed and leaves the set (see
    /// [`crate::evidence`]). Anyone may report.
    ReportEquivocation(Box<Equivocation>),
}

/// An asset manifest's canonical bytes, as a mint carries them. The ledger
/// reads the creator from them, so nobody can mint someone else's work as
/// their own: a mint copied from the mempool names the wrong signer.
#[derive(Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ManifestBytes(pub Vec<u8>);

impl ManifestBytes {
    /// The id of the asset these bytes describe: their content id.
    pub fn asset_id(&self) -> AssetId {
        AssetId(assets::ContentId::of(assets::Codec::Json, &self.0))
    }
}

impl From<Vec<u8>> for ManifestBytes {
    fn from(bytes: Vec<u8>) -> Self {
        ManifestBytes(bytes)
    }
}

impl std::fmt::Debug for ManifestBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ManifestBytes({}, {} bytes)",
            self.asset_id(),
            self.0.len()
        )
    }
}

impl Operation {
    /// A short name, for logs and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Mint { .. } => "mint",
            Operation::TransferAsset { .. } => "transfer",
            Operation::Pay { .. } => "pay",
            Operation::ListForRent { .. } => "list for rent",
            Operation::ListForSale { .. } => "list for sale",
            Operation::CancelListing { .. } => "cancel listing",
            Operation::Rent { .. } => "rent",
            Operation::Buy { .. } => "buy",
            Operation::ReturnRental { .. } => "return rental",
            Operation::Trade(_) => "trade",
            Operation::Stake { .. } => "stake",
            Operation::Unstake { .. } => "unstake",
            Operation::ReportEquivocation(_) => "report equivocation",
        }
    }
}

/// What one party of a trade gives.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TradeSide {
    /// Assets handed over.
    pub assets: Vec<AssetId>,
    /// Tokens paid.
    pub tokens: Amount,
}

/// The terms both parties of a trade sign.
///
/// Each party's nonce is part of the terms and the trade consumes it, so a
/// signed trade executes at most once. The terms also carry the revision
/// of the trade window both parties confirmed and a hash of both offers,
/// which the ledger checks against the offers themselves: what a party
/// confirmed on screen is exactly what it signs.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TradeTerms {
    /// The first party.
    pub a: Address,
    /// The second party.
    pub b: Address,
    /// What `a` gives to `b`.
    pub a_gives: TradeSide,
    /// What `b` gives to `a`.
    pub b_gives: TradeSide,
    /// `a`'s account nonce that the trade consumes.
    pub a_nonce: Nonce,
    /// `b`'s account nonce that the trade consumes.
    pub b_nonce: Nonce,
    /// The trade cannot execute in a block whose time is at or after this.
    pub expires_at: Timestamp,
    /// The trade window's revision that both parties confirmed.
    pub revision: u64,
    /// [`TradeTerms::hash_offers`] of these terms.
    pub offers_hash: [u8; 32],
}

impl TradeTerms {
    /// The hash of both parties and both offers.
    pub fn hash_offers(&self) -> [u8; 32] {
        let mut parts = Vec::with_capacity(256);
        codec::encode_into(&self.a, &mut parts);
        codec::encode_into(&self.b, &mut parts);
        codec::encode_into(&self.a_gives, &mut parts);
        codec::encode_into(&self.b_gives, &mut parts);
        codec::tagged_hash(TRADE_OFFERS_DOMAIN, &[&parts])
    }

    /// These terms with `offers_hash` set from their offers.
    pub fn with_offers_hash(mut self) -> Self {
        self.offers_hash = self.hash_offers();
        self
    }

    /// The bytes each party signs: domain tag, chain id, terms.
    pub fn signing_bytes(&self, chain_id: &ChainId) -> Vec<u8> {
        let mut out = TRADE_DOMAIN.to_vec();
        codec::encode_into(chain_id, &mut out);
        codec::encode_into(self, &mut out);
        out
    }

    /// One party's signature over these terms on `chain_id`.
    pub fn sign(&self, chain_id: &ChainId, keypair: &Keypair) -> Signature {
        keypair.sign(&self.signing_bytes(chain_id))
    }

    /// Checks `party`'s signature over these terms on `chain_id`, as the
    /// ledger will.
    pub fn verify(
        &self,
        chain_id: &ChainId,
        party: &Address,
        signature: &Signature,
    ) -> Result<(), LedgerError> {
        let key = party.verifying_key()?;
        key.verify_strict(&self.signing_bytes(chain_id), &signature.to_dalek())
            .map_err(|_| LedgerError::BadTradeSignature { party: *party })
    }
}

/// A two-party trade with both parties' signatures over the same terms.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Trade {
    /// What each side gives.
    pub terms: TradeTerms,
    /// `a`'s signature over the terms.
    pub a_signature: Signature,
    /// `b`'s signature over the terms.
    pub b_signature: Signature,
}

/// An unsigned transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    /// The network it is meant for.
    pub chain_id: ChainId,
    /// Who signs it, and whose nonce it uses.
    pub signer: Address,
    /// Must equal the signer's account nonce when it executes.
    pub nonce: Nonce,
    /// It is rejected in any block whose time is after this.
    pub valid_until: Timestamp,
    /// What it does.
    pub op: Operation,
}

impl Transaction {
    /// The bytes the signer signs: domain tag, then the canonical
    /// transaction, which begins with the chain id.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        self.write_signing_bytes(&mut out);
        out
    }

    /// Writes the signing bytes into `out`, which is cleared first.
    pub fn write_signing_bytes(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(TX_DOMAIN);
        codec::encode_into(self, out);
    }

    /// Signs with `keypair`, which should be the signer's.
    pub fn sign(self, keypair: &Keypair) -> SignedTransaction {
        let signature = keypair.sign(&self.signing_bytes());
        SignedTransaction {
            tx: self,
            signature,
        }
    }
}

/// A transaction with its signer's signature.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// The signer's signature over [`Transaction::signing_bytes`].
    pub signature: Signature,
}

impl SignedTransaction {
    /// The signed bytes, as sent between hosts.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Reads a signed transaction; larger than [`MAX_TX_BYTES`] or
    /// malformed input is rejected.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LedgerError> {
        codec::decode("signed transaction", bytes, MAX_TX_BYTES)
    }

    /// The transaction id: blake3 of the signed bytes.
    pub fn id(&self) -> TxId {
        signed_tx_id(&codec::encode(&self.tx), &self.signature)
    }
}

/// The id of the signed transaction whose canonical transaction bytes are
/// `tx_bytes`: the signed bytes are those followed by the signature.
pub(crate) fn signed_tx_id(tx_bytes: &[u8], signature: &Signature) -> TxId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(tx_bytes);
    hasher.update(&signature.0);
    TxId(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SignedTransaction {
        let keypair = Keypair::from_seed([3; 32]);
        Transaction {
            chain_id: ChainId::new("plaza-test").unwrap(),
            signer: keypair.address(),
            nonce: 4,
            valid_until: 1_000,
            op: Operation::Pay {
                to: Keypair::from_seed([4; 32]).address(),
                amount: 25,
            },
        }
        .sign(&keypair)
    }

    #[test]
    fn signed_bytes_round_trip_and_id_is_their_hash() {
        let signed = sample();
        let bytes = signed.to_bytes();
        let back = SignedTransaction::from_bytes(&bytes).unwrap();
        assert_eq!(back, signed);
        assert_eq!(signed.id().0, *blake3::hash(&bytes).as_bytes());
    }

    #[test]
    fn signing_bytes_carry_the_domain_and_the_chain() {
        let signed = sample();
        let bytes = signed.tx.signing_bytes();
        assert!(bytes.starts_with(TX_DOMAIN));
        let chain = codec::encode(&signed.tx.chain_id);
        assert_eq!(
            &bytes[TX_DOMAIN.len()..TX_DOMAIN.len() + chain.len()],
            &chain[..]
        );
        let mut other = signed.tx.clone();
        other.chain_id = ChainId::new("plaza-other").unwrap();
        assert_ne!(other.signing_bytes(), bytes);
    }

    #[test]
    fn oversized_and_truncated_input_is_rejected() {
        let bytes = sample().to_bytes();
        assert!(SignedTransaction::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let big = vec![0u8; MAX_TX_BYTES + 1];
        assert!(matches!(
            SignedTransaction::from_bytes(&big),
            Err(LedgerError::TooLarge { .. })
        ));
    }
}

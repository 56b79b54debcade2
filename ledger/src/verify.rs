//! Signature checks for whole blocks, in parallel and in batches.
//!
//! A signature is valid when it passes ed25519-dalek's `verify_strict`:
//! canonical `s`, neither the key nor `R` of small order, and the
//! cofactorless equation. Keys must moreover be free of any small-order
//! component, which honest key generation guarantees. Blocks are checked in
//! fixed groups of [`BATCH_TXS`] transactions with dalek's batch
//! verification, after the key and `R` checks `verify_strict` makes and the
//! batch equation does not; a group that fails is halved until the bad
//! signatures are found, and groups of four or fewer use `verify_strict`
//! itself. The group size is a protocol constant and dalek derives the
//! batch coefficients from the group's own contents, so every host reaches
//! the same verdict on the same block, whatever its core count.
//!
//! One difference from checking each signature alone remains: a signature
//! whose `R` carries a small-order component fails `verify_strict` but can
//! pass a batch, depending on the coefficients the rest of its group
//! yields. Only the key's holder can make such a signature, over their own
//! transaction, so it never lets anyone act for another account; hosts
//! still agree, since the groups are the same for all. Checking every `R`
//! for torsion would cost about half a verification per signature.

use std::sync::{Arc, OnceLock, RwLock};

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::VerifyingKey;
#[cfg(feature = "parallel")]
use rayon::prelude::*;

use crate::block::{Block, Commitments, tx_list_hash};
use crate::codec::{self, TX_DOMAIN};
use crate::error::LedgerError;
use crate::hashing::FastMap;
use crate::ids::{BlockHash, ChainId, TxId};
use crate::keys::{Address, Signature};
use crate::tx::{MAX_TX_BYTES, Operation, SignedTransaction, signed_tx_id};

/// Transactions verified together as one batch.
pub const BATCH_TXS: usize = 256;
/// Groups this small are checked signature by signature.
const SINGLE_CHECK_BELOW: usize = 5;
/// Decompressed keys kept between blocks.
const KEY_CACHE_CAPACITY: usize = 1 << 16;

/// A block whose transaction list and signatures were checked for one
/// chain. Only [`Verifier::verify_block`] makes one.
#[derive(Debug)]
pub struct VerifiedBlock {
    block: Block,
    chain_id: ChainId,
    checks: Vec<(TxId, Result<(), LedgerError>)>,
}

impl VerifiedBlock {
    /// The block.
    pub fn block(&self) -> &Block {
        &self.block
    }

    /// The chain the signatures were checked for.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// Each transaction's id and signature verdict, in block order.
    pub fn checks(&self) -> impl Iterator<Item = &(TxId, Result<(), LedgerError>)> {
        self.checks.iter()
    }

    /// The same transactions in a block on `parent`, its header committing
    /// to `commitments`: for blocks whose signatures are checked before
    /// the block they follow is committed. The checks stay, since they
    /// cover only the transactions; the ledger checks the header when the
    /// block is committed.
    pub fn on(mut self, parent: BlockHash, commitments: Commitments) -> Self {
        self.block.header.parent = parent;
        self.block.header.commitments = commitments;
        self
    }

    /// Gives the block back.
    pub fn into_block(self) -> Block {
        self.block
    }
}

/// Checks signatures for one chain. Cheap to clone; clones share a cache of
/// decompressed public keys, so it can run on another thread while the
/// ledger commits the previous block.
#[derive(Clone)]
pub struct Verifier {
    chain_id: ChainId,
    keys: Arc<RwLock<FastMap<Address, VerifyingKey>>>,
}

/// One signature to check, and whose it is.
struct Item {
    tx: usize,
    message: std::ops::Range<usize>,
    signature: ed25519_dalek::Signature,
    key: VerifyingKey,
    /// Whether `key` came from the cache.
    cached: bool,
    party: Party,
}

#[derive(Clone, Copy)]
enum Party {
    Signer(Address),
    Trade(Address),
}

impl Party {
    fn address(self) -> Address {
        match self {
            Party::Signer(address) | Party::Trade(address) => address,
        }
    }

    fn error(self) -> LedgerError {
        match self {
            Party::Signer(signer) => LedgerError::BadSignature { signer },
            Party::Trade(party) => LedgerError::BadTradeSignature { party },
        }
    }
}

impl Verifier {
    /// A verifier for `chain_id`.
    pub fn new(chain_id: ChainId) -> Self {
        Verifier {
            chain_id,
            keys: Arc::new(RwLock::new(FastMap::default())),
        }
    }

    /// The chain it checks for.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// Checks `block`'s transaction hash and every signature in it, using
    /// all cores (with the `parallel` feature). A bad signature does not refuse the block: it is recorded
    /// against its transaction, which the ledger will skip.
    pub fn verify_block(&self, block: Block) -> Result<VerifiedBlock, LedgerError> {
        if block.txs.len() > crate::block::MAX_BLOCK_TXS {
            return Err(LedgerError::TooManyTransactions {
                count: block.txs.len(),
                max: crate::block::MAX_BLOCK_TXS,
            });
        }
        #[cfg(feature = "parallel")]
        let checks: Vec<(TxId, Result<(), LedgerError>)> = block
            .txs
            .par_chunks(BATCH_TXS)
            .flat_map_iter(|chunk| self.verify_group(chunk))
            .collect();
        #[cfg(not(feature = "parallel"))]
        let checks: Vec<(TxId, Result<(), LedgerError>)> = block
            .txs
            .chunks(BATCH_TXS)
            .flat_map(|chunk| self.verify_group(chunk))
            .collect();
        if tx_list_hash(checks.iter().map(|(id, _)| *id)) != block.header.tx_root {
            return Err(LedgerError::TxRootMismatch {
                height: block.header.height,
            });
        }
        Ok(VerifiedBlock {
            chain_id: self.chain_id.clone(),
            block,
            checks,
        })
    }

    /// Checks one transaction on its own with `verify_strict`, as a host
    /// does when a transaction arrives.
    pub fn verify_transaction(&self, signed: &SignedTransaction) -> Result<(), LedgerError> {
        let mut buffer = Vec::new();
        let mut items = Vec::new();
        self.collect_items(0, signed, &mut buffer, &mut items).1?;
        for item in &items {
            item.key
                .verify_strict(&buffer[item.message.clone()], &item.signature)
                .map_err(|_| item.party.error())?;
        }
        self.remember(&items);
        Ok(())
    }

    fn verify_group(&self, txs: &[SignedTransaction]) -> Vec<(TxId, Result<(), LedgerError>)> {
        let mut buffer = Vec::with_capacity(txs.len() * 256);
        let mut items = Vec::with_capacity(txs.len());
        let mut verdicts: Vec<(TxId, Result<(), LedgerError>)> = txs
            .iter()
            .enumerate()
            .map(|(index, signed)| {
                let start = items.len();
                let (id, verdict) = self.collect_items(index, signed, &mut buffer, &mut items);
                if verdict.is_err() {
                    items.truncate(start);
                }
                (id, verdict)
            })
            .collect();
        let mut good = vec![true; items.len()];
        check_batch(&buffer, &items, &mut good);
        for (item, ok) in items.iter().zip(&good) {
            if !ok && verdicts[item.tx].1.is_ok() {
                verdicts[item.tx].1 = Err(item.party.error());
            }
        }
        self.remember(
            items
                .iter()
                .zip(&good)
                .filter(|(_, ok)| **ok)
                .map(|(item, _)| item),
        );
        verdicts
    }

    /// Writes the messages `signed` carries signatures over into `buffer`
    /// and adds the signatures to `items`; returns the transaction's id,
    /// and an error for a key that cannot sign or an `R` of small order.
    fn collect_items(
        &self,
        tx: usize,
        signed: &SignedTransaction,
        buffer: &mut Vec<u8>,
        items: &mut Vec<Item>,
    ) -> (TxId, Result<(), LedgerError>) {
        let start = buffer.len();
        buffer.extend_from_slice(TX_DOMAIN);
        codec::encode_into(&signed.tx, buffer);
        let tx_bytes = &buffer[start + TX_DOMAIN.len()..];
        let id = signed_tx_id(tx_bytes, &signed.signature);
        // Inside a block, a transaction is held to the same size limit as
        // one that arrives alone.
        let size = tx_bytes.len().saturating_add(signed.signature.0.len());
        if size > MAX_TX_BYTES {
            buffer.truncate(start);
            let err = LedgerError::TooLarge {
                what: "signed transaction",
                size,
                max: MAX_TX_BYTES,
            };
            return (id, Err(err));
        }
        let signer = Party::Signer(signed.tx.signer);
        let verdict = self
            .push_item(tx, signer, start..buffer.len(), &signed.signature, items)
            .and_then(|()| {
                let Operation::Trade(trade) = &signed.tx.op else {
                    return Ok(());
                };
                let start = buffer.len();
                buffer.extend_from_slice(&trade.terms.signing_bytes(&signed.tx.chain_id));
                let terms = start..buffer.len();
                let parties = [
                    (trade.terms.a, &trade.a_signature),
                    (trade.terms.b, &trade.b_signature),
                ];
                for (party, signature) in parties {
                    self.push_item(tx, Party::Trade(party), terms.clone(), signature, items)?;
                }
                Ok(())
            });
        (id, verdict)
    }

    fn push_item(
        &self,
        tx: usize,
        party: Party,
        message: std::ops::Range<usize>,
        signature: &Signature,
        items: &mut Vec<Item>,
    ) -> Result<(), LedgerError> {
        let (key, cached) = self.key(party.address())?;
        if small_order_encodings().contains(signature.r_bytes()) {
            return Err(party.error());
        }
        items.push(Item {
            tx,
            message,
            signature: signature.to_dalek(),
            key,
            cached,
            party,
        });
        Ok(())
    }

    /// The decompressed key of `address`, and whether it came from the
    /// cache.
    fn key(&self, address: Address) -> Result<(VerifyingKey, bool), LedgerError> {
        if let Some(key) = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&address)
        {
            return Ok((*key, true));
        }
        Ok((address.verifying_key()?, false))
    }

    /// Keeps the keys of `items`, whose signatures verified, that the
    /// cache lacked: the cache holds only keys that signed something
    /// valid, so a stream of made-up or badly signed transactions cannot
    /// fill it, and it is bounded however many valid signers there are.
    fn remember<'a>(&self, items: impl IntoIterator<Item = &'a Item>) {
        let mut items = items.into_iter().filter(|item| !item.cached).peekable();
        if items.peek().is_none() {
            return;
        }
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for item in items {
            let address = item.party.address();
            if keys.contains_key(&address) {
                continue;
            }
            if keys.len() >= KEY_CACHE_CAPACITY {
                keys.clear();
            }
            keys.insert(address, item.key);
        }
    }

    /// How many keys the cache holds.
    pub fn cached_keys(&self) -> usize {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

/// Marks in `good` the items whose signatures fail, by batch verification
/// and bisection.
fn check_batch(buffer: &[u8], items: &[Item], good: &mut [bool]) {
    if items.is_empty() {
        return;
    }
    if items.len() < SINGLE_CHECK_BELOW {
        for (item, ok) in items.iter().zip(good.iter_mut()) {
            *ok = item
                .key
                .verify_strict(&buffer[item.message.clone()], &item.signature)
                .is_ok();
        }
        return;
    }
    let messages: Vec<&[u8]> = items
        .iter()
        .map(|item| &buffer[item.message.clone()])
        .collect();
    let signatures: Vec<ed25519_dalek::Signature> =
        items.iter().map(|item| item.signature).collect();
    let keys: Vec<VerifyingKey> = items.iter().map(|item| item.key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
        return;
    }
    let half = items.len() / 2;
    let (left_good, right_good) = good.split_at_mut(half);
    check_batch(buffer, &items[..half], left_good);
    check_batch(buffer, &items[half..], right_good);
}

/// Every 32-byte string that decompresses to a point of small order: the
/// eight torsion points, plus their non-canonical encodings (a set sign bit
/// on x = 0, or y written as y + p).
fn small_order_encodings() -> &'static [[u8; 32]] {
    static ENCODINGS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    ENCODINGS.get_or_init(|| {
        let mut out: Vec<[u8; 32]> = Vec::new();
        for point in curve25519_dalek::constants::EIGHT_TORSION {
            let canonical = point.compress().to_bytes();
            let mut candidates = vec![canonical];
            let mut flipped = canonical;
            flipped[31] ^= 0x80;
            candidates.push(flipped);
            let mut y = canonical;
            y[31] &= 0x7f;
            if y[1..].iter().all(|&byte| byte == 0) && y[0] < 19 {
                // y + p, where p = 2^255 - 19.
                let mut plus_p = [0xffu8; 32];
                plus_p[0] = 0xed_u8.wrapping_add(y[0]);
                plus_p[31] = 0x7f;
                candidates.push(plus_p);
                let mut plus_p_signed = plus_p;
                plus_p_signed[31] |= 0x80;
                candidates.push(plus_p_signed);
            }
            for candidate in candidates {
                let small = CompressedEdwardsY(candidate)
                    .decompress()
                    .is_some_and(|point| point.is_small_order());
                if small && !out.contains(&candidate) {
                    out.push(candidate);
                }
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::BlockHash;
    use crate::keys::Keypair;
    use crate::tx::Transaction;

    fn chain() -> ChainId {
        ChainId::new("plaza-test").unwrap()
    }

    fn pay(seed: u8, nonce: u64) -> SignedTransaction {
        let keypair = Keypair::from_seed([seed; 32]);
        Transaction {
            chain_id: chain(),
            signer: keypair.address(),
            nonce,
            valid_until: 100,
            op: Operation::Pay {
                to: Keypair::from_seed([0; 32]).address(),
                amount: 1,
            },
        }
        .sign(&keypair)
    }

    #[test]
    fn small_order_list_has_every_encoding() {
        let list = small_order_encodings();
        // 8 canonical, 2 with a negative zero x, 4 with y + p.
        assert_eq!(list.len(), 14, "{list:?}");
        for encoding in list {
            let point = CompressedEdwardsY(*encoding).decompress().unwrap();
            assert!(point.is_small_order());
        }
    }

    #[test]
    fn bad_signatures_are_found_among_good_ones() {
        let mut txs: Vec<SignedTransaction> = (1..=40).map(|seed| pay(seed, 0)).collect();
        for bad in [3usize, 17, 18, 39] {
            txs[bad].signature.0[40] ^= 1;
        }
        let block = Block::new(
            chain(),
            1,
            1,
            txs[0].tx.signer,
            BlockHash::default(),
            Commitments::default(),
            txs,
        );
        let verified = Verifier::new(chain()).verify_block(block).unwrap();
        for (index, (_, verdict)) in verified.checks().enumerate() {
            if [3, 17, 18, 39].contains(&index) {
                assert!(
                    matches!(verdict, Err(LedgerError::BadSignature { .. })),
                    "{index}"
                );
            } else {
                assert_eq!(verdict, &Ok(()), "{index}");
            }
        }
    }

    #[test]
    fn only_keys_that_signed_something_valid_are_cached() {
        let verifier = Verifier::new(chain());
        let mut forged: Vec<SignedTransaction> = (1..=30).map(|seed| pay(seed, 0)).collect();
        for tx in &mut forged {
            tx.signature.0[40] ^= 1;
            assert!(verifier.verify_transaction(tx).is_err());
        }
        let block = Block::new(
            chain(),
            1,
            1,
            forged[0].tx.signer,
            BlockHash::default(),
            Commitments::default(),
            forged,
        );
        verifier.verify_block(block).unwrap();
        assert_eq!(verifier.cached_keys(), 0);
        let mut txs: Vec<SignedTransaction> = (31..=40).map(|seed| pay(seed, 0)).collect();
        txs[2].signature.0[40] ^= 1;
        let block = Block::new(
            chain(),
            1,
            1,
            txs[0].tx.signer,
            BlockHash::default(),
            Commitments::default(),
            txs,
        );
        verifier.verify_block(block).unwrap();
        assert_eq!(verifier.cached_keys(), 9);
        verifier.verify_transaction(&pay(50, 0)).unwrap();
        assert_eq!(verifier.cached_keys(), 10);
    }

    #[test]
    fn a_signature_for_another_chain_fails() {
        let tx = pay(5, 0);
        let verifier = Verifier::new(ChainId::new("plaza-other").unwrap());
        // The signature is over the transaction's own chain id, so it
        // verifies; the ledger refuses the chain mismatch itself.
        assert!(verifier.verify_transaction(&tx).is_ok());
        let mut moved = tx.clone();
        moved.tx.chain_id = ChainId::new("plaza-other").unwrap();
        assert_eq!(
            verifier.verify_transaction(&moved),
            Err(LedgerError::BadSignature {
                signer: tx.tx.signer
            })
        );
    }
}

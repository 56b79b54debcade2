//! Transactions waiting for a block: bounded, kept in nonce order per
//! account, each checked on arrival so that a user hears at once why a
//! transaction cannot go through.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use foldhash::HashMap;
use ledger::{Address, LedgerError, Nonce, SignedTransaction, Timestamp, TxId, TxResult, Verifier};
use tracing::debug;

use thiserror::Error;

/// Why the mempool refused a transaction.
#[derive(Debug, Error)]
pub enum MempoolError {
    /// The ledger's rules refuse it: a bad signature, another network, a
    /// stale or future nonce, too little money, expired.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The mempool holds as many transactions or bytes as it may.
    #[error("the mempool is full ({txs} transactions, {bytes} bytes); try again shortly")]
    Full {
        /// Transactions waiting.
        txs: usize,
        /// Their encoded size.
        bytes: usize,
    },
    /// One account has as many transactions waiting as it may.
    #[error("{account} already has {max} transactions waiting; wait for some to be final")]
    AccountQueueFull {
        /// The account.
        account: Address,
        /// The limit.
        max: usize,
    },
    /// Another transaction with the same signer and nonce is waiting.
    #[error("{account} already has another transaction with nonce {nonce} waiting")]
    NoncePending {
        /// The account.
        account: Address,
        /// The nonce.
        nonce: Nonce,
    },
}

/// Whether a transaction's signature was checked before it reached the
/// mempool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureChecked {
    /// Checked, with [`ledger::Verifier::verify_transaction`] for this
    /// chain, by whoever hands it over.
    Yes,
    /// Not yet: the mempool checks it.
    No,
}

/// How much the mempool may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Most transactions waiting in all.
    pub max_txs: usize,
    /// Most bytes of encoded transactions waiting in all.
    pub max_bytes: usize,
    /// Most transactions one account may have waiting.
    pub max_per_account: usize,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_txs: 20_000,
            max_bytes: 32 << 20,
            max_per_account: 64,
        }
    }
}

/// What [`Mempool::add`] did with a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// It is waiting for a block.
    New(TxId),
    /// The same transaction was already waiting; nothing changed.
    Duplicate(TxId),
}

impl Added {
    /// The transaction's id.
    pub fn id(&self) -> TxId {
        match self {
            Added::New(id) | Added::Duplicate(id) => *id,
        }
    }
}

/// What the mempool needs to know of the committed state.
pub trait Committed {
    /// The nonce `account`'s next transaction must carry.
    fn next_nonce(&self, account: &Address) -> Result<Nonce, LedgerError>;
    /// The ledger's own verdict on `tx` as the only transaction of a block
    /// at `time`.
    fn check(&self, tx: &SignedTransaction, time: Timestamp) -> Result<(), LedgerError>;
}

impl Committed for ledger::Ledger {
    fn next_nonce(&self, account: &Address) -> Result<Nonce, LedgerError> {
        Ok(self.account(account)?.nonce)
    }

    fn check(&self, tx: &SignedTransaction, time: Timestamp) -> Result<(), LedgerError> {
        self.check_transaction(&tx.tx, time)
    }
}

struct Pending {
    tx: SignedTransaction,
    id: TxId,
    bytes: usize,
    /// Arrival order.
    seq: u64,
    /// When it arrived here.
    arrived: std::time::Instant,
}

/// The waiting transactions.
pub struct Mempool {
    limits: MempoolLimits,
    verifier: Verifier,
    accounts: HashMap<Address, BTreeMap<Nonce, Pending>>,
    ids: HashMap<TxId, (Address, Nonce)>,
    bytes: usize,
    seq: u64,
    last_finality: Option<std::time::Duration>,
}

impl Mempool {
    /// An empty mempool that checks signatures with `verifier`.
    pub fn new(limits: MempoolLimits, verifier: Verifier) -> Self {
        Mempool {
            limits,
            verifier,
            accounts: HashMap::default(),
            ids: HashMap::default(),
            bytes: 0,
            seq: 0,
            last_finality: None,
        }
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is waiting.
    pub fn contains(&self, id: &TxId) -> bool {
        self.ids.contains_key(id)
    }

    /// Checks `tx` and keeps it for a block. Refused, with the reason, when
    /// its chain, signature, nonce or deadline is wrong, when the ledger
    /// would refuse it now (checked when it is its signer's next
    /// transaction; a later one is checked by its block), or when a limit
    /// is reached. A refused transaction changes nothing.
    pub fn add(
        &mut self,
        tx: SignedTransaction,
        state: &impl Committed,
        now: Timestamp,
        signature: SignatureChecked,
    ) -> Result<Added, MempoolError> {
        let id = tx.id();
        if self.ids.contains_key(&id) {
            return Ok(Added::Duplicate(id));
        }
        if &tx.tx.chain_id != self.verifier.chain_id() {
            return Err(LedgerError::WrongChain {
                expected: self.verifier.chain_id().clone(),
                got: tx.tx.chain_id.clone(),
            }
            .into());
        }
        if signature == SignatureChecked::No {
            self.verifier.verify_transaction(&tx)?;
        }
        let signer = tx.tx.signer;
        let nonce = tx.tx.nonce;
        if tx.tx.valid_until < now {
            return Err(LedgerError::Expired {
                valid_until: tx.tx.valid_until,
                now,
            }
            .into());
        }
        let next = state.next_nonce(&signer)?;
        if nonce < next {
            return Err(LedgerError::StaleNonce {
                account: signer,
                expected: next,
                got: nonce,
            }
            .into());
        }
        let waiting = self.accounts.get(&signer).map_or(0, BTreeMap::len) as u64;
        if self
            .accounts
            .get(&signer)
            .is_some_and(|queue| queue.contains_key(&nonce))
        {
            return Err(MempoolError::NoncePending {
                account: signer,
                nonce,
            });
        }
        // Waiting transactions are contiguous from the account's next
        // nonce, so a new one must come right after them.
        let expected = next + waiting;
        if nonce != expected {
            return Err(LedgerError::FutureNonce {
                account: signer,
                expected,
                got: nonce,
            }
            .into());
        }
        if waiting as usize >= self.limits.max_per_account {
            return Err(MempoolError::AccountQueueFull {
                account: signer,
                max: self.limits.max_per_account,
            });
        }
        let bytes = tx.to_bytes().len();
        if self.ids.len() >= self.limits.max_txs || self.bytes + bytes > self.limits.max_bytes {
            return Err(MempoolError::Full {
                txs: self.ids.len(),
                bytes: self.bytes,
            });
        }
        if waiting == 0 {
            state.check(&tx, now)?;
        }
        self.seq += 1;
        self.bytes += bytes;
        self.ids.insert(id, (signer, nonce));
        self.accounts.entry(signer).or_default().insert(
            nonce,
            Pending {
                tx,
                id,
                bytes,
                seq: self.seq,
                arrived: std::time::Instant::now(),
            },
        );
        debug!(%id, %signer, nonce, waiting = self.ids.len(), "transaction accepted");
        Ok(Added::New(id))
    }

    /// Up to `max_txs` transactions (and `max_bytes`) for the next block:
    /// each account's in nonce order, accounts taking turns (every
    /// account's first waiting transaction, in order of arrival, then
    /// every account's second, and so on), so that one busy account does
    /// not crowd out the rest.
    pub fn propose(&self, max_txs: usize, max_bytes: usize) -> Vec<SignedTransaction> {
        // (turn, arrival, account)
        let mut heads: BinaryHeap<Reverse<(usize, u64, Address)>> = self
            .accounts
            .iter()
            .filter_map(|(address, queue)| {
                let first = queue.values().next()?;
                Some(Reverse((0, first.seq, *address)))
            })
            .collect();
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(Reverse((turn, _, address))) = heads.pop() {
            if out.len() == max_txs {
                break;
            }
            let Some(queue) = self.accounts.get(&address) else {
                continue;
            };
            let mut waiting = queue.values().skip(turn);
            let Some(pending) = waiting.next() else {
                continue;
            };
            if bytes + pending.bytes > max_bytes {
                // Its later transactions must wait for this one.
                continue;
            }
            bytes += pending.bytes;
            out.push(pending.tx.clone());
            if let Some(next) = waiting.next() {
                heads.push(Reverse((turn + 1, next.seq, address)));
            }
        }
        out
    }

    /// Forgets what a committed block decided: its transactions, applied or
    /// refused, and whatever can no longer go through (a nonce already
    /// used, a deadline passed, a transaction whose predecessor was
    /// refused). Returns those dropped without being in the block, with
    /// the reason.
    pub fn on_block(
        &mut self,
        results: &[TxResult],
        time: Timestamp,
        state: &impl Committed,
    ) -> Vec<(TxId, LedgerError)> {
        let now = std::time::Instant::now();
        let mut waited: Vec<std::time::Duration> = Vec::new();
        for result in results {
            if let Some(arrived) = self.remove(&result.id) {
                waited.push(now.saturating_duration_since(arrived));
            }
        }
        if !waited.is_empty() {
            waited.sort_unstable();
            self.last_finality = Some(waited[waited.len() / 2]);
        }
        let mut dropped = Vec::new();
        let addresses: Vec<Address> = self.accounts.keys().copied().collect();
        for address in addresses {
            let next = match state.next_nonce(&address) {
                Ok(next) => next,
                Err(err) => {
                    tracing::warn!(%address, %err, "cannot read an account's nonce");
                    continue;
                }
            };
            let mut expected = next;
            let doomed: Vec<(TxId, LedgerError)> = self
                .accounts
                .get(&address)
                .into_iter()
                .flat_map(|queue| queue.values())
                .filter_map(|pending| {
                    let tx = &pending.tx.tx;
                    let reason = if tx.nonce < next {
                        Some(LedgerError::StaleNonce {
                            account: address,
                            expected: next,
                            got: tx.nonce,
                        })
                    } else if tx.nonce != expected {
                        Some(LedgerError::FutureNonce {
                            account: address,
                            expected,
                            got: tx.nonce,
                        })
                    } else if tx.valid_until < time {
                        Some(LedgerError::Expired {
                            valid_until: tx.valid_until,
                            now: time,
                        })
                    } else {
                        expected += 1;
                        None
                    };
                    reason.map(|reason| (pending.id, reason))
                })
                .collect();
            for (id, reason) in doomed {
                self.remove(&id);
                dropped.push((id, reason));
            }
        }
        dropped
    }

    /// Forgets `id`; when it arrived, if it was waiting.
    fn remove(&mut self, id: &TxId) -> Option<std::time::Instant> {
        let (address, nonce) = self.ids.remove(id)?;
        let queue = self.accounts.get_mut(&address)?;
        let arrived = queue.remove(&nonce).map(|pending| {
            self.bytes -= pending.bytes;
            pending.arrived
        });
        if queue.is_empty() {
            self.accounts.remove(&address);
        }
        arrived
    }

    /// The median time the last block's transactions that waited here
    /// took from their arrival to that block's commit: the finality a
    /// player of this host saw.
    pub fn last_finality(&self) -> Option<std::time::Duration> {
        self.last_finality
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use ledger::testkit::{chain_id, keypair, signed};
    use ledger::{Keypair, Operation};

    use super::*;

    /// Committed state: next nonces, and a ledger verdict that refuses
    /// payments of more than 1,000.
    #[derive(Default)]
    struct State(HashMap<Address, Nonce>);

    impl Committed for State {
        fn next_nonce(&self, account: &Address) -> Result<Nonce, LedgerError> {
            Ok(self.0.get(account).copied().unwrap_or(0))
        }

        fn check(&self, tx: &SignedTransaction, _: Timestamp) -> Result<(), LedgerError> {
            match tx.tx.op {
                Operation::Pay { amount, .. } if amount > 1_000 => {
                    Err(LedgerError::InsufficientFunds {
                        account: tx.tx.signer,
                        needed: amount,
                        available: 1_000,
                    })
                }
                _ => Ok(()),
            }
        }
    }

    fn pay(key: &Keypair, nonce: Nonce, amount: u64) -> SignedTransaction {
        let op = Operation::Pay {
            to: keypair(9, 9).address(),
            amount,
        };
        signed(key, nonce, 1_000, op)
    }

    fn pool(limits: MempoolLimits) -> Mempool {
        Mempool::new(limits, Verifier::new(chain_id()))
    }

    #[test]
    fn transactions_wait_in_nonce_order_and_accounts_take_turns() {
        let (a, b) = (keypair(1, 0), keypair(1, 1));
        let state = State::default();
        let mut pool = pool(MempoolLimits::default());
        for tx in [pay(&a, 0, 1), pay(&a, 1, 2), pay(&b, 0, 3), pay(&a, 2, 4)] {
            assert!(matches!(
                pool.add(tx, &state, 10, SignatureChecked::No).unwrap(),
                Added::New(_)
            ));
        }
        let amounts: Vec<u64> = pool
            .propose(10, usize::MAX)
            .iter()
            .map(|tx| match tx.tx.op {
                Operation::Pay { amount, .. } => amount,
                _ => 0,
            })
            .collect();
        // a's first arrived first, then b's, then a's later ones in order.
        assert_eq!(amounts, [1, 3, 2, 4]);
        assert_eq!(pool.propose(2, usize::MAX).len(), 2);
    }

    #[test]
    fn bad_transactions_are_refused_with_their_reason_and_change_nothing() {
        let (a, b) = (keypair(2, 0), keypair(2, 1));
        let mut state = State::default();
        state.0.insert(a.address(), 5);
        let mut pool = pool(MempoolLimits::default());

        let used = pool
            .add(pay(&a, 4, 1), &state, 10, SignatureChecked::No)
            .unwrap_err();
        assert!(
            matches!(
                used,
                MempoolError::Ledger(LedgerError::StaleNonce {
                    expected: 5,
                    got: 4,
                    ..
                })
            ),
            "{used}"
        );
        let gap = pool
            .add(pay(&a, 7, 1), &state, 10, SignatureChecked::No)
            .unwrap_err();
        assert!(
            matches!(
                gap,
                MempoolError::Ledger(LedgerError::FutureNonce {
                    expected: 5,
                    got: 7,
                    ..
                })
            ),
            "{gap}"
        );
        let poor = pool
            .add(pay(&a, 5, 5_000), &state, 10, SignatureChecked::No)
            .unwrap_err();
        assert!(
            matches!(
                poor,
                MempoolError::Ledger(LedgerError::InsufficientFunds { .. })
            ),
            "{poor}"
        );
        let late = pool
            .add(pay(&a, 5, 1), &state, 1_001, SignatureChecked::No)
            .unwrap_err();
        assert!(
            matches!(late, MempoolError::Ledger(LedgerError::Expired { .. })),
            "{late}"
        );

        // Signed by b, claiming to be a.
        let mut forged = pay(&b, 5, 1);
        forged.tx.signer = a.address();
        let forged = pool
            .add(forged, &state, 10, SignatureChecked::No)
            .unwrap_err();
        assert!(
            matches!(
                forged,
                MempoolError::Ledger(LedgerError::BadSignature { .. })
            ),
            "{forged}"
        );
        // For another network.
        let other = ledger::Transaction {
            chain_id: ledger::ChainId::new("elsewhere").unwrap(),
            signer: a.address(),
            nonce: 5,
            valid_until: 1_000,
            op: Operation::Pay {
                to: b.address(),
                amount: 1,
            },
        }
        .sign(&a);
        assert!(pool.add(other, &state, 10, SignatureChecked::No).is_err());
        assert!(pool.is_empty());

        let tx = pay(&a, 5, 1);
        let id = pool
            .add(tx.clone(), &state, 10, SignatureChecked::No)
            .unwrap()
            .id();
        assert_eq!(
            pool.add(tx, &state, 10, SignatureChecked::No).unwrap(),
            Added::Duplicate(id)
        );
        let twin = pool
            .add(pay(&a, 5, 2), &state, 10, SignatureChecked::No)
            .unwrap_err();
        assert!(
            matches!(twin, MempoolError::NoncePending { nonce: 5, .. }),
            "{twin}"
        );
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn limits_hold_per_account_and_in_all() {
        let state = State::default();
        let mut pool = pool(MempoolLimits {
            max_txs: 5,
            max_bytes: usize::MAX,
            max_per_account: 3,
        });
        let a = keypair(3, 0);
        for nonce in 0..3 {
            pool.add(pay(&a, nonce, 1), &state, 10, SignatureChecked::No)
                .unwrap();
        }
        let full = pool
            .add(pay(&a, 3, 1), &state, 10, SignatureChecked::No)
            .unwrap_err();
        assert!(
            matches!(full, MempoolError::AccountQueueFull { max: 3, .. }),
            "{full}"
        );
        for index in 1..3 {
            pool.add(
                pay(&keypair(3, index), 0, 1),
                &state,
                10,
                SignatureChecked::No,
            )
            .unwrap();
        }
        let full = pool
            .add(pay(&keypair(3, 9), 0, 1), &state, 10, SignatureChecked::No)
            .unwrap_err();
        assert!(matches!(full, MempoolError::Full { txs: 5, .. }), "{full}");
    }

    #[test]
    fn a_block_takes_its_transactions_and_what_can_no_longer_go_through() {
        let (a, b) = (keypair(4, 0), keypair(4, 1));
        let mut state = State::default();
        let mut pool = pool(MempoolLimits::default());
        let first = pool
            .add(pay(&a, 0, 1), &state, 10, SignatureChecked::No)
            .unwrap()
            .id();
        let second = pool
            .add(pay(&a, 1, 1), &state, 10, SignatureChecked::No)
            .unwrap()
            .id();
        let third = pool
            .add(pay(&a, 2, 1), &state, 10, SignatureChecked::No)
            .unwrap()
            .id();
        let other = pool
            .add(pay(&b, 0, 1), &state, 10, SignatureChecked::No)
            .unwrap()
            .id();

        // The block applied only a's first; its second was refused, so the
        // third can never run. b's was not in the block and still can.
        state.0.insert(a.address(), 1);
        let results = [
            TxResult {
                id: first,
                outcome: Ok(()),
                nonce_spent: true,
            },
            TxResult {
                id: second,
                outcome: Err(LedgerError::InsufficientFunds {
                    account: a.address(),
                    needed: 1,
                    available: 0,
                }),
                nonce_spent: true,
            },
        ];
        let dropped = pool.on_block(&results, 20, &state);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].0, third);
        assert!(matches!(
            dropped[0].1,
            LedgerError::FutureNonce {
                expected: 1,
                got: 2,
                ..
            }
        ));
        assert_eq!(pool.len(), 1);
        assert!(pool.contains(&other));

        // Past its deadline, b's goes too.
        let dropped = pool.on_block(&[], 1_001, &state);
        assert_eq!(dropped.len(), 1);
        assert!(matches!(dropped[0].1, LedgerError::Expired { .. }));
        assert!(pool.is_empty());
    }
}

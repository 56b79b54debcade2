//! A small network for tests: four funded players, one validator, a ledger
//! in a temporary directory.

use ledger::testkit::{chain_id, keypair, mint_op};
use ledger::{
    Address, AssetId, Block, CommittedBlock, Genesis, Keypair, Ledger, LedgerError, Operation,
    RentTerms, SignedTransaction, Transaction, Validator,
};
use tempfile::TempDir;

/// Each player's starting balance.
pub(crate) const START: u64 = 1_000_000;
/// Genesis time.
pub(crate) const T0: u64 = 1_700_000_000;

pub(crate) struct Net {
    pub(crate) dir: TempDir,
    pub(crate) ledger: Ledger,
    pub(crate) alice: Keypair,
    pub(crate) bob: Keypair,
    pub(crate) carol: Keypair,
    pub(crate) dave: Keypair,
    pub(crate) validator: Keypair,
    pub(crate) time: u64,
}

impl Net {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let [alice, bob, carol, dave] = [0, 1, 2, 3].map(|i| keypair(1, i));
        let validator = keypair(2, 0);
        let mut genesis = Genesis::new(
            chain_id(),
            [&alice, &bob, &carol, &dave]
                .iter()
                .map(|k| (k.address(), START))
                .collect(),
            vec![Validator {
                address: validator.address(),
                power: 10,
            }],
        );
        genesis.time = T0;
        let ledger = Ledger::create(dir.path(), &genesis).unwrap();
        Net {
            dir,
            ledger,
            alice,
            bob,
            carol,
            dave,
            validator,
            time: T0,
        }
    }

    /// A transaction from `signer` with its next nonce.
    pub(crate) fn tx(&self, signer: &Keypair, op: Operation) -> SignedTransaction {
        let nonce = self.ledger.account(&signer.address()).unwrap().nonce;
        self.tx_with_nonce(signer, nonce, op)
    }

    pub(crate) fn tx_with_nonce(
        &self,
        signer: &Keypair,
        nonce: u64,
        op: Operation,
    ) -> SignedTransaction {
        Transaction {
            chain_id: chain_id(),
            signer: signer.address(),
            nonce,
            valid_until: u64::MAX,
            op,
        }
        .sign(signer)
    }

    /// The next block at `time`, proposed by the validator.
    pub(crate) fn block_at(&self, time: u64, txs: Vec<SignedTransaction>) -> Block {
        self.ledger
            .next_block(time, self.validator.address(), txs)
            .unwrap()
    }

    /// Commits `txs` in a block `secs` after the last one.
    pub(crate) fn commit_after(
        &mut self,
        secs: u64,
        txs: Vec<SignedTransaction>,
    ) -> CommittedBlock {
        self.time += secs;
        let block = self.block_at(self.time, txs);
        self.ledger.commit_block(block).unwrap()
    }

    /// Commits one transaction in a block one second later and returns its
    /// outcome.
    pub(crate) fn submit(&mut self, tx: SignedTransaction) -> Result<(), LedgerError> {
        let committed = self.commit_after(1, vec![tx]);
        committed.results[0].outcome.clone()
    }

    /// `signer` does `op` in the next block.
    pub(crate) fn run(&mut self, signer: &Keypair, op: Operation) -> Result<(), LedgerError> {
        let tx = self.tx(signer, op);
        self.submit(tx)
    }

    /// An empty block `secs` later.
    pub(crate) fn advance(&mut self, secs: u64) -> CommittedBlock {
        self.commit_after(secs, Vec::new())
    }

    pub(crate) fn balance(&self, who: &Keypair) -> u64 {
        self.ledger.account(&who.address()).unwrap().balance
    }

    pub(crate) fn proposer_balance(&self) -> u64 {
        self.ledger
            .account(&self.validator.address())
            .unwrap()
            .balance
    }

    pub(crate) fn owner(&self, asset: &AssetId) -> Address {
        self.ledger.asset(asset).unwrap().unwrap().owner
    }

    /// `creator` mints test asset `index` with `royalty_bps`.
    pub(crate) fn mint(&mut self, creator: &Keypair, index: u64, royalty_bps: u16) -> AssetId {
        let (id, op) = mint_op(&creator.address(), 9, index, royalty_bps);
        self.run(creator, op).unwrap();
        id
    }

    /// `renter` rents `listing` for `periods`, which must succeed.
    pub(crate) fn rent(&mut self, renter: &Keypair, listing: ledger::ListingId, periods: u32) {
        self.run(renter, Operation::Rent { listing, periods })
            .unwrap();
    }

    /// `owner` lists `asset` for rent and returns the listing's id.
    pub(crate) fn list_for_rent(
        &mut self,
        owner: &Keypair,
        asset: AssetId,
        terms: RentTerms,
    ) -> ledger::ListingId {
        let expires_at = self.time + 1_000_000;
        self.run(
            owner,
            Operation::ListForRent {
                asset,
                terms,
                expires_at,
            },
        )
        .unwrap();
        self.ledger.asset(&asset).unwrap().unwrap().listing.unwrap()
    }

    /// The sum of every balance, the escrow and the stake.
    pub(crate) fn total_tokens(&self) -> u128 {
        let balances: u128 = self
            .ledger
            .accounts()
            .unwrap()
            .iter()
            .map(|(_, account)| u128::from(account.balance))
            .sum();
        let chain = self.ledger.chain();
        balances + u128::from(chain.escrow) + u128::from(chain.staked)
    }
}

/// Hourly rent terms: 100 a period, 1 to 10 periods, deposit 50.
pub(crate) fn hourly() -> RentTerms {
    RentTerms {
        price_per_period: 100,
        period_secs: 3_600,
        min_periods: 1,
        max_periods: 10,
        deposit: 50,
        reserved_for: None,
    }
}

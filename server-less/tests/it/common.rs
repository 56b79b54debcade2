//! What the tests share: a fresh network in a temporary directory, a
//! hand-moved clock, and helpers to sign and wait.

use std::sync::Arc;
use std::time::Duration;

use ledger::{Keypair, ListingTerms, Operation, SignedTransaction, Transaction, TxId};
use market::catalogue::{Hit, Query, Side};
use server_less::Host;
use server_less::clock::ManualClock;
use server_less::home::{self, Home};
use server_less::node::{HostHandle, TxStatus};
use server_less::sessions::{SessionSettings, Sessions};
use server_less::worlds;
use tempfile::TempDir;

/// When every test network begins.
pub(crate) const T0: u64 = 1_800_000_000;

/// A network made by `init`, its host running on a hand-moved clock.
pub(crate) struct Net {
    _dir: TempDir,
    pub(crate) home: Home,
    pub(crate) clock: ManualClock,
    pub(crate) host: Option<Host>,
}

impl Net {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("host"));
        home::init(&home, Some("plaza-it"), T0).unwrap();
        let clock = ManualClock::new(T0);
        let host = Host::start(&home, Arc::new(clock.clone())).unwrap();
        Net {
            _dir: dir,
            home,
            clock,
            host: Some(host),
        }
    }

    /// Starts world sessions on loopback for this host.
    pub(crate) async fn serve(&self) -> Sessions {
        let host = self.host.as_ref().unwrap();
        Sessions::start(
            host.handle(),
            host.blobs(),
            host.uploads(),
            worlds::builtin(),
            self.home.load_host_key().unwrap(),
            SessionSettings::default(),
        )
        .await
        .unwrap()
    }

    pub(crate) fn handle(&self) -> HostHandle {
        self.host.as_ref().unwrap().handle()
    }

    pub(crate) fn key(&self, name: &str) -> Keypair {
        self.home.load_demo_key(name).unwrap()
    }

    /// Stops the host and starts it again from its home.
    pub(crate) async fn restart(&mut self) {
        self.host.take().unwrap().stop().await.unwrap();
        let host = Host::start(&self.home, Arc::new(self.clock.clone())).unwrap();
        self.host = Some(host);
    }

    /// `op` signed by `key` with its next nonce.
    pub(crate) async fn signed(&self, key: &Keypair, op: Operation) -> SignedTransaction {
        let account = self.handle().account(key.address()).await.unwrap();
        Transaction {
            chain_id: ledger::ChainId::new("plaza-it").unwrap(),
            signer: key.address(),
            nonce: account.nonce,
            valid_until: self.clock_now() + 600,
            op,
        }
        .sign(key)
    }

    pub(crate) fn clock_now(&self) -> u64 {
        use server_less::clock::Clock;
        self.clock.now()
    }

    /// Submits `op` and waits for its block; the rejection if refused.
    pub(crate) async fn run(&self, key: &Keypair, op: Operation) -> Result<TxId, String> {
        let tx = self.signed(key, op).await;
        let id = self
            .handle()
            .submit(tx)
            .await
            .map_err(|err| err.to_string())?
            .id();
        match final_status(&self.handle(), id).await {
            TxStatus::Final {
                rejection: None, ..
            } => Ok(id),
            TxStatus::Final {
                rejection: Some(reason),
                ..
            } => Err(reason),
            other => panic!("transaction {id} ended as {other:?}"),
        }
    }

    /// The open rent listings of `owner`'s with hourly periods.
    pub(crate) async fn hourly_listings(&self, owner: &Keypair) -> Vec<Hit> {
        let page = self
            .handle()
            .browse(Query {
                side: Some(Side::Rent),
                owner: Some(owner.address()),
                page_size: 100,
                ..Query::default()
            })
            .await
            .unwrap();
        page.hits
            .into_iter()
            .filter(|hit| {
                matches!(hit.listing.terms, ListingTerms::Rent(terms) if terms.period_secs == 3_600)
            })
            .collect()
    }
}

/// Waits until `id` is in a block.
pub(crate) async fn final_status(handle: &HostHandle, id: TxId) -> TxStatus {
    let (height, rejection) = handle
        .wait_final(id, Duration::from_secs(5))
        .await
        .unwrap_or_else(|err| panic!("transaction {id}: {err}"));
    TxStatus::Final { height, rejection }
}

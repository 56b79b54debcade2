//! A test network: one host made by `init` in a temporary directory, on
//! the machine's clock with world sessions on loopback
//! ([`TestHost::start`]), or on a hand-moved clock that lets days of
//! rentals pass in a moment ([`TestHost::manual`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::{Keypair, ListingTerms, Operation, SignedTransaction, Transaction, TxId};
use market::catalogue::{Hit, Query, Side};
use plaza_client::client::Client;
use server_less::Host;
use server_less::clock::{Clock, ManualClock, SystemClock};
use server_less::home::{self, Home};
use server_less::node::{HostHandle, TxStatus};
use server_less::sessions::{SessionSettings, Sessions};
use server_less::uploads::{UploadLimits, Uploads};
use server_less::worlds;
use tempfile::TempDir;

/// How long a test waits for an answer.
pub const WAIT: Duration = Duration::from_secs(10);
/// The network's name.
pub const CHAIN: &str = "plaza-it";
/// When a network on a hand-moved clock begins.
pub const T0: u64 = 1_800_000_000;

/// A host and its world sessions.
pub struct TestHost {
    _dir: TempDir,
    /// Where the host lives.
    pub home: Home,
    /// The running host.
    pub host: Option<Host>,
    /// Its world sessions.
    pub sessions: Option<Sessions>,
    /// The uploads its sessions take, waiting to be minted.
    pub uploads: Arc<Uploads>,
    /// The hand-moved clock, for a host made by [`TestHost::manual`].
    pub clock: Option<ManualClock>,
}

impl TestHost {
    /// A new network whose uploads are bounded by `uploads` and whose
    /// blocks come at most every `block_interval` (the default when
    /// `None`).
    pub async fn start(uploads: UploadLimits, block_interval: Option<Duration>) -> TestHost {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("host"));
        home::init(&home, Some(CHAIN), SystemClock.now()).unwrap();
        if let Some(interval) = block_interval {
            let mut config = home.load_config().unwrap();
            config.blocks.min_interval_ms = u64::try_from(interval.as_millis()).unwrap();
            std::fs::write(home.config(), config.to_toml()).unwrap();
        }
        let host = Host::start(&home, Arc::new(SystemClock)).unwrap();
        let uploads = Arc::new(Uploads::open(&home.uploads(), uploads).unwrap());
        let sessions = Sessions::start(
            host.handle(),
            host.blobs(),
            uploads.clone(),
            worlds::builtin(),
            home.load_host_key().unwrap(),
            SessionSettings::default(),
            host.take_world_link(),
        )
        .await
        .unwrap();
        TestHost {
            _dir: dir,
            home,
            host: Some(host),
            sessions: Some(sessions),
            uploads,
            clock: None,
        }
    }

    /// A new network whose host runs on a hand-moved clock showing
    /// [`T0`], without sessions (see [`TestHost::serve`]). Must be called
    /// inside a Tokio runtime.
    pub fn manual() -> TestHost {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("host"));
        home::init(&home, Some(CHAIN), T0).unwrap();
        let clock = ManualClock::new(T0);
        let host = Host::start(&home, Arc::new(clock.clone())).unwrap();
        TestHost {
            _dir: dir,
            uploads: host.uploads(),
            home,
            host: Some(host),
            sessions: None,
            clock: Some(clock),
        }
    }

    /// The clock a host made by [`TestHost::manual`] runs on.
    pub fn clock(&self) -> &ManualClock {
        self.clock.as_ref().expect("a host on a hand-moved clock")
    }

    /// The time on the host's clock.
    pub fn clock_now(&self) -> u64 {
        match &self.clock {
            Some(clock) => clock.now(),
            None => SystemClock.now(),
        }
    }

    /// Starts world sessions on loopback for this host, owned by the
    /// caller.
    pub async fn serve(&self) -> Sessions {
        let host = self.host.as_ref().unwrap();
        Sessions::start(
            host.handle(),
            host.blobs(),
            self.uploads.clone(),
            worlds::builtin(),
            self.home.load_host_key().unwrap(),
            SessionSettings::default(),
            host.take_world_link(),
        )
        .await
        .unwrap()
    }

    /// Stops the host and starts it again from its home, on the same
    /// clock.
    pub async fn restart(&mut self) {
        self.host.take().unwrap().stop().await.unwrap();
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(clock) => Arc::new(clock.clone()),
            None => Arc::new(SystemClock),
        };
        self.host = Some(Host::start(&self.home, clock).unwrap());
    }

    /// The open rent listings of `owner`'s with hourly periods.
    pub async fn hourly_listings(&self, owner: &Keypair) -> Vec<Hit> {
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

    /// A new network with the default settings.
    pub async fn default() -> TestHost {
        Self::start(UploadLimits::default(), None).await
    }

    /// The sessions.
    pub fn sessions(&self) -> &Sessions {
        self.sessions.as_ref().unwrap()
    }

    /// Where players join.
    pub fn join(&self) -> SocketAddr {
        self.sessions().join_addr()
    }

    /// The host's handle.
    pub fn handle(&self) -> HostHandle {
        self.host.as_ref().unwrap().handle()
    }

    /// A demo account's key (ada, bo, cy, dee).
    pub fn key(&self, name: &str) -> Keypair {
        self.home.load_demo_key(name).unwrap()
    }

    /// `name` joins and enters Plaza Square.
    pub fn player(&self, name: &str) -> Client {
        enter(self.join(), &self.key(name))
    }

    /// `op` by `key` with its next nonce, signed.
    pub async fn signed(&self, key: &Keypair, op: Operation) -> SignedTransaction {
        let account = self.handle().account(key.address()).await.unwrap();
        Transaction {
            chain_id: ledger::ChainId::new(CHAIN).unwrap(),
            signer: key.address(),
            nonce: account.nonce,
            valid_until: self.clock_now() + 600,
            op,
        }
        .sign(key)
    }

    /// Submits `tx` and waits for its block: `Ok` if applied, the reason
    /// if refused on arrival or in the block.
    pub async fn run_tx(&self, tx: SignedTransaction) -> Result<TxId, String> {
        let id = self
            .handle()
            .submit(tx)
            .await
            .map_err(|err| err.to_string())?
            .id();
        match self.handle().wait_final(id, WAIT).await {
            Ok((_, None)) => Ok(id),
            Ok((_, Some(reason))) => Err(reason),
            Err(err) => panic!("{id}: {err}"),
        }
    }

    /// `key` does `op` in the next block.
    pub async fn run(&self, key: &Keypair, op: Operation) -> Result<TxId, String> {
        let tx = self.signed(key, op).await;
        self.run_tx(tx).await
    }

    /// Stops sessions and host.
    pub async fn stop(mut self) {
        if let Some(sessions) = self.sessions.take() {
            sessions.stop().await;
        }
        if let Some(host) = self.host.take() {
            host.stop().await.unwrap();
        }
    }
}

/// Waits until `id` is in a block.
pub async fn final_status(handle: &HostHandle, id: TxId) -> TxStatus {
    let (height, rejection) = handle
        .wait_final(id, Duration::from_secs(5))
        .await
        .unwrap_or_else(|err| panic!("transaction {id}: {err}"));
    TxStatus::Final { height, rejection }
}

/// `key` joins the host at `join` and enters Plaza Square.
pub fn enter(join: SocketAddr, key: &Keypair) -> Client {
    let mut client = Client::connect(join, key, WAIT).unwrap();
    client.enter("Plaza Square", WAIT).unwrap();
    client
}

/// Whether `client` still gets answers: a catalogue page within the wait.
pub fn answers(client: &mut Client) -> bool {
    client
        .browse(
            plaza_client::protocol::Browse {
                page_size: 3,
                ..plaza_client::protocol::Browse::default()
            },
            WAIT,
        )
        .is_ok()
}

/// Keeps `clients` pumped for `duration`; false if any session ended.
pub fn keep_up(clients: &mut [&mut Client], duration: Duration) -> bool {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        for client in clients.iter_mut() {
            if client.pump().is_err() {
                return false;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

//! A test network: one host made by `init` in a temporary directory,
//! running on the machine's clock, with world sessions on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::{Keypair, Operation, SignedTransaction, Transaction, TxId};
use plaza_client::client::Client;
use server_less::Host;
use server_less::clock::{Clock, SystemClock};
use server_less::home::{self, Home};
use server_less::node::HostHandle;
use server_less::sessions::{SessionSettings, Sessions};
use server_less::uploads::{UploadLimits, Uploads};
use server_less::worlds;
use tempfile::TempDir;

/// How long a test waits for an answer.
pub const WAIT: Duration = Duration::from_secs(10);
/// The network's name.
pub const CHAIN: &str = "plaza-hostile";

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
        )
        .await
        .unwrap();
        TestHost {
            _dir: dir,
            home,
            host: Some(host),
            sessions: Some(sessions),
            uploads,
        }
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
            valid_until: SystemClock.now() + 600,
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

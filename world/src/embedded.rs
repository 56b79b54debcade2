//! The host inside the client: a network of one in the player's data
//! directory, made on first use, serving sessions on loopback ports of
//! its own.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use ledger::{Keypair, Operation};
use plaza_client::client::Client;
use plaza_client::protocol::TxState;
use server_less::clock::{Clock, SystemClock};
use server_less::home::{self, Home};
use server_less::sessions::{self, Sessions};
use server_less::{Host, HostError};

use crate::wallet::WELCOME_GRANT;

/// The demo account a new wallet's first tokens come from.
const GRANTER: &str = "ada";

/// What the embedded host's calls return: the host's own errors, with
/// what to do in words where there is something to do.
pub type Result<T> = anyhow::Result<T>;

/// A running embedded host.
pub struct Embedded {
    runtime: tokio::runtime::Runtime,
    parts: Option<(Host, Sessions)>,
    home: Home,
    join: SocketAddr,
}

impl Embedded {
    /// Opens (or first makes) the network in `dir` and serves it: on
    /// loopback ports of its own with `private`, else on the ports and
    /// address its config.toml names (as `plaza-host run` does).
    pub fn start(dir: &Path, private: bool) -> Result<Embedded> {
        let home = Home::new(dir);
        if !home.is_initialised() {
            let made = home::init(&home, None, SystemClock.now())
                .map_err(|err| anyhow::anyhow!("making a network in {}: {err}", dir.display()))?;
            tracing::info!(chain = %made.chain_id, home = %dir.display(), "a new network for this world");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("plaza-host")
            .enable_all()
            .build()
            .map_err(|err| HostError::io(dir, err))?;
        let started = runtime.block_on(sessions::serve(&home, Arc::new(SystemClock), |settings| {
            if private {
                // Loopback ports of its own, so a standalone host can
                // run beside it.
                settings.bind = std::net::Ipv4Addr::LOCALHOST.into();
                settings.join_port = 0;
                settings.udp_port = 0;
            }
        }));
        let (host, sessions) = started.map_err(|err| match err {
            HostError::Ledger(err) if err.is_locked() => {
                anyhow::anyhow!(
                    "another host (a plaza or plaza-host) has {} open: stop it, or pass --data <another dir>",
                    dir.display()
                )
            }
            err => anyhow::Error::from(err),
        })?;
        let join = sessions.join_addr();
        tracing::info!(%join, "the embedded host takes players at this join address");
        Ok(Embedded {
            runtime,
            parts: Some((host, sessions)),
            home,
            join,
        })
    }

    /// Where players join.
    pub fn join_addr(&self) -> SocketAddr {
        self.join
    }

    /// Calls `ready` once Ctrl-C (SIGINT) is listened for, then serves
    /// until it comes.
    pub fn serve_until_interrupted(&self, ready: impl FnOnce()) -> Result<()> {
        let Some((host, _)) = &self.parts else {
            bail!("the embedded host has stopped");
        };
        Ok(self
            .runtime
            .block_on(sessions::until_interrupted(host, ready))?)
    }

    /// Pays [`WELCOME_GRANT`] tokens to `to` from the embedded network's
    /// demo account, and waits until it is final.
    pub fn grant(&self, to: &Keypair, world: &str) -> Result<()> {
        let wait = Duration::from_secs(20);
        let granter = self.home().load_demo_key(GRANTER)?;
        let mut client = Client::connect(self.join_addr(), &granter, wait)?;
        client.enter(world, wait)?;
        let (_, state) = client.act(
            Operation::Pay {
                to: to.address(),
                amount: WELCOME_GRANT,
            },
            wait,
        )?;
        client.disconnect();
        match state {
            TxState::Applied { height } => {
                tracing::info!(
                    tokens = WELCOME_GRANT,
                    height,
                    "your wallet was given its first tokens"
                );
                Ok(())
            }
            other => bail!("the first tokens for your wallet did not arrive: {other:?}"),
        }
    }

    /// The host's home directory.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Stops serving and closes the ledger.
    pub fn stop(mut self) -> Result<()> {
        self.shut()
    }

    fn shut(&mut self) -> Result<()> {
        let Some((host, sessions)) = self.parts.take() else {
            return Ok(());
        };
        self.runtime.block_on(async {
            sessions.stop().await;
            host.stop().await
        })?;
        Ok(())
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Err(err) = self.shut() {
            tracing::warn!(%err, "the embedded host did not stop cleanly");
        }
    }
}

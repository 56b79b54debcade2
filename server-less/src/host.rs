//! A running host: the ledger thread and its block engine.

use std::sync::Arc;

use assets::BlobStore;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use crate::clock::Clock;
use crate::config::Config;
use crate::engine::{Engine, Solo};
use crate::error::HostError;
use crate::home::Home;
use crate::node::{self, HostHandle};

/// A host that is running.
pub struct Host {
    handle: HostHandle,
    stop: watch::Sender<bool>,
    engine: JoinHandle<Result<(), HostError>>,
    ledger_thread: std::thread::JoinHandle<()>,
    blobs: Arc<BlobStore>,
    config: Config,
}

impl Host {
    /// Opens the host in `home` and starts its ledger thread and the solo
    /// block engine configured there. Must be called inside a Tokio
    /// runtime.
    pub fn start(home: &Home, clock: Arc<dyn Clock>) -> Result<Host, HostError> {
        let config = home.load_config()?;
        let engine = Solo {
            min_interval: Duration::from_millis(config.blocks.min_interval_ms),
        };
        Self::launch(home, &config, clock, Box::new(engine))
    }

    /// As [`Host::start`], with another block engine.
    pub fn start_with(
        home: &Home,
        clock: Arc<dyn Clock>,
        engine: Box<dyn Engine>,
    ) -> Result<Host, HostError> {
        Self::launch(home, &home.load_config()?, clock, engine)
    }

    fn launch(
        home: &Home,
        config: &Config,
        clock: Arc<dyn Clock>,
        engine: Box<dyn Engine>,
    ) -> Result<Host, HostError> {
        let key = home.load_host_key()?;
        let blobs = Arc::new(home.open_blobs()?);
        let (handle, ledger_thread) = node::start(
            &home.ledger(),
            blobs.clone(),
            crate::worlds::builtin()
                .into_iter()
                .map(|world| world.layout)
                .collect(),
            key.address(),
            config.node_settings(),
            clock,
        )?;
        let chain = handle.work().borrow().height;
        info!(home = %home.root().display(), height = chain, "host started");
        let (stop, stop_rx) = watch::channel(false);
        let engine = tokio::spawn(engine.run(handle.clone(), stop_rx));
        Ok(Host {
            handle,
            stop,
            engine,
            ledger_thread,
            blobs,
            config: config.clone(),
        })
    }

    /// A handle for sessions, tools and tests.
    pub fn handle(&self) -> HostHandle {
        self.handle.clone()
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The blob store: asset manifests, models and previews.
    pub fn blobs(&self) -> Arc<BlobStore> {
        self.blobs.clone()
    }

    /// Stops making blocks, lets the ledger thread finish what it holds,
    /// and closes the ledger. Everything committed stays committed.
    pub async fn stop(self) -> Result<(), HostError> {
        let _ = self.stop.send(true);
        let engine = self.engine.await;
        // Handles still held elsewhere are answered `Stopped` from now on.
        self.handle.shutdown().await;
        let thread = self.ledger_thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|_| HostError::Stopped)?
            .map_err(|_| HostError::Stopped)?;
        info!("host stopped");
        match engine {
            Ok(result) => result,
            Err(_) => Err(HostError::Stopped),
        }
    }
}

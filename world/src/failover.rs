//! Moving to another host: when the player goes to a world its host does
//! not serve (the world list names hosts that do), and when the host
//! goes. A player whose host falls silent (nothing heard
//! for [`HOST_GONE_AFTER`], though a living host is heard several times a
//! second) or ends the session, and that was told of other hosts of its
//! world, is taken to one of them. The join runs on a thread of its own,
//! so the frame loop goes on drawing; once in, the new session replaces
//! the old, the world is entered again where the new host last saw the
//! player at the old one (its spawn point if it saw nothing) with what the
//! player wore back on, and what was asked of the old host is
//! asked again or let go (an open trade ends: its window lived at the old
//! host). Nothing final is lost: every host reads the same ledger.

use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_renet::RenetClient;
use plaza_client::ClientError;
use plaza_client::client::{Client, HOST_GONE_AFTER, Rejoin, Session};

use crate::AppSystems;
use crate::net::{Arrival, Connection, HostSession, HostTransport, NetStatus, arrived};

/// Where another host takes players, and the session there.
type Joined = Result<(std::net::SocketAddr, Client), ClientError>;

/// How long joining one other host may take.
const JOIN_WAIT: Duration = Duration::from_secs(10);

/// Where going on at another host stands.
#[derive(Resource, Default)]
pub struct Failover {
    /// A join under way: since when, and where its session comes.
    joining: Option<(Instant, Mutex<Receiver<Joined>>)>,
    /// What the player is told meanwhile.
    pub note: Option<String>,
    /// How long the last move to another host took, once done.
    pub took: Option<Duration>,
}

impl Failover {
    /// Whether a join is under way.
    pub fn joining(&self) -> bool {
        self.joining.is_some()
    }

    /// Starts joining as `rejoin` says, on a thread of its own, telling
    /// the player `note` meanwhile; the session there replaces this one
    /// once in. Nothing starts while another join is under way.
    pub fn start(&mut self, rejoin: Rejoin, note: String) -> Result<(), String> {
        if self.joining() {
            return Err("already joining another host".into());
        }
        let (done, comes) = mpsc::channel();
        std::thread::Builder::new()
            .name("plaza-rejoin".into())
            .spawn(move || {
                let _ = done.send(rejoin.join(JOIN_WAIT));
            })
            .map_err(|err| format!("cannot start joining: {err}"))?;
        self.joining = Some((Instant::now(), Mutex::new(comes)));
        self.note = Some(note);
        Ok(())
    }
}

/// Takes a player whose host went away to another host of its world.
pub struct FailoverPlugin;

impl Plugin for FailoverPlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.init_resource::<Failover>().add_systems(
            Update,
            (watch_host, go_on)
                .chain()
                .in_set(AppSystems::Session)
                .after(crate::net::pump),
        );
    }
}

/// Notices a host gone (silent, or the session ended) and starts joining
/// another of the world's hosts the player was told of.
fn watch_host(
    mut connection: Connection,
    transport: Option<Res<HostTransport>>,
    mut status: ResMut<NetStatus>,
    mut failover: ResMut<Failover>,
) {
    if failover.joining() {
        return;
    }
    let Some(transport) = transport else {
        return;
    };
    let silent = transport.0.silent_for();
    if status.ended.is_none() && silent <= HOST_GONE_AFTER {
        return;
    }
    let Some(client) = connection.get() else {
        return;
    };
    let rejoin = client.state.rejoin();
    if rejoin.hosts.is_empty() {
        if status.ended.is_none() {
            status.ended = Some(format!(
                "the host has been silent for {} s and named no other host of this world",
                silent.as_secs()
            ));
        }
        return;
    }
    warn!(
        silent_ms = silent.as_millis() as u64,
        hosts = rejoin.hosts.len(),
        "the host is gone: joining another host of this world"
    );
    let note = "the host is gone: joining another host of this world…".to_owned();
    if let Err(err) = failover.start(rejoin, note) {
        status.ended = Some(format!("the host is gone, and {err}"));
    }
}

/// Once in at another host: its session replaces the old one, and the
/// world is entered again there.
fn go_on(
    mut commands: Commands,
    mut failover: ResMut<Failover>,
    mut arrival: Arrival,
    old: Option<ResMut<HostTransport>>,
) {
    let Some((since, comes)) = &failover.joining else {
        return;
    };
    let since = *since;
    let outcome = match comes.lock().unwrap_or_else(|p| p.into_inner()).try_recv() {
        Ok(outcome) => outcome,
        Err(TryRecvError::Empty) => return,
        Err(TryRecvError::Disconnected) => {
            Err(ClientError::Disconnected("the join was given up".into()))
        }
    };
    failover.joining = None;
    failover.note = None;
    let (host, client) = match outcome {
        Ok(joined) => joined,
        Err(err) => {
            warn!(%err, "no other host of this world let the player in");
            arrival.status.ended = Some(format!(
                "the host is gone, and no other host of this world let you in: {err}"
            ));
            return;
        }
    };
    let (mut renet, transport, mut state) = client.into_parts();
    let host = host.to_string();
    let Some(welcome) = state.welcome().cloned() else {
        arrival.status.ended = Some("another host let you in but said no welcome".into());
        return;
    };
    // The old host, if it still lives, hears the player go.
    if let Some(mut old) = old {
        old.0.disconnect();
    }
    arrival.status.ended = None;
    arrived(
        &mut arrival,
        &mut Session {
            renet: &mut renet,
            state: &mut state,
        },
        welcome,
        Some(host.clone()),
    );
    commands.insert_resource(RenetClient(renet));
    commands.insert_resource(HostTransport(transport));
    commands.insert_resource(HostSession(state));
    let took = since.elapsed();
    failover.took = Some(took);
    info!(%host, took_ms = took.as_millis() as u64, "back in the world at another host");
}

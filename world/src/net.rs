//! The session with the host, the Bevy way: the renet client is a
//! resource updated by `bevy_renet`'s client plugin; Plaza's transport
//! (netcode with bundled datagrams, which the host speaks: `bevy_renet`'s
//! own netcode transport does not bundle) is a resource read in
//! `PreUpdate` and flushed in `PostUpdate`, in `bevy_renet`'s receive and
//! send sets; what the session remembers (requests, answers, avatars) is
//! a resource too. Every frame the answers are handed to the loader and
//! the marketplace, the avatar's state goes out at the host's tick, and
//! other players' avatars come in and are drawn smoothly with name tags.
//! The end of a session is a [`SessionEnded`] message.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_renet::{RenetClient, RenetClientPlugin, RenetReceive, RenetSend};
use plaza_client::client::{Client, Session, SessionState, Welcome};
use plaza_client::protocol::{
    self, AvatarState, ClientMessage, Event, Gait, PlayerInfo, ServerMessage,
};
use plaza_client::transport::ClientTransport;

use crate::AppSystems;
use crate::avatar::LocalAvatar;
use crate::interp::Track;
use crate::marketplace::Marketplace;
use crate::stalls::{Loader, Restock};

/// What the session with the host remembers: requests in flight and held
/// back, answers not yet taken, the avatars in view, the welcome.
#[derive(Resource, Debug)]
pub struct HostSession(pub SessionState);

/// The session's transport: netcode over UDP, with the renet packets of
/// one update bundled into as few datagrams as fit.
#[derive(Resource)]
pub struct HostTransport(pub ClientTransport);

/// The session ended: the host disconnected, or the network failed.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct SessionEnded {
    /// Why.
    pub reason: String,
}

/// The session as a system uses it: the renet client and what the session
/// remembers, when there is a session.
#[derive(SystemParam)]
pub struct Connection<'w> {
    renet: Option<ResMut<'w, RenetClient>>,
    state: Option<ResMut<'w, HostSession>>,
}

impl Connection<'_> {
    /// The session, if there is one.
    pub fn get(&mut self) -> Option<Session<'_>> {
        match (&mut self.renet, &mut self.state) {
            (Some(renet), Some(state)) => Some(Session {
                renet: &mut renet.0,
                state: &mut state.0,
            }),
            _ => None,
        }
    }
}

/// Puts `client`'s session into `app` as the resources [`NetPlugin`]
/// runs: the renet client, the transport and what the session remembers.
pub fn insert_session(app: &mut App, client: Client) {
    let (renet, transport, state) = client.into_parts();
    app.insert_resource(RenetClient(renet))
        .insert_resource(HostTransport(transport))
        .insert_resource(HostSession(state));
}

/// What is known of the other players.
#[derive(Resource, Debug)]
pub struct Remotes {
    /// When the session began: track times count from it.
    pub started: Instant,
    /// This player's number, whose own avatar is not drawn twice.
    pub me: u16,
    /// Each avatar in view, by player number.
    pub tracks: HashMap<u16, Track>,
    /// When each was last heard of.
    heard: HashMap<u16, Instant>,
    /// How each moved when last heard of.
    gaits: HashMap<u16, Gait>,
    /// Players' names (their account, shortened), by number.
    pub names: HashMap<u16, String>,
}

impl Remotes {
    /// No one in view yet; `me` is this player's number, `players` those
    /// already in the world.
    pub fn new(me: u16, players: &[PlayerInfo]) -> Self {
        Remotes {
            started: Instant::now(),
            me,
            tracks: HashMap::new(),
            heard: HashMap::new(),
            gaits: HashMap::new(),
            names: players
                .iter()
                .map(|info| (info.player, short(&info.account.to_string())))
                .collect(),
        }
    }

    /// A player's name tag text.
    pub fn name(&self, player: u16) -> String {
        self.names
            .get(&player)
            .cloned()
            .unwrap_or_else(|| format!("player {player}"))
    }

    /// Seconds since the session began, at `at`.
    pub fn seconds(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.started).as_secs_f64()
    }

    /// Takes in the avatars the client has heard of: new updates join
    /// their tracks, avatars no longer in view are dropped.
    pub fn heard(&mut self, avatars: &HashMap<u16, (AvatarState, Instant)>) {
        for (player, (state, at)) in avatars {
            if *player == self.me || self.heard.get(player).is_some_and(|last| last >= at) {
                continue;
            }
            self.heard.insert(*player, *at);
            self.gaits.insert(*player, state.gait);
            let p = state.position();
            let time = self.seconds(*at);
            self.tracks.entry(*player).or_default().push(
                time,
                Vec3::new(p[0], p[1] + 0.9, p[2]),
                state.yaw(),
            );
        }
        self.tracks.retain(|player, _| avatars.contains_key(player));
        self.heard.retain(|player, _| avatars.contains_key(player));
        self.gaits.retain(|player, _| avatars.contains_key(player));
    }

    /// How `player`'s avatar moves, as last heard (standing if unheard).
    pub fn gait(&self, player: u16) -> Gait {
        self.gaits.get(&player).copied().unwrap_or(Gait::Idle)
    }
}

/// Where the session stands, for the heads-up display.
#[derive(Resource, Debug, Default)]
pub struct NetStatus {
    /// The last block heard of.
    pub height: u64,
    /// Why the session ended, if it has.
    pub ended: Option<String>,
    /// What the host last said unasked (why it is about to end the
    /// session, when it stops).
    pub host_said: Option<String>,
    /// The latest chat lines.
    pub chat: Vec<String>,
}

impl NetStatus {
    /// Keeps `line` among the latest chat lines.
    pub fn hear(&mut self, line: String) {
        self.chat.push(line);
        let extra = self.chat.len().saturating_sub(CHAT_KEPT);
        self.chat.drain(..extra);
    }
}

/// Chat lines kept for the status panel.
const CHAT_KEPT: usize = 6;

/// Another player's avatar.
#[derive(Component, Debug)]
pub struct RemoteAvatar(pub u16);

/// Where the name tags go this frame: each other player's name and the
/// point on screen above their head (drawn by the status panel's egui
/// pass, beneath the panels).
#[derive(Resource, Debug, Default)]
pub struct TagSpots(pub Vec<(String, Vec2)>);

/// Moves the avatar's state to the host and other players' to the scene.
pub struct NetPlugin;

impl Plugin for NetPlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        if !app.is_plugin_added::<RenetClientPlugin>() {
            app.add_plugins(RenetClientPlugin);
        }
        let connected = resource_exists::<RenetClient>.and_then(resource_exists::<HostTransport>);
        app.init_resource::<NetStatus>()
            .init_resource::<TagSpots>()
            .add_message::<SessionEnded>()
            .add_systems(
                PreUpdate,
                read_datagrams
                    .in_set(RenetReceive)
                    .after(RenetClientPlugin::update_system)
                    .run_if(connected.clone()),
            )
            .add_systems(
                PostUpdate,
                send_datagrams.in_set(RenetSend).run_if(connected),
            )
            .add_systems(Update, pump.in_set(AppSystems::Session))
            .add_systems(Update, send_move.in_set(AppSystems::Move))
            .add_systems(
                Update,
                (draw_remotes, place_tags).chain().in_set(AppSystems::Draw),
            );
    }
}

/// Reads the datagrams that arrived into the renet client.
fn read_datagrams(
    mut transport: ResMut<HostTransport>,
    mut renet: ResMut<RenetClient>,
    time: Res<Time<Real>>,
    mut status: ResMut<NetStatus>,
    mut ended: MessageWriter<SessionEnded>,
) {
    if status.ended.is_some() {
        return;
    }
    if let Err(reason) = transport.0.update(time.delta(), &mut renet.0) {
        end(&mut status, &mut ended, reason);
    }
}

/// Sends what the renet client has queued.
fn send_datagrams(
    mut transport: ResMut<HostTransport>,
    mut renet: ResMut<RenetClient>,
    mut status: ResMut<NetStatus>,
    mut ended: MessageWriter<SessionEnded>,
) {
    if status.ended.is_some() {
        return;
    }
    if let Err(reason) = transport.0.send_packets(&mut renet.0) {
        end(&mut status, &mut ended, reason);
    }
}

fn end(status: &mut NetStatus, ended: &mut MessageWriter<SessionEnded>, reason: String) {
    // The host's own words say more than the transport's.
    let reason = match status.host_said.take() {
        Some(said) => format!("{said} ({reason})"),
        None => reason,
    };
    warn!("the session ended: {reason}");
    status.ended = Some(reason.clone());
    ended.write(SessionEnded { reason });
}

/// What changes when the player arrives in another world.
#[derive(SystemParam)]
pub struct Arrival<'w, 's> {
    commands: Commands<'w, 's>,
    scene: Option<ResMut<'w, crate::WorldScene>>,
    remotes: ResMut<'w, Remotes>,
    pub(crate) status: ResMut<'w, NetStatus>,
    stock: Option<ResMut<'w, crate::stalls::StallItems>>,
    marketplace: Option<ResMut<'w, Marketplace>>,
    highlight: Option<ResMut<'w, crate::ui::Highlight>>,
    card: Option<ResMut<'w, crate::ui::CardFocus>>,
}

/// Sends the player to `world` (one of those its host serves): the
/// host's welcome there rebuilds the scene.
pub fn travel(client: &mut Session<'_>, world: &str) -> Result<(), plaza_client::ClientError> {
    client.send(&ClientMessage::Hello {
        version: plaza_client::protocol::VERSION,
        world: world.to_owned(),
    })
}

/// The player is in `welcome`'s world now: its scene, its players, and
/// its stalls' items loading; at another host (`new_host`, its join
/// address), if it moved there, where what was asked of the old host is
/// asked again or let go.
pub(crate) fn arrived(
    arrival: &mut Arrival<'_, '_>,
    client: &mut Session<'_>,
    welcome: Welcome,
    new_host: Option<String>,
) {
    let name = welcome.world.name.clone();
    *arrival.remotes = Remotes::new(welcome.player, &welcome.players);
    arrival.status.height = arrival.status.height.max(welcome.height);
    if let Some(scene) = arrival.scene.as_mut() {
        let account = scene.account.clone();
        let host = new_host.clone().unwrap_or_else(|| scene.host.clone());
        **scene = crate::WorldScene::new(welcome, account, host);
    }
    if let Some(stock) = arrival.stock.as_mut() {
        stock.0.clear();
    }
    // What was pointed out or opened was the old world's.
    if let Some(highlight) = arrival.highlight.as_mut() {
        highlight.0 = None;
    }
    if let Some(card) = arrival.card.as_mut() {
        card.0 = None;
    }
    let Some(marketplace) = arrival.marketplace.as_mut() else {
        return;
    };
    marketplace.arrived_in_world();
    if new_host.is_some() {
        marketplace.host_changed();
        marketplace.block_again(client);
    }
    marketplace.search(
        client,
        plaza_client::protocol::Browse {
            world: Some(name.clone()),
            page_size: crate::catalogue::PAGE,
            ..plaza_client::protocol::Browse::default()
        },
    );
    if let Some(cache) = marketplace.cache.clone() {
        match Loader::start(client, &name, &cache) {
            Ok(loader) => arrival.commands.insert_resource(loader),
            Err(err) => warn!(%err, world = %name, "the stalls' items cannot be loaded"),
        }
    }
    info!(world = %name, "arrived in another world");
}

/// Takes what the session received and hands it on: answers to the
/// loader and the marketplace, players and chat to the scene.
pub(crate) fn pump(
    mut connection: Connection,
    mut ended: MessageWriter<SessionEnded>,
    mut loader: Option<ResMut<Loader>>,
    mut arrival: Arrival,
    mut restock: Local<Restock>,
) {
    if arrival.status.ended.is_some() {
        arrival.remotes.tracks.clear();
        return;
    }
    let Some(mut client) = connection.get() else {
        return;
    };
    let client = &mut client;
    if let Err(err) = client.receive() {
        end(&mut arrival.status, &mut ended, err.to_string());
        arrival.remotes.tracks.clear();
        return;
    }
    for message in client.drain() {
        let message = match loader.as_mut().filter(|loader| !loader.done) {
            Some(loader) => match loader.take(client, message) {
                Some(message) => message,
                None => continue,
            },
            None => message,
        };
        let message = match arrival.marketplace.as_mut() {
            Some(marketplace) => match marketplace.take(client, message) {
                Some(message) => message,
                None => continue,
            },
            None => message,
        };
        match message {
            ServerMessage::PlayerJoined(info) => {
                arrival
                    .remotes
                    .names
                    .insert(info.player, short(&info.account.to_string()));
            }
            ServerMessage::PlayerLeft { player } => {
                arrival.remotes.names.remove(&player);
            }
            ServerMessage::Event(Event::Block {
                height, restock: r, ..
            }) => {
                arrival.status.height = height;
                restock.wanted |= r;
            }
            // In another world (the player travelled): its scene, its
            // players, its stalls.
            ServerMessage::Welcome { .. } => {
                if let Some(welcome) = client.welcome().cloned() {
                    arrived(&mut arrival, client, welcome, None);
                }
            }
            // Unasked: the host says why it is about to end the session.
            ServerMessage::Error {
                request: None,
                code: plaza_client::protocol::ErrorCode::Unavailable,
                message,
            } => {
                arrival.status.hear(format!("host: {message}"));
                arrival.status.host_said = Some(message);
            }
            // A muted player's lines are not shown.
            ServerMessage::Chat {
                player,
                account,
                text,
            } if hears(&arrival, &account) => {
                let who = arrival.remotes.name(player);
                arrival.status.hear(format!("{who}: {text}"));
            }
            ServerMessage::Told {
                player,
                account,
                text,
            } if hears(&arrival, &account) => {
                let who = arrival.remotes.name(player);
                arrival.status.hear(format!("{who} (to you): {text}"));
            }
            _ => {}
        }
    }
    if let Some(marketplace) = arrival.marketplace.as_mut() {
        marketplace.advance(client);
    }
    arrival.remotes.heard(client.avatars());
    // The stalls show other listings: read them again, one reading at a
    // time (a world's first loading included).
    let reading = loader.as_ref().is_some_and(|loader| !loader.done);
    if !reading && restock.due(Instant::now()) {
        let world = client.welcome().map(|welcome| welcome.world.name.clone());
        let cache = arrival
            .marketplace
            .as_ref()
            .and_then(|marketplace| marketplace.cache.clone());
        if let (Some(world), Some(cache)) = (world, cache) {
            match Loader::restock(client, &world, &cache) {
                Ok(loader) => arrival.commands.insert_resource(loader),
                Err(err) => warn!(%err, %world, "the stalls cannot be read again"),
            }
        }
    }
}

/// Whether lines of `account` are shown (not when the player mutes it).
fn hears(arrival: &Arrival, account: &ledger::Address) -> bool {
    arrival
        .marketplace
        .as_ref()
        .is_none_or(|marketplace| marketplace.hears(account))
}

/// An account shown short: `plaza1abcd..wxyz` (the world's font has
/// ASCII only).
pub fn short(account: &str) -> String {
    if account.len() <= 16 || !account.is_ascii() {
        return account.to_owned();
    }
    format!("{}..{}", &account[..10], &account[account.len() - 4..])
}

fn send_move(
    mut connection: Connection,
    time: Res<Time>,
    mut since: Local<Duration>,
    avatar: Query<(&Transform, &LocalAvatar)>,
) {
    let Some(mut session) = connection.get() else {
        return;
    };
    *since += time.delta();
    let tick = Duration::from_secs(1) / protocol::TICK_HZ;
    if *since < tick {
        return;
    }
    // The remainder carries over, so moves go out at the tick's rate
    // whatever the frame rate.
    *since = (*since - tick).min(tick);
    let Ok((transform, avatar)) = avatar.single() else {
        return;
    };
    let at = transform.translation;
    let state = AvatarState::new([at.x, 0.0, at.z], avatar.facing, avatar.gait);
    if let Err(err) = session.send_move(state) {
        warn!(%err, "a move could not be sent");
    }
}

/// Spawns, moves and removes other players' avatars from their tracks
/// (each is drawn as its figure: see [`crate::figure`]).
pub fn draw_remotes(
    mut commands: Commands,
    remotes: Res<Remotes>,
    mut drawn: Query<(Entity, &RemoteAvatar, &mut Transform)>,
) {
    let now = remotes.seconds(Instant::now());
    let mut present = std::collections::HashSet::new();
    for (entity, remote, mut transform) in &mut drawn {
        match remotes
            .tracks
            .get(&remote.0)
            .and_then(|track| track.sample(now))
        {
            Some((position, yaw)) => {
                present.insert(remote.0);
                transform.translation = position;
                transform.rotation = Quat::from_rotation_y(yaw);
            }
            None => commands.entity(entity).despawn(),
        }
    }
    for (player, track) in &remotes.tracks {
        if present.contains(player) {
            continue;
        }
        let Some((position, yaw)) = track.sample(now) else {
            continue;
        };
        commands.spawn((
            RemoteAvatar(*player),
            Transform::from_translation(position).with_rotation(Quat::from_rotation_y(yaw)),
            Visibility::default(),
        ));
    }
}

/// Each avatar drawn, by player number: the others', and this player's
/// own (`me`) once it is in a world.
pub fn avatars_by_player(
    me: Option<u16>,
    local: &Query<Entity, With<LocalAvatar>>,
    remotes: &Query<(Entity, &RemoteAvatar)>,
) -> HashMap<u16, Entity> {
    let mut avatars: HashMap<u16, Entity> = remotes
        .iter()
        .map(|(entity, remote)| (remote.0, entity))
        .collect();
    if let (Some(me), Ok(entity)) = (me, local.single()) {
        avatars.insert(me, entity);
    }
    avatars
}

/// Where other players' name tags go this frame.
pub fn place_tags(
    remotes: Res<Remotes>,
    camera: Query<(&Camera, &Transform), With<Camera3d>>,
    avatars: Query<(&RemoteAvatar, &Transform), Without<Camera3d>>,
    mut spots: ResMut<TagSpots>,
) {
    spots.0.clear();
    let Ok((camera, eye)) = camera.single() else {
        return;
    };
    // The camera is a root entity: its transform this frame is where it
    // is (its global transform is a frame behind until propagation).
    let eye = &GlobalTransform::from(*eye);
    for (remote, transform) in &avatars {
        if let Ok(spot) = camera.world_to_viewport(eye, transform.translation + Vec3::Y * 1.3) {
            spots.0.push((remotes.name(remote.0), spot));
        }
    }
}

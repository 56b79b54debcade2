//! The session with the host: the client is pumped every frame, the
//! avatar's state goes out at the host's tick, and other players'
//! avatars come in and are drawn smoothly with name tags.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use plaza_client::client::Client;
use plaza_client::protocol::{self, AvatarState, Event, PlayerInfo, ServerMessage};

use crate::AppSystems;
use crate::avatar::{LocalAvatar, body_mesh};
use crate::interp::Track;
use crate::marketplace::Marketplace;
use crate::stalls::Loader;

/// The connected client (not `Sync`: it lives on the main thread).
pub struct Session(pub Client);

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
    }
}

/// Where the session stands, for the heads-up display.
#[derive(Resource, Debug, Default)]
pub struct NetStatus {
    /// The last block heard of.
    pub height: u64,
    /// Why the session ended, if it has.
    pub ended: Option<String>,
    /// The latest chat lines.
    pub chat: Vec<String>,
}

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
        app.init_resource::<NetStatus>()
            .init_resource::<TagSpots>()
            .add_systems(Update, pump.in_set(AppSystems::Session))
            .add_systems(Update, send_move.in_set(AppSystems::Move))
            .add_systems(
                Update,
                (draw_remotes, place_tags).chain().in_set(AppSystems::Draw),
            );
    }
}

fn pump(
    session: Option<NonSendMut<Session>>,
    mut remotes: ResMut<Remotes>,
    mut status: ResMut<NetStatus>,
    mut marketplace: Option<ResMut<Marketplace>>,
    mut loader: Option<ResMut<Loader>>,
) {
    let Some(mut session) = session else {
        return;
    };
    if status.ended.is_some() {
        return;
    }
    let client = &mut session.0;
    if let Err(err) = client.pump() {
        warn!("the session ended: {err}");
        status.ended = Some(err.to_string());
        remotes.tracks.clear();
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
        let message = match marketplace.as_mut() {
            Some(marketplace) => match marketplace.take(client, message) {
                Some(message) => message,
                None => continue,
            },
            None => message,
        };
        match message {
            ServerMessage::PlayerJoined(info) => {
                remotes
                    .names
                    .insert(info.player, short(&info.account.to_string()));
            }
            ServerMessage::PlayerLeft { player } => {
                remotes.names.remove(&player);
            }
            ServerMessage::Event(Event::Block { height, .. }) => status.height = height,
            ServerMessage::Chat { player, text, .. } => {
                let who = remotes.name(player);
                status.chat.push(format!("{who}: {text}"));
                let extra = status.chat.len().saturating_sub(6);
                status.chat.drain(..extra);
            }
            _ => {}
        }
    }
    if let Some(marketplace) = marketplace.as_mut() {
        marketplace.advance(client);
    }
    remotes.heard(client.avatars());
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
    session: Option<NonSendMut<Session>>,
    time: Res<Time>,
    mut since: Local<Duration>,
    avatar: Query<(&Transform, &LocalAvatar)>,
) {
    let Some(mut session) = session else {
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
    if let Err(err) = session.0.send_move(state) {
        warn!(%err, "a move could not be sent");
    }
}

/// Spawns, moves and removes other players' avatars from their tracks.
pub fn draw_remotes(
    mut commands: Commands,
    remotes: Res<Remotes>,
    mut drawn: Query<(Entity, &RemoteAvatar, &mut Transform)>,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
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
    let missing: Vec<u16> = remotes
        .tracks
        .keys()
        .filter(|player| !present.contains(*player))
        .copied()
        .collect();
    if missing.is_empty() {
        return;
    }
    let look = match (meshes, materials) {
        (Some(mut meshes), Some(mut materials)) => Some((
            meshes.add(body_mesh()),
            materials.add(StandardMaterial {
                base_color: Color::srgb(0.85, 0.45, 0.25),
                ..default()
            }),
        )),
        _ => None,
    };
    for player in missing {
        let Some((position, yaw)) = remotes.tracks[&player].sample(now) else {
            continue;
        };
        let mut avatar = commands.spawn((
            RemoteAvatar(player),
            Transform::from_translation(position).with_rotation(Quat::from_rotation_y(yaw)),
            Visibility::default(),
        ));
        if let Some((mesh, material)) = &look {
            avatar.insert((Mesh3d(mesh.clone()), MeshMaterial3d(material.clone())));
        }
    }
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

//! A headless player: walks a world at the avatar tick, looks at the
//! catalogue now and then, and says what it sees. The load benchmark runs
//! hundreds; `plaza-host bot` runs one against a live host.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::info;

use crate::client::Client;
use crate::error::ClientError;
use crate::protocol::{AvatarState, Browse, Gait, Slot, Worn};

/// Walking speed, metres per second.
const WALK: f32 = 1.4;
/// Running speed, metres per second.
const RUN: f32 = 6.0;

/// A bot's legs: a random walk inside a circle.
#[derive(Clone, Debug)]
pub struct Walker {
    rng: StdRng,
    position: [f32; 3],
    heading: f32,
    centre: [f32; 2],
    radius: f32,
    /// Where it runs to from the spawn point before it wanders.
    goal: Option<[f32; 2]>,
}

impl Walker {
    /// A walker that appears at `centre`, runs to a spot within `radius`
    /// of it picked from `seed`, and wanders inside that circle.
    pub fn new(seed: u64, centre: [f32; 2], radius: f32) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let angle = rng.gen_range(0.0..std::f32::consts::TAU);
        let distance = radius * rng.gen_range(0.0f32..1.0).sqrt();
        Walker {
            position: [centre[0], 0.0, centre[1]],
            goal: Some([
                centre[0] + distance * angle.cos(),
                centre[1] + distance * angle.sin(),
            ]),
            heading: rng.gen_range(0.0..std::f32::consts::TAU),
            rng,
            centre,
            radius,
        }
    }

    /// Whether it is still running out from the spawn point.
    pub fn is_running(&self) -> bool {
        self.goal.is_some()
    }

    /// Walks for `seconds` and returns the avatar's state.
    pub fn step(&mut self, seconds: f32) -> AvatarState {
        if let Some(goal) = self.goal {
            let (dx, dz) = (goal[0] - self.position[0], goal[1] - self.position[2]);
            let left = (dx * dx + dz * dz).sqrt();
            let stride = RUN * seconds;
            if left <= stride {
                self.position = [goal[0], 0.0, goal[1]];
                self.goal = None;
            } else {
                self.heading = dz.atan2(dx);
                self.position[0] += dx / left * stride;
                self.position[2] += dz / left * stride;
                return AvatarState::new(
                    self.position,
                    crate::protocol::heading_towards(dx, dz),
                    Gait::Run,
                );
            }
        }
        self.heading += self.rng.gen_range(-0.3..0.3);
        let mut next = [
            self.position[0] + self.heading.cos() * WALK * seconds,
            0.0,
            self.position[2] + self.heading.sin() * WALK * seconds,
        ];
        let (dx, dz) = (next[0] - self.centre[0], next[2] - self.centre[1]);
        if dx * dx + dz * dz > self.radius * self.radius {
            // Turn back towards the middle.
            self.heading = (-dz).atan2(-dx);
            next = self.position;
        }
        self.position = next;
        // `heading` turns from +x towards +z; the protocol's from -z.
        let facing = crate::protocol::heading_towards(self.heading.cos(), self.heading.sin());
        AvatarState::new(self.position, facing, Gait::Walk)
    }
}

/// How a bot plays.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wandering {
    /// Put on what the account holds first, one thing a slot.
    pub dress: bool,
    /// Wander within this many metres of the spawn point (a quarter of
    /// the world's half-width if none).
    pub radius: Option<f32>,
}

/// Puts on what `client`'s account holds (owns and has not rented out,
/// or rents now), one thing in each slot it goes in, as the host checks
/// it; what it wears then.
pub fn dress(client: &mut Client, wait: Duration) -> Result<Worn, ClientError> {
    let (_, owned, renting) = client.inventory(wait)?;
    let mut worn = Worn::new();
    let held = owned
        .iter()
        .filter(|holding| holding.rented.is_none())
        .chain(renting.iter());
    for holding in held {
        for slot in Slot::ALL {
            if worn.iter().any(|(taken, _)| *taken == slot) {
                continue;
            }
            match client.wear(slot, Some(holding.asset), wait) {
                Ok(now) => {
                    worn = now;
                    break;
                }
                // Not for this slot, or not to be worn at all.
                Err(ClientError::Protocol(_)) => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(worn)
}

/// Runs one bot on `client` in `world` for `duration`: dresses if asked,
/// walks at the avatar tick and browses the catalogue every ten seconds.
pub fn wander(
    client: &mut Client,
    world: &str,
    duration: Duration,
    how: Wandering,
) -> Result<(), ClientError> {
    let wait = Duration::from_secs(10);
    let welcome = client.enter(world, wait)?.clone();
    info!(
        world,
        player = welcome.player,
        players = welcome.players.len(),
        height = welcome.height,
        "bot entered"
    );
    if how.dress {
        let worn = dress(client, wait)?;
        info!(worn = worn.len(), "bot dressed");
    }
    let start = welcome.at;
    let mut walker = Walker::new(
        u64::from(welcome.player),
        [start[0], start[2]],
        how.radius.unwrap_or(welcome.world.half_size / 4.0),
    );
    let tick = Duration::from_secs(1) / crate::protocol::TICK_HZ;
    let started = Instant::now();
    let mut browsed = Instant::now() - Duration::from_secs(10);
    while started.elapsed() < duration {
        client.send_move(walker.step(tick.as_secs_f32()))?;
        client.pump()?;
        if browsed.elapsed() >= Duration::from_secs(10) {
            browsed = Instant::now();
            let (hits, _) = client.browse(
                Browse {
                    rent: Some(true),
                    cheapest_first: true,
                    page_size: 5,
                    ..Browse::default()
                },
                wait,
            )?;
            for card in hits {
                info!(
                    listing = card.listing.id.0,
                    name = card.name.as_deref().unwrap_or("?"),
                    "for rent"
                );
            }
            info!(in_view = client.avatars().len(), "avatars around");
        }
        for message in client.drain() {
            tracing::debug!(?message, "bot heard");
        }
        std::thread::sleep(tick);
    }
    Ok(())
}

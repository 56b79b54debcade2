//! Rigged avatars: a figure whose parts each move with one joint of a
//! skeleton, the sockets wearables attach to, and its idle and walk
//! animations. Written as a skinned glTF 2.0 mesh (`JOINTS_0`,
//! `WEIGHTS_0`, a skin with inverse bind matrices) with two named
//! animations, facing +z as glTF's convention has it.
//!
//! What a Plaza avatar model offers a world (any creator's, not only the
//! pack's): animations named `idle` and `walk`, and nodes named
//! `slot.head`, `slot.body`, `slot.hand` and `slot.back` where a thing
//! worn in that slot goes (a hat stands on `slot.head`; the others are
//! centred on theirs). A world draws a model without them as well as it
//! can: still, and with worn things where a plain figure would have them.

use std::f32::consts::PI;

use super::mesh::{Builder, ExactTrig, Xf};

/// Segments round a limb.
const ROUND: u32 = 12;

/// A joint of the skeleton: its name, parent and place in its parent
/// (the bind pose has no rotations).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Joint {
    pub(crate) name: &'static str,
    pub(crate) parent: Option<usize>,
    pub(crate) at: [f32; 3],
}

/// Where a worn thing goes: a node under a joint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Socket {
    pub(crate) name: &'static str,
    pub(crate) joint: usize,
    pub(crate) at: [f32; 3],
}

/// How one joint turns over a clip: key times (seconds) and rotations
/// (x, y, z, w), linearly interpolated.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Track {
    pub(crate) joint: usize,
    pub(crate) times: Vec<f32>,
    pub(crate) rotations: Vec<[f32; 4]>,
}

/// How the hips rise and fall over a clip.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bob {
    pub(crate) times: Vec<f32>,
    pub(crate) heights: Vec<[f32; 3]>,
}

/// A named, looping animation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Clip {
    pub(crate) name: &'static str,
    pub(crate) tracks: Vec<Track>,
    pub(crate) bob: Bob,
}

/// A figure being built: the model, and for each material's part the
/// joint each of its vertices moves with.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rigged {
    pub(crate) model: Builder,
    /// Per part, per vertex: the joint index.
    pub(crate) joint_of: Vec<Vec<u16>>,
}

impl Rigged {
    /// Adds what `build` adds to the model, moving with `joint`.
    fn on(&mut self, joint: usize, build: impl FnOnce(&mut Builder)) {
        build(&mut self.model);
        self.joint_of.resize(self.model.parts.len(), Vec::new());
        for (part, joints) in self.model.parts.iter().zip(&mut self.joint_of) {
            joints.resize(part.positions.len(), joint as u16);
        }
    }
}

/// A skinned model: the figure, its skeleton, sockets and clips.
#[derive(Clone, Debug)]
pub(crate) struct Avatar {
    pub(crate) rigged: Rigged,
    pub(crate) joints: Vec<Joint>,
    pub(crate) sockets: Vec<Socket>,
    pub(crate) clips: Vec<Clip>,
}

impl Avatar {
    /// Where `joint` is in the bind pose, in the model's space.
    pub(crate) fn bind_position(&self, joint: usize) -> [f32; 3] {
        let mut at = [0.0f32; 3];
        let mut next = Some(joint);
        // The skeleton is a tree built here: parents come first, so the
        // walk ends.
        while let Some(index) = next {
            let joint = self.joints[index];
            at = [0, 1, 2].map(|axis| at[axis] + joint.at[axis]);
            next = joint.parent;
        }
        at
    }
}

// The skeleton, by index.
const HIPS: usize = 0;
const SPINE: usize = 1;
const CHEST: usize = 2;
const NECK: usize = 3;
const HEAD: usize = 4;
const UPPER_ARM_L: usize = 5;
const LOWER_ARM_L: usize = 6;
const HAND_L: usize = 7;
const UPPER_ARM_R: usize = 8;
const LOWER_ARM_R: usize = 9;
const HAND_R: usize = 10;
const UPPER_LEG_L: usize = 11;
const LOWER_LEG_L: usize = 12;
const FOOT_L: usize = 13;
const UPPER_LEG_R: usize = 14;
const LOWER_LEG_R: usize = 15;
const FOOT_R: usize = 16;

/// Proportions of a figure, metres.
#[derive(Clone, Copy, Debug)]
struct Build {
    /// Hips above the ground.
    hips: f32,
    /// Half the shoulders' width.
    shoulder: f32,
    /// The upper and lower arm's length.
    arm: f32,
}

impl Build {
    /// The upper and lower leg's length: from the hips' joint down to
    /// ankles 8 cm above the ground.
    fn leg(self) -> f32 {
        (self.hips - 0.05 - 0.08) / 2.0
    }
}

/// A figure's skeleton (the character's left is +x: it faces +z).
fn skeleton(build: Build) -> Vec<Joint> {
    let joint = |name, parent, at| Joint {
        name,
        parent: Some(parent),
        at,
    };
    let Build {
        hips,
        shoulder,
        arm,
    } = build;
    let leg = build.leg();
    vec![
        Joint {
            name: "Hips",
            parent: None,
            at: [0.0, hips, 0.0],
        },
        joint("Spine", HIPS, [0.0, 0.12, 0.0]),
        joint("Chest", SPINE, [0.0, 0.2, 0.0]),
        joint("Neck", CHEST, [0.0, 0.2, 0.0]),
        joint("Head", NECK, [0.0, 0.08, 0.0]),
        joint("UpperArm.L", CHEST, [shoulder, 0.15, 0.0]),
        joint("LowerArm.L", UPPER_ARM_L, [0.0, -arm, 0.0]),
        joint("Hand.L", LOWER_ARM_L, [0.0, -arm, 0.0]),
        joint("UpperArm.R", CHEST, [-shoulder, 0.15, 0.0]),
        joint("LowerArm.R", UPPER_ARM_R, [0.0, -arm, 0.0]),
        joint("Hand.R", LOWER_ARM_R, [0.0, -arm, 0.0]),
        joint("UpperLeg.L", HIPS, [0.1, -0.05, 0.0]),
        joint("LowerLeg.L", UPPER_LEG_L, [0.0, -leg, 0.0]),
        joint("Foot.L", LOWER_LEG_L, [0.0, -leg, 0.0]),
        joint("UpperLeg.R", HIPS, [-0.1, -0.05, 0.0]),
        joint("LowerLeg.R", UPPER_LEG_R, [0.0, -leg, 0.0]),
        joint("Foot.R", LOWER_LEG_R, [0.0, -leg, 0.0]),
    ]
}

/// The four sockets: on top of the head, at the chest, in the right
/// hand and behind the chest.
fn sockets() -> Vec<Socket> {
    vec![
        Socket {
            name: "slot.head",
            joint: HEAD,
            at: [0.0, 0.2, 0.0],
        },
        Socket {
            name: "slot.body",
            joint: CHEST,
            at: [0.0, 0.04, 0.0],
        },
        Socket {
            name: "slot.hand",
            joint: HAND_R,
            at: [0.0, -0.06, 0.02],
        },
        Socket {
            name: "slot.back",
            joint: CHEST,
            at: [0.0, 0.02, -0.2],
        },
    ]
}

/// A turn of `angle` radians about the x axis (forward swing of a limb
/// hanging down is negative: its foot moves to +z).
fn about_x(angle: f32) -> [f32; 4] {
    let (s, c) = (angle / 2.0).sin_cos_exact();
    [s, 0.0, 0.0, c]
}

/// A turn of `angle` radians about the y axis.
fn about_y(angle: f32) -> [f32; 4] {
    let (s, c) = (angle / 2.0).sin_cos_exact();
    [0.0, s, 0.0, c]
}

/// A turn of `angle` radians about the z axis.
fn about_z(angle: f32) -> [f32; 4] {
    let (s, c) = (angle / 2.0).sin_cos_exact();
    [0.0, 0.0, s, c]
}

/// `keys` samples of one cycle of `period` seconds, the last equal to
/// the first so that the clip loops without a jump.
fn cycle<T>(period: f32, keys: usize, at: impl Fn(f32) -> T) -> (Vec<f32>, Vec<T>) {
    let times: Vec<f32> = (0..=keys)
        .map(|k| period * k as f32 / keys as f32)
        .collect();
    let values = (0..=keys)
        .map(|k| at(2.0 * PI * (k % keys) as f32 / keys as f32))
        .collect();
    (times, values)
}

/// Standing and breathing: the chest rises, the arms sway a little.
fn idle(hips: f32) -> Clip {
    const PERIOD: f32 = 3.0;
    const KEYS: usize = 8;
    let track = |joint, turn: fn(f32) -> [f32; 4]| {
        let (times, rotations) = cycle(PERIOD, KEYS, turn);
        Track {
            joint,
            times,
            rotations,
        }
    };
    let (times, heights) = cycle(PERIOD, KEYS, |phase| {
        [0.0, hips - 0.005 + 0.005 * phase.cos_exact(), 0.0]
    });
    Clip {
        name: "idle",
        tracks: vec![
            track(CHEST, |phase| about_x(-0.03 * phase.sin_exact())),
            track(HEAD, |phase| about_x(0.04 * phase.sin_exact())),
            track(UPPER_ARM_L, |phase| {
                about_z(0.08 + 0.03 * phase.sin_exact())
            }),
            track(UPPER_ARM_R, |phase| {
                about_z(-0.08 - 0.03 * phase.sin_exact())
            }),
            track(LOWER_ARM_L, |_| about_x(-0.15)),
            track(LOWER_ARM_R, |_| about_x(-0.15)),
            // Legs straight: a clip moves every joint the other moves, so
            // that switching from one to the other leaves none where the
            // other left it.
            track(UPPER_LEG_L, |_| about_x(0.0)),
            track(UPPER_LEG_R, |_| about_x(0.0)),
            track(LOWER_LEG_L, |_| about_x(0.0)),
            track(LOWER_LEG_R, |_| about_x(0.0)),
        ],
        bob: Bob { times, heights },
    }
}

/// Walking: legs and arms swing in opposition, knees bend on the way
/// through, the hips rise at each passing step. One cycle is two steps.
fn walk(hips: f32) -> Clip {
    const PERIOD: f32 = 0.8;
    const KEYS: usize = 16;
    const SWING: f32 = 0.55;
    let track = |joint, turn: &dyn Fn(f32) -> [f32; 4]| {
        let (times, rotations) = cycle(PERIOD, KEYS, turn);
        Track {
            joint,
            times,
            rotations,
        }
    };
    // A knee bends (lower leg back, +x turn) most as its leg passes under
    // the body going forward.
    let knee = |phase: f32| about_x(0.6 * (0.5 + 0.5 * (phase + PI / 2.0).sin_exact()).powi(2));
    let (times, heights) = cycle(PERIOD, KEYS, |phase| {
        [0.0, hips - 0.02 + 0.02 * (2.0 * phase).cos_exact(), 0.0]
    });
    Clip {
        name: "walk",
        tracks: vec![
            track(UPPER_LEG_L, &|phase| about_x(-SWING * phase.sin_exact())),
            track(UPPER_LEG_R, &|phase| about_x(SWING * phase.sin_exact())),
            track(LOWER_LEG_L, &knee),
            track(LOWER_LEG_R, &|phase| knee(phase + PI)),
            track(UPPER_ARM_L, &|phase| {
                mul(about_x(0.7 * SWING * phase.sin_exact()), about_z(0.06))
            }),
            track(UPPER_ARM_R, &|phase| {
                mul(about_x(-0.7 * SWING * phase.sin_exact()), about_z(-0.06))
            }),
            track(LOWER_ARM_L, &|_| about_x(-0.35)),
            track(LOWER_ARM_R, &|_| about_x(-0.35)),
            track(CHEST, &|phase| about_y(0.12 * phase.sin_exact())),
            track(HEAD, &|_| about_x(0.0)),
        ],
        bob: Bob { times, heights },
    }
}

/// The product of two rotations (`a` after `b`), normalised.
fn mul(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
    let [ax, ay, az, aw] = a;
    let [bx, by, bz, bw] = b;
    let q = [
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ];
    normalize(q)
}

fn normalize(q: [f32; 4]) -> [f32; 4] {
    let length = q.iter().map(|v| v * v).sum::<f32>().sqrt();
    q.map(|v| v / length)
}

/// How a figure looks: its proportions and colours (sRGB hex).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Look {
    build: Build,
    skin: u32,
    hair: u32,
    top: u32,
    trousers: u32,
    shoes: u32,
    /// A jacket hem below the waist.
    long_top: bool,
    /// Hair down to the neck rather than short.
    long_hair: bool,
}

/// A figure of `look`, rigged, with its idle and walk clips.
pub(crate) fn figure(look: Look) -> Avatar {
    let Look {
        build,
        skin,
        hair,
        top,
        trousers,
        shoes,
        long_top,
        long_hair,
    } = look;
    let joints = skeleton(build);
    let mut rigged = Rigged::default();
    let skin = rigged.model.material("skin", skin, 0.0, 0.6);
    let hair = rigged.model.material("hair", hair, 0.0, 0.8);
    let top = rigged.model.material("top", top, 0.0, 0.85);
    let trousers = rigged.model.material("trousers", trousers, 0.0, 0.9);
    let shoes = rigged.model.material("shoes", shoes, 0.1, 0.5);
    let eyes = rigged.model.material("eyes", 0x1d1d24, 0.0, 0.3);
    let mut avatar = Avatar {
        rigged,
        joints,
        sockets: sockets(),
        clips: vec![idle(build.hips), walk(build.hips)],
    };
    let at = |avatar: &Avatar, joint| avatar.bind_position(joint);
    let place = |p: [f32; 3]| Xf::at(p[0], p[1], p[2]);

    // Pelvis and waist.
    let hips = at(&avatar, HIPS);
    avatar.rigged.on(HIPS, |b| {
        b.cuboid(trousers, place([0.0, hips[1], 0.0]), [0.32, 0.2, 0.2]);
        if long_top {
            b.cylinder(
                top,
                place([0.0, hips[1] - 0.1, 0.0]).scale(1.0, 1.0, 0.7),
                0.19,
                0.18,
                0.14,
                ROUND,
            );
        }
    });
    let spine = at(&avatar, SPINE);
    avatar.rigged.on(SPINE, |b| {
        b.cylinder(
            top,
            place([0.0, spine[1] - 0.04, 0.0]).scale(1.0, 1.0, 0.72),
            0.16,
            0.18,
            0.24,
            ROUND,
        );
    });
    let chest = at(&avatar, CHEST);
    avatar.rigged.on(CHEST, |b| {
        b.cylinder(
            top,
            place([0.0, chest[1] - 0.04, 0.0]).scale(1.0, 1.0, 0.68),
            0.18,
            0.2,
            0.22,
            ROUND,
        );
        // Shoulders.
        b.sphere(
            top,
            place([build.shoulder - 0.03, chest[1] + 0.14, 0.0]),
            0.07,
            ROUND,
        );
        b.sphere(
            top,
            place([-(build.shoulder - 0.03), chest[1] + 0.14, 0.0]),
            0.07,
            ROUND,
        );
    });
    let neck = at(&avatar, NECK);
    avatar.rigged.on(NECK, |b| {
        b.cylinder(
            skin,
            place([0.0, neck[1] - 0.04, 0.0]),
            0.05,
            0.045,
            0.12,
            ROUND,
        );
    });
    let head = at(&avatar, HEAD);
    avatar.rigged.on(HEAD, |b| {
        let centre = head[1] + 0.1;
        b.sphere(
            skin,
            place([0.0, centre, 0.0]).scale(0.92, 1.05, 1.0),
            0.12,
            2 * ROUND,
        );
        // Hair: a cap over the top and back of the head.
        b.sphere(
            hair,
            place([0.0, centre + 0.025, -0.012]).scale(0.97, 0.9, 1.0),
            0.125,
            2 * ROUND,
        );
        if long_hair {
            b.cuboid(hair, place([0.0, centre - 0.07, -0.07]), [0.22, 0.18, 0.07]);
        }
        b.sphere(eyes, place([0.04, centre + 0.01, 0.108]), 0.014, ROUND);
        b.sphere(eyes, place([-0.04, centre + 0.01, 0.108]), 0.014, ROUND);
        b.cuboid(
            skin,
            place([0.0, centre - 0.015, 0.115]),
            [0.025, 0.04, 0.03],
        );
    });
    for (upper, lower, hand) in [
        (UPPER_ARM_L, LOWER_ARM_L, HAND_L),
        (UPPER_ARM_R, LOWER_ARM_R, HAND_R),
    ] {
        let [x, y, _] = at(&avatar, upper);
        avatar.rigged.on(upper, |b| {
            b.cylinder(
                top,
                place([x, y - build.arm, 0.0]),
                0.045,
                0.055,
                build.arm,
                ROUND,
            );
        });
        let [x, y, _] = at(&avatar, lower);
        avatar.rigged.on(lower, |b| {
            b.cylinder(
                skin,
                place([x, y - build.arm, 0.0]),
                0.035,
                0.042,
                build.arm,
                ROUND,
            );
        });
        let [x, y, _] = at(&avatar, hand);
        avatar.rigged.on(hand, |b| {
            b.sphere(
                skin,
                place([x, y - 0.05, 0.0]).scale(0.8, 1.1, 1.0),
                0.05,
                ROUND,
            );
        });
    }
    for (upper, lower, foot) in [
        (UPPER_LEG_L, LOWER_LEG_L, FOOT_L),
        (UPPER_LEG_R, LOWER_LEG_R, FOOT_R),
    ] {
        let [x, y, _] = at(&avatar, upper);
        avatar.rigged.on(upper, |b| {
            b.cylinder(
                trousers,
                place([x, y - build.leg(), 0.0]),
                0.06,
                0.08,
                build.leg() + 0.04,
                ROUND,
            );
        });
        let [x, y, _] = at(&avatar, lower);
        avatar.rigged.on(lower, |b| {
            b.cylinder(
                trousers,
                place([x, y - build.leg(), 0.0]),
                0.05,
                0.062,
                build.leg() + 0.02,
                ROUND,
            );
        });
        let [x, y, _] = at(&avatar, foot);
        avatar.rigged.on(foot, |b| {
            b.cuboid(shoes, place([x, y - 0.04, 0.04]), [0.1, 0.08, 0.24]);
        });
    }
    avatar
}

/// A runner in a sky-blue top and navy shorts-length trousers.
pub(crate) fn runner() -> Avatar {
    figure(Look {
        build: Build {
            hips: 0.95,
            shoulder: 0.2,
            arm: 0.27,
        },
        skin: 0xc68b59,
        hair: 0x2b1d14,
        top: 0x4a9fe0,
        trousers: 0x1f2a4d,
        shoes: 0xf2f2f2,
        long_top: false,
        long_hair: false,
    })
}

/// A stallholder in a terracotta jacket and olive trousers.
pub(crate) fn stallholder() -> Avatar {
    figure(Look {
        build: Build {
            hips: 0.92,
            shoulder: 0.21,
            arm: 0.26,
        },
        skin: 0xf1c27d,
        hair: 0xa0522d,
        top: 0xc2562f,
        trousers: 0x5b6b3a,
        shoes: 0x4a2f1b,
        long_top: true,
        long_hair: true,
    })
}

/// A night owl in a charcoal hoodie and black jeans.
pub(crate) fn night_owl() -> Avatar {
    figure(Look {
        build: Build {
            hips: 0.97,
            shoulder: 0.19,
            arm: 0.28,
        },
        skin: 0x8d5524,
        hair: 0x111111,
        top: 0x3a3d45,
        trousers: 0x15161a,
        shoes: 0xd94f4f,
        long_top: true,
        long_hair: false,
    })
}

/// The plain figure: light grey clothes, no hair colour of its own.
pub(crate) fn plain() -> Avatar {
    figure(Look {
        build: Build {
            hips: 0.95,
            shoulder: 0.2,
            arm: 0.27,
        },
        skin: 0xd9d4cc,
        hair: 0xb8b2a8,
        top: 0x9aa3ad,
        trousers: 0x5d646e,
        shoes: 0x3b3f45,
        long_top: false,
        long_hair: false,
    })
}

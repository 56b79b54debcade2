//! The models of the sample pack. Units are metres; every model stands on
//! y = 0 and faces +z.

use std::f32::consts::{FRAC_PI_2, PI, TAU};

use super::art;
use super::mesh::{Builder, ExactTrig, Mat, Xf};

/// Segments around a round part.
const ROUND: u32 = 32;

fn wood(b: &mut Builder) -> Mat {
    b.material("oak", 0x9c6b3c, 0.0, 0.65)
}

fn dark_wood(b: &mut Builder) -> Mat {
    b.material("walnut", 0x5a3a22, 0.0, 0.6)
}

fn steel(b: &mut Builder) -> Mat {
    b.material("steel", 0xb8bcc2, 1.0, 0.3)
}

fn brass(b: &mut Builder) -> Mat {
    b.material("brass", 0xd4a93c, 1.0, 0.28)
}

fn black_metal(b: &mut Builder) -> Mat {
    b.material("iron", 0x2b2b2e, 0.8, 0.5)
}

/// Four legs at (±x, ±z), `height` tall, tapering from `bottom` to `top`.
fn legs(b: &mut Builder, mat: Mat, x: f32, z: f32, height: f32, bottom: f32, top: f32) {
    for (sx, sz) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
        b.cylinder(mat, Xf::at(sx * x, 0.0, sz * z), bottom, top, height, 16);
    }
}

pub(super) fn oak_chair() -> Builder {
    let mut b = Builder::default();
    let oak = wood(&mut b);
    let cushion = b.material("linen", 0xd9cbb0, 0.0, 0.9);
    b.cuboid(oak, Xf::at(0.0, 0.44, 0.0), [0.46, 0.04, 0.44]);
    b.cuboid(cushion, Xf::at(0.0, 0.475, 0.02), [0.40, 0.03, 0.38]);
    for (x, z) in [(-0.2, 0.19), (0.2, 0.19)] {
        b.cuboid(oak, Xf::at(x, 0.21, z), [0.04, 0.42, 0.04]);
    }
    for x in [-0.2, 0.2] {
        b.cuboid(oak, Xf::at(x, 0.47, -0.2).rot_x(-0.08), [0.04, 0.94, 0.04]);
    }
    for (i, y) in [0.62, 0.74, 0.86].into_iter().enumerate() {
        let depth = -0.2 - (y - 0.47) * 0.08;
        b.cuboid(
            oak,
            Xf::at(0.0, y, depth).rot_x(-0.08),
            [0.36, 0.06 - i as f32 * 0.005, 0.02],
        );
    }
    b.cuboid(oak, Xf::at(0.0, 0.12, 0.0), [0.38, 0.025, 0.025]);
    b
}

pub(super) fn bar_stool() -> Builder {
    let mut b = Builder::default();
    let seat = b.material("red leather", 0x9e2a2b, 0.0, 0.45);
    let metal = steel(&mut b);
    b.lathe(
        seat,
        Xf::at(0.0, 0.0, 0.0),
        &[
            (0.0, 0.70),
            (0.17, 0.70),
            (0.185, 0.715),
            (0.185, 0.74),
            (0.17, 0.755),
            (0.0, 0.76),
        ],
        ROUND,
        false,
    );
    for k in 0..3 {
        let angle = TAU * k as f32 / 3.0 + 0.3;
        let (s, c) = angle.sin_cos_exact();
        b.tube(
            metal,
            &[[0.06 * c, 0.7, 0.06 * s], [0.2 * c, 0.0, 0.2 * s]],
            0.014,
            12,
        );
    }
    b.torus(metal, Xf::at(0.0, 0.26, 0.0), 0.145, 0.011, ROUND, 10);
    b
}

pub(super) fn armchair() -> Builder {
    let mut b = Builder::default();
    let fabric = b.material("teal velvet", 0x2a7f7f, 0.0, 0.85);
    let legs_mat = dark_wood(&mut b);
    legs(&mut b, legs_mat, 0.33, 0.3, 0.12, 0.018, 0.025);
    b.cuboid(fabric, Xf::at(0.0, 0.23, 0.0), [0.8, 0.22, 0.72]);
    b.cuboid(fabric, Xf::at(0.0, 0.38, 0.06), [0.56, 0.1, 0.58]);
    b.cuboid(
        fabric,
        Xf::at(0.0, 0.6, -0.29).rot_x(-0.12),
        [0.8, 0.62, 0.16],
    );
    for x in [-0.34, 0.34] {
        b.cuboid(fabric, Xf::at(x, 0.45, 0.02), [0.13, 0.22, 0.68]);
        b.cylinder(
            fabric,
            Xf::at(x, 0.56, 0.36).rot_x(-FRAC_PI_2),
            0.065,
            0.065,
            0.68,
            20,
        );
    }
    b
}

pub(super) fn park_bench() -> Builder {
    let mut b = Builder::default();
    let slats = b.material("painted green", 0x2e6b3a, 0.0, 0.6);
    let iron = black_metal(&mut b);
    for x in [-0.7, 0.7] {
        b.cuboid(iron, Xf::at(x, 0.22, 0.08), [0.05, 0.44, 0.05]);
        b.cuboid(iron, Xf::at(x, 0.22, -0.18), [0.05, 0.44, 0.05]);
        b.cuboid(iron, Xf::at(x, 0.43, -0.04), [0.05, 0.04, 0.5]);
        b.cuboid(iron, Xf::at(x, 0.66, -0.23).rot_x(-0.2), [0.05, 0.5, 0.05]);
        b.cuboid(iron, Xf::at(x, 0.62, 0.0), [0.05, 0.04, 0.36]);
    }
    for k in 0..5 {
        b.cuboid(
            slats,
            Xf::at(0.0, 0.465, 0.16 - k as f32 * 0.095),
            [1.6, 0.03, 0.08],
        );
    }
    for k in 0..3 {
        let y = 0.58 + k as f32 * 0.11;
        b.cuboid(
            slats,
            Xf::at(0.0, y, -0.22 - (y - 0.58) * 0.2).rot_x(-0.2),
            [1.6, 0.08, 0.025],
        );
    }
    b
}

pub(super) fn dining_table() -> Builder {
    let mut b = Builder::default();
    let top = dark_wood(&mut b);
    let oak = wood(&mut b);
    b.cuboid(top, Xf::at(0.0, 0.74, 0.0), [1.6, 0.04, 0.9]);
    b.cuboid(oak, Xf::at(0.0, 0.68, 0.0), [1.4, 0.08, 0.72]);
    legs(&mut b, oak, 0.68, 0.34, 0.72, 0.025, 0.04);
    b
}

pub(super) fn cafe_table() -> Builder {
    let mut b = Builder::default();
    let marble = b.material("white marble", 0xeeeae4, 0.0, 0.2);
    let iron = black_metal(&mut b);
    b.cylinder(marble, Xf::at(0.0, 0.72, 0.0), 0.35, 0.35, 0.03, 48);
    b.lathe(
        iron,
        Xf::at(0.0, 0.0, 0.0),
        &[
            (0.0, 0.0),
            (0.24, 0.0),
            (0.24, 0.02),
            (0.05, 0.06),
            (0.025, 0.12),
            (0.025, 0.66),
            (0.08, 0.7),
            (0.08, 0.72),
            (0.0, 0.72),
        ],
        ROUND,
        false,
    );
    b
}

pub(super) fn glass_coffee_table() -> Builder {
    let mut b = Builder::default();
    let glass = b.material("smoked glass", 0x9fb8c4, 0.0, 0.05);
    let frame = brass(&mut b);
    b.cuboid(glass, Xf::at(0.0, 0.42, 0.0), [1.1, 0.02, 0.6]);
    let (x, z) = (0.52, 0.27);
    for (sx, sz) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
        b.tube(
            frame,
            &[[sx * x, 0.0, sz * z], [sx * x, 0.405, sz * z]],
            0.012,
            12,
        );
    }
    b.tube(
        frame,
        &[
            [-x, 0.405, -z],
            [x, 0.405, -z],
            [x, 0.405, z],
            [-x, 0.405, z],
            [-x, 0.405, -z],
        ],
        0.012,
        12,
    );
    b.tube(
        frame,
        &[
            [-x, 0.08, -z],
            [x, 0.08, -z],
            [x, 0.08, z],
            [-x, 0.08, z],
            [-x, 0.08, -z],
        ],
        0.01,
        12,
    );
    b
}

pub(super) fn bookshelf() -> Builder {
    let mut b = Builder::default();
    let oak = wood(&mut b);
    let covers = [
        b.material("red cloth", 0x8c2f39, 0.0, 0.8),
        b.material("navy cloth", 0x1f3b5a, 0.0, 0.8),
        b.material("ochre cloth", 0xc98f2b, 0.0, 0.8),
        b.material("green cloth", 0x3f6e45, 0.0, 0.8),
        b.material("cream paper", 0xe8dfc8, 0.0, 0.9),
    ];
    let (width, height, depth) = (0.9, 1.8, 0.32);
    for x in [-width / 2.0, width / 2.0] {
        b.cuboid(oak, Xf::at(x, height / 2.0, 0.0), [0.03, height, depth]);
    }
    b.cuboid(
        oak,
        Xf::at(0.0, height / 2.0, -depth / 2.0 + 0.005),
        [width, height, 0.01],
    );
    let shelves = 5;
    for k in 0..=shelves {
        let y = 0.04 + k as f32 * (height - 0.06) / shelves as f32;
        b.cuboid(oak, Xf::at(0.0, y, 0.0), [width, 0.025, depth]);
        if k == shelves {
            break;
        }
        let mut x = -width / 2.0 + 0.04;
        let mut n = k * 7 + 3;
        while x < width / 2.0 - 0.12 {
            n = n * 31 % 97;
            let thick = 0.025 + (n % 4) as f32 * 0.008;
            let tall = 0.2 + (n % 5) as f32 * 0.025;
            let lean = if n % 11 == 0 { 0.12 } else { 0.0 };
            b.cuboid(
                covers[n as usize % covers.len()],
                Xf::at(x + thick / 2.0, y + 0.0125 + tall / 2.0, 0.01).rot_z(lean),
                [thick, tall, 0.22],
            );
            x += thick + 0.004 + if lean > 0.0 { 0.03 } else { 0.0 };
        }
    }
    b
}

pub(super) fn floor_lamp() -> Builder {
    let mut b = Builder::default();
    let metal = brass(&mut b);
    let shade = b.material("linen shade", 0xf2e6cf, 0.0, 0.85);
    b.lathe(
        metal,
        Xf::at(0.0, 0.0, 0.0),
        &[
            (0.0, 0.0),
            (0.17, 0.0),
            (0.17, 0.02),
            (0.03, 0.05),
            (0.0, 0.05),
        ],
        ROUND,
        false,
    );
    b.cylinder(metal, Xf::at(0.0, 0.04, 0.0), 0.012, 0.012, 1.36, 12);
    b.lathe(
        shade,
        Xf::at(0.0, 1.3, 0.0),
        &[(0.24, 0.0), (0.16, 0.3)],
        ROUND,
        false,
    );
    // The inside of the shade: the same surface facing in.
    b.lathe(
        shade,
        Xf::at(0.0, 1.3, 0.0),
        &[(0.16, 0.3), (0.24, 0.0)],
        ROUND,
        false,
    );
    b
}

pub(super) fn desk_lamp() -> Builder {
    let mut b = Builder::default();
    let body = b.material("sage enamel", 0x7d9a78, 0.3, 0.4);
    let metal = steel(&mut b);
    b.cylinder(body, Xf::at(0.0, 0.0, 0.0), 0.09, 0.085, 0.03, ROUND);
    b.tube(
        metal,
        &[[0.0, 0.03, 0.0], [0.05, 0.3, -0.02], [0.2, 0.42, 0.0]],
        0.009,
        10,
    );
    b.sphere(metal, Xf::at(0.05, 0.3, -0.02), 0.018, 16);
    let head = Xf::at(0.2, 0.42, 0.0).rot_z(-2.3);
    b.lathe(
        body,
        head,
        &[(0.02, 0.0), (0.035, 0.03), (0.08, 0.13)],
        ROUND,
        false,
    );
    b.lathe(
        body,
        head,
        &[(0.075, 0.13), (0.03, 0.03), (0.015, 0.0)],
        ROUND,
        false,
    );
    let bulb = b.material("warm bulb", 0xfff1c9, 0.0, 0.2);
    b.sphere(bulb, head, 0.03, 16);
    b
}

pub(super) fn lantern() -> Builder {
    let mut b = Builder::default();
    let iron = black_metal(&mut b);
    let glass = b.material("amber glass", 0xf3b65b, 0.0, 0.1);
    b.cuboid(iron, Xf::at(0.0, 0.015, 0.0), [0.2, 0.03, 0.2]);
    b.cuboid(glass, Xf::at(0.0, 0.17, 0.0), [0.16, 0.28, 0.16]);
    for (x, z) in [(-0.09, -0.09), (0.09, -0.09), (0.09, 0.09), (-0.09, 0.09)] {
        b.cuboid(iron, Xf::at(x, 0.17, z), [0.02, 0.3, 0.02]);
    }
    b.lathe(
        iron,
        Xf::at(0.0, 0.31, 0.0).rot_y(PI / 4.0),
        &[(0.15, 0.0), (0.04, 0.09), (0.0, 0.1)],
        4,
        true,
    );
    b.torus(
        iron,
        Xf::at(0.0, 0.45, 0.0).rot_x(FRAC_PI_2),
        0.04,
        0.007,
        24,
        8,
    );
    b
}

pub(super) fn street_lamp() -> Builder {
    let mut b = Builder::default();
    let iron = black_metal(&mut b);
    let glass = b.material("frosted glass", 0xfff6dc, 0.0, 0.3);
    b.lathe(
        iron,
        Xf::at(0.0, 0.0, 0.0),
        &[
            (0.0, 0.0),
            (0.16, 0.0),
            (0.16, 0.1),
            (0.09, 0.3),
            (0.06, 0.35),
            (0.0, 0.35),
        ],
        12,
        false,
    );
    b.cylinder(iron, Xf::at(0.0, 0.3, 0.0), 0.05, 0.035, 2.9, 16);
    let arc: Vec<[f32; 3]> = (0..=8)
        .map(|k| {
            let t = k as f32 / 8.0 * FRAC_PI_2;
            [0.35 * (1.0 - t.cos_exact()), 3.2 + 0.3 * t.sin_exact(), 0.0]
        })
        .collect();
    b.tube(iron, &arc, 0.03, 12);
    b.lathe(
        iron,
        Xf::at(0.35, 3.2, 0.0),
        &[(0.0, 0.2), (0.22, 0.05), (0.2, 0.02), (0.0, 0.04)],
        24,
        false,
    );
    b.lathe(
        glass,
        Xf::at(0.35, 3.1, 0.0),
        &[(0.0, -0.05), (0.1, -0.02), (0.16, 0.06)],
        24,
        false,
    );
    b
}

pub(super) fn top_hat() -> Builder {
    let mut b = Builder::default();
    let felt = b.material("black felt", 0x1c1c22, 0.0, 0.75);
    let band = b.material("plum ribbon", 0x6b2e5f, 0.0, 0.5);
    b.lathe(
        felt,
        Xf::at(0.0, 0.0, 0.0).scale(1.0, 1.0, 1.15),
        &[
            (0.0, 0.005),
            (0.19, 0.0),
            (0.2, 0.015),
            (0.17, 0.02),
            (0.11, 0.02),
            (0.105, 0.17),
            (0.115, 0.18),
            (0.0, 0.18),
        ],
        ROUND,
        false,
    );
    b.lathe(
        band,
        Xf::at(0.0, 0.0, 0.0).scale(1.0, 1.0, 1.15),
        &[(0.107, 0.02), (0.108, 0.055)],
        ROUND,
        false,
    );
    b
}

pub(super) fn sun_hat() -> Builder {
    let mut b = Builder::default();
    let straw = b.material("straw", 0xe3c98a, 0.0, 0.85);
    let ribbon = b.material("coral ribbon", 0xe76f51, 0.0, 0.5);
    let brim: Vec<(f32, f32)> = (0..=10)
        .map(|k| {
            let t = k as f32 / 10.0;
            (0.1 + 0.2 * t, 0.06 - 0.045 * t * t)
        })
        .collect();
    b.lathe(straw, Xf::at(0.0, 0.0, 0.0), &brim, ROUND * 2, false);
    let under: Vec<(f32, f32)> = brim.iter().rev().map(|&(r, y)| (r, y - 0.004)).collect();
    b.lathe(straw, Xf::at(0.0, 0.0, 0.0), &under, ROUND * 2, false);
    b.lathe(
        straw,
        Xf::at(0.0, 0.0, 0.0),
        &[(0.1, 0.06), (0.095, 0.13), (0.07, 0.16), (0.0, 0.165)],
        ROUND * 2,
        false,
    );
    b.lathe(
        ribbon,
        Xf::at(0.0, 0.0, 0.0),
        &[(0.1, 0.062), (0.099, 0.09)],
        ROUND * 2,
        false,
    );
    b.sphere(
        ribbon,
        Xf::at(0.08, 0.075, 0.06).scale(1.0, 0.6, 0.4),
        0.03,
        12,
    );
    b
}

pub(super) fn beanie() -> Builder {
    let mut b = Builder::default();
    let knit = b.material("mustard knit", 0xd9a21b, 0.0, 0.95);
    let cuff = b.material("charcoal knit", 0x3a3a40, 0.0, 0.95);
    let dome: Vec<(f32, f32)> = (0..=12)
        .map(|k| {
            let a = k as f32 / 12.0 * FRAC_PI_2;
            (0.1 * a.cos_exact(), 0.04 + 0.12 * a.sin_exact())
        })
        .collect();
    b.lathe(knit, Xf::at(0.0, 0.0, 0.0), &dome, ROUND, false);
    b.lathe(
        cuff,
        Xf::at(0.0, 0.0, 0.0),
        &[(0.098, 0.0), (0.108, 0.005), (0.108, 0.05), (0.098, 0.055)],
        ROUND,
        false,
    );
    b.sphere(cuff, Xf::at(0.0, 0.18, 0.0), 0.035, 16);
    b
}

pub(super) fn crown() -> Builder {
    let mut b = Builder::default();
    let gold = b.material("gold", 0xf2c14e, 1.0, 0.22);
    let ruby = b.material("ruby", 0xb3122e, 0.0, 0.08);
    let velvet = b.material("velvet", 0x5b1a3a, 0.0, 0.9);
    b.lathe(
        gold,
        Xf::at(0.0, 0.0, 0.0),
        &[(0.1, 0.0), (0.105, 0.0), (0.105, 0.05), (0.1, 0.05)],
        ROUND,
        false,
    );
    b.lathe(
        gold,
        Xf::at(0.0, 0.0, 0.0),
        &[(0.1, 0.05), (0.1, 0.0)],
        ROUND,
        false,
    );
    b.lathe(
        velvet,
        Xf::at(0.0, 0.0, 0.0),
        &[(0.099, 0.02), (0.08, 0.08), (0.0, 0.1)],
        ROUND,
        false,
    );
    for k in 0..8 {
        let a = TAU * k as f32 / 8.0;
        let (s, c) = a.sin_cos_exact();
        b.cylinder(gold, Xf::at(0.1 * c, 0.05, 0.1 * s), 0.022, 0.0, 0.07, 8);
        b.sphere(gold, Xf::at(0.1 * c, 0.125, 0.1 * s), 0.008, 8);
        b.sphere(ruby, Xf::at(0.108 * c, 0.025, 0.108 * s), 0.011, 12);
    }
    b
}

pub(super) fn party_hat() -> Builder {
    let mut b = Builder::default();
    let paper = b.material("magenta card", 0xd6336c, 0.0, 0.6);
    let pom = b.material("gold tinsel", 0xf4c542, 0.6, 0.4);
    b.lathe(
        paper,
        Xf::at(0.0, 0.0, 0.0),
        &[(0.075, 0.0), (0.0, 0.24)],
        ROUND,
        false,
    );
    b.torus(pom, Xf::at(0.0, 0.005, 0.0), 0.075, 0.01, ROUND, 8);
    b.sphere(pom, Xf::at(0.0, 0.245, 0.0), 0.025, 16);
    b
}

pub(super) fn skateboard() -> Builder {
    let mut b = Builder::default();
    let deck = b.material("maple deck", 0xc9945a, 0.0, 0.6);
    let grip = b.material("grip tape", 0x202022, 0.0, 0.95);
    let metal = steel(&mut b);
    let wheel = b.material("urethane", 0xf1e3a0, 0.0, 0.5);
    b.cuboid(deck, Xf::at(0.0, 0.1, 0.0), [0.2, 0.012, 0.6]);
    b.cuboid(grip, Xf::at(0.0, 0.1065, 0.0), [0.19, 0.001, 0.58]);
    for z in [-0.3, 0.3] {
        b.cylinder(deck, Xf::at(0.0, 0.094, z), 0.1, 0.1, 0.012, 24);
        b.cylinder(grip, Xf::at(0.0, 0.1, z), 0.095, 0.095, 0.0075, 24);
    }
    for z in [-0.26, 0.26] {
        b.cuboid(metal, Xf::at(0.0, 0.075, z), [0.08, 0.03, 0.05]);
        b.tube(metal, &[[-0.1, 0.03, z], [0.1, 0.03, z]], 0.008, 10);
        for x in [-0.1, 0.1] {
            b.cylinder(
                wheel,
                Xf::at(x - 0.0175, 0.03, z).rot_z(-FRAC_PI_2),
                0.028,
                0.028,
                0.035,
                20,
            );
        }
    }
    b
}

pub(super) fn surfboard() -> Builder {
    let mut b = Builder::default();
    let board = b.material("sky resin", 0x8ecae6, 0.0, 0.25);
    let stripe = b.material("orange stripe", 0xfb8500, 0.0, 0.3);
    let fin = b.material("fin", 0x023047, 0.0, 0.4);
    b.sphere(
        board,
        Xf::at(0.0, 0.11, 0.0).scale(0.28, 0.035, 1.05),
        1.0,
        48,
    );
    b.cuboid(stripe, Xf::at(0.0, 0.1455, 0.0), [0.03, 0.001, 1.6]);
    b.cuboid(fin, Xf::at(0.0, 0.05, -0.85), [0.01, 0.1, 0.1]);
    b
}

pub(super) fn bicycle() -> Builder {
    let mut b = Builder::default();
    let frame = b.material("racing red", 0xc1121f, 0.5, 0.35);
    let tyre = b.material("rubber", 0x1b1b1b, 0.0, 0.9);
    let metal = steel(&mut b);
    let leather = b.material("saddle", 0x6f4518, 0.0, 0.6);
    let (rear, front) = ([0.0, 0.34, -0.52], [0.0, 0.34, 0.52]);
    for hub in [rear, front] {
        let wheel = Xf::at(hub[0], hub[1], hub[2]).rot_z(FRAC_PI_2);
        b.torus(tyre, wheel, 0.32, 0.022, 48, 10);
        b.torus(metal, wheel, 0.3, 0.008, 48, 6);
        b.cylinder(
            metal,
            Xf::at(-0.03, hub[1], hub[2]).rot_z(-FRAC_PI_2),
            0.02,
            0.02,
            0.06,
            12,
        );
        for k in 0..12 {
            let a = TAU * k as f32 / 12.0;
            b.tube(
                metal,
                &[
                    hub,
                    [
                        0.0,
                        hub[1] + 0.3 * a.sin_exact(),
                        hub[2] + 0.3 * a.cos_exact(),
                    ],
                ],
                0.0025,
                4,
            );
        }
    }
    let bracket = [0.0, 0.3, -0.02];
    let seat = [0.0, 0.8, -0.16];
    let head = [0.0, 0.78, 0.38];
    b.tube(frame, &[rear, bracket, seat, rear], 0.016, 12);
    b.tube(frame, &[bracket, head, seat], 0.02, 12);
    b.tube(frame, &[[0.0, 0.86, 0.36], front], 0.016, 12);
    b.tube(metal, &[seat, [0.0, 0.9, -0.19]], 0.012, 10);
    b.sphere(
        leather,
        Xf::at(0.0, 0.92, -0.16).scale(0.07, 0.025, 0.14),
        1.0,
        16,
    );
    b.tube(metal, &[[0.0, 0.86, 0.36], [0.0, 0.96, 0.34]], 0.012, 10);
    b.tube(
        metal,
        &[
            [-0.24, 0.98, 0.3],
            [-0.2, 0.96, 0.34],
            [0.2, 0.96, 0.34],
            [0.24, 0.98, 0.3],
        ],
        0.011,
        10,
    );
    b.cylinder(
        metal,
        Xf::at(-0.05, 0.3, -0.02).rot_z(-FRAC_PI_2),
        0.08,
        0.08,
        0.01,
        24,
    );
    for (x, dy) in [(-0.09, 0.12), (0.09, -0.12)] {
        b.tube(
            metal,
            &[[x * 0.6, 0.3, -0.02], [x * 0.6, 0.3 + dy, -0.02 - dy * 0.3]],
            0.008,
            8,
        );
        b.cuboid(
            tyre,
            Xf::at(x, 0.3 + dy, -0.02 - dy * 0.3),
            [0.08, 0.015, 0.05],
        );
    }
    b
}

pub(super) fn kick_scooter() -> Builder {
    let mut b = Builder::default();
    let deck = b.material("mint aluminium", 0x6fd3b5, 0.7, 0.35);
    let tyre = b.material("grey wheel", 0x4a4a4a, 0.0, 0.7);
    let grip = b.material("grip", 0x111111, 0.0, 0.9);
    b.cuboid(deck, Xf::at(0.0, 0.08, -0.05), [0.12, 0.03, 0.55]);
    for z in [-0.36, 0.3] {
        b.cylinder(
            tyre,
            Xf::at(-0.012, 0.07, z).rot_z(-FRAC_PI_2),
            0.07,
            0.07,
            0.024,
            24,
        );
    }
    b.tube(deck, &[[0.0, 0.08, 0.22], [0.0, 0.07, 0.3]], 0.015, 10);
    b.tube(deck, &[[0.0, 0.09, 0.28], [0.0, 0.88, 0.24]], 0.018, 12);
    b.tube(deck, &[[-0.22, 0.88, 0.24], [0.22, 0.88, 0.24]], 0.013, 10);
    for x in [-0.19, 0.19] {
        b.cylinder(
            grip,
            Xf::at(x - 0.05, 0.88, 0.24).rot_z(-FRAC_PI_2),
            0.018,
            0.018,
            0.1,
            12,
        );
    }
    b.cuboid(deck, Xf::at(0.0, 0.1, -0.36), [0.1, 0.01, 0.12]);
    b
}

fn framed(picture: Vec<u8>, frame_colour: u32, metallic: f32, width: f32, height: f32) -> Builder {
    let mut b = Builder::default();
    let frame = b.material("frame", frame_colour, metallic, 0.4);
    let canvas = b.textured("canvas", picture, 0.0, 0.8);
    let border = 0.06;
    let (w, h) = (width + 2.0 * border, height + 2.0 * border);
    b.cuboid(frame, Xf::at(0.0, border / 2.0, 0.0), [w, border, 0.05]);
    b.cuboid(frame, Xf::at(0.0, h - border / 2.0, 0.0), [w, border, 0.05]);
    for x in [-(w - border) / 2.0, (w - border) / 2.0] {
        b.cuboid(
            frame,
            Xf::at(x, h / 2.0, 0.0),
            [border, h - 2.0 * border, 0.05],
        );
    }
    b.cuboid(frame, Xf::at(0.0, h / 2.0, -0.015), [width, height, 0.01]);
    b.panel(canvas, Xf::at(0.0, h / 2.0, -0.009), width, height);
    b
}

pub(super) fn painting_sunset() -> Builder {
    framed(art::sunset(), 0xb8860b, 1.0, 0.9, 0.6)
}

pub(super) fn painting_primaries() -> Builder {
    framed(art::primaries(), 0xf5f5f0, 0.0, 0.6, 0.6)
}

pub(super) fn painting_waves() -> Builder {
    framed(art::waves(), 0x3b2a1a, 0.0, 0.7, 0.5)
}

pub(super) fn painting_rings() -> Builder {
    framed(art::rings(), 0x222222, 0.2, 0.5, 0.5)
}

pub(super) fn knot_sculpture() -> Builder {
    let mut b = Builder::default();
    let stone = b.material("limestone", 0xd8d2c4, 0.0, 0.8);
    let metal = b.material("bronze", 0xb0703a, 1.0, 0.35);
    b.cuboid(stone, Xf::at(0.0, 0.35, 0.0), [0.35, 0.7, 0.35]);
    for k in 0..3 {
        let xf = Xf::at(0.0, 0.95, 0.0)
            .rot_y(k as f32 * PI / 3.0)
            .rot_x(FRAC_PI_2);
        b.torus(metal, xf, 0.2, 0.025, 48, 12);
    }
    b.sphere(metal, Xf::at(0.0, 0.95, 0.0), 0.06, 24);
    b
}

fn pot(b: &mut Builder, colour: u32, radius: f32, height: f32) {
    let clay = b.material("terracotta", colour, 0.0, 0.8);
    let soil = b.material("soil", 0x3b2a1e, 0.0, 1.0);
    b.lathe(
        clay,
        Xf::at(0.0, 0.0, 0.0),
        &[
            (0.0, 0.0),
            (radius * 0.7, 0.0),
            (radius * 0.9, height * 0.85),
            (radius, height * 0.87),
            (radius, height),
            (radius * 0.92, height),
        ],
        ROUND,
        false,
    );
    b.cylinder(
        soil,
        Xf::at(0.0, height * 0.8, 0.0),
        radius * 0.9,
        radius * 0.9,
        height * 0.12,
        ROUND,
    );
}

pub(super) fn potted_fern() -> Builder {
    let mut b = Builder::default();
    pot(&mut b, 0xc2643c, 0.16, 0.28);
    let leaf = b.material("fern green", 0x3c8d2f, 0.0, 0.7);
    for k in 0..14 {
        let yaw = TAU * k as f32 / 14.0 + (k % 3) as f32 * 0.2;
        let droop = 0.5 + (k % 4) as f32 * 0.18;
        let xf = Xf::at(0.0, 0.3, 0.0)
            .rot_y(yaw)
            .rot_x(droop)
            .scale(0.05, 0.3, 0.012);
        b.sphere(leaf, xf, 1.0, 12);
    }
    b
}

pub(super) fn cactus() -> Builder {
    let mut b = Builder::default();
    pot(&mut b, 0x6c8ebf, 0.11, 0.16);
    let green = b.material("cactus green", 0x4f7942, 0.0, 0.6);
    let flower = b.material("flower", 0xff5d8f, 0.0, 0.5);
    b.cylinder(green, Xf::at(0.0, 0.14, 0.0), 0.055, 0.055, 0.3, 16);
    b.sphere(green, Xf::at(0.0, 0.44, 0.0), 0.055, 16);
    b.tube(
        green,
        &[[0.0, 0.26, 0.0], [0.1, 0.26, 0.0], [0.1, 0.36, 0.0]],
        0.032,
        14,
    );
    b.tube(
        green,
        &[[0.0, 0.32, 0.0], [-0.09, 0.32, 0.02], [-0.09, 0.4, 0.02]],
        0.028,
        14,
    );
    b.sphere(flower, Xf::at(0.0, 0.5, 0.0).scale(1.0, 0.5, 1.0), 0.03, 12);
    b
}

pub(super) fn olive_tree() -> Builder {
    let mut b = Builder::default();
    let bark = b.material("bark", 0x6b4f3a, 0.0, 0.9);
    let leaves = b.material("olive leaves", 0x6b8e4e, 0.0, 0.8);
    pot(&mut b, 0xb5651d, 0.3, 0.45);
    b.tube(
        bark,
        &[[0.0, 0.4, 0.0], [0.05, 1.0, 0.02], [-0.03, 1.5, 0.0]],
        0.05,
        12,
    );
    b.tube(bark, &[[0.04, 0.95, 0.02], [0.3, 1.35, 0.1]], 0.03, 10);
    for (x, y, z, r) in [
        (-0.05, 1.75, 0.0, 0.38),
        (0.32, 1.5, 0.12, 0.28),
        (-0.3, 1.55, -0.1, 0.26),
        (0.05, 1.55, -0.3, 0.25),
        (0.0, 1.5, 0.3, 0.24),
    ] {
        b.sphere(leaves, Xf::at(x, y, z).scale(1.0, 0.8, 1.0), r, 20);
    }
    b
}

pub(super) fn fountain() -> Builder {
    let mut b = Builder::default();
    let stone = b.material("sandstone", 0xd9c7a3, 0.0, 0.75);
    let water = b.material("water", 0x4ba3c7, 0.0, 0.05);
    b.lathe(
        stone,
        Xf::at(0.0, 0.0, 0.0),
        &[
            (0.0, 0.0),
            (1.4, 0.0),
            (1.5, 0.05),
            (1.5, 0.45),
            (1.42, 0.5),
            (1.32, 0.5),
            (1.32, 0.15),
            (0.0, 0.15),
        ],
        64,
        false,
    );
    b.cylinder(water, Xf::at(0.0, 0.15, 0.0), 1.32, 1.32, 0.25, 64);
    b.lathe(
        stone,
        Xf::at(0.0, 0.0, 0.0),
        &[(0.18, 0.4), (0.14, 0.9), (0.2, 1.0)],
        32,
        false,
    );
    b.lathe(
        stone,
        Xf::at(0.0, 0.0, 0.0),
        &[
            (0.0, 0.95),
            (0.2, 0.95),
            (0.55, 1.05),
            (0.6, 1.15),
            (0.5, 1.15),
            (0.0, 1.05),
        ],
        48,
        false,
    );
    b.cylinder(water, Xf::at(0.0, 1.05, 0.0), 0.5, 0.5, 0.08, 48);
    b.lathe(
        stone,
        Xf::at(0.0, 0.0, 0.0),
        &[(0.06, 1.1), (0.05, 1.45), (0.09, 1.5), (0.0, 1.55)],
        24,
        false,
    );
    b.lathe(
        water,
        Xf::at(0.0, 0.0, 0.0),
        &[(0.02, 1.55), (0.0, 1.7)],
        16,
        true,
    );
    b
}

pub(super) fn market_stall() -> Builder {
    let mut b = Builder::default();
    let timber = wood(&mut b);
    let counter = dark_wood(&mut b);
    let awning = b.textured(
        "striped awning",
        art::stripes(0xc0392b, 0xf6efe0),
        0.0,
        0.85,
    );
    let (w, d) = (2.4, 1.2);
    b.cuboid(counter, Xf::at(0.0, 0.5, 0.3), [w - 0.2, 1.0, 0.6]);
    b.cuboid(timber, Xf::at(0.0, 1.02, 0.3), [w, 0.04, 0.7]);
    for (x, z, h) in [
        (-w / 2.0 + 0.06, 0.6, 2.2),
        (w / 2.0 - 0.06, 0.6, 2.2),
        (-w / 2.0 + 0.06, -0.55, 2.5),
        (w / 2.0 - 0.06, -0.55, 2.5),
    ] {
        b.cuboid(timber, Xf::at(x, h / 2.0, z), [0.08, h, 0.08]);
    }
    // atan(0.3 / 1.25): the awning falls 0.3 m over 1.25 m.
    let slope = 0.235_545_f32;
    b.cuboid(
        awning,
        Xf::at(0.0, 2.38, 0.02).rot_x(slope),
        [w + 0.2, 0.03, d + 0.3],
    );
    for k in 0..12 {
        let x = -w / 2.0 - 0.05 + (k as f32 + 0.5) * (w + 0.1) / 12.0;
        b.sphere(awning, Xf::at(x, 2.2, 0.76).scale(1.0, 0.6, 0.3), 0.1, 12);
    }
    b.cuboid(timber, Xf::at(0.0, 1.9, 0.62), [1.2, 0.3, 0.03]);
    b
}

pub(super) fn signpost() -> Builder {
    let mut b = Builder::default();
    let post = dark_wood(&mut b);
    let board = b.material("painted board", 0xf0e2c0, 0.0, 0.7);
    let band = b.material("teal paint", 0x2a9d8f, 0.0, 0.6);
    b.cuboid(post, Xf::at(0.0, 1.0, 0.0), [0.08, 2.0, 0.08]);
    b.lathe(
        post,
        Xf::at(0.0, 2.0, 0.0).rot_y(PI / 4.0),
        &[(0.06, 0.0), (0.0, 0.06)],
        4,
        false,
    );
    for (y, yaw, len) in [(1.7, 0.3, 0.7), (1.4, PI + 0.5, 0.6), (1.1, 1.2, 0.55)] {
        let arm = Xf::at(0.0, y, 0.0).rot_y(yaw);
        b.cuboid(board, arm.offset_x(len / 2.0), [len, 0.16, 0.03]);
        // The arrow's point: a square turned on its corner at the end.
        b.cuboid(
            board,
            arm.offset_x(len).rot_z(PI / 4.0),
            [0.113, 0.113, 0.03],
        );
        b.cuboid(band, arm.offset_x(len * 0.2), [0.03, 0.17, 0.034]);
    }
    b
}

pub(super) fn ceramic_vase() -> Builder {
    let mut b = Builder::default();
    let glaze = b.material("cobalt glaze", 0x1f4e9c, 0.0, 0.15);
    let profile: Vec<(f32, f32)> = (0..=16)
        .map(|k| {
            let t = k as f32 / 16.0;
            let r = 0.06 + 0.07 * (t * PI * 1.2).sin_exact().max(0.0) + 0.02 * (1.0 - t);
            (if k == 0 { 0.0 } else { r }, t * 0.42)
        })
        .collect();
    b.lathe(glaze, Xf::at(0.0, 0.0, 0.0), &profile, ROUND, false);
    b.lathe(
        glaze,
        Xf::at(0.0, 0.0, 0.0),
        &[(profile[16].0, 0.42), (0.065, 0.44), (0.05, 0.43)],
        ROUND,
        false,
    );
    b
}

pub(super) fn trophy() -> Builder {
    let mut b = Builder::default();
    let gold = b.material("gold", 0xf2c14e, 1.0, 0.2);
    let base = b.material("black marble", 0x1a1a1a, 0.0, 0.2);
    b.cuboid(base, Xf::at(0.0, 0.04, 0.0), [0.16, 0.08, 0.16]);
    b.lathe(
        gold,
        Xf::at(0.0, 0.0, 0.0),
        &[
            (0.0, 0.08),
            (0.05, 0.08),
            (0.015, 0.12),
            (0.012, 0.18),
            (0.03, 0.2),
            (0.085, 0.26),
            (0.1, 0.34),
            (0.095, 0.34),
            (0.0, 0.25),
        ],
        ROUND,
        false,
    );
    for x in [-0.1, 0.1] {
        b.torus(
            gold,
            Xf::at(x, 0.27, 0.0).rot_x(FRAC_PI_2),
            0.035,
            0.008,
            20,
            8,
        );
    }
    b
}

pub(super) fn woven_rug() -> Builder {
    let mut b = Builder::default();
    let rug = b.textured("wool rug", art::rug(), 0.0, 1.0);
    b.cuboid(rug, Xf::at(0.0, 0.005, 0.0), [2.0, 0.01, 1.4]);
    b
}

pub(super) fn barrel() -> Builder {
    let mut b = Builder::default();
    let staves = wood(&mut b);
    let iron = black_metal(&mut b);
    let profile: Vec<(f32, f32)> = (0..=12)
        .map(|k| {
            let t = k as f32 / 12.0;
            (0.25 + 0.05 * (t * PI).sin_exact(), t * 0.85)
        })
        .collect();
    b.lathe(staves, Xf::at(0.0, 0.0, 0.0), &profile, ROUND, true);
    for t in [0.08, 0.3, 0.7, 0.92] {
        let r = 0.25 + 0.05 * (t * PI).sin_exact();
        b.torus(iron, Xf::at(0.0, t * 0.85, 0.0), r + 0.004, 0.008, ROUND, 6);
    }
    b
}

pub(super) fn sunglasses() -> Builder {
    let mut b = Builder::default();
    let frame = b.material("tortoiseshell", 0x5c3317, 0.0, 0.3);
    let lens = b.material("dark lens", 0x1d2b3a, 0.6, 0.05);
    for x in [-0.035, 0.035] {
        let xf = Xf::at(x, 0.03, 0.0).rot_x(FRAC_PI_2).scale(1.0, 1.0, 0.8);
        b.torus(frame, xf, 0.027, 0.004, 32, 8);
        b.cylinder(
            lens,
            Xf::at(x, 0.03, -0.001)
                .rot_x(FRAC_PI_2)
                .scale(1.0, 1.0, 0.8),
            0.027,
            0.027,
            0.002,
            32,
        );
    }
    b.tube(
        frame,
        &[[-0.01, 0.036, 0.0], [0.0, 0.04, 0.0], [0.01, 0.036, 0.0]],
        0.003,
        8,
    );
    for x in [-0.064, 0.064] {
        b.tube(
            frame,
            &[
                [x, 0.035, 0.0],
                [x * 1.05, 0.035, -0.13],
                [x * 1.0, 0.02, -0.15],
            ],
            0.003,
            8,
        );
    }
    b
}

pub(super) fn backpack() -> Builder {
    let mut b = Builder::default();
    let canvas = b.material("olive canvas", 0x6b705c, 0.0, 0.9);
    let leather = b.material("tan leather", 0xa0522d, 0.0, 0.6);
    let metal = brass(&mut b);
    b.cuboid(canvas, Xf::at(0.0, 0.22, 0.0), [0.3, 0.44, 0.16]);
    b.cylinder(
        canvas,
        Xf::at(-0.15, 0.44, 0.0).rot_z(-FRAC_PI_2),
        0.08,
        0.08,
        0.3,
        24,
    );
    b.cuboid(canvas, Xf::at(0.0, 0.14, 0.09), [0.22, 0.18, 0.04]);
    b.cuboid(leather, Xf::at(0.0, 0.36, 0.085), [0.26, 0.2, 0.012]);
    for x in [-0.07, 0.07] {
        b.cuboid(leather, Xf::at(x, 0.3, 0.093), [0.025, 0.16, 0.005]);
        b.cuboid(metal, Xf::at(x, 0.23, 0.097), [0.03, 0.02, 0.004]);
        b.tube(
            leather,
            &[
                [x, 0.45, -0.08],
                [x * 1.3, 0.35, -0.13],
                [x * 1.4, 0.05, -0.1],
                [x, 0.02, -0.08],
            ],
            0.012,
            8,
        );
    }
    b.torus(
        leather,
        Xf::at(0.0, 0.53, 0.0).rot_x(FRAC_PI_2),
        0.035,
        0.008,
        16,
        6,
    );
    b
}

pub(super) fn parcel_marker() -> Builder {
    let mut b = Builder::default();
    let stone = b.material("granite", 0x8a8d91, 0.0, 0.7);
    let plate = brass(&mut b);
    let flag = b.material("flag", 0x3a86ff, 0.0, 0.7);
    b.lathe(
        stone,
        Xf::at(0.0, 0.0, 0.0).rot_y(PI / 4.0),
        &[(0.0, 0.0), (0.2, 0.0), (0.16, 0.5), (0.0, 0.58)],
        4,
        false,
    );
    b.cuboid(
        plate,
        Xf::at(0.0, 0.28, 0.125).rot_x(-0.08),
        [0.16, 0.1, 0.01],
    );
    b.cylinder(plate, Xf::at(0.0, 0.55, 0.0), 0.012, 0.012, 0.9, 10);
    b.cuboid(flag, Xf::at(0.16, 1.3, 0.0), [0.3, 0.2, 0.01]);
    b
}

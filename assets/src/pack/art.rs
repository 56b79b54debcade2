//! Pictures for the sample pack, drawn pixel by pixel: paintings, a striped
//! awning, a woven rug. Each is a 256×256 PNG.

use super::mesh::ExactTrig;
use crate::render::encode_png;

/// Side of every picture.
const SIDE: u32 = 256;

fn picture(paint: impl Fn(f32, f32) -> [u8; 3]) -> Vec<u8> {
    let mut rgba = Vec::with_capacity((SIDE * SIDE * 4) as usize);
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (u, v) = (
                (x as f32 + 0.5) / SIDE as f32,
                (y as f32 + 0.5) / SIDE as f32,
            );
            rgba.extend(paint(u, v));
            rgba.push(255);
        }
    }
    // Encoding RGBA pixels of the right count cannot fail.
    encode_png(SIDE, SIDE, &rgba).unwrap_or_default()
}

fn mix(a: [u8; 3], b: [u8; 3], t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|c| (f32::from(a[c]) + (f32::from(b[c]) - f32::from(a[c])) * t) as u8)
}

fn rgb(hex: u32) -> [u8; 3] {
    [(hex >> 16) as u8, (hex >> 8) as u8, hex as u8]
}

/// Hills at sunset under a warm sky.
pub(crate) fn sunset() -> Vec<u8> {
    picture(|u, v| {
        let sky = mix(rgb(0x2b3a67), rgb(0xf6a45c), v / 0.62);
        let sun = ((u - 0.68).powi(2) + (v - 0.5).powi(2)).sqrt();
        let mut colour = if sun < 0.09 {
            mix(rgb(0xfff2c4), sky, (sun - 0.07) / 0.02)
        } else {
            sky
        };
        let far = 0.58 + 0.05 * (u * 9.0).sin_exact() + 0.03 * (u * 23.0).cos_exact();
        let near = 0.72 + 0.07 * (u * 5.0 + 1.0).sin_exact();
        if v > far {
            colour = mix(rgb(0x5b4a7a), rgb(0x3d3460), (v - far) * 4.0);
        }
        if v > near {
            colour = mix(rgb(0x2f4f3a), rgb(0x1c2e24), (v - near) * 3.0);
        }
        colour
    })
}

/// Rectangles of primary colours between black bars.
pub(crate) fn primaries() -> Vec<u8> {
    picture(|u, v| {
        let bars_x = [0.28, 0.31, 0.74, 0.77];
        let bars_y = [0.36, 0.39, 0.82, 0.85];
        let in_bar = |value: f32, bars: &[f32; 4]| {
            (value > bars[0] && value < bars[1]) || (value > bars[2] && value < bars[3])
        };
        if in_bar(u, &bars_x) || in_bar(v, &bars_y) {
            return rgb(0x111111);
        }
        match (u < 0.3, u > 0.75, v < 0.37, v > 0.84) {
            (true, _, true, _) => rgb(0xd62828),
            (_, true, _, true) => rgb(0x1d4e89),
            (false, false, false, true) => rgb(0xf4c430),
            _ => rgb(0xf3efe6),
        }
    })
}

/// Layered waves in blues and foam.
pub(crate) fn waves() -> Vec<u8> {
    picture(|u, v| {
        let mut colour = mix(rgb(0xe8f1f2), rgb(0xa9d6e5), v * 2.0);
        for band in 0..5 {
            let base = 0.35 + band as f32 * 0.13;
            let crest = base
                + 0.04 * (u * 12.0 + band as f32 * 1.7).sin_exact()
                + 0.02 * (u * 31.0).sin_exact();
            if v > crest {
                let deep = band as f32 / 4.0;
                colour = mix(rgb(0x468faf), rgb(0x013a63), deep);
                if v < crest + 0.012 {
                    colour = rgb(0xf1faee);
                }
            }
        }
        colour
    })
}

/// Concentric rings in autumn colours.
pub(crate) fn rings() -> Vec<u8> {
    picture(|u, v| {
        let d = ((u - 0.5).powi(2) + (v - 0.5).powi(2)).sqrt();
        let palette = [0x264653, 0x2a9d8f, 0xe9c46a, 0xf4a261, 0xe76f51];
        rgb(palette[((d * 14.0) as usize) % palette.len()])
    })
}

/// Vertical awning stripes.
pub(crate) fn stripes(a: u32, b: u32) -> Vec<u8> {
    picture(|u, _| {
        if ((u * 8.0) as u32).is_multiple_of(2) {
            rgb(a)
        } else {
            rgb(b)
        }
    })
}

/// A woven rug: a border and a diamond lattice.
pub(crate) fn rug() -> Vec<u8> {
    picture(|u, v| {
        let edge = u.min(v).min(1.0 - u).min(1.0 - v);
        if edge < 0.06 {
            return rgb(0x6b2d2d);
        }
        if edge < 0.09 {
            return rgb(0xe6c88f);
        }
        let diamond = ((u - 0.5).abs() + (v - 0.5).abs()) * 6.0;
        let lattice = ((u * 10.0).fract() - 0.5).abs() + ((v * 10.0).fract() - 0.5).abs();
        if lattice < 0.18 {
            rgb(0xe6c88f)
        } else if (diamond as u32).is_multiple_of(2) {
            rgb(0xa23b3b)
        } else {
            rgb(0x2d4a6b)
        }
    })
}

//! Building models from simple solids: boxes, solids of revolution, tori
//! and tubes, each placed by a transform and given a material.

use std::f32::consts::TAU;

use crate::render::{add, cross, dot, normalize, sub};

/// Sine and cosine from additions, multiplications and divisions only,
/// each rounded the one way IEEE 754 allows, so that the pack is the same
/// bytes on every platform (libm's `sin` may differ in its last bit).
pub(crate) trait ExactTrig {
    /// Sine and cosine.
    fn sin_cos_exact(self) -> (f32, f32);
    /// Sine.
    fn sin_exact(self) -> f32;
    /// Cosine.
    fn cos_exact(self) -> f32;
}

impl ExactTrig for f32 {
    fn sin_cos_exact(self) -> (f32, f32) {
        let tau = std::f64::consts::TAU;
        let x = f64::from(self);
        let r = x - (x / tau).round() * tau;
        let r2 = r * r;
        let (mut sin, mut cos) = (0.0f64, 0.0f64);
        let (mut sin_term, mut cos_term) = (r, 1.0f64);
        // |r| ≤ π: twelve terms of each series reach far below f32's
        // precision.
        for k in 1..=12u32 {
            sin += sin_term;
            cos += cos_term;
            let k = f64::from(k);
            sin_term *= -r2 / ((2.0 * k) * (2.0 * k + 1.0));
            cos_term *= -r2 / ((2.0 * k - 1.0) * (2.0 * k));
        }
        (sin as f32, cos as f32)
    }

    fn sin_exact(self) -> f32 {
        self.sin_cos_exact().0
    }

    fn cos_exact(self) -> f32 {
        self.sin_cos_exact().1
    }
}

/// A material: PBR base colour, metalness and roughness, and an optional
/// base-colour picture.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Material {
    pub(crate) name: &'static str,
    /// Linear RGBA.
    pub(crate) color: [f32; 4],
    pub(crate) metallic: f32,
    pub(crate) roughness: f32,
    /// PNG bytes.
    pub(crate) texture: Option<Vec<u8>>,
}

/// Triangles of one material.
#[derive(Clone, Debug, Default)]
pub(crate) struct Part {
    pub(crate) positions: Vec<[f32; 3]>,
    pub(crate) normals: Vec<[f32; 3]>,
    pub(crate) uvs: Vec<[f32; 2]>,
    pub(crate) indices: Vec<u32>,
}

/// A placement: a linear map (columns) then a translation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Xf {
    axes: [[f32; 3]; 3],
    origin: [f32; 3],
}

impl Xf {
    /// At `origin`, unrotated.
    pub(crate) fn at(x: f32, y: f32, z: f32) -> Self {
        Xf {
            axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            origin: [x, y, z],
        }
    }

    fn then_linear(self, m: [[f32; 3]; 3]) -> Self {
        // New axes = old axes · m (m given in columns).
        let apply = |v: [f32; 3]| -> [f32; 3] {
            [0, 1, 2].map(|row| {
                self.axes[0][row] * v[0] + self.axes[1][row] * v[1] + self.axes[2][row] * v[2]
            })
        };
        Xf {
            axes: m.map(apply),
            origin: self.origin,
        }
    }

    /// Turned about the local x axis by `angle` radians.
    pub(crate) fn rot_x(self, angle: f32) -> Self {
        let (s, c) = angle.sin_cos_exact();
        self.then_linear([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])
    }

    /// Turned about the local y axis.
    pub(crate) fn rot_y(self, angle: f32) -> Self {
        let (s, c) = angle.sin_cos_exact();
        self.then_linear([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])
    }

    /// Turned about the local z axis.
    pub(crate) fn rot_z(self, angle: f32) -> Self {
        let (s, c) = angle.sin_cos_exact();
        self.then_linear([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    }

    /// Stretched along the local axes.
    pub(crate) fn scale(self, x: f32, y: f32, z: f32) -> Self {
        self.then_linear([[x, 0.0, 0.0], [0.0, y, 0.0], [0.0, 0.0, z]])
    }

    /// Moved along its own x axis.
    pub(crate) fn offset_x(self, distance: f32) -> Self {
        Xf {
            axes: self.axes,
            origin: add(self.origin, self.axes[0].map(|a| a * distance)),
        }
    }

    fn point(&self, p: [f32; 3]) -> [f32; 3] {
        let mut out = self.origin;
        for (axis, value) in self.axes.iter().zip(p) {
            out = add(out, axis.map(|a| a * value));
        }
        out
    }

    fn normal(&self, n: [f32; 3]) -> [f32; 3] {
        // The inverse transpose of the linear part, by cofactors.
        let [a, b, c] = self.axes;
        let cofactor = [cross(b, c), cross(c, a), cross(a, b)];
        let det = dot(a, cofactor[0]);
        let mut out = [0f32; 3];
        for (row, value) in cofactor.iter().zip(n) {
            out = add(out, row.map(|x| x * value));
        }
        normalize(out.map(|x| if det < 0.0 { -x } else { x }))
    }
}

/// A model under construction.
#[derive(Clone, Debug, Default)]
pub(crate) struct Builder {
    pub(crate) materials: Vec<Material>,
    pub(crate) parts: Vec<Part>,
}

/// A material's place in a builder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mat(usize);

/// A colour written as sRGB hex, in linear RGBA.
pub(crate) fn hex(rgb: u32) -> [f32; 4] {
    let channel = |shift: u32| {
        // In f64 and then rounded: libm's last-bit differences do not
        // reach an f32.
        let v = f64::from((rgb >> shift) & 0xff) / 255.0;
        let linear = if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        };
        linear as f32
    };
    [channel(16), channel(8), channel(0), 1.0]
}

impl Builder {
    /// Adds a plain material.
    pub(crate) fn material(
        &mut self,
        name: &'static str,
        rgb: u32,
        metallic: f32,
        roughness: f32,
    ) -> Mat {
        self.materials.push(Material {
            name,
            color: hex(rgb),
            metallic,
            roughness,
            texture: None,
        });
        self.parts.push(Part::default());
        Mat(self.materials.len() - 1)
    }

    /// Adds a material whose base colour is a picture.
    pub(crate) fn textured(
        &mut self,
        name: &'static str,
        png: Vec<u8>,
        metallic: f32,
        roughness: f32,
    ) -> Mat {
        self.materials.push(Material {
            name,
            color: [1.0; 4],
            metallic,
            roughness,
            texture: Some(png),
        });
        self.parts.push(Part::default());
        Mat(self.materials.len() - 1)
    }

    /// Adds a triangle, skipping one with no area.
    fn triangle(part: &mut Part, a: u32, b: u32, c: u32) {
        let [pa, pb, pc] = [a, b, c].map(|i| part.positions[i as usize]);
        let area = cross(sub(pb, pa), sub(pc, pa));
        if dot(area, area) > 1e-14 {
            part.indices.extend([a, b, c]);
        }
    }

    fn vertex(part: &mut Part, xf: &Xf, p: [f32; 3], n: [f32; 3], uv: [f32; 2]) -> u32 {
        part.positions.push(xf.point(p));
        part.normals.push(xf.normal(n));
        part.uvs.push(uv);
        (part.positions.len() - 1) as u32
    }

    /// A box of `size`, centred on the placement's origin.
    pub(crate) fn cuboid(&mut self, mat: Mat, xf: Xf, size: [f32; 3]) {
        let half = size.map(|s| s / 2.0);
        let part = &mut self.parts[mat.0];
        // Each face: normal axis and sign; u and v axes chosen so that
        // u × v = normal (counter-clockwise seen from outside).
        for axis in 0..3 {
            for sign in [1.0f32, -1.0] {
                let mut normal = [0f32; 3];
                normal[axis] = sign;
                let u_axis = (axis + 1) % 3;
                let v_axis = (axis + 2) % 3;
                let corner = |u: f32, v: f32| -> [f32; 3] {
                    let mut p = [0f32; 3];
                    p[axis] = sign * half[axis];
                    p[u_axis] = u * half[u_axis];
                    p[v_axis] = v * half[v_axis];
                    p
                };
                let quad = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)];
                let base: Vec<u32> = quad
                    .iter()
                    .map(|&(u, v)| {
                        Self::vertex(
                            part,
                            &xf,
                            corner(u, v),
                            normal,
                            [(u + 1.0) / 2.0, (1.0 - v) / 2.0],
                        )
                    })
                    .collect();
                if sign > 0.0 {
                    Self::triangle(part, base[0], base[1], base[2]);
                    Self::triangle(part, base[0], base[2], base[3]);
                } else {
                    Self::triangle(part, base[0], base[2], base[1]);
                    Self::triangle(part, base[0], base[3], base[2]);
                }
            }
        }
    }

    /// A solid of revolution about the placement's y axis: `profile` is a
    /// list of (radius, height) from bottom to top. Flat discs close a
    /// profile that starts or ends away from the axis when `caps` is set.
    pub(crate) fn lathe(
        &mut self,
        mat: Mat,
        xf: Xf,
        profile: &[(f32, f32)],
        segments: u32,
        caps: bool,
    ) {
        let part = &mut self.parts[mat.0];
        let rings = profile.len();
        // Profile normals: perpendicular to the neighbouring segments.
        let normal_2d: Vec<(f32, f32)> = (0..rings)
            .map(|i| {
                let prev = profile[i.saturating_sub(1)];
                let next = profile[(i + 1).min(rings - 1)];
                let (dr, dy) = (next.0 - prev.0, next.1 - prev.1);
                let length = (dr * dr + dy * dy).sqrt().max(1e-9);
                (dy / length, -dr / length)
            })
            .collect();
        let start = part.positions.len() as u32;
        for (i, (&(radius, height), &(nr, ny))) in profile.iter().zip(&normal_2d).enumerate() {
            for s in 0..=segments {
                let angle = TAU * s as f32 / segments as f32;
                let (sin, cos) = angle.sin_cos_exact();
                Self::vertex(
                    part,
                    &xf,
                    [radius * cos, height, -radius * sin],
                    [nr * cos, ny, -nr * sin],
                    [
                        s as f32 / segments as f32,
                        1.0 - i as f32 / (rings - 1).max(1) as f32,
                    ],
                );
            }
        }
        let row = segments + 1;
        for i in 0..rings as u32 - 1 {
            for s in 0..segments {
                let a = start + i * row + s;
                let b = a + 1;
                let c = a + row;
                let d = c + 1;
                Self::triangle(part, a, b, d);
                Self::triangle(part, a, d, c);
            }
        }
        if caps {
            let (first, last) = (profile[0], profile[rings - 1]);
            if first.0 > 0.0 {
                self.disc(mat, xf, first.0, first.1, -1.0, segments);
            }
            if last.0 > 0.0 {
                self.disc(mat, xf, last.0, last.1, 1.0, segments);
            }
        }
    }

    /// A flat disc facing up (`facing` 1) or down (-1) at `height`.
    fn disc(&mut self, mat: Mat, xf: Xf, radius: f32, height: f32, facing: f32, segments: u32) {
        let part = &mut self.parts[mat.0];
        let normal = [0.0, facing, 0.0];
        let centre = Self::vertex(part, &xf, [0.0, height, 0.0], normal, [0.5, 0.5]);
        let first = part.positions.len() as u32;
        for s in 0..=segments {
            let (sin, cos) = (TAU * s as f32 / segments as f32).sin_cos_exact();
            Self::vertex(
                part,
                &xf,
                [radius * cos, height, -radius * sin],
                normal,
                [0.5 + cos / 2.0, 0.5 + sin / 2.0],
            );
        }
        for s in 0..segments {
            let (a, b) = (first + s, first + s + 1);
            if facing > 0.0 {
                Self::triangle(part, centre, a, b);
            } else {
                Self::triangle(part, centre, b, a);
            }
        }
    }

    /// A closed cylinder (or cone, or frustum) standing on the placement's
    /// origin.
    pub(crate) fn cylinder(
        &mut self,
        mat: Mat,
        xf: Xf,
        bottom: f32,
        top: f32,
        height: f32,
        segments: u32,
    ) {
        self.lathe(mat, xf, &[(bottom, 0.0), (top, height)], segments, true);
    }

    /// A sphere centred on the placement's origin.
    pub(crate) fn sphere(&mut self, mat: Mat, xf: Xf, radius: f32, segments: u32) {
        let rings = (segments / 2).max(3);
        let profile: Vec<(f32, f32)> = (0..=rings)
            .map(|i| {
                let angle = std::f32::consts::PI * i as f32 / rings as f32;
                (radius * angle.sin_exact(), -radius * angle.cos_exact())
            })
            .collect();
        self.lathe(mat, xf, &profile, segments, false);
    }

    /// A torus about the placement's y axis.
    pub(crate) fn torus(
        &mut self,
        mat: Mat,
        xf: Xf,
        major: f32,
        minor: f32,
        segments: u32,
        sides: u32,
    ) {
        let part = &mut self.parts[mat.0];
        let start = part.positions.len() as u32;
        for s in 0..=segments {
            let (sin, cos) = (TAU * s as f32 / segments as f32).sin_cos_exact();
            for k in 0..=sides {
                let (ks, kc) = (TAU * k as f32 / sides as f32).sin_cos_exact();
                let normal = [kc * cos, ks, -kc * sin];
                let radius = major + minor * kc;
                Self::vertex(
                    part,
                    &xf,
                    [radius * cos, minor * ks, -radius * sin],
                    normal,
                    [s as f32 / segments as f32, k as f32 / sides as f32],
                );
            }
        }
        let row = sides + 1;
        for s in 0..segments {
            for k in 0..sides {
                let a = start + s * row + k;
                let b = a + row;
                Self::triangle(part, a, b, b + 1);
                Self::triangle(part, a, b + 1, a + 1);
            }
        }
    }

    /// A round tube of `radius` along a polyline, with closed ends.
    pub(crate) fn tube(&mut self, mat: Mat, points: &[[f32; 3]], radius: f32, sides: u32) {
        let joints = points.len().saturating_sub(2);
        for (segment, pair) in points.windows(2).enumerate() {
            let (from, to) = (pair[0], pair[1]);
            let along = sub(to, from);
            let length = dot(along, along).sqrt();
            if length < 1e-6 {
                continue;
            }
            let y = along.map(|v| v / length);
            let helper = if y[1].abs() < 0.9 {
                [0.0, 1.0, 0.0]
            } else {
                [1.0, 0.0, 0.0]
            };
            let x = normalize(cross(helper, y));
            let z = cross(x, y);
            let xf = Xf {
                axes: [x, y, z],
                origin: from,
            };
            self.cylinder(mat, xf, radius, radius, length, sides);
            // A ball at each joint hides the seams of a bend.
            if segment < joints {
                let joint = Xf {
                    axes: [x, y, z],
                    origin: to,
                };
                self.sphere(mat, joint, radius, sides);
            }
        }
    }

    /// A flat rectangle in the placement's xy plane, facing +z, with its
    /// picture the right way up.
    pub(crate) fn panel(&mut self, mat: Mat, xf: Xf, width: f32, height: f32) {
        let part = &mut self.parts[mat.0];
        let (w, h) = (width / 2.0, height / 2.0);
        let normal = [0.0, 0.0, 1.0];
        let a = Self::vertex(part, &xf, [-w, -h, 0.0], normal, [0.0, 1.0]);
        let b = Self::vertex(part, &xf, [w, -h, 0.0], normal, [1.0, 1.0]);
        let c = Self::vertex(part, &xf, [w, h, 0.0], normal, [1.0, 0.0]);
        let d = Self::vertex(part, &xf, [-w, h, 0.0], normal, [0.0, 0.0]);
        Self::triangle(part, a, b, c);
        Self::triangle(part, a, c, d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_trig_agrees_with_libm() {
        for step in -2000..=2000 {
            let x = step as f32 * 0.01;
            let (sin, cos) = x.sin_cos_exact();
            assert!((sin - x.sin()).abs() < 1e-6, "sin {x}");
            assert!((cos - x.cos()).abs() < 1e-6, "cos {x}");
        }
    }
}

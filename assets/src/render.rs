//! A small software renderer for asset previews: an orthographic
//! three-quarter view of a model, lit by a key and a fill light, drawn at
//! twice the size and filtered down, written as PNG. It needs no GPU, so
//! any host can make a preview for any model it imports.

use std::sync::Arc;

use crate::error::AssetError;

/// The side of a preview, in pixels.
pub const PREVIEW_SIZE: u32 = 256;
/// Most pixel tests one preview may make: about a second of drawing.
const PIXEL_BUDGET: u64 = 100_000_000;
/// Samples per pixel along each axis.
const SUPERSAMPLE: u32 = 2;

/// A decoded picture in 8-bit sRGB RGBA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Texture {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) rgba: Vec<u8>,
}

impl Texture {
    /// The linear colour at `uv`, repeating, nearest texel.
    fn sample(&self, uv: [f32; 2]) -> [f32; 4] {
        let wrap = |t: f32, size: u32| -> usize {
            let t = t - t.floor();
            ((t * size as f32) as usize).min(size as usize - 1)
        };
        let x = wrap(uv[0], self.width);
        let y = wrap(uv[1], self.height);
        let at = (y * self.width as usize + x) * 4;
        let texel = &self.rgba[at..at + 4];
        [
            srgb_to_linear(texel[0]),
            srgb_to_linear(texel[1]),
            srgb_to_linear(texel[2]),
            f32::from(texel[3]) / 255.0,
        ]
    }
}

/// One drawable piece of a model: triangles in the model's frame and their
/// material.
#[derive(Clone, Debug, Default)]
pub(crate) struct Surface {
    pub(crate) positions: Vec<[f32; 3]>,
    pub(crate) normals: Vec<[f32; 3]>,
    /// Empty when the surface has no texture coordinates.
    pub(crate) uvs: Vec<[f32; 2]>,
    pub(crate) indices: Vec<u32>,
    /// Linear base colour and alpha.
    pub(crate) color: [f32; 4],
    pub(crate) metallic: f32,
    pub(crate) roughness: f32,
    pub(crate) texture: Option<Arc<Texture>>,
}

/// Renders `surfaces`, which lie within `min`..`max`, into a square PNG of
/// `size` pixels.
pub(crate) fn preview_png(
    surfaces: &[Surface],
    min: [f32; 3],
    max: [f32; 3],
    size: u32,
) -> Result<Vec<u8>, AssetError> {
    let rgba = render(surfaces, min, max, size);
    encode_png(size, size, &rgba)
}

/// The camera: looking down 25° at the model from front-right.
struct View {
    right: [f32; 3],
    up: [f32; 3],
    toward: [f32; 3],
    centre: [f32; 3],
    scale: f32,
    half: f32,
}

impl View {
    fn new(min: [f32; 3], max: [f32; 3], side: f32) -> Self {
        let (yaw, pitch) = (35f32.to_radians(), 25f32.to_radians());
        let toward = [
            yaw.sin() * pitch.cos(),
            pitch.sin(),
            yaw.cos() * pitch.cos(),
        ];
        let right = normalize(cross([0.0, 1.0, 0.0], toward));
        let up = cross(toward, right);
        let centre = [0, 1, 2].map(|axis| (min[axis] + max[axis]) / 2.0);
        let mut view = View {
            right,
            up,
            toward,
            centre,
            scale: 1.0,
            half: side / 2.0,
        };
        let mut extent: f32 = 1e-6;
        for corner in 0..8 {
            let point = [0, 1, 2].map(|axis| {
                if corner >> axis & 1 == 1 {
                    max[axis]
                } else {
                    min[axis]
                }
            });
            let (x, y, _) = view.project(point);
            extent = extent.max(x.abs()).max(y.abs());
        }
        view.scale = 0.86 * view.half / extent;
        view
    }

    /// Screen x and y relative to the centre, before scaling, and depth
    /// (larger is nearer).
    fn project(&self, point: [f32; 3]) -> (f32, f32, f32) {
        let d = sub(point, self.centre);
        (dot(d, self.right), dot(d, self.up), dot(d, self.toward))
    }

    fn to_screen(&self, point: [f32; 3]) -> [f32; 3] {
        let (x, y, depth) = self.project(point);
        [
            self.half + x * self.scale,
            self.half - y * self.scale,
            depth,
        ]
    }
}

fn render(surfaces: &[Surface], min: [f32; 3], max: [f32; 3], size: u32) -> Vec<u8> {
    let side = size * SUPERSAMPLE;
    let pixels = (side * side) as usize;
    let view = View::new(min, max, side as f32);
    let mut color = vec![[0f32; 3]; pixels];
    let mut depth = vec![f32::NEG_INFINITY; pixels];
    for y in 0..side {
        let t = y as f32 / side as f32;
        let top = [0.80, 0.86, 0.93];
        let bottom = [0.97, 0.96, 0.93];
        let row = [0, 1, 2].map(|c| srgb_f_to_linear(top[c] + (bottom[c] - top[c]) * t));
        color[(y * side) as usize..((y + 1) * side) as usize].fill(row);
    }
    let key = normalize([-0.45, 0.8, 0.55]);
    let fill = normalize([0.6, 0.25, -0.4]);
    // A model is any user's file: the pixels a preview may test are
    // bounded, and a model that needs more is drawn in part.
    let mut budget = PIXEL_BUDGET;
    'surfaces: for surface in surfaces {
        let screen: Vec<[f32; 3]> = surface
            .positions
            .iter()
            .map(|p| view.to_screen(*p))
            .collect();
        for triangle in surface.indices.chunks_exact(3) {
            let [a, b, c] = [triangle[0], triangle[1], triangle[2]].map(|i| i as usize);
            if a.max(b).max(c) >= screen.len() {
                continue;
            }
            let (pa, pb, pc) = (screen[a], screen[b], screen[c]);
            let area = edge(pa, pb, pc);
            if area.abs() < 1e-9 {
                continue;
            }
            let x0 = pa[0].min(pb[0]).min(pc[0]).floor().max(0.0) as u32;
            let x1 =
                (pa[0].max(pb[0]).max(pc[0]).ceil() as i64).clamp(0, i64::from(side) - 1) as u32;
            let y0 = pa[1].min(pb[1]).min(pc[1]).floor().max(0.0) as u32;
            let y1 =
                (pa[1].max(pb[1]).max(pc[1]).ceil() as i64).clamp(0, i64::from(side) - 1) as u32;
            let cost = u64::from(x1.saturating_sub(x0) + 1) * u64::from(y1.saturating_sub(y0) + 1);
            if cost > budget {
                tracing::warn!(
                    "a preview was cut short at its limit of {PIXEL_BUDGET} pixel tests"
                );
                break 'surfaces;
            }
            budget -= cost;
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let p = [x as f32 + 0.5, y as f32 + 0.5, 0.0];
                    let wa = edge(pb, pc, p) / area;
                    let wb = edge(pc, pa, p) / area;
                    let wc = 1.0 - wa - wb;
                    if wa < 0.0 || wb < 0.0 || wc < 0.0 {
                        continue;
                    }
                    let z = wa * pa[2] + wb * pb[2] + wc * pc[2];
                    let at = (y * side + x) as usize;
                    if z <= depth[at] {
                        continue;
                    }
                    let shaded = shade(surface, [a, b, c], [wa, wb, wc], view.toward, key, fill);
                    if shaded[3] < 0.5 {
                        continue;
                    }
                    depth[at] = z;
                    color[at] = [shaded[0], shaded[1], shaded[2]];
                }
            }
        }
    }
    downsample(&color, side, size)
}

/// The lit colour (linear) and alpha at a point of a triangle.
fn shade(
    surface: &Surface,
    corners: [usize; 3],
    weights: [f32; 3],
    toward: [f32; 3],
    key: [f32; 3],
    fill: [f32; 3],
) -> [f32; 4] {
    let blend3 = |values: &[[f32; 3]]| -> [f32; 3] {
        [0, 1, 2].map(|axis| (0..3).map(|k| values[corners[k]][axis] * weights[k]).sum())
    };
    let mut normal = if surface.normals.len() == surface.positions.len() {
        normalize(blend3(&surface.normals))
    } else {
        [0.0, 1.0, 0.0]
    };
    // Both sides of a surface are lit as its front.
    if dot(normal, toward) < 0.0 {
        normal = normal.map(|v| -v);
    }
    let mut albedo = surface.color;
    if let Some(texture) = &surface.texture
        && surface.uvs.len() == surface.positions.len()
    {
        let uv = [0, 1].map(|axis| {
            (0..3)
                .map(|k| surface.uvs[corners[k]][axis] * weights[k])
                .sum()
        });
        let texel = texture.sample(uv);
        albedo = [0, 1, 2, 3].map(|c| albedo[c] * texel[c]);
    }
    let diffuse_colour = [0, 1, 2].map(|c| albedo[c] * (1.0 - surface.metallic));
    let specular_colour =
        [0, 1, 2].map(|c| 0.04 * (1.0 - surface.metallic) + albedo[c] * surface.metallic);
    let shininess = 2.0 / (surface.roughness.clamp(0.05, 1.0).powi(4)) - 2.0;
    let mut out = [0f32; 3];
    for (light, strength) in [(key, 2.4f32), (fill, 0.7)] {
        let lambert = dot(normal, light).max(0.0);
        let half = normalize(add(light, toward));
        let spec = dot(normal, half).max(0.0).powf(shininess.max(1.0)) * (shininess + 8.0) / 25.0;
        for c in 0..3 {
            out[c] += strength * lambert * (diffuse_colour[c] / 3.0 + specular_colour[c] * spec);
        }
    }
    let sky = 0.35 + 0.15 * normal[1];
    for c in 0..3 {
        out[c] += (diffuse_colour[c] + specular_colour[c]) * sky;
    }
    [out[0], out[1], out[2], albedo[3]]
}

fn downsample(color: &[[f32; 3]], side: u32, size: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((size * size * 4) as usize);
    for y in 0..size {
        for x in 0..size {
            let mut sum = [0f32; 3];
            for dy in 0..SUPERSAMPLE {
                for dx in 0..SUPERSAMPLE {
                    let at = ((y * SUPERSAMPLE + dy) * side + x * SUPERSAMPLE + dx) as usize;
                    (0..3).for_each(|c| sum[c] += color[at][c]);
                }
            }
            let n = (SUPERSAMPLE * SUPERSAMPLE) as f32;
            out.extend(sum.map(|v| linear_to_srgb(v / n)));
            out.push(255);
        }
    }
    out
}

/// Encodes RGBA pixels as PNG.
pub(crate) fn encode_png(width: u32, height: u32, rgba: &[u8]) -> Result<Vec<u8>, AssetError> {
    let image = |err: png::EncodingError| AssetError::Image(err.to_string());
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().map_err(image)?;
    writer.write_image_data(rgba).map_err(image)?;
    writer.finish().map_err(image)?;
    Ok(out)
}

/// The width and height a PNG's header gives, read without decoding it.
pub(crate) fn png_size(bytes: &[u8]) -> Result<(u32, u32), AssetError> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder
        .read_info()
        .map_err(|err| AssetError::Image(err.to_string()))?;
    let info = reader.info();
    Ok((info.width, info.height))
}

/// Decodes a PNG of at most `max_side` pixels a side into 8-bit RGBA.
pub(crate) fn decode_png(bytes: &[u8], max_side: u32) -> Result<Texture, AssetError> {
    let image = |err: png::DecodingError| AssetError::Image(err.to_string());
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(image)?;
    let (width, height) = (reader.info().width, reader.info().height);
    if width == 0 || height == 0 || width > max_side || height > max_side {
        return Err(AssetError::Image(format!(
            "{width}×{height} is outside 1 to {max_side} pixels a side"
        )));
    }
    let mut buffer = vec![
        0;
        reader
            .output_buffer_size()
            .ok_or_else(|| AssetError::Image("too large".into()))?
    ];
    let frame = reader.next_frame(&mut buffer).map_err(image)?;
    let pixels = &buffer[..frame.buffer_size()];
    let rgba: Vec<u8> = match frame.color_type {
        png::ColorType::Rgba => pixels.to_vec(),
        png::ColorType::Rgb => pixels
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => pixels
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => pixels.iter().flat_map(|&v| [v, v, v, 255]).collect(),
        png::ColorType::Indexed => return Err(AssetError::Image("palette left unexpanded".into())),
    };
    if rgba.len() != (width * height * 4) as usize {
        return Err(AssetError::Image(
            "pixel data does not fill the picture".into(),
        ));
    }
    Ok(Texture {
        width,
        height,
        rgba,
    })
}

fn srgb_to_linear(value: u8) -> f32 {
    srgb_f_to_linear(f32::from(value) / 255.0)
}

fn srgb_f_to_linear(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_srgb(v: f32) -> u8 {
    // A gentle shoulder instead of a hard clip for bright highlights.
    let v = v / (1.0 + v * 0.15) * 1.15;
    let s = if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.clamp(0.0, 1.0).powf(1.0 / 2.4) - 0.055
    };
    (s.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

fn edge(a: [f32; 3], b: [f32; 3], p: [f32; 3]) -> f32 {
    (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
}

pub(crate) fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub(crate) fn add(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

pub(crate) fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub(crate) fn normalize(v: [f32; 3]) -> [f32; 3] {
    let length = dot(v, v).sqrt();
    if length > 1e-12 {
        v.map(|x| x / length)
    } else {
        [0.0, 1.0, 0.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(copies: usize) -> Surface {
        let positions = vec![
            [-1.0, 0.0, -1.0],
            [1.0, 0.0, -1.0],
            [1.0, 0.0, 1.0],
            [-1.0, 0.0, 1.0],
        ];
        let indices = (0..copies).flat_map(|_| [0, 2, 1, 0, 3, 2]).collect();
        Surface {
            normals: vec![[0.0, 1.0, 0.0]; 4],
            positions,
            indices,
            color: [0.8, 0.1, 0.1, 1.0],
            roughness: 0.5,
            ..Surface::default()
        }
    }

    #[test]
    fn a_model_is_drawn_over_the_background() {
        let rgba = render(&[square(1)], [-1.0, 0.0, -1.0], [1.0, 0.0, 1.0], 64);
        assert_eq!(rgba.len(), 64 * 64 * 4);
        let centre = &rgba[(32 * 64 + 32) * 4..][..4];
        let corner = &rgba[..4];
        assert!(
            centre[0] > centre[2] + 40,
            "the red square is in the middle: {centre:?}"
        );
        assert!(
            corner[2] >= corner[0],
            "the sky is in the corner: {corner:?}"
        );
    }

    #[test]
    fn drawing_stops_at_the_budget() {
        // Each copy covers most of the picture: 100,000 of them would be
        // tens of billions of pixel tests without the budget.
        let heavy = square(100_000);
        let rgba = render(&[heavy], [-1.0, 0.0, -1.0], [1.0, 0.0, 1.0], PREVIEW_SIZE);
        let centre = ((PREVIEW_SIZE / 2) * PREVIEW_SIZE + PREVIEW_SIZE / 2) as usize * 4;
        assert!(
            rgba[centre] > rgba[centre + 2],
            "what was drawn before the budget shows"
        );
    }
}

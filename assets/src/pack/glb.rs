//! Writing a model as glTF 2.0 binary: one mesh with a primitive per
//! material, positions (with their bounds), unit normals, texture
//! coordinates and indices in one 4-byte-aligned buffer, and PNG pictures
//! stored in the same buffer.

use serde_json::{Value, json};

use super::mesh::Builder;

/// `ARRAY_BUFFER`
const VERTEX_TARGET: u32 = 34_962;
/// `ELEMENT_ARRAY_BUFFER`
const INDEX_TARGET: u32 = 34_963;
/// `FLOAT`
const FLOAT: u32 = 5_126;
/// `UNSIGNED_SHORT`
const U16: u32 = 5_123;
/// `UNSIGNED_INT`
const U32: u32 = 5_125;

#[derive(Default)]
struct Writer {
    bin: Vec<u8>,
    views: Vec<Value>,
    accessors: Vec<Value>,
}

impl Writer {
    fn view(&mut self, bytes: &[u8], target: Option<u32>) -> usize {
        while !self.bin.len().is_multiple_of(4) {
            self.bin.push(0);
        }
        let mut view =
            json!({"buffer": 0, "byteOffset": self.bin.len(), "byteLength": bytes.len()});
        if let (Some(target), Value::Object(map)) = (target, &mut view) {
            map.insert("target".into(), json!(target));
        }
        self.bin.extend_from_slice(bytes);
        self.views.push(view);
        self.views.len() - 1
    }

    fn floats<const N: usize>(&mut self, values: &[[f32; N]], kind: &str, bounds: bool) -> usize {
        let bytes: Vec<u8> = values
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let view = self.view(&bytes, Some(VERTEX_TARGET));
        let mut accessor = json!({
            "bufferView": view,
            "componentType": FLOAT,
            "count": values.len(),
            "type": kind,
        });
        if bounds && let Value::Object(map) = &mut accessor {
            let mut min = [f32::INFINITY; N];
            let mut max = [f32::NEG_INFINITY; N];
            for value in values {
                for axis in 0..N {
                    min[axis] = min[axis].min(value[axis]);
                    max[axis] = max[axis].max(value[axis]);
                }
            }
            // Written as the exact doubles of the stored floats, so that a
            // reader comparing either way finds them equal.
            let exact = |v: [f32; N]| v.map(f64::from).to_vec();
            map.insert("min".into(), json!(exact(min)));
            map.insert("max".into(), json!(exact(max)));
        }
        self.accessors.push(accessor);
        self.accessors.len() - 1
    }

    fn indices(&mut self, indices: &[u32], vertices: usize) -> usize {
        let (bytes, component): (Vec<u8>, u32) = if vertices <= usize::from(u16::MAX) {
            (
                indices
                    .iter()
                    .flat_map(|&i| (i as u16).to_le_bytes())
                    .collect(),
                U16,
            )
        } else {
            (indices.iter().flat_map(|i| i.to_le_bytes()).collect(), U32)
        };
        let view = self.view(&bytes, Some(INDEX_TARGET));
        self.accessors.push(json!({
            "bufferView": view,
            "componentType": component,
            "count": indices.len(),
            "type": "SCALAR",
        }));
        self.accessors.len() - 1
    }
}

/// The `.glb` bytes of a built model named `name`.
pub(crate) fn write(name: &str, model: &Builder) -> Vec<u8> {
    let mut writer = Writer::default();
    let mut primitives = Vec::new();
    let mut materials = Vec::new();
    let mut images = Vec::new();
    let mut textures = Vec::new();
    for (material, part) in model.materials.iter().zip(&model.parts) {
        if part.indices.is_empty() {
            continue;
        }
        let mut pbr = json!({
            "baseColorFactor": material.color.to_vec(),
            "metallicFactor": material.metallic,
            "roughnessFactor": material.roughness,
        });
        if let (Some(png), Value::Object(map)) = (&material.texture, &mut pbr) {
            let view = writer.view(png, None);
            images.push(json!({"bufferView": view, "mimeType": "image/png"}));
            textures.push(json!({"sampler": 0, "source": images.len() - 1}));
            map.insert(
                "baseColorTexture".into(),
                json!({"index": textures.len() - 1}),
            );
        }
        materials.push(json!({"name": material.name, "pbrMetallicRoughness": pbr}));
        let positions = writer.floats(&part.positions, "VEC3", true);
        let normals = writer.floats(&part.normals, "VEC3", false);
        let uvs = writer.floats(&part.uvs, "VEC2", false);
        let indices = writer.indices(&part.indices, part.positions.len());
        primitives.push(json!({
            "attributes": {"POSITION": positions, "NORMAL": normals, "TEXCOORD_0": uvs},
            "indices": indices,
            "material": materials.len() - 1,
            "mode": 4,
        }));
    }
    while !writer.bin.len().is_multiple_of(4) {
        writer.bin.push(0);
    }
    let mut document = json!({
        "asset": {"version": "2.0", "generator": "Plaza sample pack"},
        "scene": 0,
        "scenes": [{"name": name, "nodes": [0]}],
        "nodes": [{"name": name, "mesh": 0}],
        "meshes": [{"name": name, "primitives": primitives}],
        "materials": materials,
        "accessors": writer.accessors,
        "bufferViews": writer.views,
        "buffers": [{"byteLength": writer.bin.len()}],
    });
    if !images.is_empty()
        && let Value::Object(map) = &mut document
    {
        map.insert("images".into(), Value::Array(images));
        map.insert("textures".into(), Value::Array(textures));
        // Linear filtering with mipmaps, repeating.
        map.insert(
            "samplers".into(),
            json!([{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]),
        );
    }
    let mut json_chunk = document.to_string().into_bytes();
    while !json_chunk.len().is_multiple_of(4) {
        json_chunk.push(b' ');
    }
    let total = 12 + 8 + json_chunk.len() + 8 + writer.bin.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(json_chunk.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json_chunk);
    out.extend_from_slice(&(writer.bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&writer.bin);
    out
}

//! Writing a model as glTF 2.0 binary: one mesh with a primitive per
//! material, positions (with their bounds), unit normals, texture
//! coordinates and indices in one 4-byte-aligned buffer, and PNG pictures
//! stored in the same buffer. A rigged avatar adds a skin, its joints'
//! nodes and its animations.

use serde_json::{Value, json};

use super::mesh::{Builder, Material, Part};
use super::rig::Avatar;

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

    fn accessor(&mut self, accessor: Value) -> usize {
        self.accessors.push(accessor);
        self.accessors.len() - 1
    }

    /// Vertex attributes.
    fn floats<const N: usize>(&mut self, values: &[[f32; N]], kind: &str, bounds: bool) -> usize {
        self.float_accessor(values, kind, bounds, Some(VERTEX_TARGET))
    }

    /// Other float data (animation keys): in a view with no target.
    fn data<const N: usize>(&mut self, values: &[[f32; N]], kind: &str, bounds: bool) -> usize {
        self.float_accessor(values, kind, bounds, None)
    }

    fn float_accessor<const N: usize>(
        &mut self,
        values: &[[f32; N]],
        kind: &str,
        bounds: bool,
        target: Option<u32>,
    ) -> usize {
        let bytes: Vec<u8> = values
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let view = self.view(&bytes, target);
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
        self.accessor(accessor)
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
        self.accessor(json!({
            "bufferView": view,
            "componentType": component,
            "count": indices.len(),
            "type": "SCALAR",
        }))
    }
}

/// A mesh's primitives and the materials and pictures they use.
#[derive(Default)]
struct Primitives {
    primitives: Vec<Value>,
    materials: Vec<Value>,
    images: Vec<Value>,
    textures: Vec<Value>,
}

impl Primitives {
    /// Writes one material's triangles (none when it has none) and
    /// returns its primitive for the caller to finish and keep.
    fn add(&mut self, writer: &mut Writer, material: &Material, part: &Part) -> Option<Value> {
        if part.indices.is_empty() {
            return None;
        }
        let mut pbr = json!({
            "baseColorFactor": material.color.to_vec(),
            "metallicFactor": material.metallic,
            "roughnessFactor": material.roughness,
        });
        if let (Some(png), Value::Object(map)) = (&material.texture, &mut pbr) {
            let view = writer.view(png, None);
            self.images
                .push(json!({"bufferView": view, "mimeType": "image/png"}));
            self.textures
                .push(json!({"sampler": 0, "source": self.images.len() - 1}));
            map.insert(
                "baseColorTexture".into(),
                json!({"index": self.textures.len() - 1}),
            );
        }
        self.materials
            .push(json!({"name": material.name, "pbrMetallicRoughness": pbr}));
        let positions = writer.floats(&part.positions, "VEC3", true);
        let normals = writer.floats(&part.normals, "VEC3", false);
        let uvs = writer.floats(&part.uvs, "VEC2", false);
        let indices = writer.indices(&part.indices, part.positions.len());
        Some(json!({
            "attributes": {"POSITION": positions, "NORMAL": normals, "TEXCOORD_0": uvs},
            "indices": indices,
            "material": self.materials.len() - 1,
            "mode": 4,
        }))
    }
}

/// The `.glb` bytes of a built model named `name`.
pub(crate) fn write(name: &str, model: &Builder) -> Vec<u8> {
    let mut writer = Writer::default();
    let mut primitives = Primitives::default();
    for (material, part) in model.materials.iter().zip(&model.parts) {
        if let Some(primitive) = primitives.add(&mut writer, material, part) {
            primitives.primitives.push(primitive);
        }
    }
    let Primitives {
        primitives,
        materials,
        images,
        textures,
    } = primitives;
    let document = json!({
        "asset": {"version": "2.0", "generator": "Plaza sample pack"},
        "scene": 0,
        "scenes": [{"name": name, "nodes": [0]}],
        "nodes": [{"name": name, "mesh": 0}],
        "meshes": [{"name": name, "primitives": primitives}],
        "materials": materials,
    });
    finish(document, writer, images, textures)
}

/// Adds the buffer and its views, accessors and pictures to `document`
/// and writes the container: header, JSON chunk, BIN chunk.
fn finish(
    mut document: Value,
    mut writer: Writer,
    images: Vec<Value>,
    textures: Vec<Value>,
) -> Vec<u8> {
    while !writer.bin.len().is_multiple_of(4) {
        writer.bin.push(0);
    }
    if let Value::Object(map) = &mut document {
        map.insert("accessors".into(), Value::Array(writer.accessors));
        map.insert("bufferViews".into(), Value::Array(writer.views));
        map.insert("buffers".into(), json!([{"byteLength": writer.bin.len()}]));
        if !images.is_empty() {
            map.insert("images".into(), Value::Array(images));
            map.insert("textures".into(), Value::Array(textures));
            // Linear filtering with mipmaps, repeating.
            map.insert(
                "samplers".into(),
                json!([{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]),
            );
        }
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

/// `UNSIGNED_BYTE`
const U8: u32 = 5_121;

/// The `.glb` bytes of a rigged avatar named `name`: its figure as one
/// skinned mesh (every vertex moving wholly with one joint), the joints
/// as a node tree with the sockets under them, and its clips.
pub(crate) fn write_avatar(name: &str, avatar: &Avatar) -> Vec<u8> {
    let mut writer = Writer::default();
    let mut primitives = Primitives::default();
    for ((material, part), joints) in avatar
        .rigged
        .model
        .materials
        .iter()
        .zip(&avatar.rigged.model.parts)
        .zip(&avatar.rigged.joint_of)
    {
        let Some(mut primitive) = primitives.add(&mut writer, material, part) else {
            continue;
        };
        let joint_bytes: Vec<u8> = joints
            .iter()
            .flat_map(|&joint| [joint as u8, 0, 0, 0])
            .collect();
        let view = writer.view(&joint_bytes, Some(VERTEX_TARGET));
        let joints_accessor = writer.accessor(json!({
            "bufferView": view,
            "componentType": U8,
            "count": joints.len(),
            "type": "VEC4",
        }));
        let weights: Vec<[f32; 4]> = vec![[1.0, 0.0, 0.0, 0.0]; joints.len()];
        let weights_accessor = writer.floats(&weights, "VEC4", false);
        if let Some(Value::Object(attributes)) = primitive.get_mut("attributes") {
            attributes.insert("JOINTS_0".into(), json!(joints_accessor));
            attributes.insert("WEIGHTS_0".into(), json!(weights_accessor));
        }
        primitives.primitives.push(primitive);
    }
    // Node 0 is the mesh; the joints follow in order, then the sockets.
    let joint_node = |joint: usize| joint + 1;
    let first_socket = avatar.joints.len() + 1;
    let mut nodes = vec![json!({"name": name, "mesh": 0, "skin": 0})];
    for (index, joint) in avatar.joints.iter().enumerate() {
        let mut children: Vec<usize> = avatar
            .joints
            .iter()
            .enumerate()
            .filter(|(_, child)| child.parent == Some(index))
            .map(|(child, _)| joint_node(child))
            .collect();
        children.extend(
            avatar
                .sockets
                .iter()
                .enumerate()
                .filter(|(_, socket)| socket.joint == index)
                .map(|(socket, _)| first_socket + socket),
        );
        let mut node = json!({"name": joint.name, "translation": joint.at.to_vec()});
        if !children.is_empty()
            && let Value::Object(map) = &mut node
        {
            map.insert("children".into(), json!(children));
        }
        nodes.push(node);
    }
    for socket in &avatar.sockets {
        nodes.push(json!({"name": socket.name, "translation": socket.at.to_vec()}));
    }
    // Inverse bind matrices: the bind pose has no rotations, so each is
    // the translation back from its joint (column-major).
    let inverse_binds: Vec<[f32; 16]> = (0..avatar.joints.len())
        .map(|joint| {
            let [x, y, z] = avatar.bind_position(joint);
            [
                1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -x, -y, -z, 1.0,
            ]
        })
        .collect();
    let inverse_binds = writer.data(&inverse_binds, "MAT4", false);
    let animations: Vec<Value> = avatar
        .clips
        .iter()
        .map(|clip| {
            let mut samplers = Vec::new();
            let mut channels = Vec::new();
            let mut times_written: Vec<(Vec<f32>, usize)> = Vec::new();
            let mut times_accessor = |writer: &mut Writer, times: &[f32]| {
                if let Some((_, accessor)) = times_written.iter().find(|(t, _)| t == times) {
                    return *accessor;
                }
                let keys: Vec<[f32; 1]> = times.iter().map(|&t| [t]).collect();
                let accessor = writer.data(&keys, "SCALAR", true);
                times_written.push((times.to_vec(), accessor));
                accessor
            };
            for track in &clip.tracks {
                let input = times_accessor(&mut writer, &track.times);
                let output = writer.data(&track.rotations, "VEC4", false);
                samplers.push(json!({"input": input, "output": output, "interpolation": "LINEAR"}));
                channels.push(json!({
                    "sampler": samplers.len() - 1,
                    "target": {"node": joint_node(track.joint), "path": "rotation"},
                }));
            }
            let input = times_accessor(&mut writer, &clip.bob.times);
            let output = writer.data(&clip.bob.heights, "VEC3", false);
            samplers.push(json!({"input": input, "output": output, "interpolation": "LINEAR"}));
            channels.push(json!({
                "sampler": samplers.len() - 1,
                "target": {"node": joint_node(0), "path": "translation"},
            }));
            json!({"name": clip.name, "channels": channels, "samplers": samplers})
        })
        .collect();
    let Primitives {
        primitives,
        materials,
        images,
        textures,
    } = primitives;
    let document = json!({
        "asset": {"version": "2.0", "generator": "Plaza sample pack"},
        "scene": 0,
        "scenes": [{"name": name, "nodes": [0, joint_node(0)]}],
        "nodes": nodes,
        "meshes": [{"name": name, "primitives": primitives}],
        "skins": [{"name": name, "inverseBindMatrices": inverse_binds, "joints": (0..avatar.joints.len()).map(joint_node).collect::<Vec<_>>(), "skeleton": joint_node(0)}],
        "animations": animations,
        "materials": materials,
    });
    finish(document, writer, images, textures)
}

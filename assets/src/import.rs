//! Importing a user's model: check that a `.glb` is valid glTF 2.0 binary
//! within the limits, measure it, draw its preview, and store the model,
//! the preview and the manifest. Every check runs before anything is
//! stored, so a refused file leaves the store as it was.

use std::collections::HashMap;
use std::sync::Arc;

use gltf::Semantic;
use gltf::accessor::{DataType, Dimensions};
use gltf::mesh::Mode;

use crate::cid::{Codec, ContentId};
use crate::error::AssetError;
use crate::manifest::{AssetKind, Attribute, Bounds, Manifest};
use crate::render::{self, PREVIEW_SIZE, Surface, Texture};
#[cfg(feature = "store")]
use crate::store::BlobStore;

/// `glTF` in little-endian.
const GLB_MAGIC: u32 = 0x4654_6c67;
/// `JSON` chunk type.
const CHUNK_JSON: u32 = 0x4e4f_534a;
/// `BIN\0` chunk type.
const CHUNK_BIN: u32 = 0x004e_4942;
/// Deepest node hierarchy read.
const MAX_DEPTH: usize = 32;
/// Most node instances drawn (a node reached twice counts twice).
const MAX_INSTANCES: usize = 10_000;

/// What a model may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportLimits {
    /// Largest `.glb` file, in bytes.
    pub max_bytes: u64,
    /// Most triangles drawn, counting every instance.
    pub max_triangles: u64,
    /// Most vertices read, counting every instance.
    pub max_vertices: u64,
    /// Most images.
    pub max_textures: u64,
    /// Largest image side, in pixels.
    pub max_texture_side: u32,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_bytes: 64 << 20,
            max_triangles: 500_000,
            max_vertices: 1_000_000,
            max_textures: 16,
            max_texture_side: 4096,
        }
    }
}

/// What the user says about a model they import.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRequest {
    /// A short name.
    pub name: String,
    /// A description.
    pub description: String,
    /// What sort of thing it is.
    pub kind: AssetKind,
    /// The creator's ledger address.
    pub creator: String,
    /// Traits beyond the kind.
    pub attributes: Vec<Attribute>,
    /// Where to read more, if anywhere.
    pub external_url: Option<String>,
    /// The scale to place it at by default.
    pub scale: f32,
}

/// What a valid model is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFacts {
    /// The bounding box of every drawn vertex, in metres.
    pub bounds: Bounds,
    /// Triangles drawn, counting every instance.
    pub triangles: u64,
    /// Images in the file.
    pub textures: u64,
    /// Meshes in the file.
    pub meshes: u64,
    /// Skins (skeletons a mesh is rigged to) in the file.
    pub skins: u64,
}

/// The outcome of an import: everything is in the store.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// The manifest.
    pub manifest: Manifest,
    /// Its content id: the asset's identity on the ledger.
    pub manifest_id: ContentId,
    /// What the model is made of.
    pub facts: ModelFacts,
}

/// A model checked and described, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    /// The manifest.
    pub manifest: Manifest,
    /// Its canonical JSON.
    pub manifest_json: Vec<u8>,
    /// The preview picture, PNG.
    pub preview: Vec<u8>,
    /// What the model is made of.
    pub facts: ModelFacts,
}

/// Checks `glb`, measures it, renders its preview and writes its manifest,
/// storing nothing.
pub fn prepare(
    glb: &[u8],
    request: &ImportRequest,
    limits: &ImportLimits,
) -> Result<Prepared, AssetError> {
    let model = Model::read(glb, limits)?;
    // A world animates an avatar by its skeleton.
    if request.kind == AssetKind::Avatar && model.facts.skins == 0 {
        return Err(AssetError::AvatarNotRigged);
    }
    let preview = model.preview_png()?;
    let manifest = Manifest {
        name: request.name.clone(),
        description: request.description.clone(),
        kind: request.kind,
        model: ContentId::of(Codec::Raw, glb),
        preview: ContentId::of(Codec::Raw, &preview),
        // Widened to the manifest's precision, a tenth of a millimetre, so
        // the written box still holds every vertex.
        bounds: Bounds {
            min: model
                .facts
                .bounds
                .min
                .map(|v| (f64::from(v) * 1e4).floor() as f32 / 1e4),
            max: model
                .facts
                .bounds
                .max
                .map(|v| (f64::from(v) * 1e4).ceil() as f32 / 1e4),
        },
        scale: request.scale,
        creator: request.creator.clone(),
        attributes: request.attributes.clone(),
        external_url: request.external_url.clone(),
    };
    let manifest_json = manifest.to_json()?;
    // What was written, read back: the manifest as every reader sees it.
    let manifest = Manifest::from_json(&manifest_json)?;
    Ok(Prepared {
        manifest,
        manifest_json,
        preview,
        facts: model.facts,
    })
}

/// Checks `glb`, renders its preview and stores model, preview and
/// manifest. Nothing is stored unless every check passes.
#[cfg(feature = "store")]
pub fn import(
    store: &BlobStore,
    glb: &[u8],
    request: &ImportRequest,
    limits: &ImportLimits,
) -> Result<Imported, AssetError> {
    let prepared = prepare(glb, request, limits)?;
    let max = store.limits().max_blob_bytes;
    for (size, what) in [
        (glb.len(), "the model"),
        (prepared.preview.len(), "the preview"),
    ] {
        if size as u64 > max {
            return Err(AssetError::TooLarge {
                what,
                size: size as u64,
                max,
            });
        }
    }
    store.put(Codec::Raw, glb)?;
    store.put(Codec::Raw, &prepared.preview)?;
    let manifest_id = store.put(Codec::Json, &prepared.manifest_json)?;
    // The user's file may be the only copy anywhere.
    store.sync()?;
    tracing::info!(
        name = %prepared.manifest.name,
        manifest = %manifest_id,
        triangles = prepared.facts.triangles,
        "imported a model"
    );
    Ok(Imported {
        manifest: prepared.manifest,
        manifest_id,
        facts: prepared.facts,
    })
}

/// Checks `glb` without storing anything and says what it is made of.
pub fn check_model(glb: &[u8], limits: &ImportLimits) -> Result<ModelFacts, AssetError> {
    Ok(Model::read(glb, limits)?.facts)
}

/// Draws the preview of a model that passes [`check_model`], as PNG.
pub fn preview_png(glb: &[u8], limits: &ImportLimits) -> Result<Vec<u8>, AssetError> {
    Model::read(glb, limits)?.preview_png()
}

/// A model read for drawing.
struct Model {
    surfaces: Vec<Surface>,
    facts: ModelFacts,
}

impl Model {
    fn read(glb: &[u8], limits: &ImportLimits) -> Result<Self, AssetError> {
        if glb.len() as u64 > limits.max_bytes {
            return Err(AssetError::TooLarge {
                what: "the model",
                size: glb.len() as u64,
                max: limits.max_bytes,
            });
        }
        check_container(glb)?;
        let gltf =
            gltf::Gltf::from_slice(glb).map_err(|err| AssetError::InvalidGltf(err.to_string()))?;
        let blob: &[u8] = gltf.blob.as_deref().unwrap_or(&[]);
        let document = &gltf.document;
        check_buffers(document, blob)?;
        let textures = document.images().count() as u64;
        if textures > limits.max_textures {
            return Err(AssetError::OverLimit {
                what: "textures",
                count: textures,
                max: limits.max_textures,
            });
        }
        let mut decoded: HashMap<usize, Option<Arc<Texture>>> = HashMap::new();
        for image in document.images() {
            decoded.insert(image.index(), read_image(&image, blob, limits)?);
        }
        let instances = instances(document)?;
        let mut triangles = 0u64;
        let mut vertices = 0u64;
        for (mesh, _) in &instances {
            for primitive in mesh.primitives() {
                triangles = triangles.saturating_add(primitive_triangles(&primitive)?);
                if let Some(positions) = primitive.get(&Semantic::Positions) {
                    vertices = vertices.saturating_add(positions.count() as u64);
                }
            }
        }
        if vertices > limits.max_vertices {
            return Err(AssetError::OverLimit {
                what: "vertices",
                count: vertices,
                max: limits.max_vertices,
            });
        }
        if triangles > limits.max_triangles {
            return Err(AssetError::OverLimit {
                what: "triangles",
                count: triangles,
                max: limits.max_triangles,
            });
        }
        if triangles == 0 {
            return Err(AssetError::InvalidGltf(
                "the default scene draws no triangles".into(),
            ));
        }
        let mut surfaces = Vec::new();
        let (mut min, mut max) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
        for (mesh, transform) in &instances {
            for primitive in mesh.primitives() {
                if !matches!(
                    primitive.mode(),
                    Mode::Triangles | Mode::TriangleStrip | Mode::TriangleFan
                ) {
                    continue;
                }
                let surface = read_surface(&primitive, transform, blob, &decoded)?;
                for position in &surface.positions {
                    if !position.iter().all(|v| v.is_finite()) {
                        return Err(AssetError::InvalidGltf(
                            "a vertex position is not a finite number".into(),
                        ));
                    }
                    for axis in 0..3 {
                        min[axis] = min[axis].min(position[axis]);
                        max[axis] = max[axis].max(position[axis]);
                    }
                }
                surfaces.push(surface);
            }
        }
        Ok(Model {
            surfaces,
            facts: ModelFacts {
                bounds: Bounds { min, max },
                triangles,
                textures,
                meshes: document.meshes().count() as u64,
                skins: document.skins().count() as u64,
            },
        })
    }

    fn preview_png(&self) -> Result<Vec<u8>, AssetError> {
        render::preview_png(
            &self.surfaces,
            self.facts.bounds.min,
            self.facts.bounds.max,
            PREVIEW_SIZE,
        )
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The GLB container: header, a JSON chunk, an optional BIN chunk, each
/// wholly inside the file.
fn check_container(glb: &[u8]) -> Result<(), AssetError> {
    let magic = b"glTF";
    if glb.len() < 12 {
        if !glb.is_empty() && magic.starts_with(&glb[..glb.len().min(4)]) {
            return Err(AssetError::Truncated {
                reason: format!("{} bytes, shorter than the 12-byte header", glb.len()),
            });
        }
        return Err(AssetError::NotGlb {
            reason: format!("{} bytes, too short to be one", glb.len()),
        });
    }
    if read_u32(glb, 0) != GLB_MAGIC {
        return Err(AssetError::NotGlb {
            reason: "it does not start with the bytes \"glTF\"".into(),
        });
    }
    let version = read_u32(glb, 4);
    if version != 2 {
        return Err(AssetError::GltfVersion(version));
    }
    let declared = read_u32(glb, 8) as usize;
    if declared > glb.len() {
        return Err(AssetError::Truncated {
            reason: format!(
                "the header says {declared} bytes, the file has {}",
                glb.len()
            ),
        });
    }
    if declared < glb.len() {
        return Err(AssetError::InvalidGltf(format!(
            "the header says {declared} bytes, the file has {}",
            glb.len()
        )));
    }
    let mut at = 12;
    let mut chunk = 0;
    while at < glb.len() {
        if glb.len() - at < 8 {
            return Err(AssetError::Truncated {
                reason: format!("chunk {chunk} has no complete header"),
            });
        }
        let length = read_u32(glb, at) as usize;
        let kind = read_u32(glb, at + 4);
        let end = at + 8 + length;
        if end > glb.len() {
            return Err(AssetError::Truncated {
                reason: format!("chunk {chunk} runs {} bytes past the end", end - glb.len()),
            });
        }
        let expected = match chunk {
            0 => Some(CHUNK_JSON),
            1 => Some(CHUNK_BIN),
            _ => None,
        };
        if chunk == 0 && kind != CHUNK_JSON {
            return Err(AssetError::InvalidGltf(
                "the first chunk is not JSON".into(),
            ));
        }
        if expected == Some(CHUNK_BIN) && kind == CHUNK_JSON {
            return Err(AssetError::InvalidGltf("a second JSON chunk".into()));
        }
        at = end;
        chunk += 1;
    }
    if chunk == 0 {
        return Err(AssetError::Truncated {
            reason: "no JSON chunk after the header".into(),
        });
    }
    Ok(())
}

/// Buffers inside the file, and every view and accessor inside its buffer,
/// so that reading them can never run off the end.
fn check_buffers(document: &gltf::Document, blob: &[u8]) -> Result<(), AssetError> {
    let invalid = |reason: String| Err(AssetError::InvalidGltf(reason));
    for buffer in document.buffers() {
        match buffer.source() {
            gltf::buffer::Source::Bin if buffer.length() <= blob.len() => {}
            gltf::buffer::Source::Bin => {
                return invalid(format!(
                    "buffer {} is {} bytes, the BIN chunk {}",
                    buffer.index(),
                    buffer.length(),
                    blob.len()
                ));
            }
            gltf::buffer::Source::Uri(_) => {
                return invalid(format!(
                    "buffer {} refers to a file outside the .glb; pack every buffer into the binary",
                    buffer.index()
                ));
            }
        }
    }
    for (index, image) in document.as_json().images.iter().enumerate() {
        if image.uri.is_some() {
            return invalid(format!(
                "image {index} refers to a file outside the .glb; pack every image into the binary"
            ));
        }
        if image.buffer_view.is_none() || image.mime_type.is_none() {
            return invalid(format!("image {index} needs a bufferView and a mimeType"));
        }
    }
    for view in document.views() {
        let end = view.offset().checked_add(view.length());
        if end.is_none_or(|end| end > view.buffer().length()) {
            return invalid(format!("buffer view {} runs past its buffer", view.index()));
        }
    }
    for accessor in document.accessors() {
        if accessor.sparse().is_some() {
            return invalid(format!(
                "accessor {} is sparse, which Plaza does not read",
                accessor.index()
            ));
        }
        let Some(view) = accessor.view() else {
            return invalid(format!("accessor {} has no buffer view", accessor.index()));
        };
        let size = accessor.size();
        let stride = view.stride().unwrap_or(size);
        if stride < size || !stride.is_multiple_of(accessor.data_type().size()) {
            return invalid(format!(
                "accessor {} has {size}-byte elements but its buffer view's stride is {stride}",
                accessor.index()
            ));
        }
        let needed = accessor
            .count()
            .checked_sub(1)
            .and_then(|n| n.checked_mul(stride))
            .and_then(|n| n.checked_add(size))
            .and_then(|n| n.checked_add(accessor.offset()));
        if needed.is_none_or(|needed| needed > view.length()) {
            return invalid(format!(
                "accessor {} runs past its buffer view",
                accessor.index()
            ));
        }
    }
    Ok(())
}

/// A mesh and the transform it is drawn with.
type Instance<'a> = (gltf::Mesh<'a>, [[f32; 4]; 4]);

/// Meshes drawn by the default scene (or the first, or every root node),
/// with their world transforms.
fn instances(document: &gltf::Document) -> Result<Vec<Instance<'_>>, AssetError> {
    let roots: Vec<gltf::Node<'_>> = match document
        .default_scene()
        .or_else(|| document.scenes().next())
    {
        Some(scene) => scene.nodes().collect(),
        None => {
            let children: std::collections::HashSet<usize> = document
                .nodes()
                .flat_map(|node| {
                    node.children()
                        .map(|child| child.index())
                        .collect::<Vec<_>>()
                })
                .collect();
            document
                .nodes()
                .filter(|node| !children.contains(&node.index()))
                .collect()
        }
    };
    let identity = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let mut out = Vec::new();
    let mut stack: Vec<(gltf::Node<'_>, [[f32; 4]; 4], usize)> =
        roots.into_iter().map(|node| (node, identity, 0)).collect();
    let mut visited = 0usize;
    while let Some((node, parent, depth)) = stack.pop() {
        visited += 1;
        if depth > MAX_DEPTH || visited > MAX_INSTANCES {
            return Err(AssetError::InvalidGltf(format!(
                "the node hierarchy is deeper than {MAX_DEPTH} or has over {MAX_INSTANCES} nodes"
            )));
        }
        let transform = multiply(&parent, &node.transform().matrix());
        if let Some(mesh) = node.mesh() {
            out.push((mesh, transform));
        }
        for child in node.children() {
            if visited + stack.len() >= MAX_INSTANCES {
                return Err(AssetError::InvalidGltf(format!(
                    "the node hierarchy reaches over {MAX_INSTANCES} nodes"
                )));
            }
            stack.push((child, transform, depth + 1));
        }
    }
    Ok(out)
}

fn multiply(a: &[[f32; 4]; 4], b: &[[f32; 4]; 4]) -> [[f32; 4]; 4] {
    // Column-major: (a·b)[col][row] = Σk a[k][row]·b[col][k].
    let mut out = [[0f32; 4]; 4];
    for col in 0..4 {
        for row in 0..4 {
            out[col][row] = (0..4).map(|k| a[k][row] * b[col][k]).sum();
        }
    }
    out
}

fn transform_point(m: &[[f32; 4]; 4], p: [f32; 3]) -> [f32; 3] {
    [0, 1, 2].map(|row| m[0][row] * p[0] + m[1][row] * p[1] + m[2][row] * p[2] + m[3][row])
}

fn transform_normal(m: &[[f32; 4]; 4], n: [f32; 3]) -> [f32; 3] {
    // Good for rotations and uniform scale; normalised afterwards.
    render::normalize([0, 1, 2].map(|row| m[0][row] * n[0] + m[1][row] * n[1] + m[2][row] * n[2]))
}

fn primitive_triangles(primitive: &gltf::Primitive<'_>) -> Result<u64, AssetError> {
    let count = match primitive.indices() {
        Some(indices) => indices.count(),
        None => primitive
            .get(&Semantic::Positions)
            .ok_or_else(|| AssetError::InvalidGltf("a primitive has no POSITION".into()))?
            .count(),
    } as u64;
    Ok(match primitive.mode() {
        Mode::Triangles => count / 3,
        Mode::TriangleStrip | Mode::TriangleFan => count.saturating_sub(2),
        _ => 0,
    })
}

fn expect_accessor(
    accessor: &gltf::Accessor<'_>,
    what: &str,
    types: &[DataType],
    dimensions: Dimensions,
) -> Result<(), AssetError> {
    if !types.contains(&accessor.data_type()) || accessor.dimensions() != dimensions {
        return Err(AssetError::InvalidGltf(format!(
            "{what} accessor {} is {:?} {:?}",
            accessor.index(),
            accessor.data_type(),
            accessor.dimensions()
        )));
    }
    Ok(())
}

fn read_surface(
    primitive: &gltf::Primitive<'_>,
    transform: &[[f32; 4]; 4],
    blob: &[u8],
    textures: &HashMap<usize, Option<Arc<Texture>>>,
) -> Result<Surface, AssetError> {
    let invalid = |reason: &str| AssetError::InvalidGltf(reason.to_owned());
    let positions = primitive
        .get(&Semantic::Positions)
        .ok_or_else(|| invalid("a primitive has no POSITION"))?;
    expect_accessor(&positions, "POSITION", &[DataType::F32], Dimensions::Vec3)?;
    if let Some(normals) = primitive.get(&Semantic::Normals) {
        expect_accessor(&normals, "NORMAL", &[DataType::F32], Dimensions::Vec3)?;
    }
    let material = primitive.material();
    let pbr = material.pbr_metallic_roughness();
    let texture_info = pbr.base_color_texture();
    let set = texture_info.as_ref().map_or(0, |info| info.tex_coord());
    if let Some(uvs) = primitive.get(&Semantic::TexCoords(set)) {
        expect_accessor(
            &uvs,
            "TEXCOORD",
            &[DataType::F32, DataType::U8, DataType::U16],
            Dimensions::Vec2,
        )?;
    }
    if let Some(indices) = primitive.indices() {
        expect_accessor(
            &indices,
            "index",
            &[DataType::U8, DataType::U16, DataType::U32],
            Dimensions::Scalar,
        )?;
    }
    let reader = primitive.reader(|buffer| match buffer.source() {
        gltf::buffer::Source::Bin => Some(blob),
        gltf::buffer::Source::Uri(_) => None,
    });
    let unreadable = || invalid("vertex data could not be read");
    let positions: Vec<[f32; 3]> = reader
        .read_positions()
        .ok_or_else(unreadable)?
        .map(|p| transform_point(transform, p))
        .collect();
    let vertex_count = positions.len();
    let normals: Vec<[f32; 3]> = match reader.read_normals() {
        Some(normals) => normals.map(|n| transform_normal(transform, n)).collect(),
        None => Vec::new(),
    };
    let uvs: Vec<[f32; 2]> = match reader.read_tex_coords(set) {
        Some(uvs) => uvs.into_f32().collect(),
        None => Vec::new(),
    };
    let listed: Vec<u32> = match reader.read_indices() {
        Some(indices) => indices.into_u32().collect(),
        None => (0..vertex_count as u32).collect(),
    };
    if let Some(bad) = listed.iter().find(|&&index| index as usize >= vertex_count) {
        return Err(AssetError::InvalidGltf(format!(
            "index {bad} is past the {vertex_count} vertices of its primitive"
        )));
    }
    let indices = match primitive.mode() {
        Mode::TriangleStrip => (2..listed.len())
            .flat_map(|i| {
                if i % 2 == 0 {
                    [listed[i - 2], listed[i - 1], listed[i]]
                } else {
                    [listed[i - 1], listed[i - 2], listed[i]]
                }
            })
            .collect(),
        Mode::TriangleFan => (2..listed.len())
            .flat_map(|i| [listed[0], listed[i - 1], listed[i]])
            .collect(),
        _ => listed,
    };
    let factor = pbr.base_color_factor();
    let texture = texture_info.and_then(|info| {
        textures
            .get(&info.texture().source().index())
            .cloned()
            .flatten()
    });
    let mut surface = Surface {
        positions,
        normals,
        uvs,
        indices,
        color: factor,
        metallic: pbr.metallic_factor().clamp(0.0, 1.0),
        roughness: pbr.roughness_factor().clamp(0.0, 1.0),
        texture,
    };
    if surface.normals.len() != vertex_count {
        surface.normals = flat_normals(&surface);
    }
    Ok(surface)
}

/// Per-vertex normals averaged from the faces, for a primitive without any.
fn flat_normals(surface: &Surface) -> Vec<[f32; 3]> {
    let mut normals = vec![[0f32; 3]; surface.positions.len()];
    for triangle in surface.indices.chunks_exact(3) {
        let [a, b, c] = [0, 1, 2].map(|k| surface.positions[triangle[k] as usize]);
        let face = render::cross(render::sub(b, a), render::sub(c, a));
        for &index in triangle {
            normals[index as usize] = render::add(normals[index as usize], face);
        }
    }
    normals.into_iter().map(render::normalize).collect()
}

/// An image inside the file: PNG or JPEG, within the size limit. A PNG is
/// decoded for the preview; a JPEG is only measured.
fn read_image(
    image: &gltf::Image<'_>,
    blob: &[u8],
    limits: &ImportLimits,
) -> Result<Option<Arc<Texture>>, AssetError> {
    let gltf::image::Source::View { view, mime_type } = image.source() else {
        return Err(AssetError::InvalidGltf(format!(
            "image {} refers to a file outside the .glb; pack every image into the binary",
            image.index()
        )));
    };
    let bytes = &blob[view.offset()..view.offset() + view.length()];
    let too_large = |width: u32, height: u32| AssetError::OverLimit {
        what: "pixels on a texture's longer side",
        count: u64::from(width.max(height)),
        max: u64::from(limits.max_texture_side),
    };
    match mime_type {
        "image/png" => {
            let (width, height) = render::png_size(bytes).map_err(|err| {
                AssetError::InvalidGltf(format!("image {}: {err}", image.index()))
            })?;
            if width.max(height) > limits.max_texture_side {
                return Err(too_large(width, height));
            }
            let texture = render::decode_png(bytes, limits.max_texture_side).map_err(|err| {
                AssetError::InvalidGltf(format!("image {}: {err}", image.index()))
            })?;
            Ok(Some(Arc::new(texture)))
        }
        "image/jpeg" => {
            let (width, height) = jpeg_size(bytes).ok_or_else(|| {
                AssetError::InvalidGltf(format!("image {} is not a readable JPEG", image.index()))
            })?;
            if width.max(height) > limits.max_texture_side {
                return Err(too_large(width, height));
            }
            Ok(None)
        }
        other => Err(AssetError::InvalidGltf(format!(
            "image {} is {other}; glTF 2.0 images are PNG or JPEG",
            image.index()
        ))),
    }
}

/// The size in a JPEG's start-of-frame segment.
fn jpeg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(..2)? != [0xff, 0xd8] {
        return None;
    }
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xff {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        if marker == 0xff {
            at += 1;
            continue;
        }
        let length = usize::from(u16::from_be_bytes([
            *bytes.get(at + 2)?,
            *bytes.get(at + 3)?,
        ]));
        let start_of_frame = matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc);
        if start_of_frame {
            let height = u16::from_be_bytes([*bytes.get(at + 5)?, *bytes.get(at + 6)?]);
            let width = u16::from_be_bytes([*bytes.get(at + 7)?, *bytes.get(at + 8)?]);
            return Some((u32::from(width), u32::from(height)));
        }
        at += 2 + length;
    }
}

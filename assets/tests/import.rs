//! Importing models: a valid file is stored with its preview and manifest;
//! each kind of bad file gets its own error and leaves the store empty.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use assets::pack::{SampleModel, sample_models};
use assets::{
    AssetError, AssetKind, BlobStore, Codec, ContentId, ImportLimits, ImportRequest, Manifest,
    StoreLimits, import,
};
use serde_json::{Value, json};

fn pack() -> &'static [SampleModel] {
    static PACK: OnceLock<Vec<SampleModel>> = OnceLock::new();
    PACK.get_or_init(sample_models)
}

fn model(slug: &str) -> &'static SampleModel {
    pack().iter().find(|model| model.slug == slug).unwrap()
}

fn request() -> ImportRequest {
    ImportRequest {
        name: "My chair".into(),
        description: "Made by me.".into(),
        kind: AssetKind::Furniture,
        creator: "plaza1creator".into(),
        attributes: Vec::new(),
        external_url: None,
        scale: 1.0,
    }
}

/// The JSON and BIN chunks of a `.glb`.
fn split(glb: &[u8]) -> (Value, Vec<u8>) {
    let json_len = u32::from_le_bytes(glb[12..16].try_into().unwrap()) as usize;
    let json = serde_json::from_slice(&glb[20..20 + json_len]).unwrap();
    let bin = glb[20 + json_len + 8..].to_vec();
    (json, bin)
}

/// A `.glb` from its chunks.
fn join(json: &Value, bin: &[u8]) -> Vec<u8> {
    let mut text = serde_json::to_vec(json).unwrap();
    while !text.len().is_multiple_of(4) {
        text.push(b' ');
    }
    let total = 12 + 8 + text.len() + 8 + bin.len();
    let mut out = Vec::new();
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&text);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(bin);
    out
}

fn edited(slug: &str, edit: impl FnOnce(&mut Value, &mut Vec<u8>)) -> Vec<u8> {
    let (mut json, mut bin) = split(&model(slug).glb);
    edit(&mut json, &mut bin);
    join(&json, &bin)
}

#[test]
fn a_valid_model_is_stored_with_its_preview_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path(), StoreLimits::default()).unwrap();
    let glb = &model("oak-chair").glb;
    let imported = import(&store, glb, &request(), &ImportLimits::default()).unwrap();
    let manifest = &imported.manifest;
    assert_eq!(manifest.model, ContentId::of(Codec::Raw, glb));
    assert_eq!(store.get(&manifest.model).unwrap(), *glb);
    let stored = store.get(&imported.manifest_id).unwrap();
    assert_eq!(imported.manifest_id, ContentId::of(Codec::Json, &stored));
    assert_eq!(Manifest::from_json(&stored).unwrap(), *manifest);
    let preview = store.get(&manifest.preview).unwrap();
    assert_eq!(&preview[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        u32::from_be_bytes(preview[16..20].try_into().unwrap()),
        assets::PREVIEW_SIZE
    );
    // A chair about 0.46 m wide and 0.94 m tall, standing on the ground.
    let size = manifest.bounds.size();
    assert!((0.4..0.6).contains(&size[0]), "{size:?}");
    assert!((0.85..1.0).contains(&size[1]), "{size:?}");
    assert!(manifest.bounds.min[1].abs() < 0.01);
    assert_eq!(imported.facts.triangles, 120);
    assert_eq!(store.ids().unwrap().len(), 3);
}

/// Imports `glb` into a fresh store, expecting an error and an empty store.
fn refused(glb: &[u8], limits: &ImportLimits) -> AssetError {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path(), StoreLimits::default()).unwrap();
    let err = import(&store, glb, &request(), limits).unwrap_err();
    assert!(
        store.ids().unwrap().is_empty(),
        "a refused import stored something: {err}"
    );
    err
}

#[test]
fn truncated_files_are_refused_as_truncated() {
    let glb = &model("oak-chair").glb;
    let limits = ImportLimits::default();
    for cut in [glb.len() - 1, glb.len() / 2, 40, 12, 6] {
        let err = refused(&glb[..cut], &limits);
        assert!(
            matches!(err, AssetError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

#[test]
fn files_that_are_not_gltf_binary_are_refused() {
    let limits = ImportLimits::default();
    let png = assets::preview_png(&model("oak-chair").glb, &limits).unwrap();
    let text = br#"{"asset":{"version":"2.0"}}"#.to_vec();
    for bytes in [png, text, Vec::new(), b"hello".to_vec()] {
        let err = refused(&bytes, &limits);
        assert!(matches!(err, AssetError::NotGlb { .. }), "{err}");
    }
    let mut version_one = model("oak-chair").glb.clone();
    version_one[4] = 1;
    assert_eq!(refused(&version_one, &limits), AssetError::GltfVersion(1));
}

#[test]
fn invalid_gltf_content_is_refused_with_the_reason() {
    let limits = ImportLimits::default();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "JSON",
            edited("oak-chair", |json, _| {
                *json = json!({"not": "gltf"});
            }),
        ),
        (
            "outside the .glb",
            edited("oak-chair", |json, _| {
                json["buffers"][0]["uri"] = json!("chair.bin");
            }),
        ),
        (
            "runs past its buffer view",
            edited("oak-chair", |json, _| {
                let count = json["accessors"][0]["count"].as_u64().unwrap();
                json["accessors"][0]["count"] = json!(count + 10);
            }),
        ),
        (
            "runs past its buffer",
            edited("oak-chair", |json, _| {
                json["bufferViews"][0]["byteLength"] = json!(100_000_000);
            }),
        ),
        (
            "is past the",
            edited("oak-chair", |json, bin| {
                let view = json["accessors"][3]["bufferView"].as_u64().unwrap() as usize;
                let offset = json["bufferViews"][view]["byteOffset"]
                    .as_u64()
                    .unwrap_or(0) as usize;
                bin[offset..offset + 2].copy_from_slice(&60_000u16.to_le_bytes());
            }),
        ),
        (
            "needs a bufferView and a mimeType",
            edited("painting-sunset", |json, _| {
                json["images"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("mimeType");
            }),
        ),
        (
            "stride",
            edited("oak-chair", |json, _| {
                let view = json["accessors"][0]["bufferView"].as_u64().unwrap() as usize;
                json["bufferViews"][view]["byteStride"] = json!(4);
            }),
        ),
        (
            "node hierarchy",
            edited("oak-chair", |json, _| {
                // A node that is its own child, many times over.
                json["nodes"][0]["children"] = json!(vec![0; 200]);
            }),
        ),
        (
            // Before the patched gltf-json in third_party, validation
            // itself panicked on this (found by plaza-fuzz).
            "Index out of bounds",
            edited("oak-chair", |json, _| {
                json["meshes"][0]["primitives"][0]["attributes"]["POSITION"] = json!(1_000);
            }),
        ),
        (
            "not a finite number",
            edited("oak-chair", |json, bin| {
                let view = json["accessors"][0]["bufferView"].as_u64().unwrap() as usize;
                let offset = json["bufferViews"][view]["byteOffset"]
                    .as_u64()
                    .unwrap_or(0) as usize;
                bin[offset..offset + 4].copy_from_slice(&f32::NAN.to_le_bytes());
            }),
        ),
    ];
    for (reason, glb) in cases {
        let err = refused(&glb, &limits);
        assert!(matches!(err, AssetError::InvalidGltf(_)), "{reason}: {err}");
        if reason != "JSON" {
            assert!(
                err.to_string().contains(reason),
                "expected {reason:?} in {err}"
            );
        }
    }
}

#[test]
fn models_over_the_limits_are_refused_with_the_limit() {
    let bicycle = &model("bicycle").glb;
    let painting = &model("painting-sunset").glb;
    let triangles = ImportLimits {
        max_triangles: 1_000,
        ..ImportLimits::default()
    };
    assert!(matches!(
        refused(bicycle, &triangles),
        AssetError::OverLimit { what: "triangles", count, max: 1000 } if count > 1000
    ));
    let textures = ImportLimits {
        max_textures: 0,
        ..ImportLimits::default()
    };
    assert!(matches!(
        refused(painting, &textures),
        AssetError::OverLimit {
            what: "textures",
            count: 1,
            max: 0
        }
    ));
    let side = ImportLimits {
        max_texture_side: 128,
        ..ImportLimits::default()
    };
    assert!(matches!(
        refused(painting, &side),
        AssetError::OverLimit {
            count: 256,
            max: 128,
            ..
        }
    ));
    let vertices = ImportLimits {
        max_vertices: 100,
        ..ImportLimits::default()
    };
    assert!(matches!(
        refused(bicycle, &vertices),
        AssetError::OverLimit {
            what: "vertices",
            max: 100,
            ..
        }
    ));
    let size = ImportLimits {
        max_bytes: 10_000,
        ..ImportLimits::default()
    };
    assert!(matches!(
        refused(bicycle, &size),
        AssetError::TooLarge {
            what: "the model",
            max: 10_000,
            ..
        }
    ));
}

//! The sample pack: enough distinct, well-formed models to seed a world,
//! identical on every host, and clean under the Khronos glTF validator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use assets::pack::{sample_models, store_sample_pack};
use assets::{
    AssetKind, BlobStore, Codec, ContentId, ImportLimits, Manifest, StoreLimits, check_model,
};

#[test]
fn the_pack_has_thirty_distinct_sensible_models() {
    let models = sample_models();
    assert!(models.len() >= 30, "{} models", models.len());
    let slugs: HashSet<_> = models.iter().map(|m| m.slug).collect();
    let names: HashSet<_> = models.iter().map(|m| m.name).collect();
    let ids: HashSet<_> = models
        .iter()
        .map(|m| ContentId::of(Codec::Raw, &m.glb))
        .collect();
    assert_eq!(slugs.len(), models.len());
    assert_eq!(names.len(), models.len());
    assert_eq!(ids.len(), models.len());
    let kinds: HashSet<_> = models.iter().map(|m| m.kind).collect();
    for kind in AssetKind::ALL {
        assert!(kinds.contains(&kind), "no {kind} in the pack");
    }
    for model in &models {
        let facts = check_model(&model.glb, &ImportLimits::default()).unwrap();
        let size = facts.bounds.size();
        let largest = size.iter().cloned().fold(0.0, f32::max);
        // Metres: from sunglasses to a market stall.
        assert!((0.1..4.0).contains(&largest), "{}: {size:?}", model.slug);
        assert!(
            facts.bounds.min[1] > -0.01,
            "{} is below the ground",
            model.slug
        );
        let gltf = gltf::Gltf::from_slice(&model.glb).unwrap();
        for primitive in gltf
            .meshes()
            .flat_map(|mesh| mesh.primitives().collect::<Vec<_>>())
        {
            assert!(
                primitive.get(&gltf::Semantic::Normals).is_some(),
                "{}",
                model.slug
            );
            let material = primitive.material();
            assert!(
                material.index().is_some(),
                "{} uses the default material",
                model.slug
            );
            let pbr = material.pbr_metallic_roughness();
            assert!((0.0..=1.0).contains(&pbr.metallic_factor()));
            assert!((0.0..=1.0).contains(&pbr.roughness_factor()));
        }
    }
}

/// The pack's models are the same bytes on every host and every build, so
/// a world seeded from it names the same assets everywhere. A change to a
/// model changes this digest on purpose: update it with the change.
#[test]
fn the_pack_is_the_same_bytes_everywhere() {
    let mut all = blake3::Hasher::new();
    for model in sample_models() {
        all.update(model.slug.as_bytes());
        all.update(&ContentId::of(Codec::Raw, &model.glb).to_bytes());
    }
    assert_eq!(
        all.finalize().to_hex().as_str(),
        "c6afe0d97bd9a93cf6b653e5a89fcdb90d7ed38fc50932fd72ea50fa9bac093f"
    );
}

#[test]
fn the_pack_stores_with_manifests_that_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path(), StoreLimits::default()).unwrap();
    let stored = store_sample_pack(&store, "plaza1creator").unwrap();
    for (model, imported) in &stored {
        let json = store.get(&imported.manifest_id).unwrap();
        let manifest = Manifest::from_json(&json).unwrap();
        assert_eq!(manifest.name, model.name);
        assert_eq!(manifest.kind, model.kind);
        assert_eq!(
            manifest.external_url.as_deref(),
            Some(&*format!("plaza://sample-pack/{}", model.slug))
        );
        assert!(store.contains(&manifest.model).unwrap());
        assert!(store.contains(&manifest.preview).unwrap());
    }
    // Storing it again changes nothing.
    let again = store_sample_pack(&store, "plaza1creator").unwrap();
    assert_eq!(again.len(), stored.len());
    assert_eq!(store.ids().unwrap().len(), 3 * stored.len());
}

/// Every model passes the Khronos glTF validator (npm `gltf-validator`,
/// installed under `tools/gltf-validate` by `scripts/setup`) with no errors.
#[test]
fn every_model_passes_the_khronos_validator() {
    // The package's directory at run time: a test binary built in a shared
    // target directory may run from another checkout than it was built in.
    let package = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let tool = Path::new(&package).join("../tools/gltf-validate");
    assert!(
        tool.join("node_modules/gltf-validator").exists(),
        "the glTF validator is not installed; run scripts/setup"
    );
    let dir = tempfile::tempdir().unwrap();
    let models = sample_models();
    for model in &models {
        std::fs::write(dir.path().join(format!("{}.glb", model.slug)), &model.glb).unwrap();
    }
    let output = Command::new("node")
        .arg(tool.join("validate.mjs"))
        .arg(dir.path())
        .output()
        .expect("node runs; scripts/setup installs it");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "validator found errors:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = report.lines().last().unwrap_or_default();
    assert_eq!(
        summary,
        format!(r#"{{"files":{},"failed":0}}"#, models.len()),
        "{report}"
    );
}

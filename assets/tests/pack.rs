//! The sample pack: enough distinct, well-formed models to seed a world,
//! identical on every host, and clean under the Khronos glTF validator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use assets::pack::{plain_figure, sample_models, store_sample_pack};
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
        "41f1af477f65601493ecd3e2260c68aee6750de7fec3a783b716ca31d5eee67f"
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
    // And the plain figure worlds draw for a player with no avatar.
    std::fs::write(dir.path().join("plain-figure.glb"), plain_figure()).unwrap();
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
        format!(r#"{{"files":{},"failed":0}}"#, models.len() + 1),
        "{report}"
    );
}

/// Each avatar (and the plain figure) is a skinned figure a world can
/// animate and dress: every vertex moves wholly with one joint, the
/// sockets for the four slots are there, and it has idle and walk
/// clips in which the walk swings the legs.
#[test]
fn the_avatars_are_rigged_with_sockets_and_walk_and_idle_clips() {
    let avatars: Vec<(String, Vec<u8>)> = sample_models()
        .into_iter()
        .filter(|model| model.kind == AssetKind::Avatar)
        .map(|model| (model.slug.to_owned(), model.glb))
        .chain([("plain figure".to_owned(), plain_figure())])
        .collect();
    assert_eq!(avatars.len(), 4);
    for (slug, glb) in &avatars {
        let facts = check_model(glb, &ImportLimits::default()).unwrap();
        let height = facts.bounds.size()[1];
        assert!((1.6..1.95).contains(&height), "{slug} is {height} m tall");
        let gltf = gltf::Gltf::from_slice(glb).unwrap();
        let blob = gltf.blob.as_deref().unwrap();
        let skin = gltf.skins().next().expect("a skin");
        let joints = skin.joints().count();
        assert_eq!(joints, 17, "{slug}");
        let names: HashSet<&str> = gltf.nodes().filter_map(|node| node.name()).collect();
        for socket in ["slot.head", "slot.body", "slot.hand", "slot.back"] {
            assert!(names.contains(socket), "{slug} has no {socket}");
        }
        for primitive in gltf.meshes().flat_map(|mesh| mesh.primitives()) {
            let reader = primitive.reader(|_| Some(blob));
            let bones: Vec<[u16; 4]> = reader.read_joints(0).unwrap().into_u16().collect();
            let weights: Vec<[f32; 4]> = reader.read_weights(0).unwrap().into_f32().collect();
            assert_eq!(bones.len(), weights.len());
            for (bone, weight) in bones.iter().zip(&weights) {
                assert!(usize::from(bone[0]) < joints);
                assert!((weight.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            }
        }
        let clips: HashSet<&str> = gltf.animations().filter_map(|clip| clip.name()).collect();
        assert_eq!(clips, HashSet::from(["idle", "walk"]), "{slug}");
        // Both clips move the same joints, so that switching from one to
        // the other leaves no joint where the other left it.
        let moved = |name: &str| -> HashSet<String> {
            gltf.animations()
                .filter(|clip| clip.name() == Some(name))
                .flat_map(|clip| clip.channels().collect::<Vec<_>>())
                .filter_map(|channel| channel.target().node().name().map(str::to_owned))
                .collect()
        };
        assert_eq!(moved("idle"), moved("walk"), "{slug}");
        let walk = gltf
            .animations()
            .find(|clip| clip.name() == Some("walk"))
            .unwrap();
        // The largest turn of the left thigh over the walk, radians.
        let swing = walk
            .channels()
            .filter(|channel| channel.target().node().name() == Some("UpperLeg.L"))
            .flat_map(
                |channel| match channel.reader(|_| Some(blob)).read_outputs().unwrap() {
                    gltf::animation::util::ReadOutputs::Rotations(rotations) => rotations
                        .into_f32()
                        .map(|[x, _, _, w]| 2.0 * x.atan2(w).abs())
                        .collect::<Vec<_>>(),
                    _ => Vec::new(),
                },
            )
            .fold(0.0f32, f32::max);
        assert!(swing > 0.4, "{slug}'s walk swings its leg {swing} rad");
    }
    // A still model offered as an avatar is refused: nothing could
    // animate it.
    let chair = &sample_models()[0];
    let mut request = chair.request("plaza1creator");
    request.kind = AssetKind::Avatar;
    assert!(matches!(
        assets::prepare(&chair.glb, &request, &ImportLimits::default()),
        Err(assets::AssetError::AvatarNotRigged)
    ));
}

//! A manifest is ERC-721 metadata: a generic reader of that format, which
//! knows nothing of Plaza, finds every standard field with its type.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use assets::{AssetKind, Attribute, AttributeValue, Bounds, Codec, ContentId, Manifest};
use serde::Deserialize;

/// The ERC-721 metadata JSON schema (EIP-721), with the fields marketplaces
/// read beside it.
#[derive(Deserialize)]
struct Erc721Metadata {
    name: String,
    description: String,
    image: String,
    animation_url: String,
    external_url: Option<String>,
    attributes: Vec<Erc721Attribute>,
}

#[derive(Deserialize)]
struct Erc721Attribute {
    trait_type: String,
    value: serde_json::Value,
}

#[test]
fn a_manifest_reads_as_erc721_metadata() {
    let manifest = Manifest {
        name: "Street lamp".into(),
        description: "A curved iron street lamp.".into(),
        kind: AssetKind::Lighting,
        model: ContentId::of(Codec::Raw, b"model"),
        preview: ContentId::of(Codec::Raw, b"preview"),
        bounds: Bounds {
            min: [-0.16, 0.0, -0.22],
            max: [0.57, 3.5, 0.22],
        },
        scale: 1.0,
        creator: "plaza1creator".into(),
        attributes: vec![
            Attribute {
                trait_type: "style".into(),
                value: AttributeValue::Text("civic".into()),
            },
            Attribute {
                trait_type: "height".into(),
                value: AttributeValue::Number(3.5),
            },
        ],
        external_url: Some("plaza://sample-pack/street-lamp".into()),
    };
    let json = manifest.to_json().unwrap();
    let metadata: Erc721Metadata = serde_json::from_slice(&json).unwrap();
    assert_eq!(metadata.name, "Street lamp");
    assert_eq!(metadata.description, "A curved iron street lamp.");
    assert_eq!(metadata.image, format!("ipfs://{}", manifest.preview));
    assert_eq!(metadata.animation_url, format!("ipfs://{}", manifest.model));
    assert_eq!(
        metadata.external_url.as_deref(),
        Some("plaza://sample-pack/street-lamp")
    );
    let traits: Vec<(&str, &serde_json::Value)> = metadata
        .attributes
        .iter()
        .map(|a| (a.trait_type.as_str(), &a.value))
        .collect();
    assert_eq!(
        traits,
        vec![
            ("kind", &serde_json::json!("lighting")),
            ("style", &serde_json::json!("civic")),
            ("height", &serde_json::json!(3.5)),
        ]
    );
    // The image link names a content id that parses back.
    let cid: ContentId = metadata
        .image
        .trim_start_matches("ipfs://")
        .parse()
        .unwrap();
    assert_eq!(cid, manifest.preview);
    // And the same manifest always has the same id.
    assert_eq!(
        manifest.content_id().unwrap(),
        ContentId::of(Codec::Json, &json)
    );
    assert_eq!(
        Manifest::from_json(&json).unwrap().content_id().unwrap(),
        manifest.content_id().unwrap()
    );
}

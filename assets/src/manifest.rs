//! Asset manifests: ERC-721 metadata JSON with Plaza's own fields beside the
//! standard ones, written canonically so that a manifest has one content id.
//!
//! ```json
//! {"animation_url":"ipfs://<model>","attributes":[{"trait_type":"kind","value":"furniture"}],
//!  "description":"…","image":"ipfs://<preview>","name":"…",
//!  "plaza":{"bounds":{"max":[…],"min":[…]},"creator":"plaza1…","format":1,
//!           "kind":"furniture","model":"<cid>","preview":"<cid>","scale":1}}
//! ```
//!
//! Canonical form: object keys sorted, no whitespace, numbers in their
//! shortest round-trip form with lengths rounded to a tenth of a
//! millimetre, no negative zero.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value, json};

use crate::cid::{Codec, ContentId};
use crate::error::AssetError;

/// The manifest format this code writes and reads.
pub const FORMAT_VERSION: u64 = 1;
/// Longest name, in bytes.
pub(crate) const MAX_NAME_BYTES: usize = 120;
/// Longest description, in bytes.
pub(crate) const MAX_DESCRIPTION_BYTES: usize = 2_000;
/// Most attributes besides the kind.
pub(crate) const MAX_ATTRIBUTES: usize = 32;
/// Largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024;

/// What sort of thing an asset is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssetKind {
    /// Worn by an avatar: hats, glasses, backpacks.
    Wearable,
    /// Chairs, tables, shelves.
    Furniture,
    /// Boards, bikes, carts.
    Vehicle,
    /// Paintings, sculptures.
    Art,
    /// Vases, trophies, rugs.
    Decoration,
    /// Lamps and lanterns.
    Lighting,
    /// Plants and trees.
    Plant,
    /// Stalls, fountains, signs.
    Structure,
    /// A piece of land in a world.
    Parcel,
    /// A figure a player appears as: a rigged model with walk and idle
    /// animations.
    Avatar,
}

impl AssetKind {
    /// Every kind.
    pub const ALL: [AssetKind; 10] = [
        AssetKind::Wearable,
        AssetKind::Furniture,
        AssetKind::Vehicle,
        AssetKind::Art,
        AssetKind::Decoration,
        AssetKind::Lighting,
        AssetKind::Plant,
        AssetKind::Structure,
        AssetKind::Parcel,
        AssetKind::Avatar,
    ];

    /// The lower-case name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Wearable => "wearable",
            AssetKind::Furniture => "furniture",
            AssetKind::Vehicle => "vehicle",
            AssetKind::Art => "art",
            AssetKind::Decoration => "decoration",
            AssetKind::Lighting => "lighting",
            AssetKind::Plant => "plant",
            AssetKind::Structure => "structure",
            AssetKind::Parcel => "parcel",
            AssetKind::Avatar => "avatar",
        }
    }
}

impl fmt::Display for AssetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AssetKind {
    type Err = AssetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        AssetKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| AssetError::Manifest {
                field: "plaza.kind",
                reason: format!("{text:?} is not a kind of asset"),
            })
    }
}

/// An axis-aligned box, in metres, in the model's own frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    /// The corner with the smallest coordinates.
    pub min: [f32; 3],
    /// The corner with the largest coordinates.
    pub max: [f32; 3],
}

impl Bounds {
    /// The size along each axis.
    pub fn size(&self) -> [f32; 3] {
        [0, 1, 2].map(|axis| self.max[axis] - self.min[axis])
    }
}

/// The value of an attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
}

/// One ERC-721 attribute: `{"trait_type": …, "value": …}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// What the attribute describes.
    pub trait_type: String,
    /// Its value.
    pub value: AttributeValue,
}

/// Everything the world needs to show and place an asset.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// A short name.
    pub name: String,
    /// A description.
    pub description: String,
    /// What sort of thing it is.
    pub kind: AssetKind,
    /// Content id of the glTF 2.0 binary model.
    pub model: ContentId,
    /// Content id of a PNG picture of it.
    pub preview: ContentId,
    /// The model's bounding box.
    pub bounds: Bounds,
    /// The scale to place it at by default.
    pub scale: f32,
    /// The creator's ledger address, as text.
    pub creator: String,
    /// Traits beyond the kind.
    pub attributes: Vec<Attribute>,
    /// Where to read more about it, if anywhere.
    pub external_url: Option<String>,
}

impl Manifest {
    /// Checks lengths, counts and numbers.
    pub fn validate(&self) -> Result<(), AssetError> {
        let bad = |field: &'static str, reason: String| Err(AssetError::Manifest { field, reason });
        if self.name.trim().is_empty() || self.name.len() > MAX_NAME_BYTES {
            return bad("name", format!("must be 1 to {MAX_NAME_BYTES} bytes"));
        }
        if self.description.len() > MAX_DESCRIPTION_BYTES {
            return bad(
                "description",
                format!("is over {MAX_DESCRIPTION_BYTES} bytes"),
            );
        }
        if self.creator.is_empty() || self.creator.len() > 128 || !self.creator.is_ascii() {
            return bad("plaza.creator", "must be an address".into());
        }
        if self.attributes.len() > MAX_ATTRIBUTES {
            return bad("attributes", format!("more than {MAX_ATTRIBUTES}"));
        }
        for attribute in &self.attributes {
            if attribute.trait_type.is_empty() || attribute.trait_type.len() > 64 {
                return bad("attributes", "a trait type must be 1 to 64 bytes".into());
            }
            if attribute.trait_type == "kind" {
                return bad("attributes", "the kind is written by Plaza itself".into());
            }
            match &attribute.value {
                AttributeValue::Text(text) if text.len() > 256 => {
                    return bad("attributes", "a value is over 256 bytes".into());
                }
                AttributeValue::Number(number) if !number.is_finite() => {
                    return bad("attributes", "a value is not a finite number".into());
                }
                _ => {}
            }
        }
        let finite = self
            .bounds
            .min
            .iter()
            .chain(&self.bounds.max)
            .all(|v| v.is_finite());
        if !finite || (0..3).any(|axis| self.bounds.min[axis] > self.bounds.max[axis]) {
            return bad(
                "plaza.bounds",
                "min must not exceed max, in finite metres".into(),
            );
        }
        if !(0.001..=1000.0).contains(&self.scale) {
            return bad("plaza.scale", "must be from 0.001 to 1000".into());
        }
        if let Some(url) = &self.external_url
            && (url.is_empty() || url.len() > 512)
        {
            return bad("external_url", "must be 1 to 512 bytes".into());
        }
        Ok(())
    }

    /// The canonical JSON bytes.
    pub fn to_json(&self) -> Result<Vec<u8>, AssetError> {
        self.validate()?;
        let mut attributes = vec![json!({"trait_type": "kind", "value": self.kind.as_str()})];
        for attribute in &self.attributes {
            let value = match &attribute.value {
                AttributeValue::Text(text) => Value::String(text.clone()),
                AttributeValue::Number(number) => number_value(*number, 1e-6),
            };
            attributes.push(json!({"trait_type": attribute.trait_type, "value": value}));
        }
        let metres =
            |v: [f32; 3]| Value::Array(v.map(|x| number_value(f64::from(x), 1e-4)).to_vec());
        let mut document = json!({
            "name": self.name,
            "description": self.description,
            "image": format!("ipfs://{}", self.preview),
            "animation_url": format!("ipfs://{}", self.model),
            "attributes": attributes,
            "plaza": {
                "format": FORMAT_VERSION,
                "kind": self.kind.as_str(),
                "model": self.model.to_string(),
                "preview": self.preview.to_string(),
                "bounds": {"min": metres(self.bounds.min), "max": metres(self.bounds.max)},
                "scale": number_value(f64::from(self.scale), 1e-4),
                "creator": self.creator,
            },
        });
        if let (Some(url), Value::Object(map)) = (&self.external_url, &mut document) {
            map.insert("external_url".into(), Value::String(url.clone()));
        }
        let mut bytes = Vec::with_capacity(1024);
        write_canonical(&document, &mut bytes)?;
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(AssetError::Manifest {
                field: "manifest",
                reason: format!("{} bytes, over {MAX_MANIFEST_BYTES}", bytes.len()),
            });
        }
        Ok(bytes)
    }

    /// The manifest's content id: its canonical JSON, codec `json`.
    pub fn content_id(&self) -> Result<ContentId, AssetError> {
        Ok(ContentId::of(Codec::Json, &self.to_json()?))
    }

    /// Reads a manifest. Only the canonical form is accepted, since another
    /// form of the same manifest would have another content id.
    pub fn from_json(bytes: &[u8]) -> Result<Self, AssetError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(AssetError::Manifest {
                field: "manifest",
                reason: format!("{} bytes, over {MAX_MANIFEST_BYTES}", bytes.len()),
            });
        }
        let document: Value =
            serde_json::from_slice(bytes).map_err(|err| AssetError::Json(err.to_string()))?;
        let manifest = Self::from_value(&document)?;
        if manifest.to_json()? != bytes {
            return Err(AssetError::Manifest {
                field: "manifest",
                reason: "not in canonical form (sorted keys, no spaces, rounded numbers)".into(),
            });
        }
        Ok(manifest)
    }

    fn from_value(document: &Value) -> Result<Self, AssetError> {
        let root = document
            .as_object()
            .ok_or_else(|| missing("manifest", "an object"))?;
        let plaza = object(root, "plaza")?;
        let format = plaza.get("format").and_then(Value::as_u64);
        if format != Some(FORMAT_VERSION) {
            return Err(AssetError::Manifest {
                field: "plaza.format",
                reason: format!("{format:?} is not format {FORMAT_VERSION}"),
            });
        }
        let model: ContentId = text(plaza, "model", "plaza.model")?.parse()?;
        let preview: ContentId = text(plaza, "preview", "plaza.preview")?.parse()?;
        let bounds = object(plaza, "bounds")?;
        let corner = |name: &'static str| -> Result<[f32; 3], AssetError> {
            let values = bounds
                .get(name)
                .and_then(Value::as_array)
                .filter(|values| values.len() == 3)
                .ok_or_else(|| missing("plaza.bounds", "min and max of three numbers"))?;
            let mut out = [0f32; 3];
            for (slot, value) in out.iter_mut().zip(values) {
                *slot = value
                    .as_f64()
                    .ok_or_else(|| missing("plaza.bounds", "numbers"))?
                    as f32;
            }
            Ok(out)
        };
        let mut attributes = Vec::new();
        let mut kind_attribute = None;
        for entry in root
            .get("attributes")
            .and_then(Value::as_array)
            .ok_or_else(|| missing("attributes", "an array"))?
        {
            let entry = entry
                .as_object()
                .ok_or_else(|| missing("attributes", "objects"))?;
            let trait_type = text(entry, "trait_type", "attributes")?.to_owned();
            let value = match entry.get("value") {
                Some(Value::String(text)) => AttributeValue::Text(text.clone()),
                Some(Value::Number(number)) => {
                    AttributeValue::Number(number.as_f64().unwrap_or(0.0))
                }
                _ => return Err(missing("attributes", "text or number values")),
            };
            if trait_type == "kind" {
                kind_attribute = Some(value);
            } else {
                attributes.push(Attribute { trait_type, value });
            }
        }
        let kind: AssetKind = text(plaza, "kind", "plaza.kind")?.parse()?;
        if kind_attribute != Some(AttributeValue::Text(kind.as_str().into())) {
            return Err(AssetError::Manifest {
                field: "attributes",
                reason: "the kind attribute disagrees with plaza.kind".into(),
            });
        }
        let manifest = Manifest {
            name: text(root, "name", "name")?.to_owned(),
            description: text(root, "description", "description")?.to_owned(),
            kind,
            model,
            preview,
            bounds: Bounds {
                min: corner("min")?,
                max: corner("max")?,
            },
            scale: plaza
                .get("scale")
                .and_then(Value::as_f64)
                .ok_or_else(|| missing("plaza.scale", "a number"))? as f32,
            creator: text(plaza, "creator", "plaza.creator")?.to_owned(),
            attributes,
            external_url: match root.get("external_url") {
                None => None,
                Some(Value::String(url)) => Some(url.clone()),
                Some(_) => return Err(missing("external_url", "text")),
            },
        };
        if text(root, "image", "image")? != format!("ipfs://{preview}")
            || text(root, "animation_url", "animation_url")? != format!("ipfs://{model}")
        {
            return Err(AssetError::Manifest {
                field: "image",
                reason: "image and animation_url must name the preview and the model".into(),
            });
        }
        Ok(manifest)
    }
}

fn missing(field: &'static str, what: &str) -> AssetError {
    AssetError::Manifest {
        field,
        reason: format!("must be {what}"),
    }
}

fn object<'a>(
    map: &'a Map<String, Value>,
    key: &'static str,
) -> Result<&'a Map<String, Value>, AssetError> {
    map.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| missing(key, "an object"))
}

fn text<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<&'a str, AssetError> {
    map.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| missing(field, "text"))
}

/// Writes `value` with object keys in byte order and no whitespace,
/// whatever order the map keeps them in.
fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), AssetError> {
    let json = |err: serde_json::Error| AssetError::Json(err.to_string());
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (position, (key, item)) in entries.into_iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key).map_err(json)?;
                out.push(b':');
                write_canonical(item, out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).map_err(json)?,
    }
    Ok(())
}

/// `value` rounded to a multiple of `step`, as a JSON number in its shortest
/// form; whole numbers are written without a fraction and negative zero as
/// zero.
fn number_value(value: f64, step: f64) -> Value {
    let rounded = (value / step).round() * step;
    let rounded = if rounded == 0.0 { 0.0 } else { rounded };
    // Reprint through the decimal form so that the rounding's own binary
    // noise (0.30000000000000004) does not show.
    let decimals = (-step.log10()).ceil().max(0.0) as usize;
    let text = format!("{rounded:.decimals$}");
    let trimmed = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text.as_str()
    };
    let trimmed = if trimmed == "-0" { "0" } else { trimmed };
    serde_json::from_str(trimmed).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Manifest {
        Manifest {
            name: "Oak chair".into(),
            description: "A sturdy chair.".into(),
            kind: AssetKind::Furniture,
            model: ContentId::of(Codec::Raw, b"model"),
            preview: ContentId::of(Codec::Raw, b"preview"),
            bounds: Bounds {
                min: [-0.25, 0.0, -0.25],
                max: [0.25, 0.9, 0.3],
            },
            scale: 1.0,
            creator: "plaza1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsl6z7e".into(),
            attributes: vec![Attribute {
                trait_type: "triangles".into(),
                value: AttributeValue::Number(412.0),
            }],
            external_url: None,
        }
    }

    #[test]
    fn canonical_json_round_trips_and_keeps_its_id() {
        let manifest = sample();
        let bytes = manifest.to_json().unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            text.starts_with(r#"{"animation_url":"ipfs://bafk"#),
            "{text}"
        );
        assert!(text.ends_with(r#""scale":1}}"#), "{text}");
        let back = Manifest::from_json(&bytes).unwrap();
        assert_eq!(back, manifest);
        assert_eq!(back.content_id().unwrap(), manifest.content_id().unwrap());
        assert_eq!(manifest.content_id().unwrap().codec(), Codec::Json);
    }

    #[test]
    fn non_canonical_or_malformed_manifests_are_refused() {
        let bytes = sample().to_json().unwrap();
        let mut value: Value = serde_json::from_slice(&bytes).unwrap();
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        assert!(matches!(
            Manifest::from_json(&pretty),
            Err(AssetError::Manifest {
                field: "manifest",
                ..
            })
        ));
        value["plaza"]["kind"] = json!("spaceship");
        let bad = serde_json::to_vec(&value).unwrap();
        assert!(Manifest::from_json(&bad).is_err());
        assert!(matches!(
            Manifest::from_json(b"{"),
            Err(AssetError::Json(_))
        ));
        let mut small = sample();
        small.bounds.min[1] = 2.0;
        assert!(matches!(
            small.to_json(),
            Err(AssetError::Manifest {
                field: "plaza.bounds",
                ..
            })
        ));
        let mut unnamed = sample();
        unnamed.name = " ".into();
        assert!(unnamed.to_json().is_err());
    }

    #[test]
    fn numbers_are_written_in_one_way() {
        assert_eq!(number_value(0.1 + 0.2, 1e-4), json!(0.3));
        assert_eq!(number_value(-0.00001, 1e-4), json!(0));
        assert_eq!(number_value(2.0, 1e-4), json!(2));
        assert_eq!(number_value(1.23456, 1e-4), json!(1.2346));
    }
}

//! The sample pack: models built in code, so a new world has things to
//! show, rent and trade without downloading anything. Each model is a
//! glTF 2.0 binary with normals and PBR materials, sized in metres, and is
//! imported like a user's model: checked, previewed and stored.

mod art;
mod glb;
mod mesh;
mod models;
mod rig;

#[cfg(feature = "store")]
use crate::error::AssetError;
use crate::import::ImportRequest;
#[cfg(feature = "store")]
use crate::import::{ImportLimits, Imported, import};
use crate::manifest::{AssetKind, Attribute, AttributeValue};
#[cfg(feature = "store")]
use crate::store::BlobStore;

/// One model of the pack.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleModel {
    /// A short unique name for files and links.
    pub slug: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Its description.
    pub description: &'static str,
    /// What sort of thing it is.
    pub kind: AssetKind,
    /// A style attribute.
    pub style: &'static str,
    /// The `.glb` bytes.
    pub glb: Vec<u8>,
}

impl SampleModel {
    /// What to import it with, credited to `creator`.
    pub fn request(&self, creator: &str) -> ImportRequest {
        ImportRequest {
            name: self.name.to_owned(),
            description: self.description.to_owned(),
            kind: self.kind,
            creator: creator.to_owned(),
            attributes: vec![
                Attribute {
                    trait_type: "style".into(),
                    value: AttributeValue::Text(self.style.into()),
                },
                Attribute {
                    trait_type: "collection".into(),
                    value: AttributeValue::Text("Plaza sample pack".into()),
                },
            ],
            external_url: Some(format!("plaza://sample-pack/{}", self.slug)),
            scale: 1.0,
        }
    }
}

type Build = fn() -> mesh::Builder;

/// slug, name, kind, style, description, builder.
const MODELS: &[(&str, &str, AssetKind, &str, &str, Build)] = {
    use AssetKind::*;
    &[
        (
            "oak-chair",
            "Oak chair",
            Furniture,
            "farmhouse",
            "A slat-backed oak chair with a linen seat pad.",
            models::oak_chair,
        ),
        (
            "bar-stool",
            "Bar stool",
            Furniture,
            "diner",
            "A steel bar stool with a red leather seat and a foot ring.",
            models::bar_stool,
        ),
        (
            "velvet-armchair",
            "Velvet armchair",
            Furniture,
            "mid-century",
            "A deep teal armchair with rolled arms.",
            models::armchair,
        ),
        (
            "park-bench",
            "Park bench",
            Furniture,
            "civic",
            "A cast-iron park bench with green slats.",
            models::park_bench,
        ),
        (
            "dining-table",
            "Walnut dining table",
            Furniture,
            "modern",
            "A table for six: walnut top, tapered oak legs.",
            models::dining_table,
        ),
        (
            "cafe-table",
            "Café table",
            Furniture,
            "bistro",
            "A round marble café table on an iron pedestal.",
            models::cafe_table,
        ),
        (
            "glass-coffee-table",
            "Glass coffee table",
            Furniture,
            "art deco",
            "Smoked glass on a slim brass frame.",
            models::glass_coffee_table,
        ),
        (
            "bookshelf",
            "Bookshelf",
            Furniture,
            "library",
            "Five shelves of well-read books.",
            models::bookshelf,
        ),
        (
            "floor-lamp",
            "Floor lamp",
            Lighting,
            "classic",
            "A brass floor lamp with a linen shade.",
            models::floor_lamp,
        ),
        (
            "desk-lamp",
            "Desk lamp",
            Lighting,
            "studio",
            "An angled desk lamp in sage enamel.",
            models::desk_lamp,
        ),
        (
            "lantern",
            "Iron lantern",
            Lighting,
            "rustic",
            "A square iron lantern with amber glass.",
            models::lantern,
        ),
        (
            "street-lamp",
            "Street lamp",
            Lighting,
            "civic",
            "A curved iron street lamp, three metres tall.",
            models::street_lamp,
        ),
        (
            "top-hat",
            "Top hat",
            Wearable,
            "formal",
            "Black felt with a plum ribbon.",
            models::top_hat,
        ),
        (
            "sun-hat",
            "Sun hat",
            Wearable,
            "summer",
            "A wide straw brim with a coral bow.",
            models::sun_hat,
        ),
        (
            "beanie",
            "Knit beanie",
            Wearable,
            "streetwear",
            "A mustard beanie with a charcoal cuff and pom-pom.",
            models::beanie,
        ),
        (
            "crown",
            "Ruby crown",
            Wearable,
            "royal",
            "Gold points, rubies and a velvet cap.",
            models::crown,
        ),
        (
            "party-hat",
            "Party hat",
            Wearable,
            "festive",
            "A magenta cone with gold tinsel.",
            models::party_hat,
        ),
        (
            "sunglasses",
            "Round sunglasses",
            Wearable,
            "retro",
            "Tortoiseshell frames with dark lenses.",
            models::sunglasses,
        ),
        (
            "backpack",
            "Canvas backpack",
            Wearable,
            "outdoor",
            "Olive canvas with tan leather straps.",
            models::backpack,
        ),
        (
            "skateboard",
            "Skateboard",
            Vehicle,
            "street",
            "A maple deck with steel trucks and cream wheels.",
            models::skateboard,
        ),
        (
            "surfboard",
            "Surfboard",
            Vehicle,
            "beach",
            "A sky-blue shortboard with an orange stripe.",
            models::surfboard,
        ),
        (
            "bicycle",
            "Racing bicycle",
            Vehicle,
            "sport",
            "A red road bike with spoked wheels.",
            models::bicycle,
        ),
        (
            "kick-scooter",
            "Kick scooter",
            Vehicle,
            "urban",
            "A mint aluminium kick scooter.",
            models::kick_scooter,
        ),
        (
            "painting-sunset",
            "Sunset over hills",
            Art,
            "landscape",
            "Hills at dusk in a gilded frame.",
            models::painting_sunset,
        ),
        (
            "painting-primaries",
            "Composition in primaries",
            Art,
            "abstract",
            "Red, blue and yellow between black bars.",
            models::painting_primaries,
        ),
        (
            "painting-waves",
            "Waves",
            Art,
            "seascape",
            "Layered waves in blues and foam.",
            models::painting_waves,
        ),
        (
            "painting-rings",
            "Rings",
            Art,
            "op art",
            "Concentric rings in autumn colours.",
            models::painting_rings,
        ),
        (
            "knot-sculpture",
            "Bronze knot",
            Art,
            "sculpture",
            "Three bronze rings on a limestone plinth.",
            models::knot_sculpture,
        ),
        (
            "potted-fern",
            "Potted fern",
            Plant,
            "indoor",
            "A leafy fern in a terracotta pot.",
            models::potted_fern,
        ),
        (
            "cactus",
            "Flowering cactus",
            Plant,
            "desert",
            "A cactus with two arms and a pink flower.",
            models::cactus,
        ),
        (
            "olive-tree",
            "Olive tree",
            Plant,
            "mediterranean",
            "A young olive tree in a large pot.",
            models::olive_tree,
        ),
        (
            "fountain",
            "Two-tier fountain",
            Structure,
            "civic",
            "A sandstone fountain with a spout.",
            models::fountain,
        ),
        (
            "market-stall",
            "Market stall",
            Structure,
            "market",
            "A timber stall with a striped awning.",
            models::market_stall,
        ),
        (
            "signpost",
            "Signpost",
            Structure,
            "trail",
            "A wooden post with three arrows.",
            models::signpost,
        ),
        (
            "parcel-marker",
            "Parcel marker",
            Parcel,
            "survey",
            "A granite marker with a flag for a parcel's corner.",
            models::parcel_marker,
        ),
        (
            "ceramic-vase",
            "Cobalt vase",
            Decoration,
            "ceramic",
            "A glazed vase in deep cobalt.",
            models::ceramic_vase,
        ),
        (
            "trophy",
            "Gold trophy",
            Decoration,
            "award",
            "A gold cup on a black marble base.",
            models::trophy,
        ),
        (
            "woven-rug",
            "Woven rug",
            Decoration,
            "kilim",
            "A wool rug with a diamond lattice.",
            models::woven_rug,
        ),
        (
            "barrel",
            "Oak barrel",
            Decoration,
            "rustic",
            "An iron-hooped oak barrel.",
            models::barrel,
        ),
    ]
};

type Figure = fn() -> rig::Avatar;

/// The pack's rigged avatars: slug, name, style, description, figure.
const AVATARS: &[(&str, &str, &str, &str, Figure)] = &[
    (
        "avatar-runner",
        "Runner",
        "sport",
        "A runner in a sky-blue top and navy trousers; walks and idles.",
        rig::runner,
    ),
    (
        "avatar-stallholder",
        "Stallholder",
        "market",
        "A stallholder in a terracotta jacket, hair to the collar; walks and idles.",
        rig::stallholder,
    ),
    (
        "avatar-night-owl",
        "Night owl",
        "streetwear",
        "A charcoal hoodie, black jeans and red trainers; walks and idles.",
        rig::night_owl,
    ),
];

/// Builds every model of the pack: the still models, then the avatars.
pub fn sample_models() -> Vec<SampleModel> {
    MODELS
        .iter()
        .map(build_model)
        .chain(AVATARS.iter().map(build_avatar))
        .collect()
}

/// Builds one entry of [`AVATARS`].
fn build_avatar(
    &(slug, name, style, description, figure): &(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Figure,
    ),
) -> SampleModel {
    SampleModel {
        slug,
        name,
        description,
        kind: AssetKind::Avatar,
        style,
        glb: glb::write_avatar(name, &figure()),
    }
}

/// The `.glb` bytes of the plain figure a world draws for a player who
/// has chosen no avatar: rigged and animated like the pack's avatars, in
/// neutral greys. It is no asset: nobody owns it.
pub fn plain_figure() -> Vec<u8> {
    glb::write_avatar("Plain figure", &rig::plain())
}

/// Builds one entry of [`MODELS`].
fn build_model(
    &(slug, name, kind, style, description, build): &(
        &'static str,
        &'static str,
        AssetKind,
        &'static str,
        &'static str,
        Build,
    ),
) -> SampleModel {
    SampleModel {
        slug,
        name,
        description,
        kind,
        style,
        glb: glb::write(name, &build()),
    }
}

/// The model of the pack called `slug`, built alone.
pub fn sample_model(slug: &str) -> Option<SampleModel> {
    match MODELS.iter().find(|model| model.0 == slug) {
        Some(model) => Some(build_model(model)),
        None => AVATARS
            .iter()
            .find(|avatar| avatar.0 == slug)
            .map(build_avatar),
    }
}

/// Builds the pack and imports every model into `store`, credited to
/// `creator`.
#[cfg(feature = "store")]
pub fn store_sample_pack(
    store: &BlobStore,
    creator: &str,
) -> Result<Vec<(SampleModel, Imported)>, AssetError> {
    let limits = ImportLimits::default();
    sample_models()
        .into_iter()
        .map(|model| {
            let imported = import(store, &model.glb, &model.request(creator), &limits)?;
            Ok((model, imported))
        })
        .collect()
}

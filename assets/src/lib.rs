//! Plaza's asset formats: content ids, manifests and models, and the chunked blob store.
//!
//! Everything about an asset is addressed by its content: the same bytes
//! give the same [`ContentId`] on every host, so a manifest or a model can be
//! fetched from any peer and checked on arrival, piece by piece.

mod cid;
mod error;
mod import;
mod manifest;
pub mod pack;
#[cfg(feature = "store")]
mod packfile;
pub mod pieces;
mod render;
#[cfg(feature = "store")]
mod store;

pub use crate::cid::{Codec, ContentId};
pub use crate::error::AssetError;
#[cfg(feature = "store")]
pub use crate::import::import;
pub use crate::import::{
    ImportLimits, ImportRequest, Imported, ModelFacts, Prepared, check_model, prepare, preview_png,
};
pub use crate::manifest::{
    AssetKind, Attribute, AttributeValue, Bounds, FORMAT_VERSION, MAX_MANIFEST_BYTES, Manifest,
};
pub use crate::render::PREVIEW_SIZE;
#[cfg(feature = "store")]
pub use crate::store::{BlobInfo, BlobStatus, BlobStore, StoreLimits};

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
mod packfile;
pub mod pieces;
mod render;
mod store;

pub use crate::cid::{Codec, ContentId};
pub use crate::error::AssetError;
pub use crate::import::{
    ImportLimits, ImportRequest, Imported, ModelFacts, Prepared, check_model, import, prepare,
    preview_png,
};
pub use crate::manifest::{
    AssetKind, Attribute, AttributeValue, Bounds, FORMAT_VERSION, MAX_MANIFEST_BYTES, Manifest,
};
pub use crate::render::PREVIEW_SIZE;
pub use crate::store::{BlobInfo, BlobStatus, BlobStore, StoreLimits};

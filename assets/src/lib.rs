//! Plaza's asset formats: content ids, manifests and models, and the chunked blob store.
//!
//! Everything about an asset is addressed by its content: the same bytes
//! give the same [`ContentId`] on every host, so a manifest or a model can be
//! fetched from any peer and checked on arrival.

mod cid;
mod error;

pub use crate::cid::{Codec, ContentId};
pub use crate::error::AssetError;

//! The one error type of the `assets` crate.

use thiserror::Error;

/// Everything that can go wrong while reading, checking or storing asset data.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AssetError {
    // ---- Content ids ----
    /// The text is not a multibase-encoded CID.
    #[error("content id {text:?} is not a valid CID: {reason}")]
    CidText {
        /// The text that was given.
        text: String,
        /// What the CID parser reported.
        reason: String,
    },
    /// The bytes are not a binary CID.
    #[error("content id bytes are not a valid CID: {0}")]
    CidBytes(String),
    /// The CID is valid but not one Plaza issues.
    #[error("content id {cid} is not a Plaza content id: {reason}")]
    CidNotPlaza {
        /// The CID that was given, in its own text form.
        cid: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    // ---- Manifests ----
    /// Bytes that are not JSON.
    #[error("manifest is not JSON: {0}")]
    Json(String),
    /// A manifest field that is missing or wrong.
    #[error("manifest field {field}: {reason}")]
    Manifest {
        /// The field, as a JSON path.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    // ---- Blobs and pieces ----
    /// A list of piece values that cannot belong to the blob.
    #[error("piece list does not fit the blob: {reason}")]
    PieceList {
        /// What is wrong.
        reason: String,
    },
    /// A list of piece values that does not hash to the blob's id.
    #[error("piece list does not hash to {cid}")]
    PieceListMismatch {
        /// The blob.
        cid: String,
    },
    /// A piece whose bytes do not match its entry in the piece list.
    #[error("piece {index} of {cid} does not match its hash; it was not stored")]
    PieceMismatch {
        /// The blob.
        cid: String,
        /// The piece.
        index: u64,
    },
    /// A piece of the wrong length.
    #[error("piece {index} of {cid} is {got} bytes, expected {expected}")]
    PieceLength {
        /// The blob.
        cid: String,
        /// The piece.
        index: u64,
        /// Its expected length.
        expected: u64,
        /// Its length.
        got: u64,
    },
    /// A piece number past the blob's end.
    #[error("{cid} has {count} pieces; there is no piece {index}")]
    NoSuchPiece {
        /// The blob.
        cid: String,
        /// Pieces in the blob.
        count: u64,
        /// The piece asked for.
        index: u64,
    },
    /// The store has never heard of this blob.
    #[error("blob {0} is not in the store")]
    UnknownBlob(String),
    /// The blob is known but some pieces have not arrived.
    #[error("blob {cid} is incomplete: {missing} of {count} pieces missing")]
    Incomplete {
        /// The blob.
        cid: String,
        /// Pieces not yet stored.
        missing: u64,
        /// Pieces in all.
        count: u64,
    },
    /// A blob over the store's size limit.
    #[error("{what} is {size} bytes, over the limit of {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A blob with more pieces than the store accepts.
    #[error("{count} pieces is more than the {max} a blob may have")]
    TooManyPieces {
        /// Pieces in the blob.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// An empty blob.
    #[error("an empty blob cannot be stored")]
    Empty,

    // ---- Models ----
    /// A file shorter than its own header says.
    #[error("the model is truncated: {reason}")]
    Truncated {
        /// What was cut short.
        reason: String,
    },
    /// A file that is not binary glTF.
    #[error("the file is not a glTF binary (.glb): {reason}")]
    NotGlb {
        /// Why.
        reason: String,
    },
    /// A glTF version other than 2.
    #[error("glTF version {0} is not supported; Plaza reads glTF 2.0")]
    GltfVersion(u32),
    /// A model offered as an avatar that has no skeleton to animate.
    #[error(
        "an avatar must be a rigged model: this one has no skin (a mesh bound to joints), so a world could not animate it"
    )]
    AvatarNotRigged,
    /// A glTF binary whose content is invalid.
    #[error("the model is not valid glTF 2.0: {0}")]
    InvalidGltf(String),
    /// A model over a limit on its content.
    #[error("the model has {count} {what}, over the limit of {max}")]
    OverLimit {
        /// What was counted: triangles, textures…
        what: &'static str,
        /// How many.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// A picture that could not be encoded or decoded.
    #[error("image: {0}")]
    Image(String),

    // ---- Storage ----
    /// RocksDB reported an error.
    #[error("storage error: {0}")]
    Storage(String),
    /// Stored data that does not decode.
    #[error("corrupt blob store: {0}")]
    Corrupt(String),
}

#[cfg(feature = "store")]
impl From<rocksdb::Error> for AssetError {
    fn from(err: rocksdb::Error) -> Self {
        AssetError::Storage(err.into_string())
    }
}

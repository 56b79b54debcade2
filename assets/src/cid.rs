//! Content ids: CIDv1 with a blake3-256 multihash, written in base32 as IPFS
//! writes it (`bafk…` for raw bytes).

use std::fmt;
use std::str::FromStr;

use cid::Cid;
use multihash::Multihash;

use crate::error::AssetError;

/// Multihash code of blake3 (multicodec table: `blake3 = 0x1e`).
const BLAKE3: u64 = 0x1e;
/// Length of a blake3 digest in a content id.
const DIGEST_LEN: usize = 32;

/// What kind of bytes a content id names (a multicodec code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Codec {
    /// Opaque bytes: models, images, chunks (multicodec `raw`, 0x55).
    Raw,
    /// A JSON document, such as an asset manifest (multicodec `json`, 0x0200).
    Json,
}

impl Codec {
    /// The multicodec code.
    pub const fn code(self) -> u64 {
        match self {
            Codec::Raw => 0x55,
            Codec::Json => 0x0200,
        }
    }

    fn from_code(code: u64) -> Option<Self> {
        match code {
            0x55 => Some(Codec::Raw),
            0x0200 => Some(Codec::Json),
            _ => None,
        }
    }
}

/// The identity of a piece of content: CIDv1, blake3-256 multihash.
///
/// Same bytes and codec, same id; one different byte, a different id. Only
/// the codec and the digest vary between Plaza's content ids, so that is
/// all this type holds; the CID is built when it is written out.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentId {
    codec: Codec,
    digest: [u8; DIGEST_LEN],
}

impl ContentId {
    /// The content id of `bytes` read as `codec`.
    pub fn of(codec: Codec, bytes: &[u8]) -> Self {
        Self::from_digest(codec, *blake3::hash(bytes).as_bytes())
    }

    /// The content id for a blake3 digest that was computed elsewhere, for
    /// example incrementally over a stream.
    pub const fn from_digest(codec: Codec, digest: [u8; DIGEST_LEN]) -> Self {
        ContentId { codec, digest }
    }

    /// The codec this id was made with.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The blake3 digest of the content.
    pub fn digest(&self) -> [u8; DIGEST_LEN] {
        self.digest
    }

    /// Whether `bytes` are the content this id names.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        blake3::hash(bytes).as_bytes() == &self.digest
    }

    fn cid(&self) -> Cid {
        let hash = Multihash::<64>::wrap(BLAKE3, &self.digest)
            .expect("a 32-byte digest always fits a 64-byte multihash");
        Cid::new_v1(self.codec.code(), hash)
    }

    /// The binary form of the CID (version, codec, multihash), as it is
    /// written inside other structures.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.cid().to_bytes()
    }

    /// The multihash alone (code, length, digest), as IPFS and the
    /// Kademlia implementations key provider records: the same content
    /// under either codec has one key.
    pub fn multihash(&self) -> Vec<u8> {
        self.cid().hash().to_bytes()
    }

    /// Whether `bytes` are a multihash as [`ContentId::multihash`] writes
    /// it: blake3, 32 bytes, nothing more.
    pub fn is_multihash(bytes: &[u8]) -> bool {
        Multihash::<64>::from_bytes(bytes)
            .is_ok_and(|hash| hash.code() == BLAKE3 && usize::from(hash.size()) == DIGEST_LEN)
            && bytes.len() == 2 + DIGEST_LEN
    }

    /// Reads the binary form. Trailing bytes, non-minimal varints and CIDs
    /// that are not CIDv1 + blake3-256 with a known codec are rejected.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AssetError> {
        let cid = Cid::try_from(bytes).map_err(|err| AssetError::CidBytes(err.to_string()))?;
        if cid.encoded_len() != bytes.len() {
            return Err(AssetError::CidBytes(format!(
                "{} trailing bytes after the CID",
                bytes.len().saturating_sub(cid.encoded_len())
            )));
        }
        let id = Self::check(cid)?;
        if id.to_bytes() != bytes {
            return Err(AssetError::CidBytes(
                "the CID is not in its minimal binary form".into(),
            ));
        }
        Ok(id)
    }

    fn check(cid: Cid) -> Result<Self, AssetError> {
        let reject = |reason| AssetError::CidNotPlaza {
            cid: cid.to_string(),
            reason,
        };
        if cid.version() != cid::Version::V1 {
            return Err(reject("only CIDv1 is accepted"));
        }
        if cid.hash().code() != BLAKE3 {
            return Err(reject("the multihash is not blake3"));
        }
        if usize::from(cid.hash().size()) != DIGEST_LEN {
            return Err(reject("the blake3 digest is not 32 bytes"));
        }
        let Some(codec) = Codec::from_code(cid.codec()) else {
            return Err(reject("the codec is neither raw (0x55) nor json (0x0200)"));
        };
        let mut digest = [0u8; DIGEST_LEN];
        digest.copy_from_slice(cid.hash().digest());
        Ok(ContentId { codec, digest })
    }
}

impl fmt::Display for ContentId {
    /// Base32, lower case, multibase prefix `b`: the form IPFS prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.cid(), f)
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentId({})", self.cid())
    }
}

impl FromStr for ContentId {
    type Err = AssetError;

    /// Parses any multibase text form of a Plaza content id.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let cid = Cid::from_str(text).map_err(|err| AssetError::CidText {
            text: text.to_owned(),
            reason: err.to_string(),
        })?;
        Self::check(cid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_same_id_and_one_byte_changes_it() {
        let a = ContentId::of(Codec::Raw, b"plaza");
        assert_eq!(a, ContentId::of(Codec::Raw, b"plaza"));
        assert_ne!(a, ContentId::of(Codec::Raw, b"plazb"));
        assert_ne!(a, ContentId::of(Codec::Json, b"plaza"));
        assert!(a.matches(b"plaza"));
        assert!(!a.matches(b"plaz"));
    }

    #[test]
    fn text_and_binary_forms_round_trip() {
        let id = ContentId::of(Codec::Json, br#"{"name":"chair"}"#);
        let text = id.to_string();
        assert!(text.starts_with('b'), "base32 multibase prefix: {text}");
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.parse::<ContentId>().unwrap(), id);
        assert_eq!(ContentId::from_bytes(&id.to_bytes()).unwrap(), id);
        assert_eq!(id.codec(), Codec::Json);
    }

    #[test]
    fn the_multihash_is_the_cid_without_version_and_codec() {
        let json = ContentId::of(Codec::Json, b"plaza");
        let raw = ContentId::of(Codec::Raw, b"plaza");
        let hash = json.multihash();
        // blake3 (0x1e), 32 bytes, the digest: one key for both codecs.
        assert_eq!(hash[..2], [0x1e, 0x20]);
        assert_eq!(hash[2..], json.digest());
        assert_eq!(hash, raw.multihash());
        assert!(json.to_bytes().ends_with(&hash));
        assert!(ContentId::is_multihash(&hash));
        assert!(!ContentId::is_multihash(&json.to_bytes()));
        assert!(!ContentId::is_multihash(&hash[..33]));
        let mut sha = hash.clone();
        sha[0] = 0x12;
        assert!(!ContentId::is_multihash(&sha));
    }

    #[test]
    fn known_vector_from_an_independent_implementation() {
        // The empty input under blake3 is
        // af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262
        // (the blake3 reference test vector); a raw CIDv1 is then
        // 0x01 0x55 0x1e 0x20 ‖ digest, in base32 with prefix `b`. The text
        // below was produced by Python's base64.b32encode of those bytes.
        let id = ContentId::of(Codec::Raw, b"");
        assert_eq!(
            hex(&id.digest()),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(
            id.to_string(),
            "bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi"
        );
        // A small file: digest from Python's `blake3` package, CID bytes
        // assembled and base32-encoded in Python, for both codecs
        // (`json` is 0x0200, the varint 0x80 0x04).
        let file = b"Plaza sample file: a chair, a lamp and a hat.\n";
        let raw = ContentId::of(Codec::Raw, file);
        assert_eq!(
            hex(&raw.digest()),
            "ddd428cc36b38d35925d68b3b90c94972fb80e1f0861b57437a7d39c05a6b1ed"
        );
        assert_eq!(
            raw.to_string(),
            "bafkr4ig52qumynvtru2zexliwo4qzfexf64a4hyimg2xin5h2ooaljvr5u"
        );
        assert_eq!(
            ContentId::of(Codec::Json, file).to_string(),
            "bagaaihra3xkcrtbwwogtles5ncz3sdeus4x3qdq7bbq3k5bxu7jzybngwhwq"
        );
    }

    #[test]
    fn rejects_other_cids_and_malformed_bytes() {
        // A CIDv1 with a sha2-256 multihash (the IPFS default) is not ours.
        let sha = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
        let err = sha.parse::<ContentId>().unwrap_err();
        assert!(matches!(err, AssetError::CidNotPlaza { .. }), "{err}");

        let id = ContentId::of(Codec::Raw, b"x");
        let mut bytes = id.to_bytes();
        bytes.push(0);
        assert!(matches!(
            ContentId::from_bytes(&bytes),
            Err(AssetError::CidBytes(_))
        ));
        assert!(matches!(
            ContentId::from_bytes(&bytes[..10]),
            Err(AssetError::CidBytes(_))
        ));
        assert!("not a cid".parse::<ContentId>().is_err());
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

//! A player's wallet: one ed25519 key, encrypted at rest with a passphrase.
//!
//! The file is JSON: the account's address, the key-derivation parameters
//! (argon2id: memory, passes, lanes, a random 16-byte salt) and the key's
//! 32-byte seed sealed with XChaCha20-Poly1305 under the derived key, with
//! the format tag and the address as associated data. A wrong passphrase
//! and a changed file both fail the seal's check, and the opened key must
//! be the file's address. Keys leave a wallet only as PKCS#8 (RFC 8410),
//! the standard form other ed25519 tools read; they never leave this
//! machine otherwise: the host sees signatures, never keys.

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ledger::{Address, Keypair};
use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::text::{hex, unhex32};

/// The format tag written in every wallet file.
pub const FORMAT: &str = "plaza-wallet-1";
/// The file name extension of wallets in a wallet directory.
pub const EXTENSION: &str = "wallet";
/// The shortest passphrase a new wallet takes.
pub const MIN_PASSPHRASE: usize = 8;

/// The key-derivation cost of new wallets: 64 MiB, three passes, one lane
/// (RFC 9106's second recommended setting).
pub const KDF_MEMORY_KIB: u32 = 64 * 1024;
/// Passes over the memory.
pub const KDF_PASSES: u32 = 3;
/// Lanes.
pub const KDF_LANES: u32 = 1;

/// The most memory a wallet file may ask for (a larger figure is a broken
/// or hostile file, not a stronger one).
const MAX_KDF_MEMORY_KIB: u32 = 1024 * 1024;
/// The most passes a wallet file may ask for.
const MAX_KDF_PASSES: u32 = 16;
/// The most lanes a wallet file may ask for.
const MAX_KDF_LANES: u32 = 16;
/// The least memory a wallet file may ask for.
const MIN_KDF_MEMORY_KIB: u32 = 8 * 1024;
/// Largest wallet file read.
const MAX_FILE_BYTES: u64 = 4096;

/// The key-derivation settings stored in a wallet.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Kdf {
    algorithm: String,
    memory_kib: u32,
    passes: u32,
    lanes: u32,
    salt: String,
}

/// A wallet file as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    address: String,
    kdf: Kdf,
    cipher: String,
    nonce: String,
    sealed: String,
}

/// A wallet file read but not opened: its address is known, its key is
/// not.
#[derive(Clone, Debug)]
pub struct Wallet {
    path: PathBuf,
    address: Address,
    file: File,
}

impl Wallet {
    /// Seals `key` under `passphrase` and writes a new wallet at `path`,
    /// never over an existing file.
    pub fn create(path: &Path, key: &Keypair, passphrase: &str) -> Result<Wallet, ClientError> {
        if passphrase.chars().count() < MIN_PASSPHRASE {
            return Err(wallet_error(
                path,
                format!("a passphrase needs at least {MIN_PASSPHRASE} characters"),
            ));
        }
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let address = key.address();
        let kdf = Kdf {
            algorithm: "argon2id".to_owned(),
            memory_kib: KDF_MEMORY_KIB,
            passes: KDF_PASSES,
            lanes: KDF_LANES,
            salt: hex(&salt),
        };
        let sealing = derive(path, &kdf, passphrase)?;
        let seed = Zeroizing::new(key.seed());
        let sealed = XChaCha20Poly1305::new((&*sealing).into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: seed.as_slice(),
                    aad: &associated(&address.to_string()),
                },
            )
            .map_err(|_| wallet_error(path, "the key could not be sealed".to_owned()))?;
        let file = File {
            format: FORMAT.to_owned(),
            address: address.to_string(),
            kdf,
            cipher: "xchacha20poly1305".to_owned(),
            nonce: hex(&nonce),
            sealed: hex(&sealed),
        };
        let mut text = serde_json::to_string_pretty(&file)
            .map_err(|err| wallet_error(path, format!("could not be written: {err}")))?;
        text.push('\n');
        if let Some(dir) = path.parent() {
            private_dir(dir)?;
        }
        crate::text::write_new(path, text.as_bytes(), true)
            .map_err(|err| ClientError::io(path, err))?;
        tracing::info!(wallet = %path.display(), %address, "wallet written");
        Ok(Wallet {
            path: path.to_owned(),
            address,
            file,
        })
    }

    /// Reads the wallet at `path` without opening it.
    pub fn read(path: &Path) -> Result<Wallet, ClientError> {
        let meta = std::fs::metadata(path).map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                ClientError::NoWallet(path.to_owned())
            } else {
                ClientError::io(path, err)
            }
        })?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(wallet_error(
                path,
                format!(
                    "{} bytes is too large for a wallet (at most {MAX_FILE_BYTES})",
                    meta.len()
                ),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|err| ClientError::io(path, err))?;
        Self::parse(path, &text)
    }

    /// Reads a wallet file's text, which came from `path`, without
    /// opening it: every field checked, nothing derived.
    pub fn parse(path: &Path, text: &str) -> Result<Wallet, ClientError> {
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(wallet_error(
                path,
                format!(
                    "{} bytes is too large for a wallet (at most {MAX_FILE_BYTES})",
                    text.len()
                ),
            ));
        }
        let file: File = serde_json::from_str(text)
            .map_err(|err| wallet_error(path, format!("not a wallet file: {err}")))?;
        if file.format != FORMAT {
            return Err(wallet_error(
                path,
                format!("format {:?} is not {FORMAT:?}", file.format),
            ));
        }
        if file.cipher != "xchacha20poly1305" {
            return Err(wallet_error(
                path,
                format!("cipher {:?} is not xchacha20poly1305", file.cipher),
            ));
        }
        let address: Address = file
            .address
            .parse()
            .map_err(|err| wallet_error(path, format!("address: {err}")))?;
        Ok(Wallet {
            path: path.to_owned(),
            address,
            file,
        })
    }

    /// The account this wallet holds the key of.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Where the wallet is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key, opened with `passphrase`.
    pub fn open(&self, passphrase: &str) -> Result<Keypair, ClientError> {
        let path = &self.path;
        let nonce = unhex(&self.file.nonce)
            .filter(|nonce| nonce.len() == 24)
            .ok_or_else(|| wallet_error(path, "the nonce is not 24 bytes of hex".to_owned()))?;
        let sealed = unhex(&self.file.sealed)
            .filter(|sealed| sealed.len() == 32 + 16)
            .ok_or_else(|| {
                wallet_error(path, "the sealed key is not 48 bytes of hex".to_owned())
            })?;
        let sealing = derive(path, &self.file.kdf, passphrase)?;
        let seed = Zeroizing::new(
            XChaCha20Poly1305::new((&*sealing).into())
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &sealed,
                        aad: &associated(&self.file.address),
                    },
                )
                .map_err(|_| ClientError::WrongPassphrase(path.to_owned()))?,
        );
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| wallet_error(path, "the key is not 32 bytes".to_owned()))?;
        let key = Keypair::from_seed(seed);
        if key.address() != self.address {
            return Err(wallet_error(
                path,
                format!(
                    "the key is {}, not the file's {}",
                    key.address(),
                    self.address
                ),
            ));
        }
        Ok(key)
    }
}

/// The key as an unencrypted PKCS#8 PEM document ("PRIVATE KEY").
pub fn export_pkcs8(key: &Keypair) -> Result<Zeroizing<String>, ClientError> {
    let seed = Zeroizing::new(key.seed());
    ed25519_dalek::SigningKey::from_bytes(&seed)
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| ClientError::KeyFormat(format!("PKCS#8 encoding failed: {err}")))
}

/// A key from a PKCS#8 PEM document or from 64 hex digits (the form a
/// host's demo accounts are written in).
pub fn import_key(text: &str) -> Result<Keypair, ClientError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(text).map_err(|err| {
            ClientError::KeyFormat(format!("not an ed25519 PKCS#8 private key: {err}"))
        })?;
        let seed = Zeroizing::new(key.to_bytes());
        return Ok(Keypair::from_seed(*seed));
    }
    let seed = unhex32(text).map_err(|reason| {
        ClientError::KeyFormat(format!(
            "neither a PEM private key nor a hex seed ({reason})"
        ))
    })?;
    Ok(Keypair::from_seed(seed))
}

/// The wallets in `dir` (by name, without the extension), sorted.
pub fn list(dir: &Path) -> Result<Vec<String>, ClientError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(ClientError::io(dir, err)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| ClientError::io(dir, err))?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == EXTENSION)
            && let Some(stem) = path.file_stem().and_then(|stem| stem.to_str())
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The path of wallet `name` in `dir`; names are 1 to 32 of a-z, 0-9, '-'
/// and '_'.
pub fn path_of(dir: &Path, name: &str) -> Result<PathBuf, ClientError> {
    let valid = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(ClientError::KeyFormat(format!(
            "wallet name {name:?}: use 1 to 32 of a-z, 0-9, '-' and '_'"
        )));
    }
    Ok(dir.join(format!("{name}.{EXTENSION}")))
}

/// Makes `dir` (and its parents) if missing; a directory made here is
/// readable by its owner only.
fn private_dir(dir: &Path) -> Result<(), ClientError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|err| ClientError::io(dir, err))
}

fn associated(address: &str) -> Vec<u8> {
    let mut aad = FORMAT.as_bytes().to_vec();
    aad.push(0);
    aad.extend_from_slice(address.as_bytes());
    aad
}

/// The sealing key from `passphrase` under the file's settings, refusing
/// settings outside sane bounds.
fn derive(path: &Path, kdf: &Kdf, passphrase: &str) -> Result<Zeroizing<[u8; 32]>, ClientError> {
    if kdf.algorithm != "argon2id" {
        return Err(wallet_error(
            path,
            format!("key derivation {:?} is not argon2id", kdf.algorithm),
        ));
    }
    let in_range = (MIN_KDF_MEMORY_KIB..=MAX_KDF_MEMORY_KIB).contains(&kdf.memory_kib)
        && (1..=MAX_KDF_PASSES).contains(&kdf.passes)
        && (1..=MAX_KDF_LANES).contains(&kdf.lanes);
    if !in_range {
        return Err(wallet_error(
            path,
            format!(
                "key derivation settings out of range: {} KiB ({MIN_KDF_MEMORY_KIB}..={MAX_KDF_MEMORY_KIB}), {} passes (1..={MAX_KDF_PASSES}), {} lanes (1..={MAX_KDF_LANES})",
                kdf.memory_kib, kdf.passes, kdf.lanes
            ),
        ));
    }
    let salt = unhex(&kdf.salt)
        .filter(|salt| salt.len() == 16)
        .ok_or_else(|| wallet_error(path, "the salt is not 16 bytes of hex".to_owned()))?;
    let params = Params::new(kdf.memory_kib, kdf.passes, kdf.lanes, Some(32))
        .map_err(|err| wallet_error(path, format!("key derivation settings: {err}")))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), &salt, out.as_mut())
        .map_err(|err| wallet_error(path, format!("key derivation failed: {err}")))?;
    Ok(out)
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

fn wallet_error(path: &Path, reason: String) -> ClientError {
    ClientError::Wallet {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn sealed_opened_exported_imported() {
        let dir = tempfile::tempdir().unwrap();
        let key = Keypair::generate(&mut OsRng);
        let path = path_of(dir.path(), "ada").unwrap();
        Wallet::create(&path, &key, "correct horse").unwrap();
        // Never written over.
        assert!(Wallet::create(&path, &key, "correct horse").is_err());
        let wallet = Wallet::read(&path).unwrap();
        assert_eq!(wallet.address(), key.address());
        assert_eq!(wallet.open("correct horse").unwrap().seed(), key.seed());
        assert!(matches!(
            wallet.open("wrong horse!"),
            Err(ClientError::WrongPassphrase(_))
        ));
        // The seed is not in the file in any readable form.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&hex(&key.seed())));
        assert_eq!(list(dir.path()).unwrap(), vec!["ada".to_owned()]);

        let pem = export_pkcs8(&key).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(import_key(&pem).unwrap().address(), key.address());
        assert_eq!(
            import_key(&hex(&key.seed())).unwrap().address(),
            key.address()
        );
        assert!(
            import_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err()
        );
        assert!(import_key("zz").is_err());
    }

    #[test]
    fn changed_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = Keypair::generate(&mut OsRng);
        let other = Keypair::generate(&mut OsRng);
        let path = path_of(dir.path(), "bo").unwrap();
        Wallet::create(&path, &key, "passphrase").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();

        // Another address: the seal no longer opens.
        let moved = text.replace(&key.address().to_string(), &other.address().to_string());
        let path2 = path_of(dir.path(), "moved").unwrap();
        std::fs::write(&path2, moved).unwrap();
        assert!(matches!(
            Wallet::read(&path2).unwrap().open("passphrase"),
            Err(ClientError::WrongPassphrase(_))
        ));

        // A costly derivation asked for by a broken file is refused at once.
        let costly = text.replace(
            &format!("\"memory_kib\": {KDF_MEMORY_KIB}"),
            "\"memory_kib\": 4000000000",
        );
        assert_ne!(costly, text);
        let path3 = path_of(dir.path(), "costly").unwrap();
        std::fs::write(&path3, costly).unwrap();
        let err = Wallet::read(&path3)
            .unwrap()
            .open("passphrase")
            .unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");

        // Garbage.
        let path4 = path_of(dir.path(), "garbage").unwrap();
        std::fs::write(&path4, "{\"format\": 1}").unwrap();
        assert!(matches!(
            Wallet::read(&path4),
            Err(ClientError::Wallet { .. })
        ));
        assert!(matches!(
            Wallet::read(&dir.path().join("none.wallet")),
            Err(ClientError::NoWallet(_))
        ));
        assert!(Wallet::create(&path_of(dir.path(), "short").unwrap(), &key, "short").is_err());
        assert!(path_of(dir.path(), "../x").is_err());
    }
}

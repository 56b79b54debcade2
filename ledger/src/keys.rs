//! Keys, addresses and signatures.
//!
//! An address is an ed25519 public key. People see it as bech32m text with
//! the human-readable part `plaza` (`plaza1…`), whose checksum catches typos.

use std::fmt;
use std::str::FromStr;

use bech32::{Bech32m, Hrp};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::error::LedgerError;

/// Human-readable part of an address's text form.
const ADDRESS_HRP: &str = "plaza";

/// An account's address: the 32 bytes of its ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Address([u8; 32]);

impl Address {
    /// The address made of these public-key bytes. Any 32 bytes are an
    /// address; whether they are a usable key is checked when a signature
    /// is verified.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Address(bytes)
    }

    /// The public-key bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The ed25519 key of this address, rejecting bytes that are not a
    /// point on the curve, keys of small order (which would let anyone
    /// forge signatures) and keys with a small-order component (which no
    /// honest key generator makes, and which would let the key's holder
    /// make signatures whose validity depends on how they are batched).
    pub fn verifying_key(&self) -> Result<VerifyingKey, LedgerError> {
        let key = VerifyingKey::from_bytes(&self.0)
            .map_err(|_| LedgerError::InvalidPublicKey { address: *self })?;
        if key.is_weak() || !key.to_edwards().is_torsion_free() {
            return Err(LedgerError::WeakPublicKey { address: *self });
        }
        Ok(key)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(ADDRESS_HRP);
        bech32::encode_lower_to_fmt::<Bech32m, _>(f, hrp, &self.0).map_err(|_| fmt::Error)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = LedgerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| LedgerError::AddressText {
            text: text.to_owned(),
            reason,
        };
        let checked = bech32::primitives::decode::CheckedHrpstring::new::<Bech32m>(text)
            .map_err(|err| fail(err.to_string()))?;
        if checked.hrp().as_str() != ADDRESS_HRP {
            return Err(fail(format!(
                "prefix is {:?}, expected {ADDRESS_HRP:?}",
                checked.hrp().as_str()
            )));
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|bytes: Vec<u8>| fail(format!("{} bytes of key, expected 32", bytes.len())))?;
        let address = Address(bytes);
        // One text per address: reject upper case and non-zero padding bits.
        if address.to_string() != text {
            return Err(fail("not in canonical lower-case form".into()));
        }
        Ok(address)
    }
}

/// An ed25519 signature (R ‖ s).
#[derive(Clone, Copy, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// The signature as dalek's type.
    pub fn to_dalek(&self) -> ed25519_dalek::Signature {
        ed25519_dalek::Signature::from_bytes(&self.0)
    }

    /// The R half: the encoded commitment point.
    pub fn r_bytes(&self) -> &[u8; 32] {
        self.0[..32].try_into().expect("64 = 32 + 32")
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(")?;
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "…)")
    }
}

/// A signing key held by its owner (a player's wallet, a validator).
/// The ledger itself never holds one.
#[derive(Clone)]
pub struct Keypair(SigningKey);

impl Keypair {
    /// The keypair whose secret is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Keypair(SigningKey::from_bytes(&seed))
    }

    /// A fresh keypair drawn from `rng`.
    pub fn generate<R: rand_core::CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        Keypair(SigningKey::generate(rng))
    }

    /// The secret seed, to be stored by a wallet.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// This key's address.
    pub fn address(&self) -> Address {
        Address(self.0.verifying_key().to_bytes())
    }

    /// Signs `message` as is; callers add the domain tag.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_text_round_trips_and_rejects_typos() {
        let address = Keypair::from_seed([7; 32]).address();
        let text = address.to_string();
        assert!(text.starts_with("plaza1"), "{text}");
        assert_eq!(text.parse::<Address>().unwrap(), address);

        // Change one character: the checksum catches it.
        let mut chars: Vec<char> = text.chars().collect();
        let i = 20;
        chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
        let typo: String = chars.into_iter().collect();
        let err = typo.parse::<Address>().unwrap_err();
        assert!(matches!(err, LedgerError::AddressText { .. }), "{err}");

        // Swap two neighbouring characters.
        let mut chars: Vec<char> = text.chars().collect();
        chars.swap(30, 31);
        let swapped: String = chars.into_iter().collect();
        if swapped != text {
            assert!(swapped.parse::<Address>().is_err());
        }

        assert!(text.to_uppercase().parse::<Address>().is_err());
        let other_prefix = bech32::encode::<Bech32m>(Hrp::parse("bc").unwrap(), &[1; 32]).unwrap();
        assert!(other_prefix.parse::<Address>().is_err());
        let plain_bech32 =
            bech32::encode::<bech32::Bech32>(Hrp::parse("plaza").unwrap(), &[1; 32]).unwrap();
        assert!(
            plain_bech32.parse::<Address>().is_err(),
            "bech32 (not m) checksum"
        );
        let short = bech32::encode::<Bech32m>(Hrp::parse("plaza").unwrap(), &[1; 31]).unwrap();
        assert!(short.parse::<Address>().is_err());
    }

    #[test]
    fn keys_with_a_small_order_component_are_refused() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        let honest = Keypair::from_seed([5; 32]).address();
        let point = honest.verifying_key().unwrap().to_edwards() + EIGHT_TORSION[1];
        let mixed = Address::from_bytes(point.compress().to_bytes());
        assert_eq!(
            mixed.verifying_key().unwrap_err(),
            LedgerError::WeakPublicKey { address: mixed }
        );
    }

    #[test]
    fn small_order_keys_are_refused() {
        // The identity point, encoded: y = 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let err = Address::from_bytes(identity).verifying_key().unwrap_err();
        assert_eq!(
            err,
            LedgerError::WeakPublicKey {
                address: Address::from_bytes(identity)
            }
        );
        assert!(
            Keypair::from_seed([1; 32])
                .address()
                .verifying_key()
                .is_ok()
        );
    }
}

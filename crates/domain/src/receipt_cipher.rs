//! Encrypts a receipt that carries a PIN (seed 001: Carat returns the PIN once and never keeps
//! it), so that it is stored only as ciphertext. AES-256-GCM from ring, a random 96-bit nonce
//! per encryption (never a counter: several instances encrypt at once with one key), and the
//! recharge's id as associated data, so a ciphertext copied onto another recharge's row does
//! not decrypt. Keys rotate: each ciphertext is stored beside the id of the key that sealed it;
//! the first key of the keyring seals, every key opens.
//!
//! Stored form: `nonce (12 bytes) || ciphertext || tag (16 bytes)`.

use std::fmt;

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// A key's name, stored beside each ciphertext: `1..=32` of `A-Z a-z 0-9 - _`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err("a key id is 1 to 32 of A-Z a-z 0-9 - _".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A receipt as stored: which key sealed it, and what it sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedReceipt {
    pub key_id: KeyId,
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedReceipt")
            .field("key_id", &self.key_id)
            .field("len", &self.ciphertext.len())
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Rotated out of `PIN_ENCRYPTION_KEYS` too early: the receipts it sealed cannot be read.
    #[error("no key `{0}` in PIN_ENCRYPTION_KEYS")]
    UnknownKey(String),
    /// Tampered, truncated, or sealed for another recharge.
    #[error("the receipt does not decrypt")]
    Corrupt,
    #[error("the receipt is not UTF-8")]
    NotText,
}

struct Key {
    id: KeyId,
    key: LessSafeKey,
}

/// The PIN keys: the first seals, all open. Its `Debug` names the ids, never the keys.
pub struct Keyring {
    keys: Vec<Key>,
    random: SystemRandom,
}

impl Keyring {
    /// Parses `id:base64,id:base64,...` (each key 32 bytes, standard base64). Errors never
    /// quote the value.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut keys: Vec<Key> = Vec::new();
        for (n, part) in s.split(',').map(str::trim).enumerate() {
            let n = n + 1;
            let (id, b64) = part
                .split_once(':')
                .ok_or_else(|| format!("key {n} is not `id:base64`"))?;
            let id = KeyId::parse(id.trim()).map_err(|e| format!("key {n}: {e}"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| format!("key {n} is not base64"))?;
            if bytes.len() != 32 {
                return Err(format!("key {n} is not 32 bytes"));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("key {n}: the id `{}` is used twice", id.as_str()));
            }
            let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| format!("key {n} is not an AES-256 key"))?;
            keys.push(Key {
                id,
                key: LessSafeKey::new(unbound),
            });
        }
        Ok(Self {
            keys,
            random: SystemRandom::new(),
        })
    }

    /// The key that seals new receipts.
    pub fn sealing_key_id(&self) -> &KeyId {
        &self.keys[0].id
    }

    /// Seals `receipt` for the recharge `context` names (its id).
    pub fn seal(&self, context: &str, receipt: &str) -> SealedReceipt {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        // The system's random source failing is not something to carry on through.
        self.random
            .fill(&mut nonce)
            .expect("the system random source failed");
        let mut sealed = receipt.as_bytes().to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .expect("AES-GCM seals any receipt shorter than 64 GiB");
        let mut ciphertext = nonce.to_vec();
        ciphertext.append(&mut sealed);
        SealedReceipt {
            key_id: key.id.clone(),
            ciphertext,
        }
    }

    /// Opens a receipt sealed for the recharge `context` names.
    pub fn open(&self, context: &str, sealed: &SealedReceipt) -> Result<String, OpenError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| OpenError::UnknownKey(sealed.key_id.as_str().to_owned()))?;
        if sealed.ciphertext.len() < NONCE_LEN {
            return Err(OpenError::Corrupt);
        }
        let (nonce, body) = sealed.ciphertext.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Corrupt)?;
        let mut body = body.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut body)
            .map_err(|_| OpenError::Corrupt)?;
        String::from_utf8(plain.to_vec()).map_err(|_| OpenError::NotText)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
    const RECEIPT: &str = "GAME CARD\nPIN: 1234-5678-9012\n";

    fn ring(s: &str) -> Keyring {
        Keyring::parse(s).unwrap()
    }

    #[test]
    fn a_receipt_round_trips_and_the_ciphertext_does_not_show_it() {
        let keys = ring(&format!("k1:{K1}"));
        let sealed = keys.seal("recharge-1", RECEIPT);
        assert_eq!(sealed.key_id.as_str(), "k1");
        assert!(!String::from_utf8_lossy(&sealed.ciphertext).contains("1234"));
        assert_eq!(keys.open("recharge-1", &sealed).unwrap(), RECEIPT);
        assert!(!format!("{sealed:?} {keys:?}").contains(K1));
    }

    #[test]
    fn an_old_key_still_opens_after_rotation_and_a_dropped_one_is_named() {
        let old = ring(&format!("k1:{K1}"));
        let sealed = old.seal("r", RECEIPT);
        let rotated = ring(&format!("k2:{K2},k1:{K1}"));
        assert_eq!(rotated.sealing_key_id().as_str(), "k2");
        assert_eq!(rotated.open("r", &sealed).unwrap(), RECEIPT);
        assert_eq!(rotated.seal("r", RECEIPT).key_id.as_str(), "k2");
        let dropped = ring(&format!("k2:{K2}"));
        assert_eq!(
            dropped.open("r", &sealed),
            Err(OpenError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn a_wrong_key_under_the_same_id_does_not_open() {
        let sealed = ring(&format!("k1:{K1}")).seal("r", RECEIPT);
        assert_eq!(
            ring(&format!("k1:{K2}")).open("r", &sealed),
            Err(OpenError::Corrupt)
        );
    }

    #[test]
    fn tampering_or_another_recharge_does_not_open() {
        let keys = ring(&format!("k1:{K1}"));
        let sealed = keys.seal("r", RECEIPT);
        for i in [0, NONCE_LEN, sealed.ciphertext.len() - 1] {
            let mut bad = sealed.clone();
            bad.ciphertext[i] ^= 1;
            assert_eq!(keys.open("r", &bad), Err(OpenError::Corrupt), "byte {i}");
        }
        let mut short = sealed.clone();
        short.ciphertext.truncate(5);
        assert_eq!(keys.open("r", &short), Err(OpenError::Corrupt));
        assert_eq!(keys.open("other", &sealed), Err(OpenError::Corrupt));
    }

    #[test]
    fn nonces_are_never_reused() {
        let keys = ring(&format!("k1:{K1}"));
        let nonces: HashSet<Vec<u8>> = (0..10_000)
            .map(|_| keys.seal("r", RECEIPT).ciphertext[..NONCE_LEN].to_vec())
            .collect();
        assert_eq!(nonces.len(), 10_000);
    }

    #[test]
    fn malformed_keyrings_are_refused_without_quoting_the_key() {
        for (bad, says) in [
            ("", "not `id:base64`"),
            (K1, "not `id:base64`"),
            ("k1:!!!", "not base64"),
            ("k1:AAEC", "not 32 bytes"),
            (&format!("k 1:{K1}"), "key id"),
            (&format!("k1:{K1},k1:{K2}"), "used twice"),
        ] {
            let err = Keyring::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains(K1) && !err.contains(K2), "{err}");
        }
    }
}

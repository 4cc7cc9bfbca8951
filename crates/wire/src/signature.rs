//! Signature mode (digest §4.3): the merchant signs its calls with an RSA key whose public half
//! is registered with Carat. A token is a standard RS256 JWT with the fixed header
//! `{"alg":"RS256","typ":"JWT"}`, sent as `Authorization: Bearer <jwt>` (`< 2000 AN`).
//!
//! Pure: key parsing (PEM, PKCS#8 or PKCS#1; a public key as SPKI or PKCS#1), claims, signing and
//! verifying. ring does the cryptography (through `jsonwebtoken` 9, built on ring 0.17); the few
//! DER envelopes are unwrapped here rather than pulling an ASN.1 crate in.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};

use carat_domain::{MerchantId, MerchantUsn, Nit, OrderId, Secret};

/// The header, byte for byte as in seed 002's signed example.
const HEADER_JSON: &str = r#"{"alg":"RS256","typ":"JWT"}"#;

/// Carat's limit on the `Authorization` header's token (`< 2000 AN`).
pub const MAX_TOKEN_LEN: usize = 2000;

/// The claims of a signed create (seed 002's example: exactly these, `timestamp` in epoch
/// milliseconds as a string).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateClaims {
    pub merchant_id: String,
    pub merchant_key: String,
    pub order_id: String,
    pub merchant_usn: String,
    pub timestamp: String,
}

/// The claims of every call after the create (dealers, branch data, effectuation,
/// confirmation/undo, query).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NitClaims {
    pub merchant_id: String,
    pub merchant_key: String,
    pub nit: String,
    pub timestamp: String,
}

/// ASSUMPTION, the only place it is made: Carat's claim table for the recharge calls after the
/// create was not reachable (digest §4.3, §9 item 3). By analogy with the create's claims, they
/// are taken to be `merchant_id`, `merchant_key`, the transaction's `nit` and `timestamp`.
/// Check in homologation; only this function changes if Carat wants others.
pub fn nit_claims(
    merchant_id: &MerchantId,
    merchant_key: &Secret,
    nit: &Nit,
    now_ms: u64,
) -> NitClaims {
    NitClaims {
        merchant_id: merchant_id.to_string(),
        merchant_key: merchant_key.expose().to_owned(),
        nit: nit.to_string(),
        timestamp: now_ms.to_string(),
    }
}

/// The create's claims (seed 002).
pub fn create_claims(
    merchant_id: &MerchantId,
    merchant_key: &Secret,
    order_id: &OrderId,
    merchant_usn: MerchantUsn,
    now_ms: u64,
) -> CreateClaims {
    CreateClaims {
        merchant_id: merchant_id.to_string(),
        merchant_key: merchant_key.expose().to_owned(),
        order_id: order_id.to_string(),
        merchant_usn: merchant_usn.to_string(),
        timestamp: now_ms.to_string(),
    }
}

/// Now, in epoch milliseconds (the `timestamp` claim).
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The merchant's private key. Its `Debug` says nothing of it.
#[derive(Clone)]
pub struct JwtKey {
    encoding: Arc<EncodingKey>,
    /// The public half, PKCS#1 `RSAPublicKey` DER (what the embedded sandbox verifies with).
    public: JwtPublicKey,
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKey([redacted])")
    }
}

impl JwtKey {
    /// `value` is the PEM itself (it holds `-----BEGIN`) or a path to a PEM file. Errors never
    /// quote the value: it is a secret.
    pub fn load(value: &str) -> Result<Self, String> {
        if value.contains("-----BEGIN") {
            return Self::from_pem(value);
        }
        let text = std::fs::read_to_string(value.trim())
            .map_err(|e| format!("the key file could not be read ({e})"))?;
        Self::from_pem(&text)
    }

    /// An RSA private key in PEM: PKCS#8 (`PRIVATE KEY`, what `openssl genpkey` writes) or
    /// PKCS#1 (`RSA PRIVATE KEY`). ring refuses keys under 2048 bits.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let (label, der) = pem_block(text)?;
        let (pair, pkcs1) = match label.as_str() {
            "PRIVATE KEY" => {
                let pair = ring::signature::RsaKeyPair::from_pkcs8(&der)
                    .map_err(|e| format!("not a usable RSA private key ({e})"))?;
                (pair, pkcs8_private_key(&der)?.to_vec())
            }
            "RSA PRIVATE KEY" => {
                let pair = ring::signature::RsaKeyPair::from_der(&der)
                    .map_err(|e| format!("not a usable RSA private key ({e})"))?;
                (pair, der)
            }
            other => {
                return Err(format!(
                    "a PEM `{other}` block, not an RSA private key (`PRIVATE KEY` or `RSA PRIVATE KEY`)"
                ));
            }
        };
        let public = JwtPublicKey {
            pkcs1: Arc::new(pair.public().as_ref().to_vec()),
        };
        Ok(Self {
            encoding: Arc::new(EncodingKey::from_rsa_der(&pkcs1)),
            public,
        })
    }

    pub fn public_key(&self) -> JwtPublicKey {
        self.public.clone()
    }

    /// `header.payload.signature`, RS256.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, String> {
        let payload = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER_JSON),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::RS256)
                .map_err(|e| format!("signing failed ({e})"))?;
        let token = format!("{message}.{signature}");
        if token.len() >= MAX_TOKEN_LEN {
            return Err(format!(
                "the token is {} characters, over Carat's limit of {MAX_TOKEN_LEN} (use a 2048-bit key)",
                token.len()
            ));
        }
        Ok(token)
    }
}

/// An RSA public key a token is verified with.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtPublicKey {
    pkcs1: Arc<Vec<u8>>,
}

impl fmt::Debug for JwtPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JwtPublicKey({} bytes)", self.pkcs1.len())
    }
}

impl JwtPublicKey {
    /// The PEM itself or a path to it: `PUBLIC KEY` (SPKI, what `openssl rsa -pubout` writes)
    /// or `RSA PUBLIC KEY` (PKCS#1).
    pub fn load(value: &str) -> Result<Self, String> {
        let text = if value.contains("-----BEGIN") {
            value.to_owned()
        } else {
            std::fs::read_to_string(value.trim())
                .map_err(|e| format!("the key file could not be read ({e})"))?
        };
        let (label, der) = pem_block(&text)?;
        let pkcs1 = match label.as_str() {
            "PUBLIC KEY" => spki_rsa_public_key(&der)?.to_vec(),
            "RSA PUBLIC KEY" => der,
            other => {
                return Err(format!(
                    "a PEM `{other}` block, not an RSA public key (`PUBLIC KEY` or `RSA PUBLIC KEY`)"
                ));
            }
        };
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        let (seq, rest) = tlv(&pkcs1, SEQUENCE)?;
        let (_, after_n) = tlv(seq, INTEGER)?;
        let (_, after_e) = tlv(after_n, INTEGER)?;
        if !rest.is_empty() || !after_e.is_empty() {
            return Err("not an RSA public key (trailing data)".into());
        }
        Ok(Self {
            pkcs1: Arc::new(pkcs1),
        })
    }

    pub fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_rsa_der(&self.pkcs1)
    }
}

/// The first PEM block of `text` (text around it, such as a comment line, is ignored): its label
/// and DER bytes.
fn pem_block(text: &str) -> Result<(String, Vec<u8>), String> {
    let not_pem = || "not a PEM key (no -----BEGIN ...----- line)".to_owned();
    let start = text.find("-----BEGIN ").ok_or_else(not_pem)?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----").ok_or_else(not_pem)?;
    let end_line = format!("-----END {label}-----");
    let body = rest
        .split_once(&end_line)
        .map(|(body, _)| body)
        .ok_or_else(|| format!("the PEM `{label}` block has no END line"))?;
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(base64)
        .map_err(|_| format!("the PEM `{label}` block is not valid base64"))?;
    Ok((label.to_owned(), der))
}

const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const SEQUENCE: u8 = 0x30;
/// rsaEncryption, 1.2.840.113549.1.1.1, as a DER OBJECT IDENTIFIER.
const RSA_ENCRYPTION_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// One DER element of tag `tag` at the start of `der`: its content and what follows it.
fn tlv(der: &[u8], tag: u8) -> Result<(&[u8], &[u8]), String> {
    let bad = || "not a DER-encoded key".to_owned();
    let (&found, rest) = der.split_first().ok_or_else(bad)?;
    if found != tag {
        return Err(bad());
    }
    let (&first, rest) = rest.split_first().ok_or_else(bad)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok(rest.split_at(len))
}

/// PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm AlgorithmIdentifier,
/// privateKey OCTET STRING (the PKCS#1 RSAPrivateKey), ... }. ring checked the algorithm.
fn pkcs8_private_key(der: &[u8]) -> Result<&[u8], String> {
    let (info, _) = tlv(der, SEQUENCE)?;
    let (_, rest) = tlv(info, INTEGER)?;
    let (_, rest) = tlv(rest, SEQUENCE)?;
    let (key, _) = tlv(rest, OCTET_STRING)?;
    Ok(key)
}

/// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT
/// STRING (the PKCS#1 RSAPublicKey, after its unused-bits byte) }.
fn spki_rsa_public_key(der: &[u8]) -> Result<&[u8], String> {
    let (info, _) = tlv(der, SEQUENCE)?;
    let (algorithm, rest) = tlv(info, SEQUENCE)?;
    if !algorithm.starts_with(RSA_ENCRYPTION_OID) {
        return Err("not an RSA public key (another algorithm)".into());
    }
    let (bits, _) = tlv(rest, BIT_STRING)?;
    match bits.split_first() {
        Some((0, key)) => Ok(key),
        _ => Err("not a DER-encoded key".into()),
    }
}

/// Why a token is refused, in words naming what is wrong (the sandbox's answer).
pub type Refused = String;

/// Checks `token`'s header (exactly RS256, `typ` JWT) and signature against `key`, and returns
/// its claims, each of which must be a string. What the claims must say is the caller's check.
pub fn verify<C: serde::de::DeserializeOwned>(
    token: &str,
    key: &JwtPublicKey,
) -> Result<C, Refused> {
    if token.len() >= MAX_TOKEN_LEN {
        return Err(format!(
            "the token is {} characters (< {MAX_TOKEN_LEN})",
            token.len()
        ));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWT (header.payload.signature)".into());
    };
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or("the header is not base64url JSON")?;
    if header.get("alg").and_then(|v| v.as_str()) != Some("RS256") {
        return Err("the header's alg must be RS256".into());
    }
    if header.get("typ").and_then(|v| v.as_str()) != Some("JWT") {
        return Err("the header's typ must be JWT".into());
    }
    let message = &token[..header_len(token, payload)];
    let valid = jsonwebtoken::crypto::verify(
        signature,
        message.as_bytes(),
        &key.decoding_key(),
        Algorithm::RS256,
    )
    .map_err(|_| "the signature is not valid base64url".to_owned())?;
    if !valid {
        return Err("the signature does not verify with the registered public key".into());
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| "the payload is not base64url".to_owned())?;
    serde_json::from_slice(&payload).map_err(|e| format!("the payload's claims: {e}"))
}

/// The length of `header.payload` in `token`.
fn header_len(token: &str, payload: &str) -> usize {
    token.find('.').map_or(0, |i| i + 1) + payload.len()
}

/// Whether a `timestamp` claim (epoch ms, a string of digits) is within `max_age` before `now_ms`
/// and at most `skew` after it.
pub fn check_timestamp(
    timestamp: &str,
    now_ms: u64,
    max_age: std::time::Duration,
    skew: std::time::Duration,
) -> Result<(), Refused> {
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err("timestamp: must be epoch milliseconds, digits only".into());
    }
    let ts: u64 = timestamp
        .parse()
        .map_err(|_| "timestamp: out of range".to_owned())?;
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ts.saturating_add(ms(max_age)) < now_ms {
        return Err(format!(
            "timestamp: the token expired ({} ms old, at most {} ms)",
            now_ms - ts,
            ms(max_age)
        ));
    }
    if ts > now_ms.saturating_add(ms(skew)) {
        return Err(format!(
            "timestamp: {} ms in the future (at most {} ms)",
            ts - now_ms,
            ms(skew)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const KEY: &str = include_str!("../../../tests/fixtures/jwt-test.key");
    const KEY_PKCS1: &str = include_str!("../../../tests/fixtures/jwt-test-pkcs1.key");
    const PUB: &str = include_str!("../../../tests/fixtures/jwt-test.pub");
    const OTHER: &str = include_str!("../../../tests/fixtures/jwt-test-other.key");

    fn claims() -> NitClaims {
        nit_claims(
            &MerchantId::parse("LOJATESTE").unwrap(),
            &Secret::new("K"),
            &Nit::parse("a".repeat(64)).unwrap(),
            1_605_303_580_931,
        )
    }

    #[test]
    fn signs_with_seed_002s_header_and_verifies_with_the_public_pem() {
        let key = JwtKey::from_pem(KEY).unwrap();
        let token = key.sign(&claims()).unwrap();
        // Seed 002's example starts with exactly this header.
        assert!(
            token.starts_with("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."),
            "{token}"
        );
        assert!(token.len() < MAX_TOKEN_LEN);
        let public = JwtPublicKey::load(PUB).unwrap();
        assert_eq!(public, key.public_key(), "SPKI PEM and derived key agree");
        let back: NitClaims = verify(&token, &public).unwrap();
        assert_eq!(back, claims());
        assert_eq!(back.timestamp, "1605303580931", "a string of epoch ms");
    }

    #[test]
    fn pkcs1_and_pkcs8_pems_are_the_same_key() {
        let a = JwtKey::from_pem(KEY).unwrap();
        let b = JwtKey::from_pem(KEY_PKCS1).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        let token = b.sign(&claims()).unwrap();
        assert!(verify::<NitClaims>(&token, &a.public_key()).is_ok());
    }

    #[test]
    fn another_key_tampering_and_other_algorithms_are_refused() {
        let key = JwtKey::from_pem(KEY).unwrap();
        let other = JwtKey::from_pem(OTHER).unwrap();
        let token = other.sign(&claims()).unwrap();
        let err = verify::<NitClaims>(&token, &key.public_key()).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");

        let token = key.sign(&claims()).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged = claims();
        forged.nit = "b".repeat(64);
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert!(verify::<NitClaims>(&parts.join("."), &key.public_key()).is_err());

        // The doc's own "Base64 header" says HS256: refused.
        parts[0] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9".into();
        let err = verify::<NitClaims>(&parts.join("."), &key.public_key()).unwrap_err();
        assert!(err.contains("RS256"), "{err}");
        assert!(verify::<NitClaims>("abc", &key.public_key()).is_err());
    }

    #[test]
    fn keys_that_are_not_rsa_private_keys_are_refused_without_quoting_them() {
        for bad in [
            "",
            "hello",
            PUB,
            "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----",
        ] {
            let err = JwtKey::from_pem(bad).unwrap_err();
            assert!(!err.contains("MII"), "{err}");
        }
        let err = JwtKey::load("/nonexistent/jwt.key").unwrap_err();
        assert!(err.contains("could not be read"), "{err}");
        assert_eq!(
            format!("{:?}", JwtKey::from_pem(KEY).unwrap()),
            "JwtKey([redacted])"
        );
    }

    #[test]
    fn timestamps_must_be_recent_and_not_ahead() {
        let (age, skew) = (Duration::from_secs(300), Duration::from_secs(30));
        let now = 1_700_000_000_000;
        assert!(check_timestamp(&now.to_string(), now, age, skew).is_ok());
        assert!(check_timestamp(&(now - 300_000).to_string(), now, age, skew).is_ok());
        let err = check_timestamp(&(now - 300_001).to_string(), now, age, skew).unwrap_err();
        assert!(err.contains("expired"), "{err}");
        assert!(check_timestamp(&(now + 30_001).to_string(), now, age, skew).is_err());
        assert!(check_timestamp("1.7e12", now, age, skew).is_err());
        assert!(check_timestamp("", now, age, skew).is_err());
    }
}

//! Signature mode (digest §4.3): the merchant signs its calls with an RSA key whose public half
//! is registered with Carat. A token is a standard RS256 JWT with the fixed header
//! `{"alg":"RS256","typ":"JWT"}`, sent as `Authorization: Bearer <jwt>` (`< 2000 AN`).
//!
//! Pure: key loading (PEM, PKCS#8 or PKCS#1; a public key as SPKI or PKCS#1), claims, signing and
//! verifying. No ASN.1 or PEM is parsed here: `rustls-pki-types` reads PEM, `ring` signs RS256
//! (`RSA_PKCS1_SHA256`), and `rustls-webpki` parses a public key's SPKI and verifies with ring.
//! The compact JWT around them is three base64url parts.
//!
//! Not `jsonwebtoken`: version 9 (what this replaced) is three majors behind, and its current
//! majors (10 to 12) ship two crypto backends, `aws-lc-rs` (a second crypto stack) and RustCrypto
//! (the `rsa` crate, whose timing advisory RUSTSEC-2023-0071 has no fix). The third way, a
//! `CryptoProvider` of our own around ring, is these same ring calls behind its traits.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer, alg_id};
use serde::{Deserialize, Serialize};
use webpki::RawPublicKeyEntity;

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
    pair: Arc<RsaKeyPair>,
    /// The public half (what the embedded sandbox verifies with).
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
        const WANTED: &str = "RSA private key (`PRIVATE KEY` or `RSA PRIVATE KEY`)";
        let der =
            PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| pem_error(&e, WANTED))?;
        let pair = match &der {
            PrivateKeyDer::Pkcs8(key) => RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(key) => RsaKeyPair::from_der(key.secret_pkcs1_der()),
            _ => return Err(format!("an EC key, not an {WANTED}")),
        }
        .map_err(|e| format!("not a usable RSA private key ({e})"))?;
        let spki = rustls::sign::public_key_to_spki(&alg_id::RSA_ENCRYPTION, pair.public());
        Ok(Self {
            public: JwtPublicKey::from_spki(spki)?,
            pair: Arc::new(pair),
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
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing failed".to_owned())?;
        let token = format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature));
        if token.len() >= MAX_TOKEN_LEN {
            return Err(format!(
                "the token is {} characters, over Carat's limit of {MAX_TOKEN_LEN} (use a 2048-bit key)",
                token.len()
            ));
        }
        Ok(token)
    }
}

/// An RSA public key a token is verified with, as a DER SubjectPublicKeyInfo.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtPublicKey {
    spki: Arc<SubjectPublicKeyInfoDer<'static>>,
}

impl fmt::Debug for JwtPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JwtPublicKey({} bytes)", self.spki.len())
    }
}

impl JwtPublicKey {
    /// The PEM itself or a path to it: `PUBLIC KEY` (SPKI, what `openssl rsa -pubout` writes)
    /// or `RSA PUBLIC KEY` (PKCS#1, `openssl rsa -RSAPublicKey_out`).
    pub fn load(value: &str) -> Result<Self, String> {
        const WANTED: &str = "RSA public key (`PUBLIC KEY` or `RSA PUBLIC KEY`)";
        let text = if value.contains("-----BEGIN") {
            value.to_owned()
        } else {
            std::fs::read_to_string(value.trim())
                .map_err(|e| format!("the key file could not be read ({e})"))?
        };
        let spki = if text.contains("-----BEGIN RSA PUBLIC KEY-----") {
            // RFC 7468 defines no `RSA PUBLIC KEY` label, so pki-types skips such a block: it is
            // read under the SPKI label, and the PKCS#1 key it holds is then wrapped in an SPKI.
            let relabelled = text
                .replace(
                    "-----BEGIN RSA PUBLIC KEY-----",
                    "-----BEGIN PUBLIC KEY-----",
                )
                .replace("-----END RSA PUBLIC KEY-----", "-----END PUBLIC KEY-----");
            let pkcs1 = SubjectPublicKeyInfoDer::from_pem_slice(relabelled.as_bytes())
                .map_err(|e| pem_error(&e, WANTED))?;
            rustls::sign::public_key_to_spki(&alg_id::RSA_ENCRYPTION, pkcs1)
        } else {
            SubjectPublicKeyInfoDer::from_pem_slice(text.as_bytes())
                .map_err(|e| pem_error(&e, WANTED))?
        };
        Self::from_spki(spki)
    }

    /// Checks that `spki` is well formed and an RSA key's. An RSA key whose numbers ring cannot
    /// use (under 2048 bits, say) is only found when a signature is verified with it.
    fn from_spki(spki: SubjectPublicKeyInfoDer<'static>) -> Result<Self, String> {
        let entity = RawPublicKeyEntity::try_from(&spki)
            .map_err(|_| "not a DER-encoded public key (SubjectPublicKeyInfo)".to_owned())?;
        // webpki compares the key's algorithm with the verifier's before any arithmetic, so an
        // empty signature tells an RSA key from another kind.
        match entity.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, b"", b"") {
            Err(webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)) => {
                Err("not an RSA public key (another algorithm)".into())
            }
            _ => Ok(Self {
                spki: Arc::new(spki),
            }),
        }
    }
}

/// A PEM error in words that never quote the text (it may be a private key): `wanted` names
/// the block looked for.
fn pem_error(error: &pem::Error, wanted: &str) -> String {
    match error {
        pem::Error::NoItemsFound => format!("not an {wanted} in PEM"),
        pem::Error::MissingSectionEnd { .. } => "the PEM block has no END line".into(),
        pem::Error::Base64Decode(_) => "the PEM block is not valid base64".into(),
        _ => "not a readable PEM key".into(),
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
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "the signature is not valid base64url".to_owned())?;
    RawPublicKeyEntity::try_from(&*key.spki)
        .and_then(|entity| {
            entity.verify_signature(
                webpki::ring::RSA_PKCS1_2048_8192_SHA256,
                message.as_bytes(),
                &signature,
            )
        })
        .map_err(|_| "the signature does not verify with the registered public key".to_owned())?;
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

    /// `openssl rsa -in jwt-test.key -RSAPublicKey_out`: the test key's public half in PKCS#1.
    const PUB_PKCS1: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEApGCKa5y7WoVyZOzzo63Pv7b37uSsowRTrkATdZOp92sdsYxmTJHI
MRsGtb2KrKQQmR51kyEnbMu98pSbLk+eKcUtG5Zsdp9alc8igz4yf0fa2ID15Dig
v6e6+gWDi8s7m0cKFLgoZxQ6quUHT1/XyGhAsaubS4vrFIicPK2CSwzuye8T2x5O
Z0JFP07hGyXX2gGo6yewTWgxJ9dstO7afPsBLdmQCg2oTZW9hqMf0qYmMfPJJsSs
0h+0t8hRztwzZ3rZ5P9daBM4yk4Lvi9AbyII9guRKctwqYMx25sypub34QWvErRi
34c9xnQeNWv7YVwCRCEd6oUl8oma6f72iwIDAQAB
-----END RSA PUBLIC KEY-----
";

    /// A throwaway P-256 key (`openssl ecparam -genkey`), as SEC1, PKCS#8 and its SPKI.
    const EC_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIGqoodGoSJVJ+fqMk0+alex6SOV7uizui7u4zLTzuJNVoAoGCCqGSM49
AwEHoUQDQgAEzGBazCNErgxV2AHbyym9cMfoD3YcP82Qjt1jGJoKZHE02xOVSFBW
Azl2CWK0Qp4s+IWylHS+1MUY1XSVfZ74mA==
-----END EC PRIVATE KEY-----
";
    const EC_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgaqih0ahIlUn5+oyT
T5qV7HpI5Xu6LO6Lu7jMtPO4k1WhRANCAATMYFrMI0SuDFXYAdvLKb1wx+gPdhw/
zZCO3WMYmgpkcTTbE5VIUFYDOXYJYrRCniz4hbKUdL7UxRjVdJV9nviY
-----END PRIVATE KEY-----
";
    const EC_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzGBazCNErgxV2AHbyym9cMfoD3Yc
P82Qjt1jGJoKZHE02xOVSFBWAzl2CWK0Qp4s+IWylHS+1MUY1XSVfZ74mA==
-----END PUBLIC KEY-----
";

    #[test]
    fn a_pkcs1_public_pem_is_the_same_key_as_the_spki_one() {
        let spki = JwtPublicKey::load(PUB).unwrap();
        // The SPKI built around the PKCS#1 key is byte for byte openssl's.
        assert_eq!(JwtPublicKey::load(PUB_PKCS1).unwrap(), spki);
        let token = JwtKey::from_pem(KEY).unwrap().sign(&claims()).unwrap();
        assert!(verify::<NitClaims>(&token, &JwtPublicKey::load(PUB_PKCS1).unwrap()).is_ok());
        // A comment line before the block, as some tools write, is ignored.
        let commented = format!("the test key\n{PUB}");
        assert_eq!(JwtPublicKey::load(&commented).unwrap(), spki);
    }

    #[test]
    fn keys_of_another_algorithm_are_refused_by_name() {
        let err = JwtKey::from_pem(EC_SEC1).unwrap_err();
        assert!(err.contains("an EC key, not an RSA private key"), "{err}");
        let err = JwtKey::from_pem(EC_PKCS8).unwrap_err();
        assert!(err.contains("not a usable RSA private key"), "{err}");
        let err = JwtPublicKey::load(EC_SPKI).unwrap_err();
        assert!(err.contains("not an RSA public key"), "{err}");
        let err = JwtPublicKey::load(KEY).unwrap_err();
        assert!(err.contains("not an RSA public key"), "{err}");
        let broken = PUB.replace("MIIB", "MIIC");
        let err = JwtPublicKey::load(&broken).unwrap_err();
        assert!(err.contains("not a DER-encoded public key"), "{err}");
        let unended = PUB.replace("-----END PUBLIC KEY-----", "");
        let err = JwtPublicKey::load(&unended).unwrap_err();
        assert!(err.contains("no END line"), "{err}");
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

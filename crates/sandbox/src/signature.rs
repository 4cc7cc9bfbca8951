//! Signature mode, as Carat checks it (digest §4.3): a create carrying `Authorization: Bearer
//! <jwt>` opens a signature-mode transaction (its NIT comes back in the answer, no authenticity
//! POST), and every later call on such a transaction must carry a valid token naming its NIT.
//! A token is refused, with code 30 and HTTP 401 naming what is wrong, unless: RS256 with the
//! header `{"alg":"RS256","typ":"JWT"}`, signed by the registered key, every claim a string,
//! `merchant_id` this store's, `merchant_key` the body's, `timestamp` (epoch ms) at most
//! `max_age` old and at most [`SKEW`] ahead, and `order_id`/`merchant_usn` (create) or `nit`
//! (later calls) the request's. Carat's own expiry rule is not published: the window is the
//! sandbox's.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};

use super::errors::CaratError;
use super::requests::Order;
use carat_domain::{MerchantId, Secret};
use carat_wire::signature::{self, CreateClaims, JwtPublicKey, NitClaims};

/// How far ahead of the sandbox's clock a `timestamp` may be (clocks differ a little).
pub const SKEW: Duration = Duration::from_secs(30);

/// The sandbox's default for how old a token may be.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

pub(crate) struct Verifier {
    /// `None`: no key registered, so every signed call is refused.
    pub key: Option<JwtPublicKey>,
    pub merchant_id: MerchantId,
    pub merchant_key: Secret,
    pub max_age: Duration,
}

fn refused(why: impl std::fmt::Display) -> CaratError {
    CaratError::new(
        StatusCode::UNAUTHORIZED,
        "30",
        format!("Authorization: signature refused: {why}"),
    )
}

/// The bearer token, if the request has an `Authorization` header at all.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, CaratError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| refused("the header is not ASCII"))?;
    match value.strip_prefix("Bearer ") {
        Some(token) if !token.trim().is_empty() => Ok(Some(token.trim())),
        _ => Err(refused("must be `Bearer <jwt>`")),
    }
}

impl Verifier {
    fn checked<C: serde::de::DeserializeOwned>(&self, token: &str) -> Result<C, CaratError> {
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| refused("no public key is registered for this merchant"))?;
        signature::verify(token, key).map_err(refused)
    }

    fn common(
        &self,
        merchant_id: &str,
        merchant_key: &str,
        timestamp: &str,
    ) -> Result<(), CaratError> {
        if merchant_id != self.merchant_id.as_str() {
            return Err(refused("merchant_id: not this merchant's"));
        }
        if merchant_key != self.merchant_key.expose() {
            return Err(refused("merchant_key: not the merchant key"));
        }
        signature::check_timestamp(timestamp, signature::now_millis(), self.max_age, SKEW)
            .map_err(refused)
    }

    /// A create: `Ok(true)` when it is signed (and the token is valid), `Ok(false)` unsigned.
    pub fn create(&self, headers: &HeaderMap, order: &Order) -> Result<bool, CaratError> {
        let Some(token) = bearer(headers)? else {
            return Ok(false);
        };
        let claims: CreateClaims = self.checked(token)?;
        self.common(&claims.merchant_id, &claims.merchant_key, &claims.timestamp)?;
        if order.order_id.as_deref() != Some(claims.order_id.as_str()) {
            return Err(refused("order_id: not the body's order_id"));
        }
        if order.merchant_usn.as_deref() != Some(claims.merchant_usn.as_str()) {
            return Err(refused("merchant_usn: not the body's merchant_usn"));
        }
        Ok(true)
    }

    /// A call on transaction `nit`: a signature-mode one must be signed; on another a token is
    /// optional but, if sent, must be valid. `Ok(true)` when it was signed.
    pub fn call(
        &self,
        headers: &HeaderMap,
        nit: &str,
        signature_mode: bool,
    ) -> Result<bool, CaratError> {
        let Some(token) = bearer(headers)? else {
            return if signature_mode {
                Err(refused(
                    "missing: this transaction was created with a signature, so every call on it must be signed",
                ))
            } else {
                Ok(false)
            };
        };
        let claims: NitClaims = self.checked(token)?;
        self.common(&claims.merchant_id, &claims.merchant_key, &claims.timestamp)?;
        if claims.nit != nit {
            return Err(refused("nit: not this transaction's NIT"));
        }
        Ok(true)
    }
}

//! `Idempotency-Key` on the storefront's POSTs: a retry with the key of a request that already
//! finished gets that request's answer again, without running it (nor calling Carat) again.
//!
//! * A key is 1–255 visible ASCII characters (0x21–0x7E: no spaces, no control characters);
//!   a POST without one runs as it always did.
//! * Keys belong to the API token that presented them ([`Caller::scope`]).
//! * The request is fingerprinted (method, path with its ids, body bytes; an HMAC keyed from the
//!   merchant key, since a body may carry a card number): the key with
//!   another request is a 422 `idempotency_key_reused`; while its first request runs, a 409
//!   `idempotency_key_in_use`.
//! * The holder of a key keeps a lease on it ([`LEASE`]), renewed while its request runs. If
//!   the process dies mid-request the lease runs out and a retry of the same request takes the
//!   key over, so a key is never "in use" for ever.
//! * The request runs in a task of its own, like the use cases: a storefront that hangs up
//!   does not leave its key half-done.
//! * Which answers are kept is [`keeps`]: final ones. One that means "nothing was settled, try
//!   again" lets go of the key instead, so the retry runs afresh — above all
//!   `carat_outcome_unknown`, whose retry must go on resolving, not replay a stale 503.
//! * A key is kept `IDEMPOTENCY_TTL_HOURS`; past it, it is new again, and the serve process
//!   purges it ([`purge_periodically`]).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use tracing::Instrument;
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use carat_core::idempotency::Idempotency;
use carat_domain::Secret;
use carat_store::idempotency::{Claim, KeyRef, StoredAnswer};

pub const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on an answer that was replayed from a key rather than produced by running the request.
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long a key's holder may go without renewing it before a retry may take it over. The
/// holder renews it every third of this while its request runs, however long that is.
pub const LEASE: Duration = Duration::from_secs(30);

/// The middleware, on each storefront POST (behind the bearer check, which sets [`Caller`]).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let key = match key_of(req.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => return next.run(req).await,
        Err(e) => return e.into_response(),
    };
    let Some(Caller { scope, .. }) = req.extensions().get::<Caller>().cloned() else {
        tracing::error!("idempotency layer reached without a caller: is it behind auth?");
        return ApiError::Internal.into_response();
    };
    // The body is read within the API's body limit (the router's `DefaultBodyLimit`, which
    // the extractor honours as the JSON extractor's does), then handed on to the handler.
    let (parts, body) = req.into_parts();
    let bytes = match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(bytes) => bytes,
        Err(e) => return super::json::body_error(e).into_response(),
    };
    let fingerprint = fingerprint(
        &state.fingerprint_key,
        &parts.method,
        parts.uri.path(),
        &bytes,
    );
    let idempotency = state.idempotency.clone();
    let key_ref = KeyRef {
        scope: &scope,
        key: &key,
    };
    // A key that cannot be claimed is never run without: a database failure is a 503.
    match idempotency.claim(&key_ref, &fingerprint, LEASE).await {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Claim::Mismatch) => ApiError::IdempotencyKeyReused.into_response(),
        Ok(Claim::InProgress) => ApiError::IdempotencyKeyInUse.into_response(),
        Ok(Claim::Completed(answer)) => {
            tracing::info!(status = answer.http_status, "idempotent replay");
            replay(answer)
        }
        Ok(Claim::Acquired(token)) => {
            let run = next.run(Request::from_parts(parts, Body::from(bytes)));
            // In the request's span, where the handler records the recharge's id.
            let held = tokio::spawn(
                carat_core::carat_wait::carry(hold(idempotency, scope, key, token, run))
                    .instrument(tracing::Span::current()),
            );
            held.await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "idempotent request task failed");
                ApiError::Internal.into_response()
            })
        }
    }
}

/// Runs the request while renewing the key's lease, then keeps or lets go of the key.
async fn hold(
    idempotency: Idempotency,
    scope: String,
    key: String,
    token: Uuid,
    run: impl Future<Output = Response>,
) -> Response {
    let key_ref = KeyRef {
        scope: &scope,
        key: &key,
    };
    let mut run = std::pin::pin!(run);
    let mut renewal = tokio::time::interval(LEASE / 3);
    renewal.tick().await;
    let response = loop {
        tokio::select! {
            response = &mut run => break response,
            _ = renewal.tick() => match idempotency.renew(&key_ref, token, LEASE).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!("idempotency key taken over while its request ran"),
                Err(e) => tracing::warn!(error = %e, "could not renew an idempotency key's lease"),
            },
        }
    };
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "could not read the answer to keep it");
            let _ = idempotency.release(&key_ref, token).await;
            return ApiError::Internal.into_response();
        }
    };
    let settled = if keeps(parts.status, error_code(&parts.headers, &body).as_deref()) {
        let answer = StoredAnswer {
            http_status: parts.status.as_u16(),
            content_type: header_text(&parts.headers, &CONTENT_TYPE),
            location: header_text(&parts.headers, &LOCATION),
            body: body.to_vec(),
        };
        idempotency.complete(&key_ref, token, &answer).await
    } else {
        idempotency.release(&key_ref, token).await
    };
    // The answer goes out either way; a key left in progress frees itself when its lease ends.
    match settled {
        Ok(true) => {}
        Ok(false) => tracing::warn!("idempotency key taken over before its answer was kept"),
        Err(e) => tracing::error!(error = %e, "could not settle an idempotency key"),
    }
    Response::from_parts(parts, Body::from(body))
}

/// Which answers a key keeps. Final ones are kept: a success, the storefront's own mistake
/// (4xx), Carat's refusal. Those that mean "nothing was settled, try again" are not, so the
/// retry runs afresh: a 409 (the recharge's state may move on, and `idempotency_key_in_use`
/// itself), a 5xx the service or Carat could not answer (`unavailable`, `internal`,
/// `carat_unavailable`), and `carat_outcome_unknown`, whose retry goes on resolving the call.
fn keeps(status: StatusCode, error_code: Option<&str>) -> bool {
    if status == StatusCode::CONFLICT {
        return false;
    }
    if status.is_server_error() {
        return error_code == Some("carat_refused");
    }
    true
}

/// `error.code` of a JSON error answer.
fn error_code(headers: &HeaderMap, body: &Bytes) -> Option<String> {
    let is_json = header_text(headers, &CONTENT_TYPE)?.starts_with("application/json");
    let value: serde_json::Value = serde_json::from_slice(body).ok().filter(|_| is_json)?;
    value["error"]["code"].as_str().map(str::to_owned)
}

fn header_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.http_status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    let stored = [
        (CONTENT_TYPE, answer.content_type),
        (LOCATION, answer.location),
    ];
    for (name, value) in stored {
        if let Some(value) = value.and_then(|v| HeaderValue::try_from(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// The request's key: none without the header, a 400 naming it when it is malformed.
fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(&KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::InvalidIdempotencyKey("must be sent once"));
    }
    validate_key(value.as_bytes())
        .map(|key| Some(key.to_owned()))
        .map_err(ApiError::InvalidIdempotencyKey)
}

/// A key is 1–255 characters from 0x21 to 0x7E (UUIDs, base64 and the like; no spaces).
fn validate_key(raw: &[u8]) -> Result<&str, &'static str> {
    if raw.is_empty() {
        return Err("must not be empty");
    }
    if raw.len() > 255 {
        return Err("must be at most 255 characters");
    }
    if !raw.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err("must be visible ASCII characters only (no spaces or control characters)");
    }
    std::str::from_utf8(raw).map_err(|_| "must be visible ASCII characters only")
}

/// The key of the fingerprints' HMAC. A plain hash of a body that carries a card number could
/// be brute-forced from the stored fingerprint (a PAN has few unknown digits once its BIN and
/// last four are known); keyed, it cannot without the key. Derived from the merchant key, a
/// configured secret that stays put (a PIN key rotates, which would make a retry across the
/// rotation look like another request).
#[derive(Clone)]
pub struct FingerprintKey(ring::hmac::Key);

impl FingerprintKey {
    pub fn derive(merchant_key: &Secret) -> Self {
        let root = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, merchant_key.expose().as_bytes());
        let derived = ring::hmac::sign(&root, b"carat-merchant idempotency fingerprint v1");
        Self(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            derived.as_ref(),
        ))
    }
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey([redacted])")
    }
}

/// What makes two requests the same: method, path (with its ids) and body bytes, each
/// length-prefixed so that no two different requests run together into the same input; keyed
/// ([`FingerprintKey`]).
fn fingerprint(key: &FingerprintKey, method: &Method, path: &str, body: &[u8]) -> String {
    let mut mac = ring::hmac::Context::with_key(&key.0);
    for part in [method.as_str().as_bytes(), path.as_bytes(), body] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.sign()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Purges expired keys now and every `every` after, until `stop` completes. Runs in every
/// `serve` process, reconciler or not.
pub async fn purge_periodically(
    idempotency: Idempotency,
    every: Duration,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => match idempotency.purge_expired().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "purged expired idempotency keys"),
                Err(e) => tracing::warn!(error = %e, "could not purge idempotency keys"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert_eq!(validate_key(b"a"), Ok("a"));
        assert!(validate_key(&[b'k'; 255]).is_ok());
        assert!(validate_key(b"0b5e2c9a-6a1f-4a53-9d8e-7f1d2a3b4c5d").is_ok());
        assert!(validate_key(b"!~{}").is_ok());
        assert_eq!(validate_key(b""), Err("must not be empty"));
        assert_eq!(
            validate_key(&[b'k'; 256]),
            Err("must be at most 255 characters")
        );
        for bad in [&b"a b"[..], b"tab\there", b"\x7f", "chav\u{e9}".as_bytes()] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_key_sent_twice_is_refused() {
        let mut headers = HeaderMap::new();
        assert!(key_of(&headers).unwrap().is_none());
        headers.append(KEY_HEADER, HeaderValue::from_static("one"));
        assert_eq!(key_of(&headers).unwrap().as_deref(), Some("one"));
        headers.append(KEY_HEADER, HeaderValue::from_static("two"));
        assert!(key_of(&headers).is_err());
    }

    #[test]
    fn fingerprints_are_keyed() {
        let one = FingerprintKey::derive(&Secret::new("K1"));
        let two = FingerprintKey::derive(&Secret::new("K2"));
        assert_ne!(
            fingerprint(&one, &Method::POST, "/a", b"{}"),
            fingerprint(&two, &Method::POST, "/a", b"{}")
        );
    }

    #[test]
    fn fingerprints_tell_method_path_and_body_apart() {
        let k = FingerprintKey::derive(&Secret::new("K"));
        let base = fingerprint(&k, &Method::POST, "/api/v1/recharges", b"{}");
        assert_eq!(
            base,
            fingerprint(&k, &Method::POST, "/api/v1/recharges", b"{}")
        );
        assert_eq!(base.len(), 64);
        assert_ne!(
            base,
            fingerprint(&k, &Method::PUT, "/api/v1/recharges", b"{}")
        );
        assert_ne!(
            base,
            fingerprint(&k, &Method::POST, "/api/v1/recharges/x", b"{}")
        );
        assert_ne!(
            base,
            fingerprint(&k, &Method::POST, "/api/v1/recharges", b"{ }")
        );
        // The boundary between path and body counts.
        assert_ne!(
            fingerprint(&k, &Method::POST, "/a", b"b"),
            fingerprint(&k, &Method::POST, "/ab", b"")
        );
    }

    #[test]
    fn final_answers_are_kept_and_try_again_answers_are_not() {
        for (status, code) in [
            (200, None),
            (201, None),
            (400, Some("malformed_body")),
            (404, Some("not_found")),
            (422, Some("invalid_field")),
            (422, Some("carat_denied")),
            (502, Some("carat_refused")),
        ] {
            assert!(
                keeps(StatusCode::from_u16(status).unwrap(), code),
                "{status} {code:?}"
            );
        }
        for (status, code) in [
            (409, Some("conflict")),
            (409, Some("idempotency_key_in_use")),
            (500, Some("internal")),
            (503, Some("unavailable")),
            (503, Some("carat_outcome_unknown")),
            (504, Some("carat_outcome_unknown")),
            (502, Some("carat_outcome_unknown")),
            (502, Some("carat_unavailable")),
            (504, Some("carat_unavailable")),
            (502, None),
        ] {
            assert!(
                !keeps(StatusCode::from_u16(status).unwrap(), code),
                "{status} {code:?}"
            );
        }
    }
}

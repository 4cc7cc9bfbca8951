//! Carat Portal's form-urlencoded POSTs to this store: parsed tolerantly, validated strictly,
//! committed, and only then answered 200.
//!
//! Who may reach them: only sources in `CALLBACK_ALLOWED_NETWORKS` (when set; see
//! [`source`]), and, with `CALLBACK_PATH_SECRET` set, only under `/callbacks/<secret>/..`.

mod answer;
pub mod authenticity;
pub mod hash;
pub mod source;
pub mod status;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header::HeaderName};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use subtle::ConstantTimeEq;

use carat_core::callbacks::CallbackService;
use carat_domain::Secret;
pub use source::SourcePolicy;

#[derive(Clone, Debug)]
pub struct CallbackState {
    /// The use cases the three POSTs call.
    pub callbacks: CallbackService,
}

/// Who may reach the callback routes.
#[derive(Clone, Debug, Default)]
pub struct CallbackGuard {
    pub sources: SourcePolicy,
    pub path_secret: Option<PathSecret>,
}

/// `CALLBACK_PATH_SECRET`: one URL path segment, so it travels in the registered URL as it is.
#[derive(Clone, Debug)]
pub struct PathSecret(Secret);

impl PathSecret {
    /// At least 16 characters of `A-Z a-z 0-9 - _ . ~` (RFC 3986's unreserved set: nothing to
    /// escape, nothing a proxy rewrites). The error never quotes the value.
    pub fn new(secret: Secret) -> Result<Self, String> {
        let s = secret.expose();
        if s.len() < 16 {
            return Err("must be at least 16 characters long".into());
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
        {
            return Err("may hold only letters, digits, `-`, `_`, `.` and `~`".into());
        }
        Ok(Self(secret))
    }

    fn matches(&self, segment: &str) -> bool {
        self.0.expose().as_bytes().ct_eq(segment.as_bytes()).into()
    }
}

/// The path prefix of every callback route: `/callbacks`, or `/callbacks/<secret>`. Only for
/// building the URL the embedded sandbox posts to: it holds the secret.
pub fn base_path(guard: &CallbackGuard) -> String {
    match &guard.path_secret {
        Some(secret) => format!("/callbacks/{}", secret.0.expose()),
        None => "/callbacks".to_owned(),
    }
}

/// The longest callback body: Carat's forms are a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The callback routes. With a path secret they live under `/callbacks/{secret}`, a route
/// parameter, so the request span records the route template, never the secret itself.
pub fn router(state: CallbackState, guard: CallbackGuard) -> Router {
    let routes = Router::new()
        .route("/authenticity", post(authenticity::receive))
        .route("/status", post(status::receive))
        .route("/hash", post(hash::receive))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    let prefix = if guard.path_secret.is_some() {
        "/callbacks/{secret}"
    } else {
        "/callbacks"
    };
    Router::new()
        .nest(prefix, routes)
        .route_layer(middleware::from_fn_with_state(guard, admit))
}

/// Refuses a wrong path secret as an unknown route (404), then a source outside the allowed
/// networks, or one a trusted proxy's `X-Forwarded-For` does not tell, with 403. None reaches
/// the handler, so none is kept in the callback inbox: the inbox holds what Carat may have
/// sent, not what anyone on the internet can flood it with; the log line records each refusal
/// with its source.
async fn admit(State(guard): State<CallbackGuard>, request: Request, next: Next) -> Response {
    if let Some(secret) = &guard.path_secret {
        let segment = request.uri().path().split('/').nth(2).unwrap_or_default();
        if !secret.matches(segment) {
            return crate::fallback::not_found().await.into_response();
        }
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let forwarded_for = forwarded_for(&request);
    // No peer address (a router served without connect info): nothing to check it against.
    let Some(peer) = peer else {
        return next.run(request).await;
    };
    let logged_chain = forwarded_for.as_deref().map(String::from_utf8_lossy);
    let source = match guard.sources.source(peer, forwarded_for.as_deref()) {
        Ok(source) => source,
        // Same status as an unknown source: it is one. Never the proxy's address instead, or
        // a sender's garbage would pass it off as the (maybe allowed) proxy.
        Err(source::UnreadableForwardedFor) => {
            tracing::warn!(
                %peer,
                forwarded_for = logged_chain.as_deref(),
                "callback refused: a trusted proxy's X-Forwarded-For holds an entry that is not an address"
            );
            return refused(
                "source address unknown: X-Forwarded-For holds an entry that is not an address",
            );
        }
    };
    if !guard.sources.admits(source) {
        tracing::warn!(
            %source,
            %peer,
            forwarded_for = logged_chain.as_deref(),
            "callback refused: its source is not in CALLBACK_ALLOWED_NETWORKS"
        );
        return refused("source address not allowed to post callbacks");
    }
    next.run(request).await
}

/// A 403 in plain text, counted as a refused callback.
fn refused(reason: &'static str) -> Response {
    answer::with_outcome(
        (StatusCode::FORBIDDEN, reason).into_response(),
        carat_core::metrics::CallbackOutcome::Refused,
    )
}

/// Every `X-Forwarded-For` header, joined in order with commas (proxies may add a header
/// each). As bytes: a header that is not text is not dropped, or the proxy would become the
/// source (see [`SourcePolicy::source`]).
fn forwarded_for(request: &Request) -> Option<Vec<u8>> {
    let values: Vec<&[u8]> = request
        .headers()
        .get_all(HeaderName::from_static("x-forwarded-for"))
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    (!values.is_empty()).then(|| values.join(&b','))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_secrets_are_long_and_url_safe() {
        assert!(PathSecret::new(Secret::new("short")).is_err());
        assert!(PathSecret::new(Secret::new("has/a/slash/in-it-0123")).is_err());
        assert!(PathSecret::new(Secret::new("percent%20encoded-0123")).is_err());
        let secret = PathSecret::new(Secret::new("Abc-123_xyz.~0123456")).unwrap();
        assert!(secret.matches("Abc-123_xyz.~0123456"));
        assert!(!secret.matches("Abc-123_xyz.~012345"));
        assert!(!format!("{secret:?}").contains("Abc"));
    }
}

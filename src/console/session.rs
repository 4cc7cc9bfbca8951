//! Who is signed in: the token check at sign-in, the session cookie, the CSRF check, and the
//! extractor that finds the session behind a request's cookie.
//!
//! Sessions are rows kept by `carat_core::console::Sessions` (only a digest of the cookie's
//! value is stored); the cookie carries the value, `HttpOnly; SameSite=Strict; Path=/console`,
//! `Secure` when the service serves TLS, and no `Max-Age`: the server ends a session idle
//! longer than `CONSOLE_SESSION_IDLE`.

use axum::http::HeaderMap;
use axum::http::header::COOKIE as COOKIE_HEADER;

use carat_domain::{ConsoleRole, Secret};

/// The session cookie's name.
pub const COOKIE: &str = "carat_console";
/// The language cookie's name (set by `?lang=`).
pub const LANG_COOKIE: &str = "carat_console_lang";
/// Where the cookies are sent.
pub const PATH: &str = "/console";

/// A session cookie's value is 43 characters (32 bytes in base64url); anything much longer is
/// not one, and is not looked up.
const MAX_COOKIE_VALUE: usize = 128;

/// The value of the cookie `name` in the request's `Cookie` headers, if sent (the first one
/// when sent twice).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// The session cookie's value, when it looks like one (non-empty, base64url, not too long).
pub fn session_value(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE).filter(|v| {
        !v.is_empty()
            && v.len() <= MAX_COOKIE_VALUE
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path={PATH}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that removes the session cookie (sign-out, or a session the server ended).
pub fn cleared_session_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path={PATH}; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` for the language choice: a preference, kept a year.
pub fn lang_cookie(code: &str, secure: bool) -> String {
    format!(
        "{LANG_COOKIE}={code}; Path={PATH}; HttpOnly; SameSite=Strict; Max-Age=31536000{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Compares without an early exit, so response time says nothing about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    crate::api::auth::constant_time_eq(a, b)
}

/// Whether the form's CSRF token is the session's, compared in constant time.
pub fn csrf_matches(expected: &str, presented: Option<&str>) -> bool {
    let presented = presented.unwrap_or_default();
    // An empty expected value never matches (a session always has one; be sure anyway).
    !expected.is_empty() & constant_time_eq(expected.as_bytes(), presented.as_bytes())
}

/// The role a presented API token signs in as: any of `API_TOKENS` is an operator, any of
/// `API_READONLY_TOKENS` support. Every configured token is compared, whatever matched, as
/// the API's bearer check does, so the time taken says nothing about which or how close.
pub fn role_of(token: &str, full: &[Secret], read_only: &[Secret]) -> Option<ConsoleRole> {
    let operator = crate::api::auth::is_one_of(token, full);
    let support = crate::api::auth::is_one_of(token, read_only);
    // Configuration refuses a token in both lists; were it there, it is support (read only).
    match (operator, support) {
        (_, true) => Some(ConsoleRole::Support),
        (true, false) => Some(ConsoleRole::Operator),
        (false, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE_HEADER,
            HeaderValue::from_static("a=1; carat_console_lang=en"),
        );
        headers.append(
            COOKIE_HEADER,
            HeaderValue::from_static("carat_console=abc-_DEF"),
        );
        assert_eq!(cookie(&headers, LANG_COOKIE), Some("en"));
        assert_eq!(cookie(&headers, "a"), Some("1"));
        assert_eq!(session_value(&headers), Some("abc-_DEF"));
        assert_eq!(cookie(&headers, "carat"), None);
    }

    #[test]
    fn a_session_value_that_cannot_be_one_is_not_looked_up() {
        for bad in [
            "carat_console=",
            "carat_console=a b",
            "carat_console=a%00",
            "carat_console=a.b",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(COOKIE_HEADER, HeaderValue::from_str(bad).unwrap());
            assert_eq!(session_value(&headers), None, "{bad}");
        }
        let mut headers = HeaderMap::new();
        let long = format!("carat_console={}", "a".repeat(MAX_COOKIE_VALUE + 1));
        headers.insert(COOKIE_HEADER, HeaderValue::from_str(&long).unwrap());
        assert_eq!(session_value(&headers), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_secure_with_tls() {
        assert_eq!(
            session_cookie("v", false),
            "carat_console=v; Path=/console; HttpOnly; SameSite=Strict"
        );
        assert_eq!(
            session_cookie("v", true),
            "carat_console=v; Path=/console; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!session_cookie("v", true).contains("Max-Age"));
        assert!(cleared_session_cookie(false).contains("Max-Age=0"));
        assert!(lang_cookie("en", true).starts_with("carat_console_lang=en; Path=/console;"));
    }

    #[test]
    fn csrf_needs_the_whole_token() {
        assert!(csrf_matches("abc", Some("abc")));
        assert!(!csrf_matches("abc", Some("abd")));
        assert!(!csrf_matches("abc", Some("ab")));
        assert!(!csrf_matches("abc", Some("")));
        assert!(!csrf_matches("abc", None));
        assert!(!csrf_matches("", Some("")));
        assert!(!csrf_matches("", None));
    }

    #[test]
    fn full_tokens_are_operators_read_only_ones_support() {
        let full = [Secret::new("full-1"), Secret::new("full-2")];
        let read_only = [Secret::new("read-1")];
        assert_eq!(
            role_of("full-2", &full, &read_only),
            Some(ConsoleRole::Operator)
        );
        assert_eq!(
            role_of("read-1", &full, &read_only),
            Some(ConsoleRole::Support)
        );
        assert_eq!(role_of("full", &full, &read_only), None);
        assert_eq!(role_of("", &full, &read_only), None);
        assert_eq!(role_of("full-1 ", &full, &read_only), None);
        let both = [Secret::new("x")];
        assert_eq!(role_of("x", &both, &both), Some(ConsoleRole::Support));
    }
}

//! A strict JSON body extractor: `Content-Type: application/json`, one JSON value and nothing
//! after it, within the body limit; errors name the field in plain words (`json_errors`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::{Path, Segment};

use super::error::ApiError;
use super::json_errors::{self, Shape};
use carat_domain::FieldError;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

/// A JSON body not read yet (its `Content-Type` and size checked as for [`ApiJson`]): for a
/// body whose type depends on what the path names; read it with [`parse`].
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json) {
            return Err(ApiError::UnsupportedMediaType);
        }
        // The router's `DefaultBodyLimit` applies here, to a declared length and to a
        // chunked body that grows past it alike.
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        Ok(Self(bytes))
    }
}

/// Why a body could not be read: over the limit (413), or cut off (400).
pub fn body_error(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::BodyTooLarge
    } else {
        ApiError::Malformed(e.body_text())
    }
}

/// Whether a `Content-Type` is the media type `application/json`, parameters allowed.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().eq_ignore_ascii_case("application/json")
}

/// Deserialises `bytes`, which must hold one JSON value (and whitespace) only, turning serde's
/// error into one that names the field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body is an object; serde would also take an array of the fields in order.
    if bytes.trim_ascii_start().first() != Some(&b'{')
        && let Ok(body) = serde_json::from_slice::<Value>(bytes)
    {
        let reason = format!("invalid type: {}, expected struct body", kind(&body));
        return Err(ApiError::InvalidField(field_error::<T>(
            bytes, None, &reason,
        )));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let e = match serde_path_to_error::deserialize::<_, T>(&mut *de) {
        Ok(value) => return de.end().map(|()| value).map_err(|e| malformed(&e)),
        Err(e) => e,
    };
    let path = e.path().clone();
    let inner = e.into_inner();
    let reason = strip_position(&inner.to_string());
    if inner.classify() == serde_json::error::Category::Data {
        return Err(ApiError::InvalidField(field_error::<T>(
            bytes,
            Some(&path),
            &reason,
        )));
    }
    // serde_json calls a number or object where one of an enum's names was expected a syntax
    // error ("expected value"): in a body that is valid JSON, that is a field of the wrong
    // type, not bad syntax.
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut body) => {
            let found = at_mut(&mut body, Some(&path)).map_or("a value", |v| kind(v));
            let reason = format!("invalid type: {found}, expected variant identifier");
            Err(ApiError::InvalidField(field_error::<T>(
                bytes,
                Some(&path),
                &reason,
            )))
        }
        Err(_) => Err(malformed(&inner)),
    }
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::Malformed(format!(
        "the body must be one JSON value and nothing after it: {e}"
    ))
}

/// serde says "missing field `x`" (unknown, duplicate) about the parent: name the field itself.
/// `path` is `None` for the whole body.
fn field_error<T: DeserializeOwned>(bytes: &[u8], path: Option<&Path>, reason: &str) -> FieldError {
    let shown = path.map_or_else(|| ".".to_owned(), Path::to_string);
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| reason.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    // For an unknown field the path already ends at it; for a missing one it stops above it.
    let field = match (shown.as_str(), named) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "body".to_owned(),
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => {
            path.to_owned()
        }
        (parent, Some(name)) => format!("{parent}.{name}"),
        (path, None) => path.to_owned(),
    };
    let members = json_errors::expected_shape(reason).and_then(|s| members::<T>(bytes, path, s));
    let cents = CENTS_FIELDS.contains(&field.as_str());
    let mut words = json_errors::plain_words(reason, members.as_deref(), cents);
    // Card data is never echoed, not even a prefix (a BIN is most of a PAN's guessable part).
    if field.starts_with("payment.card") || field.starts_with("payment_card") {
        words = json_errors::without_echoes(&words);
    }
    FieldError::new(json_errors::shorten_field(&field), words)
}

/// Fields whose numbers are amounts in cents.
const CENTS_FIELDS: &[&str] = &["amount"];

/// The fields or names `T` expects at `path`, learnt by sending `T` a member it cannot know
/// there: serde's refusal lists the ones it does.
fn members<T: DeserializeOwned>(
    bytes: &[u8],
    path: Option<&Path>,
    shape: Shape,
) -> Option<Vec<String>> {
    const PROBE: &str = "\u{0}";
    let mut body: Value = serde_json::from_slice(bytes).ok()?;
    let slot = at_mut(&mut body, path)?;
    *slot = match shape {
        Shape::Object => serde_json::json!({ PROBE: null }),
        Shape::Choice => Value::String(PROBE.to_owned()),
    };
    let e = serde_path_to_error::deserialize::<_, T>(body).err()?;
    let message = e.inner().to_string();
    let probed = match shape {
        Shape::Object => message.starts_with(&format!("unknown field `{PROBE}`")),
        Shape::Choice => message.starts_with(&format!("unknown variant `{PROBE}`")),
    };
    probed
        .then(|| json_errors::listed_members(&message))
        .flatten()
}

fn at_mut<'a>(body: &'a mut Value, path: Option<&Path>) -> Option<&'a mut Value> {
    path.into_iter()
        .flat_map(Path::iter)
        .try_fold(body, |value, segment| match segment {
            Segment::Seq { index } => value.get_mut(index),
            Segment::Map { key } => value.get_mut(key),
            _ => None,
        })
}

/// A JSON value's kind, in serde's words (`json_errors` translates them).
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "floating point",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "sequence",
        Value::Object(_) => "map",
    }
}

/// serde's "at line 1 column 9" is about the body, not the field the message names.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carat_domain::Ddd;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        phone: Phone,
        #[serde(default)]
        kind: Option<Kind>,
        #[serde(default)]
        amount: Option<u64>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Phone {
        ddd: Ddd,
        #[serde(default)]
        number: Option<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Normal,
        Others,
    }

    fn field_of(body: &str) -> String {
        match parse::<Body>(body.as_bytes()) {
            Err(ApiError::InvalidField(e)) => format!("{} | {}", e.field, e.reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_the_failing_field() {
        assert!(field_of(r#"{"phone":{"ddd":"1"}}"#).starts_with("phone.ddd | must be exactly 2"));
        assert_eq!(field_of(r#"{"phone":{}}"#), "phone.ddd | is required");
        assert_eq!(field_of(r#"{}"#), "phone | is required");
        assert_eq!(
            field_of(r#"{"phone":{"ddd":"11"},"x":1}"#),
            "x | is not a known field; the fields are phone, kind and amount"
        );
    }

    #[test]
    fn wrong_types_are_named_in_plain_words() {
        assert_eq!(
            field_of(r#"{"phone":5}"#),
            "phone | must be an object with ddd and number, not a number"
        );
        assert_eq!(
            field_of(r#"{"phone":{"ddd":11}}"#),
            "phone.ddd | must be a string, not a number"
        );
        assert_eq!(
            field_of(r#"{"phone":{"ddd":"11"},"kind":1}"#),
            "kind | must be one of normal or others, not a number"
        );
        assert_eq!(
            field_of(r#"{"phone":{"ddd":"11"},"kind":"pin"}"#),
            "kind | must be one of normal or others"
        );
        assert_eq!(
            field_of(r#"{"phone":{"ddd":"11"},"amount":10.5}"#),
            "amount | must be a whole number of cents, not a fraction"
        );
        assert_eq!(
            field_of(r#"["x"]"#),
            "body | must be an object with phone, kind and amount, not an array"
        );
        assert_eq!(
            field_of("12"),
            "body | must be an object with phone, kind and amount, not a number"
        );
    }

    #[test]
    fn a_huge_value_is_not_echoed() {
        let body = format!(
            r#"{{"phone":{{"ddd":"11"}},"kind":"{}"}}"#,
            "A".repeat(1_500_000)
        );
        assert!(field_of(&body).len() < 200);
        let key = "K".repeat(100_000);
        let body = format!(r#"{{"phone":{{"ddd":"11"}},"{key}":1}}"#);
        assert!(field_of(&body).len() < 200);
    }

    #[test]
    fn syntax_errors_and_trailing_text_are_malformed() {
        for body in [
            &b"{"[..],
            b"{\"phone\":{\"ddd\":\"11\"}} trailing",
            b"{\"phone\":{\"ddd\":\"11\"}}{}",
            b"",
        ] {
            assert!(
                matches!(parse::<Body>(body), Err(ApiError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(parse::<Body>(b" {\"phone\":{\"ddd\":\"11\"}} \r\n\t").is_ok());
    }

    #[test]
    fn only_application_json_is_json() {
        for yes in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            " application/json ;charset=UTF-8",
        ] {
            assert!(is_json(yes), "{yes}");
        }
        for no in [
            "application/jsonx",
            "application/json-patch+json",
            "text/json",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }
}

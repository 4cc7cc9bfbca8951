//! A JSON body extractor whose errors name the field (`phone.ddd: must be exactly 2 digits ...`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::FieldError;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::Malformed(e.body_text()))?;
        parse(&bytes).map(ApiJson)
    }
}

/// Deserialises `bytes`, turning serde's error into one that names the field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let reason = strip_position(&inner.to_string());
        match inner.classify() {
            serde_json::error::Category::Data => {
                ApiError::InvalidField(field_error(&path, &reason))
            }
            _ => ApiError::Malformed(format!("the body is not valid JSON: {reason}")),
        }
    })
}

/// serde says "missing field `x`" about the parent: name the field itself.
fn field_error(path: &str, reason: &str) -> FieldError {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| reason.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    // For an unknown field the path already ends at it; for a missing one it stops above it.
    let field = match (path, named) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "body".to_owned(),
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => {
            path.to_owned()
        }
        (parent, Some(name)) => format!("{parent}.{name}"),
        (path, None) => path.to_owned(),
    };
    FieldError::new(field, reason)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Ddd;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        phone: Phone,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Phone {
        ddd: Ddd,
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
        assert_eq!(
            field_of(r#"{"phone":{}}"#),
            "phone.ddd | missing field `ddd`"
        );
        assert_eq!(field_of(r#"{}"#), "phone | missing field `phone`");
        assert!(field_of(r#"{"phone":{"ddd":"11"},"x":1}"#).starts_with("x | unknown field `x`"));
    }

    #[test]
    fn syntax_errors_are_malformed() {
        assert!(matches!(parse::<Body>(b"{"), Err(ApiError::Malformed(_))));
    }
}

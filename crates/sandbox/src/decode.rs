//! Turns raw requests into the wire types, answering every problem Carat-style:
//! a missing field is code 3 (1 for `nit`), anything else unreadable is code 2 naming the field.

use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::errors::CaratError;
use carat_domain::FieldError;
use carat_wire::Envelope;

/// The JSON object of a PUT/POST body, after checking that it is declared and parses as JSON.
pub(crate) fn json_object(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, CaratError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(CaratError::malformed(format!(
            "Content-Type: must be application/json (found {content_type:?})"
        )));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CaratError::malformed(
            "body: must be a JSON object holding the request envelope",
        )),
        Err(e) => Err(CaratError::malformed(format!("body: not valid JSON ({e})"))),
    }
}

/// Takes `T`'s envelope out of a body and decodes it.
pub(crate) fn envelope<T: Envelope>(mut body: Map<String, Value>) -> Result<T, CaratError> {
    let content = body
        .remove(T::KEY)
        .ok_or_else(|| CaratError::missing(T::KEY))?;
    content_of::<T>(content)
}

/// Decodes an envelope's content; field names in errors are relative to it (`phone.ddd`).
pub(crate) fn content_of<T: Envelope>(content: Value) -> Result<T, CaratError> {
    serde_path_to_error::deserialize(content).map_err(|e| {
        let path = e.path().to_string();
        let at = (path != ".").then_some(path);
        serde_failure(at, T::KEY, &e.inner().to_string())
    })
}

/// Decodes a query string into a flat query type.
pub(crate) fn query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, CaratError> {
    serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|e| serde_failure(None, "query", &e.to_string()))
}

/// Classifies a serde failure at `path` (`None`: the top level, called `top`).
fn serde_failure(path: Option<String>, top: &'static str, message: &str) -> CaratError {
    // serde's derive reports an absent field through `de::Error::missing_field`, whose default
    // (kept by serde_json and serde_urlencoded) writes exactly "missing field `name`".
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'));
    match (missing, path) {
        (Some(field), None) => CaratError::missing(field.to_owned()),
        (Some(field), Some(parent)) => CaratError::missing(format!("{parent}.{field}")),
        // Type errors: scalars are JSON strings on this API (`"amount":"3000"`).
        (None, path) => FieldError::new(path.unwrap_or_else(|| top.to_owned()), message).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carat_wire::{DoRechargeRequest, ListDealersQuery};
    use serde_json::json;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        h
    }

    fn effectuation(content: Value) -> Result<DoRechargeRequest, CaratError> {
        content_of(content)
    }

    #[test]
    fn names_missing_nested_fields() {
        let e = effectuation(json!({"dealer":{"code":"1"},"amount":"1000"})).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            ("3", "dealer.type_code: mandatory field missing")
        );
        let e = effectuation(json!({"amount":"1000"})).unwrap_err();
        assert_eq!(e.message, "dealer: mandatory field missing");
    }

    #[test]
    fn a_number_instead_of_a_string_is_a_format_error_naming_the_field() {
        let e = effectuation(json!({"dealer":{"code":"1","type_code":"03"},"amount":3000}))
            .unwrap_err();
        assert_eq!(e.code, "2");
        assert!(
            e.message
                .starts_with("amount: invalid type: integer `3000`"),
            "{}",
            e.message
        );
        let e = effectuation(json!({"dealer":{"code":"1","type_code":"03"},"amount":"1",
            "answers":[{"code":5,"description":"x"}]}))
        .unwrap_err();
        assert!(
            e.message.starts_with("answers[0].code: invalid type"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_envelope_itself_must_be_an_object() {
        let e = envelope::<DoRechargeRequest>(
            json!({"do_recharge_request":"x"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("do_recharge_request: invalid type"),
            "{}",
            e.message
        );
    }

    #[test]
    fn unknown_fields_are_tolerated() {
        let r = effectuation(
            json!({"dealer":{"code":"1","type_code":"03","x":1},"amount":"1","new":[]}),
        );
        assert!(r.is_ok());
    }

    #[test]
    fn body_must_be_declared_and_parsed_as_json() {
        assert_eq!(json_object(&HeaderMap::new(), b"{}").unwrap_err().code, "2");
        assert_eq!(
            json_object(&json_headers(), b"{nope").unwrap_err().code,
            "2"
        );
        assert_eq!(json_object(&json_headers(), b"[]").unwrap_err().code, "2");
        assert!(json_object(&json_headers(), b"{}").is_ok());
    }

    #[test]
    fn a_query_without_nit_is_code_one() {
        let e = query::<ListDealersQuery>(Some("generalhash=0000000000000000")).unwrap_err();
        assert_eq!(e.code, "1");
        let q = query::<ListDealersQuery>(Some("nit=abc&other=1")).unwrap();
        assert_eq!(q.nit, "abc");
    }
}

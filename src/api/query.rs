//! A route's query string, read strictly and answered in plain words. A parameter the route
//! does not know, or one given twice, makes the query malformed (400 `malformed_body`, as the
//! listings have always answered), and the message names it with the parameters the route
//! takes; a known parameter of the wrong type is a 422 naming it.

use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::json_errors::plain_words;
use carat_domain::FieldError;

/// Reads `raw` (the query string, if any) into `T`, whose fields are the route's parameters.
pub fn parse<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    let pairs = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes());
    let deserializer = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let message = e.inner().to_string();
        let reason = plain_words(&message, None, false)
            .replace(
                "known field; the fields are",
                "known parameter; the parameters are",
            )
            .replace(
                "this object has no fields",
                "this route takes no parameters",
            );
        match (e.path().to_string().as_str(), named(&message)) {
            (_, Some(name)) => {
                ApiError::Malformed(format!("the query string is malformed: `{name}` {reason}"))
            }
            ("" | ".", None) => {
                ApiError::Malformed(format!("the query string is malformed: {message}"))
            }
            (path, None) => ApiError::InvalidField(FieldError::new(path.to_owned(), reason)),
        }
    })
}

/// The parameter serde quotes when one is unknown or given twice (it reports those about the
/// whole query, not at a path).
fn named(message: &str) -> Option<&str> {
    ["unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))?
        .split('`')
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Page {
        limit: Option<u16>,
        status: Option<String>,
    }

    fn malformed(raw: &str) -> String {
        match parse::<Page>(Some(raw)) {
            Err(ApiError::Malformed(message)) => message,
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn an_unknown_parameter_is_named_with_the_known_ones() {
        let message = malformed("limit=5&colour=red");
        assert!(
            message.contains("`colour` is not a known parameter"),
            "{message}"
        );
        assert!(
            message.ends_with("the parameters are limit and status"),
            "{message}"
        );
    }

    #[test]
    fn a_repeated_parameter_is_named() {
        assert!(malformed("limit=5&limit=6").contains("`limit` appears more than once"));
    }

    #[test]
    fn a_known_parameter_of_the_wrong_type_is_a_422_naming_it() {
        match parse::<Page>(Some("limit=many")) {
            Err(ApiError::InvalidField(e)) => assert_eq!(e.field, "limit"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn known_parameters_are_read() {
        let page: Page = parse(Some("limit=5&status=confirmed")).unwrap();
        assert_eq!(
            (page.limit, page.status.as_deref()),
            (Some(5), Some("confirmed"))
        );
        assert!(parse::<Page>(None).unwrap().status.is_none());
    }
}

//! The form-urlencoded bodies Carat Portal POSTs to the store (the authenticity POST, status
//! and HASH notifications): read tolerantly, validated strictly. Pure: the service's callbacks,
//! the property tests, the fuzz targets and the sandbox's own checks share these parsers.

pub mod authenticity;
pub mod hash;
pub mod status;

use carat_domain::FieldError;

/// Why a body is not the callback it was posted as; its text is the 400's body.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// Not readable as the form (a known parameter repeated, say).
    #[error("malformed form body: {0}")]
    Malformed(serde_urlencoded::de::Error),
    /// A parameter missing or not of its documented format.
    #[error(transparent)]
    Field(#[from] FieldError),
}

/// Reads a raw `application/x-www-form-urlencoded` body into the callback's form: tolerant
/// (unknown parameters are ignored; the content type is not insisted on). Each callback then
/// validates its fields strictly. Pure.
pub fn read_form<F: serde::de::DeserializeOwned>(body: &[u8]) -> Result<F, PostError> {
    serde_urlencoded::from_bytes(body).map_err(PostError::Malformed)
}

/// A form body as the inbox keeps it: the value of every parameter named in `names` (by its
/// decoded name, so `h%61sh` is `hash`) replaced by `[redacted]`, the rest byte for byte. For
/// POSTs that carry what must not be kept in clear (a card token, a receipt holding a PIN).
/// Pure.
pub fn redact_params(body: &[u8], names: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    for (i, piece) in body.split(|b| *b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        let raw_name = piece.split(|b| *b == b'=').next().unwrap_or_default();
        let name: String = url::form_urlencoded::parse(raw_name)
            .next()
            .map(|(k, _)| k.into_owned())
            .unwrap_or_default();
        if names.contains(&name.as_str()) {
            out.extend_from_slice(raw_name);
            out.extend_from_slice(b"=[redacted]");
        } else {
            out.extend_from_slice(piece);
        }
    }
    out
}

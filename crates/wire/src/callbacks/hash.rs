//! The HASH notification (seed 004, digest §6.3): Carat tells the result of a card storage,
//! with the stored card's token (`hash`). Carat retries it until answered 200, and re-sends it
//! after a storage-data query. Parsed tolerantly (unknown parameters ignored), validated
//! strictly, applied and kept in the callback inbox (kind `hash`) in one transaction, then 200.
//! The same POST again changes nothing but the inbox's receipt count. A POST naming no card is
//! kept as `unmatched` and answered 200, so Carat stops retrying; a malformed one is refused
//! with a 400 naming the parameter. The inbox keeps the body with the token blanked.

use serde::Deserialize;

use carat_domain::{
    CardBin, CardLast4, CardToken, FieldError, FormatError, MerchantUsn, Nita, Nsua, StorageStatus,
};

/// The form as sent; every parameter optional here, checked in [`parse_post`].
#[derive(Debug, Default, Deserialize)]
struct HashForm {
    nita: Option<String>,
    nsua: Option<String>,
    nsu: Option<String>,
    status: Option<String>,
    hash: Option<String>,
    bin: Option<String>,
    #[serde(rename = "final")]
    last4: Option<String>,
    autorizadora: Option<String>,
}

/// A HASH notification, each parameter of its documented format.
///
/// [UNKNOWN] which parameters come when the storage failed: seed 004 says the NITA identifies
/// the storage "in case of success", and a NEG or DUP stores no usable card. So `nsu` and
/// `status` are required; `nita`, `nsua`, `hash`, `bin`, `final`, `autorizadora` may be absent
/// or empty, but are refused when present and not of their format; a `CON` must carry `hash`
/// (the token it stored) and `nita`.
#[derive(Debug)]
pub struct HashNotification {
    pub nita: Option<Nita>,
    pub nsua: Option<Nsua>,
    pub nsu: MerchantUsn,
    pub status: StorageStatus,
    pub token: Option<CardToken>,
    pub bin: Option<CardBin>,
    pub last4: Option<CardLast4>,
    pub authorizer: Option<String>,
}

pub use super::PostError;

/// Reads a raw form body: tolerant parse, strict validation ([`super::read_form`]). Pure.
pub fn parse_post(body: &[u8]) -> Result<HashNotification, PostError> {
    let form: HashForm = super::read_form(body)?;
    fn optional<T>(
        name: &'static str,
        value: Option<String>,
        parse: impl FnOnce(String) -> Result<T, FormatError>,
    ) -> Result<Option<T>, FieldError> {
        match value.filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse(v).map(Some).map_err(|e| FieldError::new(name, e)),
        }
    }
    let nsu = form
        .nsu
        .ok_or_else(|| FieldError::new("nsu", "is missing"))
        .and_then(|v| MerchantUsn::parse(&v).map_err(|e| FieldError::new("nsu", e)))?;
    let status = form
        .status
        .ok_or_else(|| FieldError::new("status", "is missing"))
        .and_then(|v| {
            StorageStatus::parse(&v).ok_or_else(|| {
                FieldError::new("status", "must be one of CON INV NEG DUP CAN DEL BLQ")
            })
        })?;
    let nita = optional("nita", form.nita, Nita::parse)?;
    let token = optional("hash", form.hash, CardToken::parse)?;
    if status == StorageStatus::Stored {
        if token.is_none() {
            return Err(FieldError::new(
                "hash",
                "is missing (a CON carries the stored card's token)",
            )
            .into());
        }
        if nita.is_none() {
            return Err(
                FieldError::new("nita", "is missing (a CON carries the storage's NITA)").into(),
            );
        }
    }
    Ok(HashNotification {
        nita,
        nsua: optional("nsua", form.nsua, Nsua::parse)?,
        nsu,
        status,
        token,
        bin: optional("bin", form.bin, CardBin::parse)?,
        last4: optional("final", form.last4, CardLast4::parse)?,
        authorizer: optional("autorizadora", form.autorizadora, |v| {
            carat_domain::Format::between(1, 9, carat_domain::Charset::Numeric)
                .check(&v)
                .map(|()| v)
        })?,
    })
}

/// The body as the inbox keeps it: every `hash` parameter's value replaced by `[redacted]`,
/// the rest byte for byte.
pub fn redact_body(body: &[u8]) -> Vec<u8> {
    super::redact_params(body, &["hash"])
}

#[cfg(test)]
mod tests {
    use super::*;

    const NITA: &str = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0abcde";

    fn token() -> String {
        format!("{}+/=", "T".repeat(85))
    }

    fn body(status: &str) -> String {
        format!(
            "nita={NITA}&nsua=123456789012345&nsu=42&status={status}&hash={}&bin=411111&final=1111&autorizadora=1&extra=x",
            url::form_urlencoded::byte_serialize(token().as_bytes()).collect::<String>()
        )
    }

    #[test]
    fn the_seed_parameters_are_read_and_extras_ignored() {
        let n = parse_post(body("CON").as_bytes()).unwrap();
        assert_eq!(n.nita.unwrap().as_str(), NITA);
        assert_eq!(n.nsu.get(), 42);
        assert_eq!(n.status, StorageStatus::Stored);
        assert_eq!(n.token.unwrap().expose(), token());
        assert_eq!(n.bin.unwrap().as_str(), "411111");
        assert_eq!(n.last4.unwrap().as_str(), "1111");
        assert_eq!(n.authorizer.as_deref(), Some("1"));
    }

    #[test]
    fn a_failed_storage_may_come_without_token_or_nita() {
        let n = parse_post(b"nsu=7&status=NEG&hash=&nita=&bin=400000&final=0002").unwrap();
        assert_eq!(n.status, StorageStatus::Denied);
        assert!(n.token.is_none() && n.nita.is_none());
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let good = body("CON");
        let cases = [
            ("nita=", "nita=short", "nita"),
            ("nsua=123456789012345", "nsua=12345", "nsua"),
            ("nsu=42", "nsu=4x", "nsu"),
            ("nsu=42", "nsu=1234567890123", "nsu"),
            ("status=CON", "status=OK", "status"),
            ("bin=411111", "bin=41111", "bin"),
            ("final=1111", "final=11a1", "final"),
            ("autorizadora=1", "autorizadora=1234567890", "autorizadora"),
        ];
        for (from, to, field) in cases {
            let bad = if from == "nita=" {
                good.replacen(&format!("nita={NITA}"), to, 1)
            } else {
                good.replacen(from, to, 1)
            };
            match parse_post(bad.as_bytes()) {
                Err(PostError::Field(e)) => assert_eq!(e.field, field, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let short_hash = good.replacen("hash=", "hash=X", 1);
        match parse_post(short_hash.as_bytes()) {
            Err(PostError::Field(e)) => assert_eq!(e.field, "hash"),
            other => panic!("{other:?}"),
        }
        match parse_post(b"nsu=1&status=CON&nita=") {
            Err(PostError::Field(e)) => assert_eq!(e.field, "hash"),
            other => panic!("{other:?}"),
        }
        match parse_post(b"status=CON") {
            Err(PostError::Field(e)) => assert_eq!(e.field, "nsu"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_post(b"nsu=1&nsu=2&status=NEG"),
            Err(PostError::Malformed(_))
        ));
    }

    #[test]
    fn the_kept_body_has_the_token_blanked_and_the_rest_as_sent() {
        let raw = body("CON");
        let kept = String::from_utf8(redact_body(raw.as_bytes())).unwrap();
        assert!(!kept.contains(&"T".repeat(85)), "{kept}");
        assert!(kept.contains("&hash=[redacted]&bin=411111"), "{kept}");
        assert!(kept.starts_with(&format!("nita={NITA}&")));
        assert_eq!(redact_body(b"a=1&h%61sh=SECRET"), b"a=1&h%61sh=[redacted]");
        assert_eq!(redact_body(b""), b"");
    }
}

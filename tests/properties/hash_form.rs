//! The HASH notification's parser (`callbacks::hash::parse_post`) and the inbox's redaction of
//! its token (`redact_body`): any bytes are read without panicking; a well-formed notification
//! with any token and extra parameters, each encoded any way, is read back exactly, and its
//! kept body holds nothing of the token.

use carat_domain::StorageStatus;
use carat_wire::callbacks::hash::{parse_post, redact_body};
use proptest::prelude::*;

/// A value with each byte percent-encoded or, a letter or digit, left as it is.
fn encoded(value: String) -> impl Strategy<Value = String> {
    let bytes = value.into_bytes();
    proptest::collection::vec(any::<bool>(), bytes.len()).prop_map(move |choices| {
        bytes
            .iter()
            .zip(choices)
            .map(|(b, percent)| {
                let plain = b.is_ascii_alphanumeric();
                if percent || !plain {
                    format!("%{b:02X}")
                } else {
                    (*b as char).to_string()
                }
            })
            .collect()
    })
}

fn token() -> impl Strategy<Value = String> {
    proptest::collection::vec(0x21u8..=0x7e, 88).prop_map(|b| String::from_utf8(b).unwrap())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn any_bytes_are_read_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_post(&body);
        let kept = redact_body(&body);
        // Only `hash` values change: the pieces stay as many.
        prop_assert_eq!(kept.split(|b| *b == b'&').count(), body.split(|b| *b == b'&').count());
    }

    #[test]
    fn a_notification_is_read_back_and_kept_without_its_token(
        (token, encoded) in token().prop_flat_map(|t| (Just(t.clone()), encoded(t))),
        extra in "[a-z]{1,8}",
        extra_value in "[A-Za-z0-9]{0,12}",
        status in prop::sample::select(vec!["CON", "NEG", "DUP", "CAN", "DEL", "BLQ", "INV"]),
    ) {
        let body = format!(
            "{extra}={extra_value}&nita={}&nsua=123456789012345&nsu=42&status={status}&hash={encoded}&bin=411111&final=1111&autorizadora=1",
            "N".repeat(65)
        );
        // An extra parameter named like a known one would be a repeat: refused, not read.
        prop_assume!(!["nita", "nsua", "nsu", "status", "hash", "bin", "final", "autorizadora"].contains(&extra.as_str()));
        let post = parse_post(body.as_bytes()).unwrap();
        prop_assert_eq!(post.token.as_ref().map(|t| t.expose().to_owned()), Some(token.clone()));
        prop_assert_eq!(post.status, StorageStatus::parse(status).unwrap());
        let kept = String::from_utf8(redact_body(body.as_bytes())).unwrap();
        prop_assert!(!kept.contains(&encoded), "{}", kept);
        prop_assert!(kept.contains("&hash=[redacted]&"), "{}", kept);
        prop_assert!(kept.starts_with(&format!("{extra}={extra_value}&nita=")), "{}", kept);
    }
}

//! The operator console's pure parts: who is signed in (a role and the id of the token they
//! signed in with) and why an operator acts (the reason kept in the history). Pure.

use std::fmt;

use crate::FieldError;
use crate::card::luhn_holds;

/// What a console session may do: an operator acts on recharges, support staff only read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleRole {
    Operator,
    Support,
}

impl ConsoleRole {
    pub const ALL: [Self; 2] = [Self::Operator, Self::Support];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Support => "support",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Only an operator may take an action that calls Carat or opens a PIN.
    pub fn may_act(self) -> bool {
        self == Self::Operator
    }
}

impl fmt::Display for ConsoleRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for ConsoleRole {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("unknown console role {text:?}"))
    }
}

/// A short, non-reversible name for an API token: the first 16 hex digits of its SHA-256. It
/// names the token in idempotency scopes and in the history (`operator:<token id>`) without
/// revealing it, and stays the same across restarts and list reorderings.
pub fn token_id(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The longest reason an operator may give, in characters.
pub const REASON_MAX_CHARS: usize = 500;

/// Why an operator acted, as the history keeps it: trimmed, not empty, at most
/// [`REASON_MAX_CHARS`], and never holding what looks like a card number (the history is
/// append-only: a number pasted there could never be removed).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct OperatorReason(String);

impl OperatorReason {
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(FieldError::new(
                "reason",
                "must say why (it is kept in the history)",
            ));
        }
        if text.chars().count() > REASON_MAX_CHARS {
            return Err(FieldError::new(
                "reason",
                format!("must be at most {REASON_MAX_CHARS} characters"),
            ));
        }
        if holds_card_number(text) {
            return Err(FieldError::new(
                "reason",
                "must not hold a card number (the history keeps it for ever)",
            ));
        }
        // The history is JSON in PostgreSQL, which refuses a NUL; the others have no place in
        // an audit line. Line breaks and tabs are text.
        if text.contains(|c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(FieldError::new(
                "reason",
                "must not hold a control character",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `text` holds a run of 13 to 19 digits (single spaces or dashes between them allowed,
/// as numbers are written) that starts as card networks' numbers do (2 to 6) and passes Luhn.
fn holds_card_number(text: &str) -> bool {
    let mut runs: Vec<String> = vec![String::new()];
    let mut previous_was_digit = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let joins = (c == ' ' || c == '-')
            && previous_was_digit
            && chars.peek().is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() {
            runs.last_mut().expect("one run at least").push(c);
        } else if !joins {
            runs.push(String::new());
        }
        previous_was_digit = c.is_ascii_digit();
    }
    runs.iter().any(|run| {
        (13..=19).contains(&run.len())
            && matches!(run.as_bytes()[0], b'2'..=b'6')
            && luhn_holds(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for role in ConsoleRole::ALL {
            assert_eq!(ConsoleRole::parse(role.as_str()), Some(role));
            assert_eq!(ConsoleRole::try_from(role.to_string()), Ok(role));
        }
        assert_eq!(ConsoleRole::parse("Operator"), None);
        assert!(ConsoleRole::try_from("admin".to_owned()).is_err());
        assert!(ConsoleRole::Operator.may_act());
        assert!(!ConsoleRole::Support.may_act());
    }

    #[test]
    fn token_ids_are_short_stable_and_hide_the_token() {
        let a = token_id("token-a");
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, token_id("token-a"));
        assert_ne!(a, token_id("token-b"));
        assert!(!a.contains("token"));
        // SHA-256("abc") begins ba7816bf8f01cfea.
        assert_eq!(token_id("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn a_reason_is_trimmed_and_bounded() {
        assert_eq!(
            OperatorReason::parse("  customer called  ")
                .unwrap()
                .as_str(),
            "customer called"
        );
        for empty in ["", "   ", "\n\t"] {
            assert_eq!(OperatorReason::parse(empty).unwrap_err().field, "reason");
        }
        for control in ["a\0b", "bell\u{7}", "esc\u{1b}[31m"] {
            assert_eq!(OperatorReason::parse(control).unwrap_err().field, "reason");
        }
        assert!(OperatorReason::parse("line one\nline two").is_ok());
        let longest = "é".repeat(REASON_MAX_CHARS);
        assert!(OperatorReason::parse(&longest).is_ok());
        let error = OperatorReason::parse(&format!("{longest}x")).unwrap_err();
        assert_eq!(error.field, "reason");
        assert!(error.reason.contains("500"), "{}", error.reason);
    }

    #[test]
    fn a_reason_never_holds_a_card_number() {
        for card in [
            "paid with 4111111111111111",
            "card 4111 1111 1111 1111 declined",
            "card 4111-1111-1111-1111",
            "5555555555554444",
        ] {
            let error = OperatorReason::parse(card).unwrap_err();
            assert_eq!(error.field, "reason");
            assert!(!error.reason.contains("4111"), "{}", error.reason);
        }
        for fine in [
            "order 12345, USN 000000123456 per Carat's support",
            // Not Luhn-valid.
            "4111111111111112",
            // Too long to be a card number: a NIT's digits.
            "12345678901234567890123",
            "phone (11) 98765-4321, called at 14:05",
        ] {
            assert!(OperatorReason::parse(fine).is_ok(), "{fine}");
        }
    }
}

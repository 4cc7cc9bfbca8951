//! Carat Portal's field-format notation (`= 64 AN`, `< 12 N`) as a checker.
//!
//! The documentation gives every field a length rule (`=` exactly, `<` at most) and a charset
//! (`N` digits, `A`/`AN` alphanumerics). Free-text fields (descriptions, messages) are also
//! tagged `AN` there but obviously carry spaces and accents; they are [`Charset::Text`] here.
//!
//! `< n` reads "less than n" but means **at most n**: Carat's own values fill it to n —
//! `confirm` `< 5 AN` carries `"false"` (5), `phone.number` `< 9 N` carries the 9-digit
//! `"123456789"` of the effectuation example, dealer codes `< 3 N` are `001`..`905`, which the
//! CliSiTef manual calls "at most 3 positions" (digest §3.2, §3.4, §3.5).
//!
//! [`Format`]'s `Display` is that notation, for documentation; the errors a person reads
//! ([`FormatError`]) say the rule in words: "at most 20 characters, letters and digits only".
//! Pure: no I/O.

use std::borrow::Cow;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// `N`: ASCII digits only.
    Numeric,
    /// `A` / `AN` on identifiers: ASCII letters and digits only.
    Alphanumeric,
    /// `AN` on free text: anything but a control character (Unicode category Cc: C0
    /// U+0000–U+001F, DEL U+007F and C1 U+0080–U+009F; tab and line breaks too, since every
    /// such field is one line at Carat). C1 goes with C0: it is never text, and a terminal
    /// reading a log may take U+009B for an escape sequence. A NUL, which PostgreSQL refuses
    /// in text and JSONB, thus never reaches the database. Every free-text type uses this.
    Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// `= n`
    Exactly(usize),
    /// `< n`: at most n (see the module's docs).
    AtMost(usize),
    /// From `min` to `max`: the merchant's own rules (a phone number is 8 or 9 digits), which
    /// Carat's notation has no sign for.
    Between(usize, usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub length: Length,
    pub charset: Charset,
}

impl Format {
    pub const fn exactly(n: usize, charset: Charset) -> Self {
        Self {
            length: Length::Exactly(n),
            charset,
        }
    }

    pub const fn at_most(n: usize, charset: Charset) -> Self {
        Self {
            length: Length::AtMost(n),
            charset,
        }
    }

    pub const fn between(min: usize, max: usize, charset: Charset) -> Self {
        Self {
            length: Length::Between(min, max),
            charset,
        }
    }

    /// Checks `value`; an empty value is never valid (absent fields are `Option`s, not "").
    pub fn check(&self, value: &str) -> Result<(), FormatError> {
        let len = value.chars().count();
        if len == 0 {
            return Err(FormatError::Empty);
        }
        let length_ok = match self.length {
            Length::Exactly(n) => len == n,
            Length::AtMost(n) => len <= n,
            Length::Between(min, max) => (min..=max).contains(&len),
        };
        if !length_ok {
            return Err(FormatError::Length {
                expected: *self,
                found: len,
            });
        }
        let charset_ok = match self.charset {
            Charset::Numeric => value.bytes().all(|b| b.is_ascii_digit()),
            Charset::Alphanumeric => value.bytes().all(|b| b.is_ascii_alphanumeric()),
            Charset::Text => !value.chars().any(char::is_control),
        };
        if !charset_ok {
            return Err(FormatError::Charset { expected: *self });
        }
        Ok(())
    }

    /// The rule in words: "exactly 2 digits", "at most 20 characters, letters and digits only".
    pub fn in_words(&self) -> String {
        let count = match self.length {
            Length::Exactly(n) => format!("exactly {n}"),
            Length::AtMost(n) => format!("at most {n}"),
            Length::Between(min, max) if max == min + 1 => format!("{min} or {max}"),
            Length::Between(min, max) => format!("{min} to {max}"),
        };
        match self.charset {
            Charset::Numeric => format!("{count} digits"),
            Charset::Alphanumeric => format!("{count} characters, letters and digits only"),
            Charset::Text => format!("{count} characters"),
        }
    }
}

/// Carat's notation (`= 64 AN`, `< 12 N`), for documentation.
impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cs = match self.charset {
            Charset::Numeric => "N",
            Charset::Alphanumeric => "AN",
            Charset::Text => "AN (text)",
        };
        match self.length {
            Length::Exactly(n) => write!(f, "= {n} {cs}"),
            Length::AtMost(n) => write!(f, "< {n} {cs}"),
            Length::Between(min, max) => write!(f, "{min}-{max} {cs}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("must not be empty")]
    Empty,
    #[error("must be {} (found {found})", expected.in_words())]
    Length { expected: Format, found: usize },
    #[error("must be {}; found {}", expected.in_words(), stray(expected.charset))]
    Charset { expected: Format },
    /// Well-formed, but not a value the rule allows (a DDD Anatel never assigned).
    #[error("{0}")]
    Rule(&'static str),
}

/// What a value that fails `charset` holds.
fn stray(charset: Charset) -> &'static str {
    match charset {
        Charset::Numeric => "a character that is not a digit",
        Charset::Alphanumeric => "a character that is not a letter or digit",
        Charset::Text => "a control character",
    }
}

/// A value that failed validation, naming the field as the caller knows it
/// (`phone.ddd`, `nit`, `merchantUSN`...).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: Cow<'static, str>,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<Cow<'static, str>>, reason: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// The same error seen from one level up: `number` inside `phone` becomes `phone.number`.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field).into();
        self
    }
}

/// Checks `value` against `format`, naming `field` on failure.
pub fn check_field(field: &'static str, format: Format, value: &str) -> Result<(), FieldError> {
    format.check(value).map_err(|e| FieldError::new(field, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_alphanumeric() {
        let f = Format::exactly(4, Charset::Alphanumeric);
        assert_eq!(f.check("ab12"), Ok(()));
        assert!(matches!(
            f.check("ab1"),
            Err(FormatError::Length { found: 3, .. })
        ));
        assert!(matches!(f.check("ab-1"), Err(FormatError::Charset { .. })));
        assert_eq!(f.check(""), Err(FormatError::Empty));
    }

    #[test]
    fn at_most_numeric() {
        let f = Format::at_most(3, Charset::Numeric);
        assert_eq!(f.check("1"), Ok(()));
        assert_eq!(f.check("001"), Ok(()));
        assert!(f.check("0001").is_err());
        assert!(f.check("1a").is_err());
        assert!(f.check("١").is_err(), "non-ASCII digits are not N");
    }

    #[test]
    fn text_allows_spaces_and_accents_but_not_controls() {
        let f = Format::at_most(10, Charset::Text);
        assert_eq!(f.check("São Paulo"), Ok(()));
        assert!(f.check("a\nb").is_err());
        assert!(f.check("çççççççççççç").is_err(), "length counts characters");
    }

    #[test]
    fn text_refuses_exactly_the_control_characters() {
        let f = Format::at_most(3, Charset::Text);
        let controls = (0u32..=0x1f).chain(0x7f..=0x9f);
        for c in controls.filter_map(char::from_u32) {
            assert!(f.check(&format!("a{c}")).is_err(), "U+{:04X}", c as u32);
        }
        // Printable neighbours: space, tilde, NBSP, accents, a zero-width space, an emoji.
        for ok in [" ", "~", "\u{a0}", "é", "\u{200b}", "🙂"] {
            assert_eq!(f.check(&format!("a{ok}")), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn displays_in_doc_notation() {
        assert_eq!(
            Format::exactly(64, Charset::Alphanumeric).to_string(),
            "= 64 AN"
        );
        assert_eq!(Format::at_most(12, Charset::Numeric).to_string(), "< 12 N");
    }

    #[test]
    fn errors_say_the_rule_in_words() {
        let order_id = Format::at_most(20, Charset::Alphanumeric);
        assert_eq!(
            order_id.check(&"A".repeat(21)).unwrap_err().to_string(),
            "must be at most 20 characters, letters and digits only (found 21)"
        );
        assert_eq!(
            order_id.check("order-1").unwrap_err().to_string(),
            "must be at most 20 characters, letters and digits only; \
             found a character that is not a letter or digit"
        );
        assert_eq!(
            Format::exactly(2, Charset::Numeric)
                .check("123")
                .unwrap_err()
                .to_string(),
            "must be exactly 2 digits (found 3)"
        );
        assert_eq!(
            Format::at_most(200, Charset::Text)
                .check("a\u{7}")
                .unwrap_err()
                .to_string(),
            "must be at most 200 characters; found a control character"
        );
    }

    #[test]
    fn between_bounds_both_ends() {
        let f = Format::between(8, 9, Charset::Numeric);
        assert!(f.check("12345678").is_ok() && f.check("123456789").is_ok());
        assert_eq!(
            f.check("1234567").unwrap_err().to_string(),
            "must be 8 or 9 digits (found 7)"
        );
        assert!(f.check("1234567890").is_err());
        assert_eq!(
            Format::between(2, 5, Charset::Text).in_words(),
            "2 to 5 characters"
        );
        assert_eq!(f.to_string(), "8-9 N");
    }

    #[test]
    fn field_error_names_nested_field() {
        let e = check_field("number", Format::at_most(9, Charset::Numeric), "12x")
            .unwrap_err()
            .within("phone");
        assert_eq!(e.field, "phone.number");
        assert_eq!(
            e.to_string(),
            "phone.number: must be at most 9 digits; found a character that is not a digit"
        );
    }
}

//! Carat Portal's field-format notation (`= 64 AN`, `< 12 N`) as a checker.
//!
//! The documentation gives every field a length rule (`=` exactly, `<` at most) and a charset
//! (`N` digits, `A`/`AN` alphanumerics). Free-text fields (descriptions, messages) are also
//! tagged `AN` there but obviously carry spaces and accents; they are [`Charset::Text`] here.
//! Pure: no I/O.

use std::borrow::Cow;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// `N`: ASCII digits only.
    Numeric,
    /// `A` / `AN` on identifiers: ASCII letters and digits only.
    Alphanumeric,
    /// `AN` on free text: anything printable (no control characters).
    Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// `= n`
    Exactly(usize),
    /// `< n`: the docs' examples show `< n` means "up to n" (`merchant_usn < 12 N`).
    AtMost(usize),
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

    /// Checks `value`; an empty value is never valid (absent fields are `Option`s, not "").
    pub fn check(&self, value: &str) -> Result<(), FormatError> {
        let len = value.chars().count();
        if len == 0 {
            return Err(FormatError::Empty);
        }
        let length_ok = match self.length {
            Length::Exactly(n) => len == n,
            Length::AtMost(n) => len <= n,
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
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (op, n) = match self.length {
            Length::Exactly(n) => ("=", n),
            Length::AtMost(n) => ("<", n),
        };
        let cs = match self.charset {
            Charset::Numeric => "N",
            Charset::Alphanumeric => "AN",
            Charset::Text => "AN (text)",
        };
        write!(f, "{op} {n} {cs}")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("must not be empty")]
    Empty,
    #[error("must be {expected} (found {found} characters)")]
    Length { expected: Format, found: usize },
    #[error("must be {expected}: {}", charset_hint(expected.charset))]
    Charset { expected: Format },
}

fn charset_hint(c: Charset) -> &'static str {
    match c {
        Charset::Numeric => "digits only",
        Charset::Alphanumeric => "letters and digits only",
        Charset::Text => "no control characters",
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
    fn displays_in_doc_notation() {
        assert_eq!(
            Format::exactly(64, Charset::Alphanumeric).to_string(),
            "= 64 AN"
        );
        assert_eq!(Format::at_most(12, Charset::Numeric).to_string(), "< 12 N");
    }

    #[test]
    fn field_error_names_nested_field() {
        let e = check_field("number", Format::at_most(9, Charset::Numeric), "12x")
            .unwrap_err()
            .within("phone");
        assert_eq!(e.field, "phone.number");
        assert!(e.to_string().starts_with("phone.number: must be < 9 N"));
    }
}

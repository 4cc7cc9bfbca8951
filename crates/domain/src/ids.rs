//! Identifiers exchanged with Carat Portal. Each one validates its documented format on
//! construction, so a value of the type is a valid identifier or does not exist.

use std::fmt;

use super::format::{Charset, Format, FormatError};

/// Declares a string newtype that can only hold a value of the given Carat format and, when
/// given, that `rule` (a `fn(&str) -> Result<(), FormatError>` run after the format) allows.
macro_rules! carat_string {
    ($(#[$meta:meta])* $name:ident, $format:expr) => {
        carat_string!($(#[$meta])* $name, $format, rule = |_: &str| Ok(()));
    };
    ($(#[$meta:meta])* $name:ident, $format:expr, rule = $rule:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const FORMAT: Format = $format;

            pub fn parse(value: impl Into<String>) -> Result<Self, FormatError> {
                let value = value.into();
                Self::FORMAT.check(&value)?;
                ($rule)(value.as_str())?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FormatError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}
pub(crate) use carat_string;

carat_string!(
    /// The merchant's customer, seed 004 `customer_id < 20 AN`.
    CustomerId,
    Format::between(1, 20, Charset::Alphanumeric)
);

carat_string!(
    /// The card's brand as Carat numbers it, seed 001 `authorizer_id < 5 N`.
    AuthorizerId,
    Format::between(1, 5, Charset::Numeric)
);

carat_string!(
    /// Carat's transaction id: `= 64 AN`.
    Nit,
    Format::exactly(64, Charset::Alphanumeric)
);
carat_string!(
    /// The merchant's order id: `< 20 AN`, at most 20 letters and digits.
    OrderId,
    Format::at_most(20, Charset::Alphanumeric)
);
carat_string!(
    /// The merchant's id on Carat Portal: `< 15 AN`.
    MerchantId,
    Format::at_most(15, Charset::Alphanumeric)
);
carat_string!(
    /// Version of Carat's recharge tables (dealers, branches, ranges): `= 16 AN`.
    GeneralHash,
    Format::exactly(16, Charset::Alphanumeric)
);

impl GeneralHash {
    /// What the store sends when it has no table cached.
    pub fn none_cached() -> Self {
        Self("0000000000000000".to_owned())
    }
}

/// The merchant's unique sequential number: `< 12 N`. Kept as a number: it is generated from a
/// database sequence, and Carat may echo it back with or without leading zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MerchantUsn(u64);

impl MerchantUsn {
    pub const FORMAT: Format = Format::at_most(12, Charset::Numeric);
    pub const MAX: u64 = 999_999_999_999;

    pub fn new(value: u64) -> Result<Self, FormatError> {
        if value > Self::MAX {
            return Err(FormatError::Length {
                expected: Self::FORMAT,
                found: value.to_string().len(),
            });
        }
        Ok(Self(value))
    }

    pub fn parse(value: &str) -> Result<Self, FormatError> {
        Self::FORMAT.check(value)?;
        // At most 12 digits always fits in u64.
        Ok(Self(value.parse().expect("12 ASCII digits fit in u64")))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for MerchantUsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NIT: &str = "e009886843920c5173104557c9f6cd66b1481557fb3f4d88daca072eb8a50c97";

    #[test]
    fn nit_is_64_alphanumerics() {
        assert_eq!(Nit::parse(NIT).unwrap().as_str(), NIT);
        assert!(Nit::parse(&NIT[1..]).is_err());
        assert!(Nit::parse(format!("{}-", &NIT[1..])).is_err());
    }

    #[test]
    fn nit_deserializes_only_when_valid() {
        let ok: Result<Nit, _> = serde_json::from_str(&format!("\"{NIT}\""));
        assert!(ok.is_ok());
        let bad: Result<Nit, _> = serde_json::from_str("\"short\"");
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("exactly 64 characters")
        );
    }

    #[test]
    fn merchant_usn_accepts_leading_zeros_and_caps_at_twelve_digits() {
        assert_eq!(MerchantUsn::parse("000123").unwrap().get(), 123);
        assert!(MerchantUsn::parse("1234567890123").is_err());
        assert!(MerchantUsn::new(MerchantUsn::MAX + 1).is_err());
        assert_eq!(
            MerchantUsn::new(987654321).unwrap().to_string(),
            "987654321"
        );
    }

    #[test]
    fn order_id_rejects_symbols_and_long_values() {
        assert!(OrderId::parse("A1b2").is_ok());
        assert!(OrderId::parse("order-1").is_err());
        assert!(OrderId::parse("123456789012345678901").is_err());
    }
}

//! The parts of a recharge the storefront chooses: what, to whom, how much. Each type holds
//! only values of Carat's documented format.

use std::fmt;

use super::format::{Charset, Format, FormatError};
use super::ids::carat_string;

/// What is being recharged (`recharge_type`, `= 6 A`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RechargeType {
    /// Phone top-up.
    Normal,
    /// PINs and other products.
    Others,
    /// Bill payment.
    Invoice,
}

impl RechargeType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Others => "others",
            Self::Invoice => "invoice",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "normal" => Some(Self::Normal),
            "others" => Some(Self::Others),
            "invoice" => Some(Self::Invoice),
            _ => None,
        }
    }
}

impl fmt::Display for RechargeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

carat_string!(
    /// A dealer (carrier) code: `< 3 N`.
    DealerCode,
    Format::at_most(3, Charset::Numeric)
);
carat_string!(
    /// A dealer type code: `< 2 N`.
    DealerTypeCode,
    Format::at_most(2, Charset::Numeric)
);
carat_string!(
    /// A dealer branch (product) code: `11 N`.
    BranchCode,
    Format::exactly(11, Charset::Numeric)
);
carat_string!(
    /// The chosen amount range's key from the branch data: `< 10 AN`.
    AmountKey,
    Format::at_most(10, Charset::Alphanumeric)
);
carat_string!(
    /// Code of a question from the branch data: `< 20 AN`.
    AnswerCode,
    Format::at_most(20, Charset::Alphanumeric)
);
carat_string!(
    /// An answer to a question: `< 200 AN`, free text.
    AnswerText,
    Format::at_most(200, Charset::Text)
);

/// A positive amount in integer cents that fits Carat's `< 12 N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(into = "u64")]
pub struct AmountCents(u64);

impl AmountCents {
    pub const MAX: u64 = 999_999_999_999;

    pub fn new(cents: u64) -> Result<Self, AmountError> {
        match cents {
            0 => Err(AmountError::Zero),
            c if c > Self::MAX => Err(AmountError::TooLarge),
            c => Ok(Self(c)),
        }
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// Carat's wire form: the decimal digits of the cents as a string.
    pub fn to_wire(self) -> String {
        self.0.to_string()
    }

    pub fn from_wire(value: &str) -> Result<Self, AmountError> {
        Format::at_most(12, Charset::Numeric)
            .check(value)
            .map_err(AmountError::Format)?;
        Self::new(value.parse().map_err(|_| AmountError::TooLarge)?)
    }
}

impl From<AmountCents> for u64 {
    fn from(value: AmountCents) -> u64 {
        value.0
    }
}

impl<'de> serde::Deserialize<'de> for AmountCents {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let cents = u64::deserialize(d)?;
        Self::new(cents).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must be a positive number of cents")]
    Zero,
    #[error("must be at most {} cents", AmountCents::MAX)]
    TooLarge,
    #[error("{0}")]
    Format(FormatError),
}

/// An answer to one of the branch data's questions.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Answer {
    pub code: AnswerCode,
    pub description: AnswerText,
}

impl TryFrom<String> for RechargeType {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| format!("unknown recharge type {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_is_positive_integer_cents() {
        assert_eq!(AmountCents::new(1500).unwrap().to_wire(), "1500");
        assert_eq!(AmountCents::new(0), Err(AmountError::Zero));
        assert_eq!(
            AmountCents::new(AmountCents::MAX + 1),
            Err(AmountError::TooLarge)
        );
        assert!(serde_json::from_str::<AmountCents>("15.5").is_err());
        assert!(serde_json::from_str::<AmountCents>("\"1500\"").is_err());
        assert!(serde_json::from_str::<AmountCents>("-1").is_err());
        assert_eq!(AmountCents::from_wire("0700").unwrap().get(), 700);
    }

    #[test]
    fn dealer_codes_follow_the_tables() {
        assert!(DealerCode::parse("001").is_ok());
        assert!(DealerCode::parse("1000").is_err());
    }

    #[test]
    fn recharge_type_round_trips() {
        for t in [
            RechargeType::Normal,
            RechargeType::Others,
            RechargeType::Invoice,
        ] {
            assert_eq!(RechargeType::parse(t.as_str()), Some(t));
        }
        assert_eq!(RechargeType::parse("phone"), None);
    }
}

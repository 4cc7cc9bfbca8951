//! A card payment linked to a recharge (seed 001 `payment`): what of it may be kept. Pure.
//!
//! [`PaymentInput`] is stored with the effectuation (and compared on a repeat): amount,
//! authorizer, installments, extra parameters and *how* the card was given, with the BIN and
//! last four of a number at most. The number, security code, expiry and token never enter it;
//! they travel beside it, once, in the request to Carat.

use std::fmt;

use uuid::Uuid;

use super::card::{CardBin, CardLast4, CardToken};
use super::format::{Charset, Format, FormatError};
use super::ids::carat_string;
use super::recharge::AmountCents;

carat_string!(
    /// `payment.authorizer_id`: the card brand's authorizer on Carat Portal, `< 5 N`.
    AuthorizerId,
    Format::between(1, 5, Charset::Numeric)
);

carat_string!(
    /// `payment.customer_id`: the customer's identity document, letters and digits, `< 20 AN`.
    CustomerId,
    Format::between(1, 20, Charset::Alphanumeric)
);

/// `payment.installment.type`, Carat's digit on the wire and in what is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum InstallmentType {
    /// `3`: with interest.
    WithInterest,
    /// `4`: without interest (the spot-sale default).
    WithoutInterest,
    /// `6`: with interest (IATA).
    IataWithInterest,
    /// `7`: without interest (IATA).
    IataWithoutInterest,
}

impl InstallmentType {
    pub const FORMAT: Format = Format::exactly(1, Charset::Numeric);

    /// The format is checked first, so a wrong value is refused with the same words as any
    /// other field of Carat's.
    pub fn parse(value: impl Into<String>) -> Result<Self, FormatError> {
        let value = value.into();
        Self::FORMAT.check(&value)?;
        match value.as_str() {
            "3" => Ok(Self::WithInterest),
            "4" => Ok(Self::WithoutInterest),
            "6" => Ok(Self::IataWithInterest),
            "7" => Ok(Self::IataWithoutInterest),
            _ => Err(FormatError::Rule(
                "must be one of \"3\", \"4\", \"6\" or \"7\"",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WithInterest => "3",
            Self::WithoutInterest => "4",
            Self::IataWithInterest => "6",
            Self::IataWithoutInterest => "7",
        }
    }
}

impl TryFrom<String> for InstallmentType {
    type Error = FormatError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<InstallmentType> for String {
    fn from(value: InstallmentType) -> String {
        value.as_str().to_owned()
    }
}

impl fmt::Display for InstallmentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

carat_string!(
    /// The last four characters of a card token: no more of it than its `Display` shows.
    TokenTail,
    Format::exactly(4, Charset::Text)
);

impl TokenTail {
    pub fn of(token: &CardToken) -> Self {
        let t = token.expose();
        Self::parse(&t[t.len() - 4..]).expect("a token is 88 printable characters")
    }
}

/// `payment.installment.number`: `< 2 N`, at least one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(into = "u8")]
pub struct Installments(u8);

impl Installments {
    pub fn new(n: u64) -> Result<Self, FormatError> {
        match u8::try_from(n) {
            Ok(n @ 1..=99) => Ok(Self(n)),
            _ => Err(FormatError::Rule("must be a whole number from 1 to 99")),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl From<Installments> for u8 {
    fn from(value: Installments) -> u8 {
        value.0
    }
}

impl<'de> serde::Deserialize<'de> for Installments {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        Self::new(n).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Installment {
    pub number: Installments,
    #[serde(rename = "type")]
    pub kind: InstallmentType,
}

/// How the card was given, with what of it may be kept.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum CardSource {
    /// The number itself (sent once; only its BIN and last four are kept).
    Number { bin: CardBin, last4: CardLast4 },
    /// A token the storefront holds; its last four characters (as `CardToken` prints them) are
    /// kept to tell a TV resubmission's token from another one. `None`: kept before they were.
    Token {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tail: Option<TokenTail>,
    },
    /// A card stored by this service (`cards`), paid with its token; its BIN and last four as
    /// the card's row keeps them (absent from effectuations kept before they were recorded).
    StoredCard {
        stored_card_id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bin: Option<CardBin>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last4: Option<CardLast4>,
    },
}

impl CardSource {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Number { .. } => "number",
            Self::Token { .. } => "token",
            Self::StoredCard { .. } => "stored_card",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExtraParam {
    pub key: String,
    pub value: String,
}

/// The non-secret part of a payment, kept with the effectuation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentInput {
    pub amount: AmountCents,
    pub authorizer_id: AuthorizerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    pub installment: Installment,
    pub card: CardSource,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_params: Vec<ExtraParam>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installment_types_are_the_four_documented() {
        for ok in ["3", "4", "6", "7"] {
            assert_eq!(
                InstallmentType::parse(ok).map(InstallmentType::as_str),
                Ok(ok)
            );
            let json = serde_json::to_value(InstallmentType::parse(ok).unwrap()).unwrap();
            assert_eq!(json, ok, "serialized as Carat's digit");
        }
        for bad in ["1", "5", "8", "34", "", "a"] {
            assert!(InstallmentType::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn installments_are_1_to_99() {
        assert!(Installments::new(0).is_err());
        assert!(Installments::new(100).is_err());
        assert_eq!(Installments::new(12).unwrap().get(), 12);
    }

    #[test]
    fn the_kept_input_has_no_card_secret() {
        let input = PaymentInput {
            amount: AmountCents::new(1000).unwrap(),
            authorizer_id: AuthorizerId::parse("1").unwrap(),
            customer_id: None,
            installment: Installment {
                number: Installments::new(1).unwrap(),
                kind: InstallmentType::parse("4").unwrap(),
            },
            card: CardSource::Number {
                bin: CardBin::parse("411111").unwrap(),
                last4: CardLast4::parse("1111").unwrap(),
            },
            extra_params: vec![],
        };
        let json = serde_json::to_value(&input).unwrap();
        assert_eq!(json["card"]["source"], "number");
        assert_eq!(json["card"]["bin"], "411111");
        let back: PaymentInput = serde_json::from_value(json).unwrap();
        assert_eq!(back, input);
    }

    #[test]
    fn a_stored_card_keeps_its_bin_and_last4_and_reads_without_them() {
        let id = Uuid::nil();
        let card = CardSource::StoredCard {
            stored_card_id: id,
            bin: Some(CardBin::parse("555555").unwrap()),
            last4: Some(CardLast4::parse("4444").unwrap()),
        };
        let json = serde_json::to_value(&card).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"source": "stored_card", "stored_card_id": id,
                               "bin": "555555", "last4": "4444"})
        );
        assert_eq!(serde_json::from_value::<CardSource>(json).unwrap(), card);
        // As effectuations were kept before the BIN and last four were recorded.
        let older: CardSource = serde_json::from_value(
            serde_json::json!({"source": "stored_card", "stored_card_id": id}),
        )
        .unwrap();
        assert_eq!(
            older,
            CardSource::StoredCard {
                stored_card_id: id,
                bin: None,
                last4: None
            }
        );
    }

    #[test]
    fn a_token_source_keeps_its_tail_and_reads_one_kept_without() {
        let token = CardToken::parse(format!("{}WXYZ", "A".repeat(84))).unwrap();
        let source = CardSource::Token {
            tail: Some(TokenTail::of(&token)),
        };
        let json = serde_json::to_value(&source).unwrap();
        assert_eq!(json, serde_json::json!({"source": "token", "tail": "WXYZ"}));
        let old: CardSource =
            serde_json::from_value(serde_json::json!({"source": "token"})).unwrap();
        assert_eq!(old, CardSource::Token { tail: None });
    }
}

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

carat_string!(
    /// `payment.extra_param[].key`: Carat gives it no format ("N/A", seed 001; its one example
    /// is `CRIPTO`). Bounded here: free text of 1 to 64 characters, no control character.
    ExtraParamKey,
    Format::between(1, 64, Charset::Text)
);

carat_string!(
    /// `payment.extra_param[].value`: no format at Carat either (the example's is `1`). Free
    /// text of 1 to 256 characters, no control character (a NUL could not even be stored).
    ExtraParamValue,
    Format::between(1, 256, Charset::Text)
);

/// One of `payment.extra_param`, passed to Carat as given. Each part is read as its bounded
/// type (so an error names `key` or `value`) and kept as the text it is. At most
/// [`ExtraParam::MAX_COUNT`] of them: read a list with [`extra_params`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraParam {
    #[serde(deserialize_with = "bounded::<_, ExtraParamKey>")]
    pub key: String,
    #[serde(deserialize_with = "bounded::<_, ExtraParamValue>")]
    pub value: String,
}

/// A string read as `T` (which checks it) and kept as the string.
fn bounded<'de, D, T>(d: D) -> Result<String, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Into<String>,
{
    T::deserialize(d).map(Into::into)
}

impl ExtraParam {
    /// The most a payment carries: Carat sets no number; 20 leaves room for any parameter a
    /// gateway defines while bounding what is forwarded (20 × 320 characters at most).
    pub const MAX_COUNT: usize = 20;
}

/// Reads `payment.extra_param` (a list of at most [`ExtraParam::MAX_COUNT`]): for
/// `#[serde(deserialize_with)]`, so that a longer list is refused naming the list itself.
pub fn extra_params<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ExtraParam>, D::Error> {
    let params = <Vec<ExtraParam> as serde::Deserialize>::deserialize(d)?;
    if params.len() > ExtraParam::MAX_COUNT {
        return Err(serde::de::Error::custom(format!(
            "must hold at most {} parameters (found {})",
            ExtraParam::MAX_COUNT,
            params.len()
        )));
    }
    Ok(params)
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
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "extra_params"
    )]
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
    fn extra_params_are_bounded_text() {
        let read = |v: serde_json::Value| serde_json::from_value::<ExtraParam>(v);
        assert!(read(serde_json::json!({"key": "CRIPTO", "value": "1"})).is_ok());
        assert!(read(serde_json::json!({"key": "ç".repeat(64), "value": "é".repeat(256)})).is_ok());
        for (key, value) in [
            ("K".repeat(65), "1".to_owned()),
            ("K".to_owned(), "v".repeat(257)),
            (String::new(), "1".to_owned()),
            ("K".to_owned(), String::new()),
            ("a\u{0}b".to_owned(), "1".to_owned()),
            ("K".to_owned(), "a\u{85}b".to_owned()),
            ("K".to_owned(), "a\u{7f}".to_owned()),
        ] {
            assert!(read(serde_json::json!({"key": key, "value": value})).is_err());
        }
        let list = |n: usize| {
            let params: Vec<_> = (0..n)
                .map(|i| serde_json::json!({"key": format!("K{i}"), "value": "1"}))
                .collect();
            let text = serde_json::to_string(&params).unwrap();
            extra_params(&mut serde_json::Deserializer::from_str(&text)).map(|v| v.len())
        };
        assert_eq!(list(20).unwrap(), 20);
        assert_eq!(
            list(21).unwrap_err().to_string(),
            "must hold at most 20 parameters (found 21)"
        );
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

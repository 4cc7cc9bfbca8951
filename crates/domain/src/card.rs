//! Card data and card-storage identifiers. Pure.
//!
//! A card number and a security code pass from the storefront to Carat once: the types that hold
//! them have no `Serialize` (so no stored JSON, no event, no answer can carry them by accident)
//! and their `Debug`/`Display` print only what PCI DSS lets a merchant show (BIN and last four
//! of a number; nothing of a security code). Reading the value takes `expose()`, which is greppable.
//!
//! Formats are seed 001's (`card.number < 19 N`, `security_code < 5 N`, `expiry_date = 4 N`
//! MMYY, `token = 88 AN`) and seed 004's (`nita = 65 A`, `nsua = 15 N`, `bin = 6 N`,
//! `final = 4 N`).

use std::fmt;

use super::format::{Charset, Format, FormatError};
use super::ids::carat_string;

/// A primary account number: 13 to 19 digits (ISO/IEC 7812; Carat's `< 19 N`) whose Luhn check
/// digit holds. Checked before Carat is called, so a typo is a 422 and not a denied payment.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    pub const FORMAT: Format = Format::between(13, 19, Charset::Numeric);

    /// The error never quotes the value.
    pub fn parse(value: impl Into<String>) -> Result<Self, FormatError> {
        let value = value.into();
        Self::FORMAT.check(&value)?;
        if !luhn_holds(&value) {
            return Err(FormatError::Rule(
                "must be a card number whose check digit (Luhn) holds",
            ));
        }
        Ok(Self(value))
    }

    /// The whole number, for the one request to Carat that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first six digits: the issuer's identification, safe to keep and show.
    pub fn bin(&self) -> CardBin {
        CardBin(self.0[..6].to_owned())
    }

    /// The last four digits, safe to keep and show.
    pub fn last4(&self) -> CardLast4 {
        CardLast4(self.0[self.0.len() - 4..].to_owned())
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self)
    }
}

/// `411111******1111`: BIN and last four, the rest masked.
impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = self.0.len() - 10;
        write!(
            f,
            "{}{}{}",
            &self.0[..6],
            "*".repeat(masked),
            &self.0[self.0.len() - 4..]
        )
    }
}

impl<'de> serde::Deserialize<'de> for CardNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(value).map_err(serde::de::Error::custom)
    }
}

/// The Luhn (mod 10) check over a string of ASCII digits.
pub fn luhn_holds(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// CVV/CVC2/CID: 3 or 4 digits (Carat's `< 5 N`). Never stored, never printed; PCI DSS forbids
/// keeping it even encrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecurityCode(String);

impl SecurityCode {
    pub const FORMAT: Format = Format::between(3, 4, Charset::Numeric);

    pub fn parse(value: impl Into<String>) -> Result<Self, FormatError> {
        let value = value.into();
        Self::FORMAT.check(&value)?;
        Ok(Self(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecurityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityCode([REDACTED])")
    }
}

impl fmt::Display for SecurityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de> serde::Deserialize<'de> for SecurityCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(value).map_err(serde::de::Error::custom)
    }
}

carat_string!(
    /// A card's expiry, `= 4 N` in MMYY with a month from 01 to 12. Whether it has passed is
    /// the issuer's to judge (Carat answers a denial), not a format rule.
    CardExpiry,
    Format::exactly(4, Charset::Numeric),
    rule = |s: &str| match &s[..2] {
        "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12" => Ok(()),
        _ => Err(FormatError::Rule("must be MMYY with a month from 01 to 12")),
    }
);

carat_string!(
    /// The first six digits of a card: `bin = 6 N`.
    CardBin,
    Format::exactly(6, Charset::Numeric)
);

carat_string!(
    /// The last four digits of a card: `final = 4 N`.
    CardLast4,
    Format::exactly(4, Charset::Numeric)
);

carat_string!(
    /// The storage transaction's id, seed 004's `nita = 65 A` (letters and digits).
    Nita,
    Format::exactly(65, Charset::Alphanumeric)
);

carat_string!(
    /// Carat's sequential number of a storage transaction: `nsua = 15 N`.
    Nsua,
    Format::exactly(15, Charset::Numeric)
);

/// A stored card's token (seed 001 `token = 88 AN`, seed 004 `hash = 88 C`). It pays without the
/// card number, so it is kept by the service and not shown to anyone else: `Debug`/`Display`
/// print its last four characters only.
///
/// [UNKNOWN] its alphabet: "AN" in one table, "C" (characters) in the other. Any printable ASCII
/// other than a space is accepted, so a base64 token (`+`, `/`, `=`) is not refused.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardToken(String);

impl CardToken {
    pub const LEN: usize = 88;

    pub fn parse(value: impl Into<String>) -> Result<Self, FormatError> {
        let value = value.into();
        let format = Format::exactly(Self::LEN, Charset::Text);
        format.check(&value)?;
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FormatError::Rule(
                "must be printable ASCII characters without spaces",
            ));
        }
        Ok(Self(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardToken({self})")
    }
}

impl fmt::Display for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "…{}", &self.0[Self::LEN - 4..])
    }
}

/// A stored card's status at Carat (digest §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum StorageStatus {
    /// Stored: the only status that can pay.
    #[serde(rename = "CON")]
    Stored,
    /// The storage request was invalid.
    #[serde(rename = "INV")]
    Invalid,
    /// SiTef judged the card invalid.
    #[serde(rename = "NEG")]
    Denied,
    /// The card was already stored.
    #[serde(rename = "DUP")]
    Duplicate,
    /// Removed at the merchant's request.
    #[serde(rename = "CAN")]
    CanceledByMerchant,
    /// Removed at the cardholder's request.
    #[serde(rename = "DEL")]
    DeletedByCardholder,
    /// Blocked on suspected fraud.
    #[serde(rename = "BLQ")]
    Blocked,
}

impl StorageStatus {
    pub const ALL: [StorageStatus; 7] = [
        Self::Stored,
        Self::Invalid,
        Self::Denied,
        Self::Duplicate,
        Self::CanceledByMerchant,
        Self::DeletedByCardholder,
        Self::Blocked,
    ];

    /// Carat's three letters.
    pub fn code(self) -> &'static str {
        match self {
            Self::Stored => "CON",
            Self::Invalid => "INV",
            Self::Denied => "NEG",
            Self::Duplicate => "DUP",
            Self::CanceledByMerchant => "CAN",
            Self::DeletedByCardholder => "DEL",
            Self::Blocked => "BLQ",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn can_pay(self) -> bool {
        self == Self::Stored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VISA_TEST: &str = "4111111111111111";

    #[test]
    fn luhn_accepts_known_test_numbers_and_refuses_a_changed_digit() {
        for good in [
            VISA_TEST,
            "5555555555554444",
            "378282246310005",
            "4000000000000002",
        ] {
            assert!(luhn_holds(good), "{good}");
        }
        assert!(!luhn_holds("4111111111111112"));
        assert!(CardNumber::parse("4111111111111112").is_err());
        assert!(CardNumber::parse("41111111111").is_err(), "too short");
        assert!(CardNumber::parse("4111 1111 1111 1111").is_err());
    }

    #[test]
    fn a_card_number_prints_only_bin_and_last_four() {
        let number = CardNumber::parse(VISA_TEST).unwrap();
        let shown = format!("{number:?} {number}");
        assert!(!shown.contains(VISA_TEST));
        assert_eq!(number.to_string(), "411111******1111");
        assert_eq!(number.bin().as_str(), "411111");
        assert_eq!(number.last4().as_str(), "1111");
        let error = CardNumber::parse("4111111111111112")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("4111111111111112"), "{error}");
    }

    #[test]
    fn a_security_code_prints_nothing() {
        let code = SecurityCode::parse("737").unwrap();
        assert!(!format!("{code:?} {code}").contains("737"));
        assert!(SecurityCode::parse("12").is_err());
        assert!(SecurityCode::parse("12345").is_err());
    }

    #[test]
    fn a_card_number_deserialises_through_its_rules() {
        let ok: CardNumber = serde_json::from_str(&format!("\"{VISA_TEST}\"")).unwrap();
        assert_eq!(ok.expose(), VISA_TEST);
        let error = serde_json::from_str::<CardNumber>("\"4111111111111112\"")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("Luhn") && !error.contains("4111111111111112"),
            "{error}"
        );
    }

    #[test]
    fn expiry_is_mmyy() {
        assert!(CardExpiry::parse("1230").is_ok());
        assert!(CardExpiry::parse("1330").is_err());
        assert!(CardExpiry::parse("0030").is_err());
        assert!(CardExpiry::parse("123").is_err());
    }

    #[test]
    fn tokens_are_88_printable_characters_and_print_their_tail() {
        let raw = format!("{}+/=", "A".repeat(85));
        let token = CardToken::parse(raw.clone()).unwrap();
        assert!(!format!("{token:?}").contains(&raw));
        assert!(CardToken::parse("A".repeat(87)).is_err());
        assert!(CardToken::parse(format!("{} ", "A".repeat(87))).is_err());
    }

    #[test]
    fn storage_statuses_round_trip_and_only_con_pays() {
        for status in StorageStatus::ALL {
            assert_eq!(StorageStatus::parse(status.code()), Some(status));
            assert_eq!(status.can_pay(), status.code() == "CON");
        }
        assert_eq!(StorageStatus::parse("XYZ"), None);
    }
}

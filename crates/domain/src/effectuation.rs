//! What a recharge's effectuation sends, per kind (`normal`, `others`, `invoice`), and what
//! Carat answered it. Stored as JSONB tagged by `kind`; every field is a validated domain type,
//! so a stored value that breaks its format fails to decode instead of being sent.

use super::customer::{Cnpj, Cpf, TerminalType, ZipCode};
use super::format::{Charset, Format, FormatError};
use super::ids::carat_string;
use super::phone::{Ddd, PhoneNumber};
use super::recharge::{
    AmountCents, AmountKey, Answer, BranchCode, DealerCode, DealerTypeCode, RechargeType,
};

use std::fmt;

carat_string!(
    /// An invoice's bar code: `= 48 N`.
    BarCode,
    Format::exactly(48, Charset::Numeric)
);
carat_string!(
    /// An invoice's description, as Carat listed it: `< 64 AN`.
    InvoiceDescription,
    Format::at_most(64, Charset::Text)
);
carat_string!(
    /// An invoice's due date, `DDMMYYYY`: `= 8 N` and a day the calendar has.
    InvoiceExpiryDate,
    Format::exactly(8, Charset::Numeric),
    rule = real_date
);

/// `DDMMYYYY` naming a real day (`31022026` does not).
fn real_date(value: &str) -> Result<(), FormatError> {
    chrono::NaiveDate::parse_from_str(value, "%d%m%Y")
        .map(|_| ())
        .map_err(|_| FormatError::Rule("must be a real date, DDMMYYYY"))
}
carat_string!(
    /// An invoice's reference data, as Carat listed it: `< 32 AN`.
    InvoiceReferenceData,
    Format::at_most(32, Charset::Text)
);
carat_string!(
    /// An invoice's echo, as Carat listed it: `< 11 N`.
    InvoiceEcho,
    Format::at_most(11, Charset::Numeric)
);

/// A recharge's effectuation input: its kind's part and the optional fields every kind may
/// carry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Effectuation {
    #[serde(flatten)]
    pub input: EffectuationInput,
    #[serde(flatten)]
    pub optional: OptionalFields,
    /// A card payment linked to the recharge: its non-secret part only (`payment.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<super::payment::PaymentInput>,
}

impl Effectuation {
    pub fn recharge_type(&self) -> RechargeType {
        self.input.recharge_type()
    }
}

/// The part of an effectuation that depends on what is sold; the tag is the recharge's
/// `recharge_type`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EffectuationInput {
    /// A phone top-up.
    Normal {
        dealer: Dealer,
        phone: Phone,
        amount: AmountCents,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_key: Option<AmountKey>,
        #[serde(default)]
        answers: Vec<Answer>,
    },
    /// A PIN or another product: one of the dealer's branches, no phone.
    Others {
        dealer: BranchDealer,
        amount: AmountCents,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_key: Option<AmountKey>,
        #[serde(default)]
        answers: Vec<Answer>,
    },
    /// A bill payment: the bill Carat listed for a bar code.
    Invoice {
        dealer: Dealer,
        invoice: Invoice,
        amount: AmountCents,
    },
}

impl EffectuationInput {
    pub fn recharge_type(&self) -> RechargeType {
        match self {
            Self::Normal { .. } => RechargeType::Normal,
            Self::Others { .. } => RechargeType::Others,
            Self::Invoice { .. } => RechargeType::Invoice,
        }
    }

    pub fn amount(&self) -> AmountCents {
        match self {
            Self::Normal { amount, .. }
            | Self::Others { amount, .. }
            | Self::Invoice { amount, .. } => *amount,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dealer {
    pub code: DealerCode,
    pub type_code: DealerTypeCode,
}

/// An `others` dealer and the branch (product) chosen among its branches.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BranchDealer {
    pub code: DealerCode,
    pub type_code: DealerTypeCode,
    pub branch: Branch,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Branch {
    pub code: BranchCode,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Phone {
    pub ddd: Ddd,
    pub number: PhoneNumber,
}

/// The bill, exactly as Carat listed it for its bar code.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Invoice {
    pub bar_code: BarCode,
    pub description: InvoiceDescription,
    pub expiry_date: InvoiceExpiryDate,
    pub reference_data: InvoiceReferenceData,
    pub echo: InvoiceEcho,
}

/// The effectuation fields the seed lists as optional for every kind: where the sale was made
/// and who the customer is (`customer.rs` says what each must be).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OptionalFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_type: Option<TerminalType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpf: Option<Cpf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnpj: Option<Cnpj>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_code: Option<ZipCode>,
    /// How the sale was paid (`payment_methods.rs`), sent as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_payment_methods: Option<Vec<super::UsedPaymentMethod>>,
}

/// What Carat answered an effectuation (or a query that resolved one), receipts aside: those
/// may carry a PIN and are never kept in this clear JSONB. A part Carat did not send is absent,
/// so that merging a later answer keeps what an earlier one said.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaratAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esitef_usn: Option<String>,
    /// Carat's `authorization` object, as it sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<serde_json::Value>,
    /// The TV packages Carat offered with `resubmit_transaction` (status AGU), one of which
    /// the storefront chooses; the choice goes back as answer 126.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tv_package_subscription_codes: Option<Vec<String>>,
    /// `payment_methods.max`: at most this many `used_payment_methods` on the confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_methods_max: Option<u32>,
    /// `send_payment_methods`: Carat asked for the payment methods on the next transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_payment_methods: Option<bool>,
}

impl CaratAnswer {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn normal() -> Effectuation {
        serde_json::from_value(json!({
            "kind": "normal",
            "dealer": {"code": "001", "type_code": "1"},
            "phone": {"ddd": "11", "number": "987654321"},
            "amount": 1000,
            "amount_key": "1",
            "answers": [{"code": "126", "description": "P1"}],
            "cpf": "12345678909"
        }))
        .unwrap()
    }

    #[test]
    fn a_normal_effectuation_is_tagged_by_its_kind() {
        let e = normal();
        assert_eq!(e.recharge_type(), RechargeType::Normal);
        assert_eq!(e.input.amount().get(), 1000);
        assert_eq!(
            e.optional.cpf.as_ref().map(|c| c.as_str()),
            Some("12345678909")
        );
        let stored = serde_json::to_value(&e).unwrap();
        assert_eq!(stored["kind"], "normal");
        assert_eq!(stored["phone"]["number"], "987654321");
        assert!(stored.get("terminal_type").is_none(), "{stored}");
        assert_eq!(serde_json::from_value::<Effectuation>(stored).unwrap(), e);
    }

    #[test]
    fn others_and_invoice_round_trip() {
        for value in [
            json!({"kind": "others",
                   "dealer": {"code": "100", "type_code": "2", "branch": {"code": "00000000011"}},
                   "amount": 2000, "answers": []}),
            json!({"kind": "invoice", "dealer": {"code": "200", "type_code": "3"},
                   "invoice": {"bar_code": "8".repeat(48), "description": "Energia",
                               "expiry_date": "31122026", "reference_data": "REF 1",
                               "echo": "12345"},
                   "amount": 15990}),
        ] {
            let e: Effectuation = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(e.recharge_type().as_str(), value["kind"]);
            assert_eq!(serde_json::to_value(&e).unwrap(), value);
        }
    }

    #[test]
    fn an_expiry_date_is_a_real_day() {
        assert!(InvoiceExpiryDate::parse("29022028").is_ok());
        for bad in [
            "29022027", "32012026", "01132026", "00012026", "2026-01-", "1012026",
        ] {
            assert!(InvoiceExpiryDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_stored_value_that_breaks_a_format_does_not_decode() {
        let mut bad = serde_json::to_value(normal()).unwrap();
        bad["phone"]["ddd"] = json!("00");
        assert!(serde_json::from_value::<Effectuation>(bad).is_err());
        let mut untagged = serde_json::to_value(normal()).unwrap();
        untagged["kind"] = json!("phone");
        assert!(serde_json::from_value::<Effectuation>(untagged).is_err());
        let mut no_phone = serde_json::to_value(normal()).unwrap();
        no_phone.as_object_mut().unwrap().remove("phone");
        assert!(serde_json::from_value::<Effectuation>(no_phone).is_err());
    }

    #[test]
    fn an_answer_leaves_out_what_carat_did_not_say() {
        let usn_only = CaratAnswer {
            esitef_usn: Some("123".into()),
            authorization: None,
            tv_package_subscription_codes: None,
            ..CaratAnswer::default()
        };
        assert_eq!(
            serde_json::to_value(&usn_only).unwrap(),
            json!({"esitef_usn": "123"})
        );
        assert!(CaratAnswer::default().is_empty());
    }
}

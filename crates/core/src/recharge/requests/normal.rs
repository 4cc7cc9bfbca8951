//! A `normal` recharge's effectuation body: a phone top-up.

use serde::Deserialize;

use super::{PaymentChoice, SaleChoice};
use carat_domain::effectuation::{Dealer, Phone};
use carat_domain::{
    AmountCents, AmountKey, Answer, Ddd, DealerCode, DealerTypeCode, Effectuation,
    EffectuationInput, PhoneNumber,
};

/// What the storefront chose. Each field validates its Carat format on deserialisation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectuateRequest {
    pub dealer: DealerChoice,
    pub phone: PhoneChoice,
    pub amount: AmountCents,
    #[serde(default)]
    pub amount_key: Option<AmountKey>,
    #[serde(default)]
    pub answers: Vec<Answer>,
    #[serde(default)]
    pub sale: SaleChoice,
    /// A card payment linked to the recharge (`requests/payment.rs`).
    #[serde(default)]
    pub payment: Option<PaymentChoice>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealerChoice {
    pub code: DealerCode,
    pub type_code: DealerTypeCode,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneChoice {
    pub ddd: Ddd,
    pub number: PhoneNumber,
}

impl EffectuateRequest {
    /// The effectuation this body asks for: the storefront's body for a `normal` recharge.
    pub(in crate::recharge) fn input(&self) -> Effectuation {
        Effectuation {
            input: EffectuationInput::Normal {
                dealer: Dealer {
                    code: self.dealer.code.clone(),
                    type_code: self.dealer.type_code.clone(),
                },
                phone: Phone {
                    ddd: self.phone.ddd.clone(),
                    number: self.phone.number.clone(),
                },
                amount: self.amount,
                amount_key: self.amount_key.clone(),
                answers: self.answers.clone(),
            },
            optional: self.sale.optional(),
            payment: None,
        }
    }
}

//! An `others` sale (a PIN or another product): one of the dealer's branches, no phone.

use serde::Deserialize;

use super::{PaymentChoice, SaleChoice};
use carat_domain::effectuation::{Branch, BranchDealer};
use carat_domain::{
    AmountCents, AmountKey, Answer, BranchCode, DealerCode, DealerTypeCode, Effectuation,
    EffectuationInput,
};

/// `{"dealer":{"code","type_code","branch":{"code"}},"amount","amount_key"?,"answers"?,"sale"?}`.
/// Each field validates its Carat format on deserialisation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OthersEffectuateRequest {
    pub dealer: BranchDealerChoice,
    pub amount: AmountCents,
    #[serde(default)]
    pub amount_key: Option<AmountKey>,
    #[serde(default)]
    pub answers: Vec<Answer>,
    #[serde(default)]
    pub sale: SaleChoice,
    /// A card payment linked to the sale (`requests/payment.rs`).
    #[serde(default)]
    pub payment: Option<PaymentChoice>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchDealerChoice {
    pub code: DealerCode,
    pub type_code: DealerTypeCode,
    pub branch: BranchChoice,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchChoice {
    pub code: BranchCode,
}

impl OthersEffectuateRequest {
    pub(in crate::recharge) fn input(&self) -> Effectuation {
        Effectuation {
            input: EffectuationInput::Others {
                dealer: BranchDealer {
                    code: self.dealer.code.clone(),
                    type_code: self.dealer.type_code.clone(),
                    branch: Branch {
                        code: self.dealer.branch.code.clone(),
                    },
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

//! An `invoice` recharge's effectuation body: which bill (dealer and bar code) and the amount;
//! the bill's other fields come from the kept listing, never from the storefront.

use serde::Deserialize;

use super::normal::DealerChoice;
use super::{PaymentChoice, SaleChoice};
use carat_domain::AmountCents;
use carat_domain::effectuation::BarCode;

/// The storefront's effectuation body for a bill.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceRequest {
    pub dealer: DealerChoice,
    pub invoice: BarCodeChoice,
    pub amount: AmountCents,
    #[serde(default)]
    pub sale: SaleChoice,
    /// A card payment linked to the bill payment (`requests/payment.rs`).
    #[serde(default)]
    pub payment: Option<PaymentChoice>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarCodeChoice {
    pub bar_code: BarCode,
}

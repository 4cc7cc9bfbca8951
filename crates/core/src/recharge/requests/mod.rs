//! The storefront's bodies for a recharge's steps, as read and checked at the door: pure data
//! with the effectuation each asks for. Nothing here calls Carat or the database, so the doors
//! and every use case can name them without a circle.

mod invoice;
mod normal;
mod others;
mod payment;
mod sale;
mod tv_package;

pub use invoice::{BarCodeChoice, InvoiceRequest};
pub use normal::{DealerChoice, EffectuateRequest, PhoneChoice};
pub use others::{BranchChoice, BranchDealerChoice, OthersEffectuateRequest};
pub use payment::{CardChoice, PaymentChoice};
pub use sale::SaleChoice;
pub use tv_package::TvChoice;

/// The storefront's effectuation body, read as the recharge's kind has it.
#[derive(Clone, Debug)]
pub enum Chosen {
    Normal(EffectuateRequest),
    Others(OthersEffectuateRequest),
    Invoice(InvoiceRequest),
}

impl Chosen {
    /// The card payment the body links to the recharge, if any.
    pub(in crate::recharge) fn payment(&self) -> Option<&PaymentChoice> {
        match self {
            Self::Normal(req) => req.payment.as_ref(),
            Self::Others(req) => req.payment.as_ref(),
            Self::Invoice(req) => req.payment.as_ref(),
        }
    }
}

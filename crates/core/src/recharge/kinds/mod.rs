//! What differs per kind of recharge (`recharge_type`): the storefront's effectuation body,
//! how it becomes the effectuation sent, and what it is checked against. One file per kind;
//! the dispatch on the kind is here.

pub mod invoice;
pub mod others;

use uuid::Uuid;

use super::effectuate::EffectuateRequest;
use super::{FlowError, RechargeService};
use carat_domain::{Effectuation, Nit, RechargeType};
use carat_store::Recharge;
use invoice::InvoiceRequest;
use others::OthersEffectuateRequest;

/// The storefront's effectuation body, read as the recharge's kind has it.
#[derive(Clone, Debug)]
pub enum Chosen {
    Normal(EffectuateRequest),
    Others(OthersEffectuateRequest),
    Invoice(InvoiceRequest),
}

impl Chosen {
    /// The card payment the body links to the recharge, if any.
    pub(super) fn payment(&self) -> Option<&super::payment::PaymentChoice> {
        match self {
            Self::Normal(req) => req.payment.as_ref(),
            Self::Others(req) => req.payment.as_ref(),
            Self::Invoice(req) => req.payment.as_ref(),
        }
    }
}

impl RechargeService {
    /// The kind of a recharge, to read a storefront body by.
    pub async fn recharge_type(&self, id: Uuid) -> Result<RechargeType, FlowError> {
        Ok(self.load(id).await?.recharge_type)
    }

    /// The effectuation `chosen` asks for.
    pub(super) async fn effectuation_of(
        &self,
        id: Uuid,
        chosen: &Chosen,
    ) -> Result<Effectuation, FlowError> {
        match chosen {
            Chosen::Normal(req) => Ok(req.input()),
            Chosen::Others(req) => Ok(req.input()),
            Chosen::Invoice(req) => self.invoice_effectuation(id, req).await,
        }
    }

    /// `chosen` against what Carat listed for the recharge: a 422 before anything is written
    /// or sent.
    pub(super) async fn check_chosen(
        &self,
        recharge: &Recharge,
        nit: &Nit,
        chosen: &Chosen,
    ) -> Result<(), FlowError> {
        match chosen {
            Chosen::Normal(req) => {
                self.check_against_listings(recharge, nit, &req.input())
                    .await
            }
            Chosen::Others(req) => {
                self.check_against_listings(recharge, nit, &req.input())
                    .await
            }
            // Built from the kept bill, so checked against it already.
            Chosen::Invoice(_) => Ok(()),
        }
    }
}

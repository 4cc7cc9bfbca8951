//! What differs per kind of recharge (`recharge_type`): how the storefront's body
//! (`requests`) becomes the effectuation sent, and what it is checked against. A bill's
//! effectuation is built from its kept listing (`bills.rs`).

use uuid::Uuid;

use super::Opened;
use super::requests::Chosen;
use super::{FlowError, RechargeService};
use carat_domain::{Effectuation, Nit};

impl RechargeService {
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
        opened: &Opened,
        nit: &Nit,
        chosen: &Chosen,
    ) -> Result<(), FlowError> {
        match chosen {
            Chosen::Normal(req) => self.check_against_listings(opened, nit, &req.input()).await,
            Chosen::Others(req) => self.check_against_listings(opened, nit, &req.input()).await,
            // Built from the kept bill, so checked against it already.
            Chosen::Invoice(_) => Ok(()),
        }
    }
}

//! Confirmation or undo: every effectuated recharge must end one way or the other.
//!
//! Resending a confirmation after a query showed the recharge still PPC is assumed safe: it
//! settles the same transaction and cannot charge twice (Carat's documentation does not say
//! so explicitly; verify in homologation).

use uuid::Uuid;

use super::{FlowError, RechargeService, call_event, why_not};
use crate::domain::{CaratStatus, RechargeStatus};
use crate::store::{self, Changes, EventKind, Recharge};

impl RechargeService {
    pub async fn confirm(&self, id: Uuid, confirm: bool) -> Result<Recharge, FlowError> {
        let (in_flight, done, action) = if confirm {
            (
                RechargeStatus::Confirming,
                RechargeStatus::Confirmed,
                "confirm",
            )
        } else {
            (RechargeStatus::Undoing, RechargeStatus::Undone, "undo")
        };
        let mut recharge = self.load(id).await?;
        if recharge.status.is_in_doubt() {
            recharge = self.resolve_in_doubt(recharge).await?;
        }
        match recharge.status {
            RechargeStatus::PendingConfirmation => {}
            // The same decision again answers as the first time.
            s if s == done => return Ok(recharge),
            s => return Err(FlowError::out_of_order(s, why_not(s, action))),
        }
        let Some(nit) = recharge.nit.clone() else {
            return Err(FlowError::out_of_order(
                recharge.status,
                why_not(RechargeStatus::Created, action),
            ));
        };

        let changes = Changes {
            call_deadline: Some(self.call_deadline()),
            ..Changes::default()
        };
        let detail = serde_json::json!({"confirm": confirm});
        if store::recharges::transition(
            &self.pool,
            id,
            RechargeStatus::PendingConfirmation,
            in_flight,
            false,
            changes,
            detail,
        )
        .await?
        .is_none()
        {
            let now = self.load(id).await?;
            return Err(FlowError::out_of_order(
                now.status,
                why_not(now.status, action),
            ));
        }

        let result = self.carat.confirm(&nit, confirm).await;
        store::recharges::record_event(
            &self.pool,
            id,
            EventKind::OutboundCall,
            action,
            call_event(&result),
        )
        .await?;
        match result {
            Ok(answer) => {
                let carat = answer.status.as_deref().map(CaratStatus::parse);
                // esitef code 0 means done; a status, when given, says how it ended.
                let next = carat
                    .as_ref()
                    .and_then(|c| in_flight.after_carat_reports(c))
                    .unwrap_or(done);
                let changes = Changes {
                    carat_status: carat.map(|c| c.to_string()),
                    ..Changes::default()
                };
                self.settle(id, in_flight, next, changes).await
            }
            Err(error) => Err(self
                .call_failed(id, in_flight, RechargeStatus::PendingConfirmation, error)
                .await?),
        }
    }
}

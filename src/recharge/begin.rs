//! Create: write the recharge, ask Carat for a transaction, and learn its NIT from the
//! authenticity POST that Carat sends, synchronously, to whichever instance it reaches.

use uuid::Uuid;

use super::{CaratFailure, CaratProblem, FlowError, RechargeService, detached};
use crate::domain::{Actor, OrderId, RechargeStatus, RechargeType};
use crate::store::{self, Changes, Guard, Recharge, Step, StoreError};

impl RechargeService {
    pub async fn begin(
        &self,
        order_id: Option<OrderId>,
        recharge_type: RechargeType,
    ) -> Result<Recharge, FlowError> {
        let this = self.clone();
        detached(async move { this.begin_now(order_id, recharge_type).await }).await
    }

    async fn begin_now(
        &self,
        order_id: Option<OrderId>,
        recharge_type: RechargeType,
    ) -> Result<Recharge, FlowError> {
        let general_hash = self.general_hash().await?;
        let order_id = order_id.unwrap_or_else(generate_order_id);
        let id = Uuid::new_v4();
        tracing::Span::current().record("recharge_id", tracing::field::display(id));
        // Committed before the call: the authenticity POST looks for this row. Past the call's
        // window, a row still without its NIT is failed by the reconciler.
        let recharge = match store::recharges::insert_created(
            &self.pool,
            id,
            &order_id,
            recharge_type,
            self.timing.call_window(),
        )
        .await
        {
            Ok(recharge) => recharge,
            Err(StoreError::Duplicate("order_id")) => {
                let taken = store::recharges::find_by_order_id(&self.pool, &order_id).await?;
                return Err(match taken {
                    Some(existing) => FlowError::OrderIdTaken {
                        id: existing.id,
                        status: existing.status,
                    },
                    // Unique violation, then gone: recharges are never deleted.
                    None => StoreError::Duplicate("order_id").into(),
                });
            }
            Err(e) => return Err(e.into()),
        };

        let exchange = self
            .carat
            .begin(
                &order_id,
                recharge.merchant_usn(),
                &general_hash,
                recharge_type,
            )
            .await;
        self.note_call(id, &Actor::Storefront, &exchange).await?;

        // Whichever instance received the authenticity POST has committed the NIT by now:
        // Carat answers the create only after the POST was answered.
        let now = self.load(id).await?;
        // The current hash comes in the answer in signature mode, in the POST otherwise.
        let answered_hash = exchange
            .result
            .as_ref()
            .ok()
            .and_then(|r| r.general_hash.as_deref());
        self.take_general_hash(answered_hash.or(now.general_hash.as_deref()))
            .await;
        match (exchange.result, now.status) {
            (Ok(_), RechargeStatus::Started) => Ok(now),
            (Ok(_), RechargeStatus::Created) => {
                let problem = CaratProblem {
                    failure: CaratFailure::Refused,
                    message: "Carat Portal accepted the create, but its authenticity POST never \
                              reached this service: check the authenticity URL registered with Carat"
                        .into(),
                    http_status: Some(200),
                    code: None,
                    carat_message: None,
                    carat_status: None,
                    answered: true,
                    recharge_status: None,
                    recharge_id: None,
                    call: None,
                    timeout_ms: None,
                };
                Err(self.fail_create(&now, problem).await?)
            }
            (Ok(_), _) => Ok(now),
            // The NIT arrived but the create's answer did not: the NIT is Carat's, and
            // usable; the next call will tell if it is not.
            (Err(e), RechargeStatus::Started) if !e.certainly_not_applied() => Ok(now),
            (Err(e), RechargeStatus::Created | RechargeStatus::Started) => {
                let failure = if e.refusal().is_some() {
                    CaratFailure::Refused
                } else {
                    CaratFailure::Unavailable
                };
                Err(self
                    .fail_create(&now, CaratProblem::new(failure, &e))
                    .await?)
            }
            (Err(e), status) => Err(FlowError::Carat(
                CaratProblem::new(CaratFailure::Refused, &e).with_status(status),
            )),
        }
    }

    /// Marks a create that Carat did not complete as failed. A late authenticity POST for it
    /// will then be refused, which makes Carat abort the transaction.
    async fn fail_create(
        &self,
        recharge: &Recharge,
        problem: CaratProblem,
    ) -> Result<FlowError, FlowError> {
        let step = Step {
            changes: Changes {
                error: Some(problem.as_last_error()),
                ..Changes::default()
            },
            detail: serde_json::json!({"reason": problem.message}),
            ..self.step(
                recharge,
                RechargeStatus::Failed,
                Guard::Status,
                &Actor::Storefront,
            )
        };
        let failed = store::recharges::apply(&self.pool, step).await?;
        let status = match failed {
            Some(r) => r.status,
            // The authenticity POST won the race: report what is stored now.
            None => self.load(recharge.id).await?.status,
        };
        let mut problem = problem.with_status(status);
        problem.recharge_id = Some(recharge.id);
        Ok(FlowError::Carat(problem))
    }
}

/// An order id for a storefront that sends none: 20 alphanumerics (`< 20 AN`).
fn generate_order_id() -> OrderId {
    let hex = Uuid::new_v4().simple().to_string().to_uppercase();
    OrderId::parse(&hex[..20]).expect("20 hex digits are a valid order id")
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_order_ids_are_valid_and_distinct() {
        let a = super::generate_order_id();
        let b = super::generate_order_id();
        assert_eq!(a.as_str().len(), 20);
        assert_ne!(a, b);
    }
}

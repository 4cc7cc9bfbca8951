//! Create: write the recharge, ask Carat for a transaction, and learn its NIT from the
//! authenticity POST that Carat sends, synchronously, to whichever instance it reaches, or, in
//! signature mode, from the signed create's answer.

use uuid::Uuid;

use super::steps::call_record;
use super::{CaratFailure, CaratProblem, FlowError, RechargeService};
use crate::carat::CaratError;
use carat_domain::{
    Actor, AuthMode, GeneralHash, MerchantId, MerchantUsn, Nit, OrderId, RechargeStatus,
    RechargeType,
};
use carat_store::{self as store, Changes, Guard, NitFinding, NitPost, Recharge, Step, StoreError};
use carat_wire::BeginRechargeResponse;

impl RechargeService {
    pub(super) async fn begin_now(
        &self,
        order_id: Option<OrderId>,
        recharge_type: RechargeType,
    ) -> Result<Recharge, FlowError> {
        let general_hash = self.general_hash().await?;
        let order_id = order_id.unwrap_or_else(generate_order_id);
        // Fixed now and kept with the recharge: all its calls are signed, or none.
        let auth_mode = self.carat.auth_mode();
        let id = Uuid::new_v4();
        tracing::Span::current().record("recharge_id", tracing::field::display(id));
        let recharge = self
            .insert_created(id, &order_id, recharge_type, auth_mode)
            .await?;

        let exchange = self
            .carat
            .for_recharge(recharge.auth_mode)
            .begin(
                &order_id,
                recharge.merchant_usn,
                &general_hash,
                recharge_type,
            )
            .await;
        let now = match recharge.auth_mode {
            // Whichever instance received the authenticity POST has committed the NIT by now:
            // Carat answers the create only after the POST was answered. The call is kept in
            // the history by the statement that reads the recharge as it is now.
            AuthMode::Authenticity => {
                let call = call_record(&exchange);
                store::recharges::note_call_and_find(&self.pool, id, &Actor::Storefront, call)
                    .await?
                    .ok_or(FlowError::NotFound)?
            }
            // Signature mode: no POST comes; the NIT is in the answer, committed as a POST's
            // would be, after the call is kept.
            AuthMode::Signature => {
                self.note_call(id, &Actor::Storefront, &exchange).await?;
                if let Ok(answer) = &exchange.result
                    && let Err(problem) = self.commit_answered_nit(&recharge, answer).await?
                {
                    let now = self.load(id).await?;
                    return Err(self.fail_create(&now, problem).await?);
                }
                self.load(id).await?
            }
        };
        // The current hash comes in the answer in signature mode, in the POST otherwise.
        let answered_hash = exchange
            .result
            .as_ref()
            .ok()
            .and_then(|r| r.general_hash.as_deref());
        self.take_general_hash(answered_hash.or(now.general_hash.as_ref().map(|h| h.as_str())))
            .await;
        self.create_outcome(now, exchange.result).await
    }

    /// Writes the `created` row, or names the recharge that already has `order_id`. Committed
    /// before the call: the authenticity POST looks for this row. Past the call's window, a
    /// row still without its NIT is failed by the reconciler.
    async fn insert_created(
        &self,
        id: Uuid,
        order_id: &OrderId,
        recharge_type: RechargeType,
        auth_mode: AuthMode,
    ) -> Result<Recharge, FlowError> {
        match store::recharges::insert_created(
            &self.pool,
            id,
            order_id,
            recharge_type,
            auth_mode,
            self.timing.call_window(),
        )
        .await
        {
            Ok(recharge) => Ok(recharge),
            Err(StoreError::Duplicate(store::UniqueConstraint::OrderId)) => {
                let taken = store::recharges::find_by_order_id(&self.pool, order_id).await?;
                Err(match taken {
                    Some(existing) => FlowError::OrderIdTaken {
                        id: existing.id,
                        status: existing.status,
                    },
                    // Unique violation, then gone: recharges are never deleted.
                    None => StoreError::Duplicate(store::UniqueConstraint::OrderId).into(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What the create came to, from its answer (or failure) and the recharge as it is now,
    /// after the authenticity POST had its chance to commit the NIT.
    async fn create_outcome(
        &self,
        now: Recharge,
        result: Result<BeginRechargeResponse, CaratError>,
    ) -> Result<Recharge, FlowError> {
        match (result, now.status) {
            (Ok(_), RechargeStatus::Started) => Ok(now),
            (Ok(_), RechargeStatus::Created) => {
                Err(self.fail_create(&now, post_never_came()).await?)
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

    /// Stores the NIT a signed create's answer carries, checked as an authenticity POST is:
    /// every field present and of its format, and merchant id, order id and merchant USN ours.
    /// `Ok(Err(problem))`: the answer is not usable, nothing was stored.
    async fn commit_answered_nit(
        &self,
        recharge: &Recharge,
        answer: &BeginRechargeResponse,
    ) -> Result<Result<(), CaratProblem>, FlowError> {
        let checked = check_answer(
            answer,
            self.carat.merchant_id(),
            &recharge.order_id,
            recharge.merchant_usn,
        );
        let (nit, general_hash) = match checked {
            Ok(fields) => fields,
            Err(why) => return Ok(Err(unusable_answer(why))),
        };
        let detail = serde_json::json!({
            "nit": nit,
            "merchant_id": answer.merchant_id,
            "order_id": answer.order_id,
            "merchant_usn": answer.merchant_usn,
            "general_hash": general_hash,
        });
        let found = store::recharges::commit_answered_nit(
            &self.pool,
            NitPost {
                order_id: &recharge.order_id,
                merchant_usn: recharge.merchant_usn,
                nit: &nit,
                general_hash: &general_hash,
            },
            self.timing.nit_lifetime,
            detail,
        )
        .await?;
        tracing::Span::current().record("nit", tracing::field::display(&nit));
        Ok(match found {
            NitFinding::Committed | NitFinding::AlreadyCommitted => {
                tracing::info!("signed create answered; its NIT is committed");
                Ok(())
            }
            NitFinding::NotWaiting => Err(unusable_answer(
                "the recharge stopped waiting for its NIT before the answer came (its create \
                 was given up)"
                    .into(),
            )),
            NitFinding::Conflict | NitFinding::NoRecharge => Err(unusable_answer(
                "nit: another recharge already holds this NIT".into(),
            )),
        })
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

/// The NIT and general hash of a signed create's answer, if it is the answer to the create of
/// `order_id` and `merchant_usn` for `merchant_id`. Says which field is wrong otherwise.
fn check_answer(
    answer: &BeginRechargeResponse,
    merchant_id: &MerchantId,
    order_id: &OrderId,
    merchant_usn: MerchantUsn,
) -> Result<(Nit, GeneralHash), String> {
    fn field<'a>(name: &str, value: &'a Option<String>) -> Result<&'a str, String> {
        value
            .as_deref()
            .ok_or_else(|| format!("begin_recharge_response.{name} is missing"))
    }
    let bad =
        |name: &str, e: &dyn std::fmt::Display| format!("begin_recharge_response.{name}: {e}");
    let nit = Nit::parse(field("nit", &answer.nit)?.to_owned()).map_err(|e| bad("nit", &e))?;
    let hash = GeneralHash::parse(field("general_hash", &answer.general_hash)?.to_owned())
        .map_err(|e| bad("general_hash", &e))?;
    let ours = |name: &str, got: &str, want: &str| {
        (got == want)
            .then_some(())
            .ok_or_else(|| bad(name, &format!("`{got}` is not this create's `{want}`")))
    };
    ours(
        "merchant_id",
        field("merchant_id", &answer.merchant_id)?,
        merchant_id.as_str(),
    )?;
    ours(
        "order_id",
        field("order_id", &answer.order_id)?,
        order_id.as_str(),
    )?;
    ours(
        "merchant_usn",
        field("merchant_usn", &answer.merchant_usn)?,
        &merchant_usn.to_string(),
    )?;
    Ok((nit, hash))
}

/// Carat accepted the signed create but its answer cannot be used: the create fails (the NIT,
/// if any, just expires at Carat: nothing was effectuated with it).
fn unusable_answer(why: String) -> CaratProblem {
    CaratProblem {
        failure: CaratFailure::Unavailable,
        message: format!(
            "Carat Portal accepted the signed create, but its answer cannot be used: {why}"
        ),
        http_status: Some(200),
        code: None,
        carat_message: None,
        carat_status: None,
        answered: true,
        recharge_status: None,
        recharge_id: None,
        call: None,
        timeout_ms: None,
    }
}

/// Carat accepted the create, yet no NIT came: its authenticity POST never reached us.
fn post_never_came() -> CaratProblem {
    CaratProblem {
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
    }
}

/// An order id for a storefront that sends none: 20 alphanumerics (`< 20 AN`).
fn generate_order_id() -> OrderId {
    let hex = Uuid::new_v4().simple().to_string().to_uppercase();
    OrderId::parse(&hex[..20]).expect("20 hex digits are a valid order id")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> BeginRechargeResponse {
        BeginRechargeResponse {
            nit: Some("a".repeat(64)),
            merchant_id: Some("LOJATESTE".into()),
            order_id: Some("ORDER1".into()),
            merchant_usn: Some("42".into()),
            general_hash: Some("AF32810AAF32810A".into()),
            ..Default::default()
        }
    }

    fn check(answer: &BeginRechargeResponse) -> Result<(Nit, GeneralHash), String> {
        check_answer(
            answer,
            &MerchantId::parse("LOJATESTE").unwrap(),
            &OrderId::parse("ORDER1").unwrap(),
            MerchantUsn::new(42).unwrap(),
        )
    }

    #[test]
    fn a_signed_creates_answer_must_be_for_this_create_and_name_the_wrong_field() {
        let (nit, hash) = check(&answer()).unwrap();
        assert_eq!(nit.as_str(), "a".repeat(64));
        assert_eq!(hash.as_str(), "AF32810AAF32810A");
        let wrong = |change: fn(&mut BeginRechargeResponse), field: &str| {
            let mut a = answer();
            change(&mut a);
            let err = check(&a).unwrap_err();
            assert!(err.contains(field), "{err}");
        };
        wrong(|a| a.nit = None, "nit is missing");
        wrong(|a| a.nit = Some("short".into()), "nit");
        wrong(|a| a.general_hash = None, "general_hash");
        wrong(|a| a.merchant_id = Some("OUTRALOJA".into()), "merchant_id");
        wrong(|a| a.order_id = Some("ORDER2".into()), "order_id");
        wrong(|a| a.merchant_usn = Some("43".into()), "merchant_usn");
        wrong(|a| a.merchant_usn = None, "merchant_usn is missing");
    }

    #[test]
    fn generated_order_ids_are_valid_and_distinct() {
        let a = super::generate_order_id();
        let b = super::generate_order_id();
        assert_eq!(a.as_str().len(), 20);
        assert_ne!(a, b);
    }
}

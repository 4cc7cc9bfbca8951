//! `used_payment_methods` in the use cases: checked before Carat is called, sent on the
//! effectuation and on the confirmation, and what Carat announces about them kept.
//!
//! The list's format and rules are the domain's (`domain::payment_methods`). The max an
//! effectuation is held to is the last `payment_methods.max` Carat announced to this merchant
//! (`store::payment_methods`); a confirmation's, the one its own effectuation's answer carried.
//!
//! ASSUMPTION (`send_payment_methods`): seed 001 says only "the payment methods must be sent on
//! the next transaction". It is read as merchant-wide: once an effectuation answer says `true`,
//! the merchant's next effectuation, whichever recharge it is for, must carry
//! `used_payment_methods` (a 422 before Carat is called), and the request is cleared once an
//! effectuation carrying them goes out. Whether Carat itself refuses a transaction without them
//! is not known.

use carat_domain::payment_methods::check_list;
use carat_domain::{Effectuation, FieldError, UsedPaymentMethod};
use carat_store::payment_methods::Announced;
use carat_store::{self as store, Recharge};
use carat_wire::DoRechargeResponse;

use super::{FlowError, RechargeService};

/// The effectuation body's field, as the storefront names it.
const EFFECTUATION_FIELD: &str = "sale.used_payment_methods";
/// The confirm body's field.
const CONFIRMATION_FIELD: &str = "used_payment_methods";

/// What an effectuation answer announces: `payment_methods.max` (when it is a number) and
/// whether `send_payment_methods` asks for them (the string "true", as documented; a boolean
/// is tolerated by the wire type).
pub(super) fn announced_in(answer: &DoRechargeResponse) -> (Option<u32>, bool) {
    let max = answer
        .payment_methods
        .as_ref()
        .and_then(|p| p.max.as_deref())
        .and_then(|m| m.trim().parse().ok());
    let send = answer
        .send_payment_methods
        .as_deref()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("true"));
    (max, send)
}

/// A confirmation's list against its recharge: at most the max its effectuation's answer
/// announced (none checked if it announced none), amounts summing to the effectuated amount.
pub(super) fn check_confirmation(
    recharge: &Recharge,
    methods: &[UsedPaymentMethod],
) -> Result<(), FieldError> {
    let max = recharge
        .carat_answer()
        .and_then(|a| a.payment_methods_max)
        .and_then(|m| usize::try_from(m).ok());
    let Some(effectuation) = recharge.effectuation() else {
        return Err(FieldError::new(
            CONFIRMATION_FIELD,
            "cannot be checked: this recharge has no effectuation",
        ));
    };
    check_list(
        CONFIRMATION_FIELD,
        methods,
        max,
        effectuation.input.amount(),
    )
}

/// An undo carries no payment methods: nothing was paid.
pub(super) fn only_on_confirmation() -> FlowError {
    FlowError::Invalid(FieldError::new(
        CONFIRMATION_FIELD,
        "goes only with \"confirm\": true (an undo reports no payment)",
    ))
}

impl RechargeService {
    /// What Carat announced to this merchant, from this process's copy while it is good
    /// (`shared_memory`). A stale copy cannot move money: it only holds a request to a count
    /// or asks for the list, a 422 at worst; Carat judges the effectuation itself.
    async fn announced(&self) -> Result<Announced, FlowError> {
        if let Some(Some(announced)) = self.announced.read(|a| *a) {
            return Ok(announced);
        }
        let stamp = self.announced.stamp();
        let announced = store::payment_methods::announced(&self.pool).await?;
        self.announced.learnt(stamp, |a| *a = Some(announced));
        Ok(announced)
    }

    /// The effectuation's list against what Carat announced to this merchant: a 422 before
    /// anything is written or sent.
    pub(super) async fn check_effectuation_methods(
        &self,
        effectuation: &Effectuation,
    ) -> Result<(), FlowError> {
        let announced = self.announced().await?;
        match &effectuation.optional.used_payment_methods {
            None if announced.send_requested => Err(FlowError::Invalid(FieldError::new(
                EFFECTUATION_FIELD,
                "is required: Carat Portal asked for the payment methods on this transaction \
                 (send_payment_methods on an earlier effectuation's answer)",
            ))),
            None => Ok(()),
            // With no max ever announced there is nothing to hold the count to: only the sum
            // is checked.
            Some(methods) => check_list(
                EFFECTUATION_FIELD,
                methods,
                announced.max,
                effectuation.input.amount(),
            )
            .map_err(FlowError::Invalid),
        }
    }

    /// An effectuation carrying the list went out: Carat's request for it is answered. Known
    /// here not to be pending, nothing is written.
    pub(super) async fn effectuation_methods_sent(&self, effectuation: &Effectuation) {
        if effectuation.optional.used_payment_methods.is_none() {
            return;
        }
        if self
            .announced
            .read(|a| a.is_some_and(|a| !a.send_requested))
            == Some(true)
        {
            return;
        }
        let stamp = self.announced.stamp();
        match store::payment_methods::clear_request(&self.pool).await {
            Ok(()) => self.announced.learnt(stamp, |a| {
                if let Some(a) = a {
                    a.send_requested = false;
                }
            }),
            Err(error) => {
                tracing::warn!(error = %error, "could not clear Carat's request for payment methods");
            }
        }
    }

    /// Keeps what an effectuation answer announced; the same announcement again, as this
    /// process knows it, writes nothing. Losing it costs only a check (the max) or a reminder
    /// (the request), so a database error is logged, not raised.
    pub(super) async fn take_payment_methods(&self, answer: &DoRechargeResponse) {
        let (max, send) = announced_in(answer);
        let after = |a: &Announced| Announced {
            max: max.map(|m| m as usize).or(a.max),
            send_requested: a.send_requested || send,
        };
        let unchanged = self.announced.read(|a| a.is_some_and(|a| after(&a) == a));
        if (max.is_none() && !send) || unchanged == Some(true) {
            return;
        }
        let stamp = self.announced.stamp();
        match store::payment_methods::take_answer(&self.pool, max, send).await {
            Ok(()) => self.announced.learnt(stamp, |a| *a = a.map(|a| after(&a))),
            Err(error) => {
                tracing::warn!(error = %error, "could not keep what Carat announced about payment methods");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carat_wire::PaymentMethods;

    #[test]
    fn reads_the_announcements() {
        let answer = |max: Option<&str>, send: Option<&str>| DoRechargeResponse {
            payment_methods: Some(PaymentMethods {
                max: max.map(Into::into),
                available: Vec::new(),
            }),
            send_payment_methods: send.map(Into::into),
            ..DoRechargeResponse::default()
        };
        assert_eq!(
            announced_in(&answer(Some("2"), Some("true"))),
            (Some(2), true)
        );
        assert_eq!(
            announced_in(&answer(Some("x"), Some("false"))),
            (None, false)
        );
        assert_eq!(announced_in(&answer(None, None)), (None, false));
        assert_eq!(announced_in(&DoRechargeResponse::default()), (None, false));
        // A boolean on the wire arrives as its string.
        let wire: DoRechargeResponse =
            serde_json::from_value(serde_json::json!({"send_payment_methods": true})).unwrap();
        assert_eq!(announced_in(&wire), (None, true));
    }
}

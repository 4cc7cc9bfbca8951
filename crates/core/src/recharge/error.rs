//! Why a use case did not succeed, in the storefront's terms.

use crate::carat::{CaratCall, CaratError};
use carat_domain::{CaratStatus, FieldError, RechargeStatus};
use carat_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("no such recharge")]
    NotFound,
    /// A step out of order: says why.
    #[error("{reason}")]
    OutOfOrder {
        status: RechargeStatus,
        reason: String,
    },
    /// The order id is taken: by this recharge (a create retried after its answer was lost
    /// finds it here).
    #[error("order_id is already used by recharge {id}")]
    OrderIdTaken {
        id: uuid::Uuid,
        status: RechargeStatus,
    },
    /// The storefront's input is not what Carat offers for this recharge (a dealer, amount or
    /// answer it did not list): nothing was written or sent.
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{0}")]
    Carat(CaratProblem),
    /// Carat was called, and its answer could not be committed (the database failed): the
    /// recharge is in doubt until the answer is written (retried in the background) or a
    /// query to Carat settles it. Never "try again": the call may have moved money.
    #[error(
        "Carat Portal was called but its answer could not be recorded (the database is \
         unavailable); the outcome is unknown until it is recorded or a query to Carat settles it"
    )]
    OutcomeUnrecorded { status: RechargeStatus },
    /// The service is shutting down and the step was not finished; nothing is lost: the
    /// reconciler settles whatever it left in doubt.
    #[error("the service is shutting down")]
    Interrupted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FlowError {
    pub(crate) fn out_of_order(status: RechargeStatus, reason: impl Into<String>) -> Self {
        Self::OutOfOrder {
            status,
            reason: reason.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaratFailure {
    /// Carat refused the call; nothing happened there.
    Refused,
    /// The authorizer denied the recharge (status NEG and the like).
    Denied,
    /// Carat could not be reached or did not answer a call that changes nothing.
    Unavailable,
    /// A money-moving call's outcome is unknown; the recharge stays in doubt until a query
    /// to Carat resolves it.
    OutcomeUnknown,
}

/// A failed exchange with Carat, with Carat's own code and message when it gave them.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct CaratProblem {
    pub failure: CaratFailure,
    /// Human summary for the storefront.
    pub message: String,
    pub http_status: Option<u16>,
    pub code: Option<String>,
    pub carat_message: Option<String>,
    pub carat_status: Option<String>,
    /// Whether Carat answered at all (504 vs 502 for the storefront).
    pub answered: bool,
    /// The recharge's status after the failure was recorded.
    pub recharge_status: Option<RechargeStatus>,
    /// The recharge the failure is about, where the storefront may not know it yet (a failed
    /// create: its `order_id` stays bound to this recharge).
    pub recharge_id: Option<uuid::Uuid>,
    /// Which call failed, when Carat's own words do not say (it did not answer).
    pub call: Option<CaratCall>,
    /// How long the call was waited for, when it timed out.
    pub timeout_ms: Option<u64>,
}

impl CaratProblem {
    pub fn new(failure: CaratFailure, error: &CaratError) -> Self {
        let refusal = error.refusal();
        Self {
            failure,
            message: error.to_string(),
            http_status: refusal.map(|r| r.http_status),
            code: refusal.and_then(|r| r.code.clone()),
            carat_message: refusal.and_then(|r| r.message.clone()),
            carat_status: refusal.and_then(|r| r.carat_status.clone()),
            answered: refusal.is_some(),
            recharge_status: None,
            recharge_id: None,
            call: error.call(),
            timeout_ms: error.timeout_ms(),
        }
    }

    /// An answer of HTTP 200 that still does not let the step succeed (a denial, a status
    /// the step cannot act on). `code` and `carat_message` are the words that explain it.
    pub fn from_answer(
        failure: CaratFailure,
        message: String,
        code: Option<String>,
        carat_message: Option<String>,
        carat_status: &str,
    ) -> Self {
        Self {
            failure,
            message,
            http_status: Some(200),
            code,
            carat_message,
            carat_status: Some(carat_status.to_owned()),
            answered: true,
            recharge_status: None,
            recharge_id: None,
            call: None,
            timeout_ms: None,
        }
    }

    /// A call that changes nothing at Carat failed, or a money-moving one Carat certainly did
    /// not act on: a readable refusal is Carat saying no; a 5xx, an unreadable body or no
    /// answer at all is Carat being unavailable.
    pub fn not_applied(error: &CaratError) -> Self {
        let failure = match error.refusal() {
            Some(r) if r.is_definite() => CaratFailure::Refused,
            _ => CaratFailure::Unavailable,
        };
        Self::new(failure, error)
    }

    /// The final status a refusal reports for a recharge in `from` (EXP once a NIT's lifetime
    /// has passed, NEG...), if it reports one.
    pub fn ends(&self, from: RechargeStatus) -> Option<RechargeStatus> {
        let reported = CaratStatus::parse(self.carat_status.as_deref()?);
        from.after_carat_reports(&reported).filter(|s| s.is_final())
    }

    /// Carat's words, as the recharge's last error.
    pub fn as_last_error(&self) -> (Option<String>, Option<String>) {
        let message = self
            .carat_message
            .clone()
            .unwrap_or_else(|| self.message.clone());
        (self.code.clone(), Some(message))
    }

    pub fn with_status(mut self, status: RechargeStatus) -> Self {
        self.recharge_status = Some(status);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carat::Refusal;

    fn answered(http_status: u16, unreadable: bool) -> CaratError {
        CaratError::Answered(Refusal {
            http_status,
            code: Some("99".into()),
            message: None,
            carat_status: None,
            unreadable,
        })
    }

    #[test]
    fn only_a_readable_refusal_is_refused_the_rest_is_unavailable() {
        let failure = |e: &CaratError| CaratProblem::not_applied(e).failure;
        assert_eq!(failure(&answered(400, false)), CaratFailure::Refused);
        assert_eq!(failure(&answered(200, false)), CaratFailure::Refused);
        assert_eq!(failure(&answered(500, false)), CaratFailure::Unavailable);
        assert_eq!(failure(&answered(200, true)), CaratFailure::Unavailable);
        let timeout = CaratError::NoAnswer {
            call: CaratCall::Query,
            reason: "timed out".into(),
            timeout_ms: Some(700),
        };
        let problem = CaratProblem::not_applied(&timeout);
        assert_eq!(problem.failure, CaratFailure::Unavailable);
        assert_eq!(
            (problem.call.map(CaratCall::noun), problem.timeout_ms),
            (Some("query"), Some(700))
        );
        assert!(!problem.answered);
    }
}

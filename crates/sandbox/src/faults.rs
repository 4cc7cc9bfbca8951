//! Faults on purpose, so that a merchant's handling of denials, errors and timeouts can be
//! tested: test values carried by the requests themselves, and faults a test injects with
//! [`super::Sandbox::inject`]. The module docs list both.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use axum::http::StatusCode;

use super::errors::CaratError;

/// Effectuation `phone.number`: denied by the authorizer (tx NEG, HTTP 200, esitef "0").
pub const DENIAL_PHONE: &str = "999990001";
/// Effectuation `phone.number`: esitef code 55 with HTTP 200, transaction left NOV.
pub const ESITEF_ERROR_PHONE: &str = "999990002";
/// Effectuation `phone.number`: HTTP 500, transaction left NOV.
pub const INTERNAL_ERROR_PHONE: &str = "999990003";
/// Effectuation `phone.number`: applied (PPC), answered after `slow_answer_delay`.
pub const SLOW_PHONE: &str = "999990004";

/// Effectuated amount (cents) whose `confirm:"true"` answers HTTP 500 (tx stays PPC).
pub const CONFIRMATION_ERROR_AMOUNT: u64 = 1313;
/// Effectuated amount (cents) whose `confirm:"true"` is applied (CON), then answered after
/// `slow_answer_delay`.
pub const SLOW_CONFIRMATION_AMOUNT: u64 = 1414;
/// An approved effectuation of this amount is answered `send_payment_methods: "true"`.
pub const SEND_PAYMENT_METHODS_AMOUNT: u64 = 1515;

/// Create `order_id` prefix: HTTP 500 before any authenticity POST, no transaction.
pub const CREATE_INTERNAL_ERROR_PREFIX: &str = "SBX500";
/// Create `order_id` prefix: esitef code 56 with HTTP 200, no transaction.
pub const CREATE_ESITEF_ERROR_PREFIX: &str = "SBXERR";

/// The fault an effectuation asked for through its phone number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EffectuationFault {
    Denial,
    EsitefError,
    InternalError,
    Slow,
}

/// The fault a confirmation meets because of the amount that was effectuated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConfirmationFault {
    InternalError,
    Slow,
}

pub(crate) fn on_create(order_id: Option<&str>) -> Result<(), CaratError> {
    let order_id = order_id.unwrap_or_default();
    if order_id.starts_with(CREATE_INTERNAL_ERROR_PREFIX) {
        return Err(internal_error());
    }
    if order_id.starts_with(CREATE_ESITEF_ERROR_PREFIX) {
        return Err(esitef_error("56"));
    }
    Ok(())
}

pub(crate) fn on_effectuation(phone_number: Option<&str>) -> Option<EffectuationFault> {
    match phone_number? {
        DENIAL_PHONE => Some(EffectuationFault::Denial),
        ESITEF_ERROR_PHONE => Some(EffectuationFault::EsitefError),
        INTERNAL_ERROR_PHONE => Some(EffectuationFault::InternalError),
        SLOW_PHONE => Some(EffectuationFault::Slow),
        _ => None,
    }
}

pub(crate) fn on_confirmation(effectuated_cents: u64) -> Option<ConfirmationFault> {
    match effectuated_cents {
        CONFIRMATION_ERROR_AMOUNT => Some(ConfirmationFault::InternalError),
        SLOW_CONFIRMATION_AMOUNT => Some(ConfirmationFault::Slow),
        _ => None,
    }
}

/// An outbound call of the merchant's, as [`super::Sandbox::inject`] names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /recharge`.
    Create,
    /// `GET /rechargedealers`.
    ListDealers,
    /// `GET /rechargebranches`.
    ListBranches,
    /// `PUT /recharge/{nit}` with `do_recharge_request`.
    Effectuate,
    /// `PUT /recharge/{nit}` with `confirm_recharge_request`, `confirm` "true".
    Confirm,
    /// `PUT /recharge/{nit}` with `confirm_recharge_request`, `confirm` "false".
    Undo,
    /// `GET /recharge/{nit}`.
    Query,
    /// `POST /e-sitef/api/v1/cards` (card storage): `Error500` stores nothing,
    /// `AppliedThen500` stores and notifies then answers 500, `Slow` stores and answers late,
    /// its HASH notification after the answer.
    StoreCard,
}

/// What an injected fault does to a request that would otherwise succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing is applied; HTTP 500, esitef code 99.
    Error500,
    /// The operation takes effect, then HTTP 500, esitef code 99. For the read-only
    /// operations (listings, query) the same as [`Fault::Error500`].
    AppliedThen500,
    /// The operation takes effect and is answered as usual, after `slow_answer_delay`.
    Slow,
}

/// The injected faults not yet spent: a FIFO queue per operation, each entry a fault and how
/// many more requests it hits. Its lock is taken inside the ledger's (never the other way
/// round) and never across an await.
#[derive(Debug, Default)]
pub(crate) struct Injector {
    queues: Mutex<HashMap<Operation, VecDeque<(Fault, u32)>>>,
}

impl Injector {
    /// Queues `fault` for the next `times` requests of `operation`, after those already queued.
    pub fn push(&self, operation: Operation, fault: Fault, times: u32) {
        if times == 0 {
            return;
        }
        let mut queues = self.lock();
        let queue = queues.entry(operation).or_default();
        match queue.back_mut() {
            Some((last, left)) if *last == fault => *left = left.saturating_add(times),
            _ => queue.push_back((fault, times)),
        }
    }

    /// Spends the next fault queued for `operation`. Called only for a request that would
    /// otherwise succeed, at the point where it would take effect.
    pub fn take(&self, operation: Operation) -> Option<Fault> {
        let mut queues = self.lock();
        let queue = queues.get_mut(&operation)?;
        let (fault, left) = queue.front_mut()?;
        let fault = *fault;
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
        Some(fault)
    }

    /// Puts back, first in line, a fault taken for a request that failed after all (a create
    /// whose authenticity POST was refused).
    pub fn give_back(&self, operation: Operation, fault: Fault) {
        let mut queues = self.lock();
        let queue = queues.entry(operation).or_default();
        match queue.front_mut() {
            Some((first, left)) if *first == fault => *left = left.saturating_add(1),
            _ => queue.push_front((fault, 1)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Operation, VecDeque<(Fault, u32)>>> {
        // Every update is complete when the lock is released: a poisoned lock is still sound.
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A refusal by Carat itself, answered with HTTP 200.
pub(crate) fn esitef_error(code: &'static str) -> CaratError {
    CaratError::new(
        StatusCode::OK,
        code,
        "Sandbox: esitef error requested by test value",
    )
}

pub(crate) fn internal_error() -> CaratError {
    CaratError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "99",
        "Sandbox: internal error requested by test value",
    )
}

/// The HTTP 500 of an injected fault: the test value's, with a message that says who asked.
pub(crate) fn injected_error() -> CaratError {
    CaratError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "99",
        "Sandbox: internal error injected by the test",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_faults_go_by_order_id_prefix() {
        assert_eq!(on_create(Some("SBX500-ish")).unwrap_err().http, 500);
        assert_eq!(on_create(Some("SBXERR1")).unwrap_err().code, "56");
        assert!(on_create(Some("X-SBX500")).is_ok());
        assert!(on_create(None).is_ok());
    }

    #[test]
    fn ordinary_values_trigger_nothing() {
        assert_eq!(on_effectuation(Some("987654321")), None);
        assert_eq!(on_effectuation(None), None);
        assert_eq!(on_confirmation(3000), None);
        assert_eq!(
            on_effectuation(Some(SLOW_PHONE)),
            Some(EffectuationFault::Slow)
        );
    }

    #[test]
    fn injected_faults_are_spent_in_order_per_operation() {
        let injector = Injector::default();
        injector.push(Operation::Query, Fault::Error500, 2);
        injector.push(Operation::Query, Fault::Slow, 1);
        injector.push(Operation::Query, Fault::Error500, 1);
        injector.push(Operation::Confirm, Fault::AppliedThen500, 1);
        injector.push(Operation::Undo, Fault::Slow, 0);

        let drawn: Vec<_> = (0..5).map(|_| injector.take(Operation::Query)).collect();
        assert_eq!(
            drawn,
            [
                Some(Fault::Error500),
                Some(Fault::Error500),
                Some(Fault::Slow),
                Some(Fault::Error500),
                None
            ]
        );
        assert_eq!(
            injector.take(Operation::Undo),
            None,
            "zero times queues nothing"
        );
        assert_eq!(injector.take(Operation::Effectuate), None);
        assert_eq!(
            injector.take(Operation::Confirm),
            Some(Fault::AppliedThen500)
        );
        assert_eq!(injector.take(Operation::Confirm), None);
    }

    #[test]
    fn a_fault_given_back_comes_first() {
        let injector = Injector::default();
        injector.push(Operation::Create, Fault::Slow, 1);
        injector.push(Operation::Create, Fault::Error500, 1);
        let taken = injector.take(Operation::Create).unwrap();
        injector.give_back(Operation::Create, taken);
        assert_eq!(injector.take(Operation::Create), Some(Fault::Slow));
        assert_eq!(injector.take(Operation::Create), Some(Fault::Error500));
        injector.give_back(Operation::Create, Fault::AppliedThen500);
        assert_eq!(
            injector.take(Operation::Create),
            Some(Fault::AppliedThen500)
        );
        assert_eq!(injector.take(Operation::Create), None);
    }
}

//! Test values that make the sandbox misbehave on purpose, so that a merchant's handling of
//! denials, errors and timeouts can be tested. The table in the module docs lists them.

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
}

//! Carat-style error answers: the operation's own response envelope carrying
//! `esitef{code,message}` and, when a transaction is known, its `status`.
//! The codes and HTTP statuses are the sandbox's convention (see the module docs' table).

use std::borrow::Cow;
use std::time::Duration;

use axum::http::StatusCode;

use carat_domain::{CaratStatus, FieldError};
use carat_wire::{
    BeginRechargeResponse, ConfirmRechargeResponse, DoRechargeResponse, Envelope, Esitef,
    GetStatusRechargeResponse, ListBranchDataResponse, ListDealersResponse, Verdict,
};

/// A failed operation, ready to be written into any response envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CaratError {
    pub http: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub status: Option<CaratStatus>,
}

impl CaratError {
    pub fn new(http: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            http,
            code,
            message: message.into(),
            status: None,
        }
    }

    /// Code 1: the documented "null NIT field".
    pub fn nit_missing() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "1", "nit: mandatory field missing")
    }

    /// Code 2: a value breaks its documented format, or the body is not a JSON request.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "2", message)
    }

    /// Code 3 (code 1 for `nit`, which has its own code on Carat).
    pub fn missing(field: impl Into<Cow<'static, str>>) -> Self {
        let field = field.into();
        if field == "nit" {
            return Self::nit_missing();
        }
        Self::new(
            StatusCode::BAD_REQUEST,
            "3",
            format!("{field}: mandatory field missing"),
        )
    }

    /// Code 3 for a conditionally mandatory field, saying which condition applies.
    pub fn missing_because(field: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "3",
            format!("{field}: mandatory field missing ({why})"),
        )
    }

    /// Code 4. Never echoes the key that was sent.
    pub fn merchant_key(field: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "4",
            format!("{field}: merchant key not accepted"),
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "5", "nit: transaction not found")
    }

    /// Code 6: `operation` cannot run on this transaction; `why` names its status or type.
    pub fn not_allowed(operation: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "6",
            format!("{operation} is not allowed: {why}"),
        )
    }

    pub fn expired(lifetime: Duration) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "7",
            format!(
                "transaction expired: its NIT was not effectuated within {} ms",
                lifetime.as_millis()
            ),
        )
        .with_status(CaratStatus::Exp)
    }

    /// Code 8: a well-formed value that the catalogue does not offer.
    pub fn not_offered(field: &str, why: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "8", format!("{field}: {why}"))
    }

    /// Code 20: no bill has this bar code (`invoice`).
    pub fn no_bill(field: &str, bar_code: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "20",
            format!("{field}: no bill has bar code {bar_code}"),
        )
    }

    /// Code 21: the bill's due date has passed; it can no longer be paid (`invoice`).
    pub fn bill_expired(field: &str, expiry_date: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "21",
            format!("{field}: the bill expired on {expiry_date} and can no longer be paid"),
        )
    }

    /// Code 22: `used_payment_methods`' amounts do not sum to the transaction's amount
    /// (sandbox convention: seed 001 leaves the consistency to the store).
    pub fn payment_methods_sum(sum: u64, amount_cents: u64) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "22",
            format!(
                "used_payment_methods: the amounts sum to {sum} cents, not to the \
                 transaction's {amount_cents}"
            ),
        )
    }

    /// Code 115 on create: the merchant did not accept the authenticity POST.
    pub fn authenticity(why: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::OK, "115", format!("Authenticity error: {why}"))
    }

    pub fn with_status(mut self, status: CaratStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Adds the transaction's status unless the error already carries one (EXP, INV).
    pub fn or_status(self, status: &CaratStatus) -> Self {
        match self.status {
            Some(_) => self,
            None => self.with_status(status.clone()),
        }
    }

    /// The error as the body of `R`, the envelope of the operation that failed.
    pub fn into_reply<R: Reply>(self) -> R {
        R::failure(
            Esitef {
                code: self.code.to_owned(),
                message: Some(self.message),
                usn: None,
            },
            self.status.map(|s| s.as_str().to_owned()),
        )
    }
}

impl From<FieldError> for CaratError {
    fn from(error: FieldError) -> Self {
        Self::malformed(error.to_string())
    }
}

/// A response envelope that can also carry an error.
pub(crate) trait Reply: Envelope + Verdict + Default {
    fn failure(esitef: Esitef, status: Option<String>) -> Self;
}

macro_rules! reply {
    ($($t:ty),+) => {$(
        impl Reply for $t {
            fn failure(esitef: Esitef, status: Option<String>) -> Self {
                Self {
                    esitef: Some(esitef),
                    status,
                    ..Self::default()
                }
            }
        }
    )+};
}

reply!(
    BeginRechargeResponse,
    ListDealersResponse,
    ListBranchDataResponse,
    DoRechargeResponse,
    ConfirmRechargeResponse,
    GetStatusRechargeResponse
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_nit_has_its_own_code() {
        assert_eq!(CaratError::missing("nit").code, "1");
        assert_eq!(CaratError::missing("phone").code, "3");
    }

    #[test]
    fn the_status_already_carried_wins() {
        let e = CaratError::expired(Duration::from_secs(1)).or_status(&CaratStatus::Nov);
        assert_eq!(e.status, Some(CaratStatus::Exp));
        let e = CaratError::not_found().or_status(&CaratStatus::Ppc);
        assert_eq!(e.status, Some(CaratStatus::Ppc));
    }

    #[test]
    fn renders_into_the_operation_envelope() {
        let reply: DoRechargeResponse = CaratError::malformed("phone.ddd: bad")
            .with_status(CaratStatus::Nov)
            .into_reply();
        assert_eq!(
            reply.wrap(),
            serde_json::json!({"do_recharge_response":{
                "status":"NOV","esitef":{"code":"2","message":"phone.ddd: bad"}}})
        );
    }
}

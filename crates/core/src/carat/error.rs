//! What can go wrong calling Carat Portal, sorted by what it means for the recharge: did Carat
//! act on the call or not?

use std::fmt;

use carat_wire::Esitef;

use super::CaratCall;

#[derive(Debug, thiserror::Error)]
pub enum CaratError {
    /// The request never left: connecting failed. Carat cannot have acted on it.
    #[error("could not reach Carat Portal for the {}: {reason}", call.noun())]
    NotSent { call: CaratCall, reason: String },
    /// Sent, but no answer came in time (or the connection broke mid-way). Carat may or may
    /// not have acted on it.
    #[error("{}", no_answer_message(call.noun(), reason, *timeout_ms))]
    NoAnswer {
        call: CaratCall,
        reason: String,
        /// Set when the client's timeout ran out: how long it waited.
        timeout_ms: Option<u64>,
    },
    /// Carat answered: with a non-200 status, an `esitef.code` other than "0", or a body we
    /// could not read.
    #[error("{0}")]
    Answered(Refusal),
}

/// Carat's answer to a call that did not succeed, with Carat's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub http_status: u16,
    /// `esitef.code`, when the body had one.
    pub code: Option<String>,
    pub message: Option<String>,
    /// The transaction status the body carried, if any.
    pub carat_status: Option<String>,
    /// The body was not the expected envelope (e.g. an HTML error page).
    pub unreadable: bool,
}

impl Refusal {
    pub(crate) fn from_esitef(
        http_status: u16,
        esitef: Option<&Esitef>,
        status: Option<&str>,
    ) -> Self {
        Self {
            http_status,
            code: esitef.map(|e| e.code.clone()),
            message: esitef.and_then(|e| e.message.clone()),
            carat_status: status.map(str::to_owned),
            unreadable: false,
        }
    }

    /// Whether Carat certainly did not act on the call. A 5xx or an unreadable answer may come
    /// after Carat applied the change, so only a readable 2xx/4xx refusal is definite.
    pub fn is_definite(&self) -> bool {
        !self.unreadable && self.http_status < 500
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Carat Portal answered HTTP {}", self.http_status)?;
        if let Some(code) = &self.code {
            write!(f, ", esitef code {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if self.unreadable {
            f.write_str(" (unreadable body)")?;
        }
        Ok(())
    }
}

/// Says which call went unanswered, and after how long when it timed out: "error sending
/// request" alone does not tell an operator which call to look for.
fn no_answer_message(call: &str, reason: &str, timeout_ms: Option<u64>) -> String {
    match timeout_ms {
        Some(ms) => format!("Carat Portal did not answer the {call} within {ms} ms"),
        None => format!("no answer from Carat Portal to the {call}: {reason}"),
    }
}

impl CaratError {
    /// The call this error is about, when the client knows it (`effectuate`, `query`...).
    pub fn call(&self) -> Option<CaratCall> {
        match self {
            Self::NotSent { call, .. } | Self::NoAnswer { call, .. } => Some(*call),
            Self::Answered(_) => None,
        }
    }

    /// How long the client waited before giving up, when its timeout ran out.
    pub fn timeout_ms(&self) -> Option<u64> {
        match self {
            Self::NoAnswer { timeout_ms, .. } => *timeout_ms,
            _ => None,
        }
    }

    /// Whether Carat certainly did not act on the call, so it may be sent again.
    pub fn certainly_not_applied(&self) -> bool {
        match self {
            Self::NotSent { .. } => true,
            Self::NoAnswer { .. } => false,
            Self::Answered(r) => r.is_definite(),
        }
    }

    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Self::Answered(r) => Some(r),
            _ => None,
        }
    }
}

#[cfg(test)]
impl CaratError {
    /// A readable HTTP 400 refusal (esitef code 6) stating Carat's `status`, if any: how the
    /// recharge tests meet a definite refusal.
    pub(crate) fn refused_for_tests(status: Option<&str>) -> Self {
        Self::Answered(Refusal {
            http_status: 400,
            code: Some("6".into()),
            message: None,
            carat_status: status.map(str::to_owned),
            unreadable: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(http_status: u16, unreadable: bool) -> CaratError {
        CaratError::Answered(Refusal {
            http_status,
            code: Some("55".into()),
            message: Some("boom".into()),
            carat_status: None,
            unreadable,
        })
    }

    #[test]
    fn only_readable_non_5xx_refusals_and_connect_failures_are_definite() {
        assert!(refusal(200, false).certainly_not_applied());
        assert!(refusal(400, false).certainly_not_applied());
        assert!(!refusal(500, false).certainly_not_applied());
        assert!(!refusal(200, true).certainly_not_applied());
        assert!(!no_answer(None).certainly_not_applied());
        assert!(
            CaratError::NotSent {
                call: CaratCall::Query,
                reason: "refused".into()
            }
            .certainly_not_applied()
        );
    }

    fn no_answer(timeout_ms: Option<u64>) -> CaratError {
        CaratError::NoAnswer {
            call: CaratCall::Effectuate,
            reason: "error sending request".into(),
            timeout_ms,
        }
    }

    #[test]
    fn a_timeout_names_the_call_and_how_long_it_waited() {
        assert_eq!(
            no_answer(Some(30_000)).to_string(),
            "Carat Portal did not answer the effectuation within 30000 ms"
        );
        assert_eq!(
            no_answer(None).to_string(),
            "no answer from Carat Portal to the effectuation: error sending request"
        );
        assert_eq!(
            no_answer(Some(5)).call().map(CaratCall::noun),
            Some("effectuation")
        );
        assert_eq!(no_answer(Some(5)).timeout_ms(), Some(5));
    }

    #[test]
    fn display_carries_carats_words() {
        assert_eq!(
            refusal(500, false).to_string(),
            "Carat Portal answered HTTP 500, esitef code 55: boom"
        );
    }
}

//! The access line of every request, at a level by who is at fault, and the failures it did
//! not already tell.

use std::time::Duration;

use axum::http::{Response, StatusCode};
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::trace::{OnFailure, OnResponse};
use tracing::{Level, Span};

/// The target these lines are logged under: the module's before it was split, which log
/// filters and collectors may name.
const TARGET: &str = "carat_merchant::telemetry";

/// A 5xx answer that is the service working as meant (a request shed under load): its access
/// line is a warning, not an error. Set as a response extension.
#[derive(Clone, Copy, Debug)]
pub struct NotAFault;

/// The access line of every request: `status` and `latency_ms` (a number, to the microsecond),
/// at a level by who is at fault. A 5xx of ours (a bug, the database) is an ERROR. A 502 or 504
/// is Carat's answer or silence, a shed request the limit doing its work: WARN, and for Carat
/// the client's own line says what happened, at ERROR when Carat failed and at WARN, with its
/// code, when it stated a refusal. Anything else is INFO.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessLog;

impl<B> OnResponse<B> for AccessLog {
    fn on_response(self, response: &Response<B>, latency: Duration, _: &Span) {
        let status = response.status().as_u16();
        let latency_ms = millis(latency);
        let not_a_fault = response.extensions().get::<NotAFault>().is_some();
        let message = "finished processing request";
        match access_level(response.status(), not_a_fault) {
            Level::ERROR => tracing::error!(target: TARGET, status, latency_ms, "{message}"),
            Level::WARN => tracing::warn!(target: TARGET, status, latency_ms, "{message}"),
            _ => tracing::info!(target: TARGET, status, latency_ms, "{message}"),
        }
    }
}

fn access_level(status: StatusCode, not_a_fault: bool) -> Level {
    let carats = matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT
    );
    match status {
        s if s.is_server_error() && !carats && !not_a_fault => Level::ERROR,
        s if s.is_server_error() => Level::WARN,
        _ => Level::INFO,
    }
}

/// A failure the access line did not already tell: an error while the body streamed. A 5xx
/// status is the access line's (at its level); tower-http's default would log it again, at
/// ERROR whatever it was.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailureLog;

impl OnFailure<ServerErrorsFailureClass> for FailureLog {
    fn on_failure(&mut self, class: ServerErrorsFailureClass, latency: Duration, _: &Span) {
        if let ServerErrorsFailureClass::Error(error) = class {
            tracing::error!(target: TARGET, %error, latency_ms = millis(latency), "response failed");
        }
    }
}

fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_line_is_an_error_only_for_our_own_faults() {
        let level =
            |s: u16, not_a_fault| access_level(StatusCode::from_u16(s).unwrap(), not_a_fault);
        assert_eq!(level(200, false), Level::INFO);
        assert_eq!(level(422, false), Level::INFO);
        assert_eq!(level(500, false), Level::ERROR);
        assert_eq!(level(503, false), Level::ERROR, "the database is down");
        assert_eq!(level(503, true), Level::WARN, "a request shed under load");
        assert_eq!(level(502, false), Level::WARN, "Carat refused or failed");
        assert_eq!(level(504, false), Level::WARN, "Carat did not answer");
    }
}

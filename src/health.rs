//! The probes: `/health/live` (the process serves; nothing else is asked) and `/health/ready`
//! (it can do its work: the database answers, every migration this binary embeds is applied,
//! and the reconciler, when it runs here, completes passes). `/health` is kept as an alias of
//! ready. Answers name each check and its state, never a URL, a host or an error's text.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

use carat_core::recharge::Heartbeat;
use carat_store::MIGRATOR;

#[derive(Clone, Debug)]
pub struct HealthState {
    pub pool: PgPool,
    /// The reconciler's, and how old its last pass may be; `None` when it does not run here.
    pub reconciler: Option<(Heartbeat, Duration)>,
}

pub fn router(state: HealthState) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health", get(ready))
        .with_state(state)
}

async fn live() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Check {
    Ok,
    /// Not run here (the reconciler with `RECONCILE_ENABLED=false`).
    Disabled,
    /// The database did not answer.
    Unreachable,
    /// Could not be told (the database is away).
    Unknown,
    /// Migrations this binary embeds that are not applied (or whose run failed).
    Pending {
        versions: Vec<i64>,
    },
    /// The reconciler has not completed a pass yet (it just started) or not for too long.
    Stale {
        last_pass_ms_ago: Option<u64>,
    },
}

impl Check {
    fn is_ready(&self) -> bool {
        matches!(self, Check::Ok | Check::Disabled)
    }
}

/// Which embedded migrations are not applied successfully, given `_sqlx_migrations`'
/// `(version, success)` rows. Rows of versions the binary does not know (a newer instance
/// migrated first) are not its business.
pub fn migrations_check(embedded: &[i64], applied: &[(i64, bool)]) -> Check {
    let pending: Vec<i64> = embedded
        .iter()
        .copied()
        .filter(|v| !applied.contains(&(*v, true)))
        .collect();
    if pending.is_empty() {
        Check::Ok
    } else {
        Check::Pending { versions: pending }
    }
}

/// The reconciler is alive when its last completed pass is at most `max_age` old.
pub fn reconciler_check(age: Option<Duration>, max_age: Duration) -> Check {
    match age {
        Some(age) if age <= max_age => Check::Ok,
        age => Check::Stale {
            last_pass_ms_ago: age.map(|a| a.as_millis() as u64),
        },
    }
}

async fn ready(State(state): State<HealthState>) -> impl IntoResponse {
    let embedded: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    let applied = carat_store::db::applied_migrations(&state.pool).await;
    let (database, migrations) = match applied {
        Ok(applied) => (Check::Ok, migrations_check(&embedded, &applied)),
        Err(e) => {
            tracing::error!(error = %e, "health: the database did not answer");
            (Check::Unreachable, Check::Unknown)
        }
    };
    let reconciler = match &state.reconciler {
        None => Check::Disabled,
        Some((heartbeat, max_age)) => reconciler_check(heartbeat.age(), *max_age),
    };
    let ready = database.is_ready() && migrations.is_ready() && reconciler.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "checks": {"database": database, "migrations": migrations, "reconciler": reconciler},
    });
    (status, Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_migration_must_have_succeeded() {
        assert_eq!(
            migrations_check(&[1, 2], &[(1, true), (2, true)]),
            Check::Ok
        );
        assert_eq!(
            migrations_check(&[1, 2], &[(1, true), (2, true), (3, true)]),
            Check::Ok,
            "a newer instance's migration is not this one's concern"
        );
        assert_eq!(
            migrations_check(&[1, 2], &[(1, true)]),
            Check::Pending { versions: vec![2] }
        );
        assert_eq!(
            migrations_check(&[1, 2], &[(1, true), (2, false)]),
            Check::Pending { versions: vec![2] }
        );
    }

    #[test]
    fn the_reconciler_must_have_passed_recently() {
        let max = Duration::from_secs(10);
        assert_eq!(
            reconciler_check(Some(Duration::from_secs(3)), max),
            Check::Ok
        );
        assert_eq!(
            reconciler_check(Some(Duration::from_secs(11)), max),
            Check::Stale {
                last_pass_ms_ago: Some(11_000)
            }
        );
        assert_eq!(
            reconciler_check(None, max),
            Check::Stale {
                last_pass_ms_ago: None
            }
        );
    }

    #[test]
    fn checks_serialize_with_their_state() {
        assert_eq!(
            serde_json::to_value(Check::Ok).unwrap(),
            json!({"state": "ok"})
        );
        assert_eq!(
            serde_json::to_value(Check::Pending { versions: vec![7] }).unwrap(),
            json!({"state": "pending", "versions": [7]})
        );
    }
}

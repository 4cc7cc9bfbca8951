//! The probes: `/health/live`, `/health/ready` (and `/health`, its alias) against the real
//! service and its database.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Options, TestApp, read, spawn_app, spawn_app_with};

async fn probe(app: &TestApp, path: &str) -> (StatusCode, Value) {
    read(app.client.get(app.url(path)).send().await.unwrap()).await
}

/// Probes `/health/ready` until `done` holds of its answer, for at most `within`.
async fn ready_until(
    app: &TestApp,
    within: Duration,
    done: impl Fn(StatusCode, &Value) -> bool,
) -> (StatusCode, Value) {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = probe(app, "/health/ready").await;
        if done(status, &body) {
            return (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "still {status} {body} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn live_and_ready_answer_without_a_token_and_health_is_ready() {
    let app = spawn_app().await;
    let (status, body) = probe(&app, "/health/live").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );

    let (status, ready) = probe(&app, "/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["checks"]["database"]["state"], "ok");
    assert_eq!(ready["checks"]["migrations"]["state"], "ok");
    assert_eq!(
        ready["checks"]["reconciler"]["state"], "disabled",
        "{ready}"
    );

    let (status, alias) = probe(&app, "/health").await;
    assert_eq!((status, &alias), (StatusCode::OK, &ready));
    // Nothing about where the database is.
    let text = ready.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("postgres"),
        "{text}"
    );
}

#[tokio::test]
async fn ready_is_503_naming_the_migration_not_applied() {
    let app = spawn_app().await;
    let latest: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // As if the binary were newer than the schema: its last migration is not there.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(latest)
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, body) = probe(&app, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"]["state"], "ok");
    assert_eq!(body["checks"]["migrations"]["state"], "pending", "{body}");
    assert_eq!(
        body["checks"]["migrations"]["versions"],
        serde_json::json!([latest])
    );
    let (status, _) = probe(&app, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // The process still serves.
    let (status, _) = probe(&app, "/health/live").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn ready_is_503_when_a_migration_failed() {
    let app = spawn_app().await;
    sqlx::query(
        "UPDATE _sqlx_migrations SET success = false \
          WHERE version = (SELECT min(version) FROM _sqlx_migrations)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let (status, body) = probe(&app, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["migrations"]["state"], "pending", "{body}");
}

/// The reconciler is held up (a test holds an exclusive lock on `recharges`, which its claim
/// waits for): once its last beat is older than its allowance, ready is 503 naming it;
/// released, it passes again and ready is 200.
#[tokio::test]
async fn ready_follows_the_reconcilers_heartbeat() {
    let app = spawn_app_with(Options {
        reconcile: true,
        reconcile_interval: Duration::from_millis(50),
        carat_timeout: Duration::from_millis(500),
        call_grace: Duration::from_millis(100),
        ..Options::default()
    })
    .await;
    // Allowance: 5 call windows + 3 intervals = 3.15 s.
    let (_, body) = ready_until(&app, Duration::from_secs(10), |s, _| s == StatusCode::OK).await;
    assert_eq!(body["checks"]["reconciler"]["state"], "ok", "{body}");

    let mut lock = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE recharges IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let (_, body) = ready_until(&app, Duration::from_secs(10), |s, _| {
        s == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    assert_eq!(body["checks"]["reconciler"]["state"], "stale", "{body}");
    assert!(
        body["checks"]["reconciler"]["last_pass_ms_ago"]
            .as_u64()
            .unwrap()
            > 1350,
        "{body}"
    );
    assert_eq!(body["checks"]["database"]["state"], "ok", "{body}");

    lock.rollback().await.unwrap();
    ready_until(&app, Duration::from_secs(10), |s, _| s == StatusCode::OK).await;
}

/// `carat-merchant health`, the image's HEALTHCHECK, as a process with only `LISTEN_ADDR`.
async fn health_command(listen_addr: &str, args: &'static str) -> Option<i32> {
    let env = [("LISTEN_ADDR", listen_addr.to_owned())]
        .into_iter()
        .collect();
    crate::process::run(args, env).await.status.code()
}

#[tokio::test]
async fn the_health_command_exits_0_on_ready_and_1_when_nothing_answers() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap();
    // A wildcard address, as in the image, is probed on loopback.
    assert_eq!(
        health_command(&format!("0.0.0.0:{port}"), "health").await,
        Some(0)
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(health_command(&closed.to_string(), "health").await, Some(1));
}

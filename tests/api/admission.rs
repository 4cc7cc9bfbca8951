//! Admission control (`API_MAX_CONCURRENCY`): past capacity a storefront request is refused at
//! once, with 503 `overloaded` and `Retry-After`, while Carat's callbacks and health go on.
//!
//! The requests in flight are held deterministically: a test transaction locks the `cards`
//! table, so two card reads wait on it inside the service (seen in `pg_stat_activity`) for as
//! long as the test wants. The authenticity POST never touches `cards`.

use std::path::Path;
use std::time::{Duration, Instant};

use carat_merchant::config::Settings;
use reqwest::StatusCode;

use crate::helpers::{Options, TOKEN, TestApp, get_from, spawn_app_with};

/// The seed's authenticity POST (002), for a create of order 123456789, USN 987654321.
const SEED_BODY: &str = "merchantUSN=987654321&merchantId=LOJAFATURAT&orderId=123456789&nit=e009886843920c5173104557c9f6cd66b1481557fb3f4d88daca072eb8a50c97&generalHash=85E791AD85E791AD";

/// Waits until `count` queries of the app's database wait on a lock.
async fn until_waiting_on_a_lock(app: &TestApp, count: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if waiting >= count {
            return;
        }
        assert!(Instant::now() < deadline, "{waiting} waiting, not {count}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn past_capacity_the_storefront_is_refused_at_once_and_callbacks_go_on() {
    let app = spawn_app_with(Options {
        merchant_id: "LOJAFATURAT",
        ..Options::default()
    })
    .await;
    // The same database and sandbox, admitting two storefront requests at a time.
    let limited = app
        .spawn_instance_with(&[("API_MAX_CONCURRENCY", "2")])
        .await;
    app.pending_create("123456789", 987654321).await;

    let mut lock = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE cards IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let held: Vec<_> = (0..2)
        .map(|_| {
            let url = format!("{limited}/api/v1/cards/{}", uuid::Uuid::new_v4());
            let client = app.client.clone();
            tokio::spawn(async move { get_from(&client, url).await })
        })
        .collect();
    until_waiting_on_a_lock(&app, 2).await;

    // A third storefront request: refused without waiting (queued, it would wait for the lock).
    let started = Instant::now();
    let response = app
        .client
        .get(format!("{limited}/api/v1/recharges"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    assert!(
        elapsed < Duration::from_secs(1),
        "refused after {elapsed:?}"
    );

    // Carat's authenticity POST and the health checks are not behind the limit.
    let callback = app
        .client
        .post(format!("{limited}/callbacks/authenticity"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(SEED_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), StatusCode::OK);
    assert_eq!(callback.text().await.unwrap(), "OK");
    let live = app
        .client
        .get(format!("{limited}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);

    // The two admitted are served once the lock goes (no such card), and capacity comes back.
    lock.rollback().await.unwrap();
    for request in held {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let (status, body) = get_from(&app.client, format!("{limited}/api/v1/recharges")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[test]
fn capacity_defaults_to_four_requests_per_pool_connection_and_must_be_positive() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let load = |env: &[(&str, &str)]| {
        Settings::load_from(&dir, |name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    let settings = load(&[("DATABASE_MAX_CONNECTIONS", "7")]).unwrap();
    assert_eq!(settings.api_max_concurrency, 28);
    let settings = load(&[("API_MAX_CONCURRENCY", "3")]).unwrap();
    assert_eq!(settings.api_max_concurrency, 3);
    for bad in ["0", "-1", "many"] {
        let error = load(&[("API_MAX_CONCURRENCY", bad)]).unwrap_err();
        assert!(error.to_string().contains("API_MAX_CONCURRENCY"), "{error}");
    }
}

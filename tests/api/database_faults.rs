//! Database faults under the running service (issue 17): a server that refuses connections is
//! answered 503 at once, not after `DATABASE_ACQUIRE_TIMEOUT_MS`; a database turned read-only
//! is an outage too; both end without a restart. A pool whose connections are all busy is not
//! an outage: it waits as before.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::cluster::Cluster;
use crate::helpers::{Options, TOKEN, TestApp, spawn_app_with};
use crate::outage::{
    Pending, pending_creates, poll, stored_nit, the_nit_commits_once_the_database_is_back,
};

/// Issue 17's bound on a 503 while the database refuses connections.
const AT_ONCE: Duration = Duration::from_millis(100);

/// Long, so that an answer within [`AT_ONCE`] cannot be the pool giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// One call, timed from the client: what it was, its status and body, how long it took.
struct Answer {
    call: &'static str,
    status: StatusCode,
    body: String,
    retry_after: Option<String>,
    took: Duration,
    at: Instant,
}

async fn timed(call: &'static str, request: reqwest::RequestBuilder) -> Answer {
    let sent = Instant::now();
    let response = request.send().await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    Answer {
        call,
        status,
        body,
        retry_after,
        took: sent.elapsed(),
        at: sent,
    }
}

/// A status notification of `recharge` (`POST /callbacks/status`).
fn status_notification(recharge: &Value) -> String {
    serde_urlencoded::to_string([
        ("nit", recharge["nit"].as_str().unwrap()),
        ("pedido", recharge["order_id"].as_str().unwrap()),
        ("nsu", recharge["merchant_usn"].as_str().unwrap()),
        ("status", "CON"),
        ("nsuSitef", "000123"),
        ("autorizadora", "1"),
        ("tipoPagamento", "C"),
    ])
    .unwrap()
}

fn form(app: &TestApp, path: &str, body: String) -> reqwest::RequestBuilder {
    app.client
        .post(app.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
}

/// Two callbacks (Carat's authenticity POST through the lane, a status notification through
/// the pool) and two storefront calls (a read, a create), one after the other.
async fn four_calls(app: &TestApp, pending: &Pending, recharge: &Value) -> Vec<Answer> {
    let id = recharge["id"].as_str().unwrap();
    vec![
        timed(
            "authenticity POST",
            form(app, "/callbacks/authenticity", pending.post()),
        )
        .await,
        timed(
            "status notification",
            form(app, "/callbacks/status", status_notification(recharge)),
        )
        .await,
        timed(
            "GET recharge",
            app.client
                .get(app.url(&format!("/api/v1/recharges/{id}")))
                .bearer_auth(TOKEN),
        )
        .await,
        timed(
            "POST recharge",
            app.client
                .post(app.url("/api/v1/recharges"))
                .bearer_auth(TOKEN)
                .json(&json!({"recharge_type": "normal"})),
        )
        .await,
    ]
}

fn assert_unavailable(answers: &[Answer]) {
    for a in answers {
        assert_eq!(
            a.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}: {}",
            a.call,
            a.body
        );
        if a.call.starts_with("GET") || a.call.starts_with("POST") {
            let body: Value = serde_json::from_str(&a.body).unwrap();
            assert_eq!(body["error"]["code"], "unavailable", "{}: {body}", a.call);
            assert_eq!(a.retry_after.as_deref(), Some("1"), "{}", a.call);
        }
    }
}

/// The service on `cluster`, with the long acquire timeout a fast 503 must not wait for.
async fn app_on(cluster: &Cluster) -> TestApp {
    spawn_app_with(Options {
        database_server: Some(cluster.server_url()),
        acquire_timeout: ACQUIRE_TIMEOUT,
        ..Options::default()
    })
    .await
}

async fn recharge_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM recharges")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stopped_server_is_answered_503_at_once_and_recovery_needs_no_restart() {
    let cluster = Cluster::start_new();
    let app = app_on(&cluster).await;
    let recharge = app.create_recharge().await;
    let pending = pending_creates(&app, 1).await;

    cluster.stop().await;
    let stopped = Instant::now();
    // Every call while it stays down, the first ones included, for longer than the pool would
    // have waited: the circuit keeps answering at once between its probes.
    let mut answers = Vec::new();
    while stopped.elapsed() < ACQUIRE_TIMEOUT + AT_ONCE {
        answers.extend(four_calls(&app, &pending[0], &recharge).await);
        // Pacing only: a few probes of the circuit pass meanwhile.
        tokio::time::sleep(AT_ONCE / 4).await;
    }
    assert_unavailable(&answers);
    let slowest = answers.iter().max_by_key(|a| a.took).unwrap();
    eprintln!(
        "{} answers while down, first {:?} ({}), slowest {:?} ({})",
        answers.len(),
        answers[0].took,
        answers[0].call,
        slowest.took,
        slowest.call
    );
    let late = |a: &Answer| {
        format!(
            "{} answered after {:?}, {:?} after the stop",
            a.call,
            a.took,
            a.at.duration_since(stopped)
        )
    };
    // The first calls, as the outage is found, each within the bound.
    for a in &answers[..4] {
        assert!(a.took < AT_ONCE, "{}", late(a));
    }
    // Then every one well before the pool would have given up, and all but a scheduling
    // hiccup of a loaded machine (1 in 100) within the bound.
    for a in &answers {
        assert!(a.took < ACQUIRE_TIMEOUT / 3, "{}", late(a));
    }
    let slow: Vec<String> = answers
        .iter()
        .filter(|a| a.took >= AT_ONCE)
        .map(late)
        .collect();
    assert!(slow.len() * 100 <= answers.len(), "{slow:#?}");
    let (status, body) = app.get_json("/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    // Back, without a restart: each acquire looks whether it is back, so the first calls are
    // served rather than refused until the circuit's next probe (on an idle machine, the very
    // first; polled, as a loaded one may take longer to let the first connection in).
    cluster.start().await;
    let back = Instant::now();
    let path = format!("/api/v1/recharges/{}", recharge["id"].as_str().unwrap());
    let (status, body) = poll(
        20,
        Duration::from_millis(100),
        || app.get_json(&path),
        |(status, _)| *status == StatusCode::OK,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eprintln!("served again {:?} after the start", back.elapsed());
    the_nit_commits_once_the_database_is_back(&app, &pending[0]).await;
    app.create_recharge().await;
}

#[tokio::test]
async fn a_busy_pool_is_not_an_outage_a_request_waits_for_a_connection() {
    let acquire_timeout = Duration::from_millis(600);
    let app = spawn_app_with(Options {
        acquire_timeout,
        ..Options::default()
    })
    .await;
    let recharge = app.create_recharge().await;
    let path = format!("/api/v1/recharges/{}", recharge["id"].as_str().unwrap());
    // Every connection of the service's pool (DATABASE_MAX_CONNECTIONS), held by the test.
    let size: usize = app.env_with(&[])["DATABASE_MAX_CONNECTIONS"]
        .parse()
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..size {
        held.push(app.pool.acquire().await.unwrap());
    }
    let get = || app.client.get(app.url(&path)).bearer_auth(TOKEN);
    let busy = timed("GET recharge", get()).await;
    assert_eq!(
        busy.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        busy.body
    );
    assert!(
        busy.took >= acquire_timeout,
        "a busy pool was answered after {:?}, before DATABASE_ACQUIRE_TIMEOUT_MS",
        busy.took
    );
    // One connection comes back while a request waits: it is served, not refused.
    let waiting = tokio::spawn({
        let request = get();
        async move { timed("GET recharge", request).await }
    });
    tokio::time::sleep(acquire_timeout / 4).await;
    held.pop();
    let served = waiting.await.unwrap();
    assert_eq!(served.status, StatusCode::OK, "{}", served.body);
    drop(held);
    let (status, body) = app.get_json(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// An admin connection to `cluster`'s `postgres` database.
async fn admin(cluster: &Cluster) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&format!("{}/postgres", cluster.server_url()))
        .await
        .unwrap()
}

/// `ALTER SYSTEM SET default_transaction_read_only` to `on` or back, reloaded; returns once a
/// new session sees it.
async fn set_read_only(cluster: &Cluster, on: bool) {
    let mut admin = admin(cluster).await;
    let statement = if on {
        "ALTER SYSTEM SET default_transaction_read_only = on"
    } else {
        "ALTER SYSTEM RESET default_transaction_read_only"
    };
    sqlx::query(statement).execute(&mut admin).await.unwrap();
    sqlx::query("SELECT pg_reload_conf()")
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let wanted = if on { "on" } else { "off" };
    let seen = poll(
        50,
        Duration::from_millis(20),
        || async {
            let mut session = self::admin(cluster).await;
            let seen: String = sqlx::query_scalar("SHOW default_transaction_read_only")
                .fetch_one(&mut session)
                .await
                .unwrap();
            session.close().await.unwrap();
            seen
        },
        |seen| seen == wanted,
    )
    .await;
    assert_eq!(seen, wanted);
}

/// The service's sessions on its database (not its sentinel, which only listens), by pid.
async fn service_backends(cluster: &Cluster, database: &str) -> Vec<i32> {
    let mut admin = admin(cluster).await;
    let pids = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query NOT LIKE 'LISTEN%'",
    )
    .bind(database)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    pids
}

#[tokio::test]
async fn a_read_only_database_is_an_outage_and_recovery_needs_no_restart() {
    let cluster = Cluster::start_new();
    let app = app_on(&cluster).await;
    let recharge = app.create_recharge().await;
    let pending = pending_creates(&app, 2).await;
    // The lane holds a connection too.
    let (status, text) = app.post_authenticity(&pending[1].post()).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let before = service_backends(&cluster, &database).await;
    assert!(!before.is_empty());
    let recharges = recharge_count(&app).await;

    set_read_only(&cluster, true).await;
    let answers = four_calls(&app, &pending[0], &recharge).await;
    let (reads, writes): (Vec<Answer>, Vec<Answer>) =
        answers.into_iter().partition(|a| a.call == "GET recharge");
    assert_eq!(reads[0].status, StatusCode::OK, "{}", reads[0].body);
    // Never 200 for a callback: Carat would take a NIT as committed that is not.
    assert_unavailable(&writes);
    for a in &writes {
        eprintln!(
            "read-only: {} answered {} in {:?}",
            a.call, a.status, a.took
        );
    }
    // Nothing half-written, and reads are still served.
    assert_eq!(stored_nit(&app, pending[0].id).await, None);
    assert_eq!(recharge_count(&app).await, recharges);
    // The sessions that were open when it turned read-only are closed, not kept.
    let kept = poll(
        50,
        Duration::from_millis(20),
        || async {
            let now = service_backends(&cluster, &database).await;
            before.iter().filter(|pid| now.contains(pid)).count()
        },
        |kept| *kept == 0,
    )
    .await;
    assert_eq!(kept, 0, "of {before:?}");

    // Writable again, without a restart.
    set_read_only(&cluster, false).await;
    the_nit_commits_once_the_database_is_back(&app, &pending[0]).await;
    let (status, text) = form(&app, "/callbacks/status", status_notification(&recharge))
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_ne!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        text.text().await
    );
    app.create_recharge().await;
}

//! PostgreSQL going away under the running service: answers stay fast and honest (503, never
//! 200 or 500), and the service recovers by itself when the database returns.

use std::future::Future;
use std::time::{Duration, Instant};

use carat_sandbox::{Fault, Operation};
use reqwest::StatusCode;
use tokio::task::JoinSet;

use crate::cluster::{Cluster, RefusedConnections};
use crate::helpers::{
    MERCHANT_ID, Options, PHONE_SLOW, TestApp, effectuation, event_names, spawn_app_with,
};

const GENERAL_HASH: &str = "85E791AD85E791AD";

/// A create of ours waiting for its NIT (as the create flow leaves it before Carat's POST).
pub(crate) struct Pending {
    pub(crate) id: uuid::Uuid,
    order_id: String,
    merchant_usn: u64,
    nit: String,
}

impl Pending {
    /// Carat's authenticity POST for this create.
    pub(crate) fn post(&self) -> String {
        format!(
            "merchantUSN={}&merchantId={MERCHANT_ID}&orderId={}&nit={}&generalHash={GENERAL_HASH}",
            self.merchant_usn, self.order_id, self.nit
        )
    }
}

pub(crate) async fn pending_creates(app: &TestApp, count: u64) -> Vec<Pending> {
    let mut pending = Vec::new();
    for i in 0..count {
        let create = Pending {
            id: uuid::Uuid::new_v4(),
            order_id: format!("OUTAGE{i}"),
            merchant_usn: 900_000_000 + i,
            nit: format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
        };
        sqlx::query(
            "INSERT INTO recharges (id, recharge_type, order_id, merchant_usn, status, \
                                    call_deadline, next_attempt_at) \
             VALUES ($1, 'normal', $2, $3, 'created', \
                     now() + interval '1 minute', now() + interval '1 minute')",
        )
        .bind(create.id)
        .bind(&create.order_id)
        .bind(create.merchant_usn as i64)
        .execute(&app.pool)
        .await
        .unwrap();
        pending.push(create);
    }
    pending
}

pub(crate) async fn stored_nit(app: &TestApp, id: uuid::Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT nit FROM recharges WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Asks until `done` says the answer is the awaited one, at most `tries` times `every` apart;
/// returns the last answer either way, for the caller's assertion to show.
pub(crate) async fn poll<T, F, Fut>(
    tries: u32,
    every: Duration,
    mut ask: F,
    done: impl Fn(&T) -> bool,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut answer = ask().await;
    for _ in 1..tries {
        if done(&answer) {
            break;
        }
        tokio::time::sleep(every).await;
        answer = ask().await;
    }
    answer
}

/// With the database back, Carat's repeat of `create`'s authenticity POST is answered `OK`
/// (within 2 s: the pool reconnects by itself), its NIT is committed, the recharge is
/// `started`, and the health check is green again.
pub(crate) async fn the_nit_commits_once_the_database_is_back(app: &TestApp, create: &Pending) {
    let post = create.post();
    let (status, text) = poll(
        20,
        Duration::from_millis(100),
        || app.post_authenticity(&post),
        |(status, _)| *status == StatusCode::OK,
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));
    assert_eq!(
        stored_nit(app, create.id).await.as_deref(),
        Some(create.nit.as_str())
    );
    let recharge = app.recharge(&create.id.to_string()).await;
    assert_eq!(recharge["status"], "started", "{recharge}");
    let (status, body) = app.get_json("/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Waits until the sandbox has the effectuation `request` sent (applied, its answer late),
/// stops PostgreSQL before that answer comes back, and answers what the storefront was told:
/// 503 `carat_outcome_unknown`, since money moved ("try again" would invite a second sale).
async fn answered_with_the_database_down(
    app: &TestApp,
    cluster: &Cluster,
    nit: &str,
    slow_answer_delay: Duration,
    request: tokio::task::JoinHandle<(StatusCode, serde_json::Value)>,
) -> serde_json::Value {
    let seen = poll(
        300,
        Duration::from_millis(10),
        || async { app.sandbox.transaction(nit).unwrap().effectuation_requests },
        |requests| *requests == 1,
    )
    .await;
    assert_eq!(seen, 1, "the sandbox never saw the effectuation");
    let sent = Instant::now();
    cluster.stop().await;
    // Otherwise the answer may have been recorded already, and the test proves nothing.
    assert!(
        sent.elapsed() < slow_answer_delay,
        "stopping PostgreSQL took {:?}",
        sent.elapsed()
    );
    let (status, body) = request.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "carat_outcome_unknown", "{body}");
    body
}

#[tokio::test]
async fn postgres_stopped_under_a_burst_of_authenticity_posts() {
    let began = Instant::now();
    // Before the app: dropped after it (the app's database guard still needs the server).
    let cluster = Cluster::start_new();
    let acquire_timeout = Duration::from_millis(500);
    let app = spawn_app_with(Options {
        database_server: Some(cluster.server_url()),
        acquire_timeout,
        ..Options::default()
    })
    .await;
    let pending = pending_creates(&app, 4).await;

    cluster.stop().await;
    let mut burst = JoinSet::new();
    for i in 0..40 {
        let (client, url, body) = (
            app.client.clone(),
            app.url("/callbacks/authenticity"),
            pending[i % pending.len()].post(),
        );
        burst.spawn(async move {
            let sent = Instant::now();
            let response = client
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            (status, text, sent.elapsed())
        });
    }
    let answers = burst.join_all().await;
    let slowest = answers.iter().map(|(_, _, took)| *took).max().unwrap();
    eprintln!("burst of {}: slowest answer {slowest:?}", answers.len());
    for (status, text, took) in &answers {
        // Never 200: Carat would then complete a create whose NIT we do not hold.
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
        // Carat waits on this answer: a stalled database must not stall it past the pool's
        // acquire timeout.
        assert!(
            *took < acquire_timeout + Duration::from_millis(1500),
            "answered after {took:?}"
        );
    }
    let (status, body) = app.get_json("/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    // Back, without restarting the service: its pool reconnects by itself.
    cluster.start().await;
    the_nit_commits_once_the_database_is_back(&app, &pending[0]).await;
    // None of the refused POSTs left anything behind.
    assert_eq!(stored_nit(&app, pending[1].id).await, None);
    app.create_recharge().await;
    eprintln!("test took {:?}", began.elapsed());
}

#[tokio::test]
async fn a_database_that_refuses_connections_is_a_503_not_a_500() {
    let began = Instant::now();
    let cluster = Cluster::start_new();
    let app = spawn_app_with(Options {
        database_server: Some(cluster.server_url()),
        acquire_timeout: Duration::from_millis(500),
        ..Options::default()
    })
    .await;
    let pending = pending_creates(&app, 1).await;
    let create = &pending[0];
    // Its open connections are terminated too: the pool's would otherwise go on working.
    let refused = RefusedConnections::start(&cluster, &app.pool).await;

    let (status, text) = app.post_authenticity(&create.post()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    let (status, body) = app
        .get_json(&format!("/api/v1/recharges/{}", create.id))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let (status, body) = app.get_json("/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    refused.allow().await;
    the_nit_commits_once_the_database_is_back(&app, create).await;
    eprintln!("test took {:?}", began.elapsed());
}

#[tokio::test]
async fn the_database_failing_after_a_call_is_an_unknown_outcome_and_the_record_lands_later() {
    let began = Instant::now();
    let cluster = Cluster::start_new();
    let slow_answer_delay = Duration::from_millis(1500);
    let app = spawn_app_with(Options {
        database_server: Some(cluster.server_url()),
        acquire_timeout: Duration::from_millis(500),
        carat_timeout: Duration::from_secs(5),
        slow_answer_delay,
        ..Options::default()
    })
    .await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap().to_owned();
    let nit = created["nit"].as_str().unwrap().to_owned();

    // The sandbox applies this top-up at once and answers it late.
    let effectuation_request = app.post_in_background(
        &format!("/api/v1/recharges/{id}/effectuate"),
        effectuation(PHONE_SLOW, 1000),
    );
    answered_with_the_database_down(
        &app,
        &cluster,
        &nit,
        slow_answer_delay,
        effectuation_request,
    )
    .await;

    cluster.start().await;
    let landed = poll(
        50,
        Duration::from_millis(200),
        || async {
            let (status, body) = app.get_json(&format!("/api/v1/recharges/{id}")).await;
            (status, body)
        },
        |(status, body)| {
            *status == StatusCode::OK
                && body["status"] == "pending_confirmation"
                && event_names(body).contains(&"outbound_call:effectuate".to_owned())
        },
    )
    .await;
    let (status, recharge) = landed;
    assert_eq!(status, StatusCode::OK, "{recharge}");
    assert_eq!(recharge["status"], "pending_confirmation", "{recharge}");
    assert!(
        event_names(&recharge).contains(&"outbound_call:effectuate".to_owned()),
        "{recharge}"
    );
    let tx = app.sandbox.transaction(&nit).unwrap();
    assert_eq!((tx.status.as_str(), tx.effectuation_requests), ("PPC", 1));
    eprintln!("test took {:?}", began.elapsed());
}

/// A PIN is returned once: when the database fails as the PIN sale's answer comes back, the
/// storefront is told the outcome is unknown, and the sealed receipt is written when the
/// database returns, before anything can confirm the sale. It is never confirmed without it.
#[tokio::test]
async fn a_pin_sale_answered_while_the_database_is_down_keeps_its_pin_when_it_returns() {
    let cluster = Cluster::start_new();
    let slow_answer_delay = Duration::from_millis(1500);
    let app = spawn_app_with(Options {
        database_server: Some(cluster.server_url()),
        acquire_timeout: Duration::from_millis(500),
        carat_timeout: Duration::from_secs(5),
        slow_answer_delay,
        ..Options::default()
    })
    .await;
    let (status, created) = app
        .post_json(
            "/api/v1/recharges",
            serde_json::json!({"recharge_type": "others"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let nit = created["nit"].as_str().unwrap().to_owned();
    let (status, branches) = app
        .get_json(&format!(
            "/api/v1/recharges/{id}/branches?dealer_code=905&branch_code=97200000000"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{branches}");

    // The sandbox sells the PIN at once and answers late.
    app.sandbox.inject(Operation::Effectuate, Fault::Slow, 1);
    let sale = app.post_in_background(
        &format!("/api/v1/recharges/{id}/effectuate"),
        serde_json::json!({
            "dealer": {"code": "905", "type_code": "02", "branch": {"code": "97200000000"}},
            "amount": 1000,
            "amount_key": "1",
        }),
    );
    let body = answered_with_the_database_down(&app, &cluster, &nit, slow_answer_delay, sale).await;
    assert!(!body.to_string().contains("PIN"), "{body}");

    cluster.start().await;
    let (status, recharge) = poll(
        50,
        Duration::from_millis(200),
        || async { app.get_json(&format!("/api/v1/recharges/{id}")).await },
        |(status, body)| *status == StatusCode::OK && body["pin_receipt"] == "kept",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{recharge}");
    assert_eq!(recharge["status"], "pending_confirmation", "{recharge}");
    assert_eq!(recharge["pin_receipt"], "kept", "{recharge}");
    let receipt = recharge["receipts"]["customer"]
        .as_str()
        .unwrap_or_default();
    assert!(receipt.contains("PIN: "), "{recharge}");
    // Kept: the sale may now be confirmed, and the PIN delivered.
    let (status, confirmed) = app.confirm(&id, true).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "confirmed", "{confirmed}");
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        1
    );
}

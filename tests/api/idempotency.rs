//! `Idempotency-Key`: a retry of a finished request is answered from the key without running
//! it again; the key with another request is refused; keys are the token's own, kept for the
//! TTL, purged after, and freed when their holder dies.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::helpers::{
    Options, PHONE_DENY, PHONE_HTTP_500, PHONE_OK, PHONE_SLOW, TOKEN, TestApp, effectuation, read,
    spawn_app, spawn_app_with,
};

const CREATE: &str = "/api/v1/recharges";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }
}

/// POSTs `body` to `path` with `Idempotency-Key: key`, presenting `token`.
async fn post_keyed(app: &TestApp, token: &str, path: &str, key: &str, body: &Value) -> Answer {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    let (status, body) = read(response).await;
    Answer {
        status,
        headers,
        body,
    }
}

async fn keyed(app: &TestApp, path: &str, key: &str, body: &Value) -> Answer {
    post_keyed(app, TOKEN, path, key, body).await
}

fn normal() -> Value {
    json!({"recharge_type": "normal"})
}

async fn recharge_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM recharges")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn sql(app: &TestApp, statement: &'static str) -> u64 {
    sqlx::query(statement)
        .execute(&app.pool)
        .await
        .unwrap()
        .rows_affected()
}

#[tokio::test]
async fn a_retried_create_is_answered_from_the_key_without_a_second_recharge() {
    let app = spawn_app().await;
    let first = keyed(&app, CREATE, "order-1-attempt", &normal()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(!first.replayed());

    let again = keyed(&app, CREATE, "order-1-attempt", &normal()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert!(again.replayed());
    assert_eq!(again.body, first.body);
    for header in ["content-type", "location"] {
        assert_eq!(
            again.headers.get(header),
            first.headers.get(header),
            "{header}"
        );
    }
    assert_eq!(recharge_count(&app).await, 1);

    // Without a key, a POST runs every time, as it always did.
    app.create_recharge().await;
    app.create_recharge().await;
    assert_eq!(recharge_count(&app).await, 3);
}

#[tokio::test]
async fn a_key_with_another_body_or_route_is_refused() {
    let app = spawn_app().await;
    let first = keyed(&app, CREATE, "k1", &normal()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let id = first.body["id"].as_str().unwrap();

    let other_body = keyed(
        &app,
        CREATE,
        "k1",
        &json!({"recharge_type": "normal", "order_id": "O1"}),
    )
    .await;
    let other_route = keyed(
        &app,
        &format!("/api/v1/recharges/{id}/effectuate"),
        "k1",
        &effectuation(PHONE_OK, 1000),
    )
    .await;
    for refused in [other_body, other_route] {
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert_eq!(refused.body["error"]["code"], "idempotency_key_reused");
        assert!(!refused.replayed());
    }
    assert_eq!(recharge_count(&app).await, 1);
    assert_eq!(app.recharge(id).await["status"], "started");
}

#[tokio::test]
async fn a_malformed_key_is_a_400_naming_the_header() {
    let app = spawn_app().await;
    let too_long = "k".repeat(256);
    for key in ["", "with space", "tab\there", too_long.as_str()] {
        let refused = keyed(&app, CREATE, key, &normal()).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{key:?}: {}",
            refused.body
        );
        assert_eq!(refused.body["error"]["code"], "invalid_idempotency_key");
        assert_eq!(refused.body["error"]["header"], "Idempotency-Key");
        assert!(
            refused.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Idempotency-Key "),
            "{}",
            refused.body
        );
    }
    let longest = "k".repeat(255);
    let ok = keyed(&app, CREATE, &longest, &normal()).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(recharge_count(&app).await, 1);
}

#[tokio::test]
async fn concurrent_creates_with_one_key_reach_carat_once() {
    let app = spawn_app().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (client, url) = (app.client.clone(), app.url(CREATE));
        tasks.spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(TOKEN)
                .header("Idempotency-Key", "one-key")
                .json(&json!({"recharge_type": "normal", "order_id": "CONC1"}))
                .send()
                .await
                .unwrap();
            read(response).await
        });
    }
    let answers = tasks.join_all().await;
    let mut created = None;
    for (status, body) in &answers {
        match *status {
            StatusCode::CREATED => {
                let id = body["id"].clone();
                assert_eq!(created.get_or_insert(id.clone()), &id, "one recharge");
            }
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "idempotency_key_in_use"),
            other => panic!("{other}: {body}"),
        }
    }
    assert!(created.is_some(), "{answers:?}");
    // Each create inserts its row before it calls Carat: one row, one call.
    assert_eq!(recharge_count(&app).await, 1);
    assert!(app.sandbox.find_by_order_id("CONC1").is_some());
}

#[tokio::test]
async fn a_request_while_its_key_is_in_use_is_a_409_and_the_retry_after_is_replayed() {
    let app = spawn_app_with(Options {
        slow_answer_delay: Duration::from_millis(1500),
        ..Options::default()
    })
    .await;
    let created = app.create_recharge().await;
    let (id, nit) = (
        created["id"].as_str().unwrap(),
        created["nit"].as_str().unwrap(),
    );
    let path = format!("/api/v1/recharges/{id}/effectuate");
    let body = effectuation(PHONE_SLOW, 1000);

    let first = {
        let (client, url, body) = (app.client.clone(), app.url(&path), body.clone());
        tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(TOKEN)
                .header("Idempotency-Key", "slow")
                .json(&body)
                .send()
                .await
                .unwrap();
            read(response).await
        })
    };
    // Carat holds the first one for 1.5 s: wait until it holds the key.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sql(
        &app,
        "SELECT 1 FROM idempotency_keys WHERE state = 'in_progress'",
    )
    .await
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the key was never claimed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let busy = keyed(&app, &path, "slow", &body).await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "{}", busy.body);
    assert_eq!(busy.body["error"]["code"], "idempotency_key_in_use");

    let (status, first) = first.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{first}");
    let again = keyed(&app, &path, "slow", &body).await;
    assert_eq!((again.status, again.replayed()), (StatusCode::OK, true));
    assert_eq!(again.body, first);
    assert_eq!(
        app.sandbox.transaction(nit).unwrap().effectuation_requests,
        1
    );
}

#[tokio::test]
async fn a_final_refusal_is_replayed_but_an_unknown_outcome_is_resolved_again() {
    let app = spawn_app().await;

    // A denial is final: the retry gets it again, and Carat sees one effectuation.
    let created = app.create_recharge().await;
    let (id, nit) = (
        created["id"].as_str().unwrap(),
        created["nit"].as_str().unwrap(),
    );
    let path = format!("/api/v1/recharges/{id}/effectuate");
    let denied = keyed(&app, &path, "deny", &effectuation(PHONE_DENY, 1000)).await;
    assert_eq!(
        denied.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        denied.body
    );
    let again = keyed(&app, &path, "deny", &effectuation(PHONE_DENY, 1000)).await;
    assert_eq!((again.status, again.replayed()), (denied.status, true));
    assert_eq!(again.body, denied.body);
    assert_eq!(
        app.sandbox.transaction(nit).unwrap().effectuation_requests,
        1
    );

    // An unknown outcome is not kept: the retry runs, asks Carat (NOV) and sends it again.
    let created = app.create_recharge().await;
    let (id, nit) = (
        created["id"].as_str().unwrap(),
        created["nit"].as_str().unwrap(),
    );
    let path = format!("/api/v1/recharges/{id}/effectuate");
    let body = effectuation(PHONE_HTTP_500, 1000);
    let unknown = keyed(&app, &path, "unknown", &body).await;
    assert_eq!(
        unknown.body["error"]["code"], "carat_outcome_unknown",
        "{}",
        unknown.body
    );
    let retried = keyed(&app, &path, "unknown", &body).await;
    assert!(!retried.replayed());
    assert_eq!(retried.body["error"]["code"], "carat_outcome_unknown");
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!((tx.effectuation_requests, tx.query_requests), (2, 1));
}

#[tokio::test]
async fn keys_belong_to_the_token_that_presented_them() {
    const OTHER: &str = "another-storefront-token";
    let app = spawn_app_with(Options {
        api_tokens: "test-api-token,another-storefront-token",
        ..Options::default()
    })
    .await;
    let mine = post_keyed(&app, TOKEN, CREATE, "shared-key", &normal()).await;
    let theirs = post_keyed(&app, OTHER, CREATE, "shared-key", &normal()).await;
    for answer in [&mine, &theirs] {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert!(!answer.replayed());
    }
    assert_ne!(mine.body["id"], theirs.body["id"]);
    // Each token's retry gets its own answer.
    let theirs_again = post_keyed(&app, OTHER, CREATE, "shared-key", &normal()).await;
    assert!(theirs_again.replayed());
    assert_eq!(theirs_again.body["id"], theirs.body["id"]);
    assert_eq!(recharge_count(&app).await, 2);
}

#[tokio::test]
async fn an_expired_key_is_new_again_and_the_serve_process_purges_it() {
    let app = spawn_app().await;
    let first = keyed(&app, CREATE, "old", &normal()).await;
    assert_eq!(first.status, StatusCode::CREATED);

    // Past IDEMPOTENCY_TTL_HOURS (24 by default) the key is treated as new.
    sql(
        &app,
        "UPDATE idempotency_keys SET created_at = created_at - interval '25 hours'",
    )
    .await;
    let fresh = keyed(&app, CREATE, "old", &normal()).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
    assert!(!fresh.replayed());
    assert_ne!(fresh.body["id"], first.body["id"]);

    // Purged: by the function...
    sql(
        &app,
        "UPDATE idempotency_keys SET created_at = created_at - interval '25 hours'",
    )
    .await;
    keyed(&app, CREATE, "recent", &normal()).await;
    let purged = carat_store::idempotency::purge_expired(&app.pool, Duration::from_secs(24 * 3600))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(keys, ["recent"]);

    // ...and by every serve process, reconciler or not (this one has it off), from its start.
    sql(
        &app,
        "UPDATE idempotency_keys SET created_at = created_at - interval '25 hours'",
    )
    .await;
    app.spawn_second_instance().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sql(&app, "SELECT 1 FROM idempotency_keys").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the key was never purged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_key_whose_holder_died_is_taken_over_once_its_lease_ends() {
    let app = spawn_app().await;
    let first = keyed(&app, CREATE, "orphan", &normal()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    // As a process that died mid-request leaves it: in progress, the lease still live...
    let orphan = "UPDATE idempotency_keys SET state = 'in_progress', \
                  lease_token = gen_random_uuid(), locked_until = now() + interval '1 hour', \
                  http_status = NULL, content_type = NULL, location = NULL, body = NULL";
    assert_eq!(sql(&app, orphan).await, 1);
    let busy = keyed(&app, CREATE, "orphan", &normal()).await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "{}", busy.body);
    assert_eq!(busy.body["error"]["code"], "idempotency_key_in_use");

    // ...then past its lease, nobody renewing it: the same request takes it over and runs.
    sql(
        &app,
        "UPDATE idempotency_keys SET locked_until = now() - interval '1 second'",
    )
    .await;
    let other = keyed(
        &app,
        CREATE,
        "orphan",
        &json!({"recharge_type": "normal", "order_id": "X"}),
    )
    .await;
    assert_eq!(
        other.body["error"]["code"], "idempotency_key_reused",
        "{}",
        other.body
    );
    let taken = keyed(&app, CREATE, "orphan", &normal()).await;
    assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.body);
    assert!(!taken.replayed());
    let again = keyed(&app, CREATE, "orphan", &normal()).await;
    assert!(again.replayed());
    assert_eq!(again.body["id"], taken.body["id"]);
    assert_eq!(recharge_count(&app).await, 2);
}

#[tokio::test]
async fn a_key_that_cannot_be_claimed_never_runs_its_request() {
    // The key's table refuses every claim while the recharges table works.
    let app = spawn_app().await;
    sql(
        &app,
        "ALTER TABLE idempotency_keys ADD CONSTRAINT refuse_all CHECK (false) NOT VALID",
    )
    .await;
    let body = json!({"recharge_type": "normal", "order_id": "NOCLAIM"});
    let refused = keyed(&app, CREATE, "k", &body).await;
    assert_eq!(
        refused.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["error"]["code"], "internal");
    assert_eq!(recharge_count(&app).await, 0);
    assert!(app.sandbox.find_by_order_id("NOCLAIM").is_none());
}

#[tokio::test]
async fn a_database_away_while_claiming_is_a_503() {
    let cluster = Cluster::start_new();
    let app = spawn_app_with(Options {
        database_server: Some(cluster.server_url()),
        acquire_timeout: Duration::from_millis(500),
        ..Options::default()
    })
    .await;
    cluster.stop().await;
    let body = json!({"recharge_type": "normal", "order_id": "AWAY"});
    let refused = keyed(&app, CREATE, "k", &body).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["error"]["code"], "unavailable");
    assert!(app.sandbox.find_by_order_id("AWAY").is_none());

    // Nothing was kept: once the database is back, the same key runs.
    cluster.start().await;
    let created = keyed(&app, CREATE, "k", &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(!created.replayed());
}

#[tokio::test]
async fn a_refused_create_is_replayed_not_tried_again() {
    let app = spawn_app().await;
    // The sandbox refuses creates whose order id starts SBXERR (esitef code 56).
    let body = json!({"recharge_type": "normal", "order_id": "SBXERR1"});
    let failed = keyed(&app, CREATE, "bound", &body).await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY, "{}", failed.body);
    assert_eq!(failed.body["error"]["code"], "carat_refused");
    // The storefront learns which recharge its order_id is now bound to.
    assert!(
        failed.body["error"]["recharge_id"].is_string(),
        "{}",
        failed.body
    );
    // Carat's refusal is final: the retry gets it again (without the key, the order id now
    // bound to the failed recharge would make it a 409).
    let again = keyed(&app, CREATE, "bound", &body).await;
    assert!(again.replayed());
    assert_eq!((again.status, &again.body), (failed.status, &failed.body));
    assert_eq!(recharge_count(&app).await, 1);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_its_key_is_claimed() {
    let app = spawn_app().await;
    // Over the API's 256 KiB body limit.
    let huge = json!({"recharge_type": "normal", "order_id": "x".repeat(3 * 1024 * 1024)});
    let refused = keyed(&app, CREATE, "huge", &huge).await;
    // The same 413 as without a key.
    assert_eq!(
        refused.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["error"]["code"], "body_too_large");
    assert_eq!(sql(&app, "SELECT 1 FROM idempotency_keys").await, 0);
    assert_eq!(recharge_count(&app).await, 0);
}

#[tokio::test]
async fn effectuate_and_confirm_take_keys_too() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let (id, nit) = (
        created["id"].as_str().unwrap(),
        created["nit"].as_str().unwrap(),
    );
    let steps = [
        (
            "effectuate",
            effectuation(PHONE_OK, 1000),
            "pending_confirmation",
        ),
        ("confirm", json!({"confirm": true}), "confirmed"),
    ];
    for (step, body, status) in steps {
        let path = format!("/api/v1/recharges/{id}/{step}");
        let first = keyed(&app, &path, step, &body).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert_eq!(first.body["status"], status);
        let again = keyed(&app, &path, step, &body).await;
        assert!(again.replayed(), "{step}");
        assert_eq!(again.body, first.body);
    }
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!((tx.effectuation_requests, tx.confirmation_requests), (1, 1));
}

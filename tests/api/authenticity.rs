//! The authenticity POST: matched to a pending create, committed, then answered.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Options, TestApp, event_names, spawn_app, spawn_app_with};

const SEED_NIT: &str = "e009886843920c5173104557c9f6cd66b1481557fb3f4d88daca072eb8a50c97";
/// The example body from the seed (002), verbatim.
const SEED_BODY: &str = "merchantUSN=987654321&merchantId=LOJAFATURAT&orderId=123456789&nit=e009886843920c5173104557c9f6cd66b1481557fb3f4d88daca072eb8a50c97&generalHash=85E791AD85E791AD";

/// A create of ours waiting for its NIT, with the seed example's order id and USN.
async fn pending_create(app: &TestApp) -> uuid::Uuid {
    app.pending_create("123456789", 987654321).await
}

async fn stored(app: &TestApp, id: uuid::Uuid) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, nit FROM recharges WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn seed_app() -> Options {
    Options {
        merchant_id: "LOJAFATURAT",
        ..Options::default()
    }
}

#[tokio::test]
async fn the_seed_example_with_extra_parameters_commits_the_nit_once() {
    let app = spawn_app_with(seed_app()).await;
    let id = pending_create(&app).await;

    let body = format!("{SEED_BODY}&somethingNew=1&another=x%20y");
    let (status, text) = app.post_authenticity(&body).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));
    assert_eq!(
        stored(&app, id).await,
        ("started".into(), Some(SEED_NIT.into()))
    );
    let events = app.event_count().await;

    // Carat retries: the same POST again answers 200 and changes nothing.
    let (status, _) = app.post_authenticity(&body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stored(&app, id).await,
        ("started".into(), Some(SEED_NIT.into()))
    );
    assert_eq!(app.event_count().await, events);
}

#[tokio::test]
async fn a_post_for_no_pending_create_is_refused_and_changes_nothing() {
    let app = spawn_app_with(seed_app()).await;
    let id = pending_create(&app).await;

    for body in [
        SEED_BODY.replace("orderId=123456789", "orderId=999"),
        SEED_BODY.replace("merchantUSN=987654321", "merchantUSN=1"),
    ] {
        let (status, text) = app.post_authenticity(&body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    }
    // Another NIT for an order that already has one is refused too.
    app.post_authenticity(SEED_BODY).await;
    let other = SEED_BODY.replace(SEED_NIT, &"A".repeat(64));
    let (status, _) = app.post_authenticity(&other).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(stored(&app, id).await.1.as_deref(), Some(SEED_NIT));
}

#[tokio::test]
async fn malformed_posts_are_refused_naming_the_parameter() {
    let app = spawn_app_with(seed_app()).await;
    let id = pending_create(&app).await;
    let events = app.event_count().await;

    let cases = [
        (
            SEED_BODY.replace(&format!("&nit={SEED_NIT}"), ""),
            StatusCode::BAD_REQUEST,
            "nit",
        ),
        (
            SEED_BODY.replace(SEED_NIT, &SEED_NIT[1..]),
            StatusCode::BAD_REQUEST,
            "nit",
        ),
        (
            SEED_BODY.replace(SEED_NIT, &format!("{}-", &SEED_NIT[1..])),
            StatusCode::BAD_REQUEST,
            "nit",
        ),
        (
            SEED_BODY.replace("merchantUSN=987654321", "merchantUSN=98765x"),
            StatusCode::BAD_REQUEST,
            "merchantUSN",
        ),
        (
            SEED_BODY.replace("merchantUSN=987654321", "merchantUSN=9876543210123"),
            StatusCode::BAD_REQUEST,
            "merchantUSN",
        ),
        (
            SEED_BODY.replace("orderId=123456789", "orderId=12345-789"),
            StatusCode::BAD_REQUEST,
            "orderId",
        ),
        (
            SEED_BODY.replace("generalHash=85E791AD85E791AD", "generalHash=85E7"),
            StatusCode::BAD_REQUEST,
            "generalHash",
        ),
        (
            SEED_BODY.replace("merchantId=LOJAFATURAT", "merchantId=OUTRALOJA"),
            StatusCode::FORBIDDEN,
            "merchantId",
        ),
        // Two values for one parameter: which one would Carat mean?
        (
            format!("{SEED_BODY}&nit={}", "B".repeat(64)),
            StatusCode::BAD_REQUEST,
            "duplicate field `nit`",
        ),
    ];
    for (body, expected, names) in cases {
        let (status, text) = app.post_authenticity(&body).await;
        assert_eq!(status, expected, "{body} -> {text}");
        assert!(text.contains(names), "{body} -> {text}");
    }
    assert_eq!(stored(&app, id).await, ("created".into(), None));
    assert_eq!(app.event_count().await, events);
}

#[tokio::test]
async fn the_nit_is_known_when_the_post_reached_another_instance() {
    let app = spawn_app().await;
    let second = app.spawn_second_instance().await;
    app.sandbox
        .set_authenticity_url(format!("{second}/callbacks/authenticity").parse().unwrap());

    let created = app.create_recharge().await;
    let nit = created["nit"].as_str().unwrap();
    assert_eq!(nit.len(), 64);
    assert_eq!(app.sandbox.transaction(nit).unwrap().status, "NOV");
    assert!(
        event_names(&app.recharge(created["id"].as_str().unwrap()).await)
            .contains(&"callback:authenticity".to_owned())
    );
}

#[tokio::test]
async fn a_create_whose_post_is_refused_fails_with_carats_words() {
    let app = spawn_app().await;
    // Point the sandbox's POST at a route that answers 404: the store "does not know" the create.
    app.sandbox.set_authenticity_url(
        format!("{}/callbacks/nowhere", app.address)
            .parse()
            .unwrap(),
    );

    let (status, body) = app
        .post_json(
            "/api/v1/recharges",
            json!({"recharge_type": "normal", "order_id": "ORDER42"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "carat_refused");
    assert_eq!(body["error"]["carat"]["code"], "115");
    assert_eq!(body["error"]["recharge_status"], "failed");
    assert_eq!(
        app.sandbox.find_by_order_id("ORDER42").unwrap().status,
        "INV"
    );
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_a_503_never_a_200() {
    let app = spawn_app_with(seed_app()).await;
    pending_create(&app).await;
    app.pool.close().await;

    let (status, _) = app.post_authenticity(SEED_BODY).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = app.get_json("/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

/// Carat aborts a create whose POST waits too long: a storefront that holds every pooled
/// connection must not make it wait. The POST has connections of its own.
#[tokio::test]
async fn a_full_pool_does_not_hold_up_the_authenticity_post() {
    let app = spawn_app_with(Options {
        acquire_timeout: std::time::Duration::from_millis(300),
        ..seed_app()
    })
    .await;
    let id = pending_create(&app).await;
    let size = app.pool.options().get_max_connections();
    let mut held = Vec::new();
    for _ in 0..size {
        held.push(app.pool.acquire().await.unwrap());
    }
    // The pool is really full: the storefront is turned away.
    let (status, body) = app.get_json(&format!("/api/v1/recharges/{id}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    let (status, text) = app.post_authenticity(SEED_BODY).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));
    drop(held);
    assert_eq!(
        stored(&app, id).await,
        ("started".to_owned(), Some(SEED_NIT.to_owned()))
    );
}

//! `GET /api/v1/recharges`: the operators' listing, its filters, its keyset pages and its 422s.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Options, PHONE_OK, PHONE_SLOW, TOKEN, TestApp, read, spawn_app, spawn_app_with,
};

/// GETs the listing with these query parameters (encoded by reqwest).
async fn list(app: &TestApp, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url("/api/v1/recharges"))
        .query(query)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    read(response).await
}

/// The ids a listing that must succeed answers, in its order.
async fn ids(app: &TestApp, query: &[(&str, &str)]) -> Vec<String> {
    let (status, body) = list(app, query).await;
    assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
    body["recharges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create(app: &TestApp, order_id: Option<&str>) -> Value {
    let mut body = json!({"recharge_type": "normal"});
    if let Some(order_id) = order_id {
        body["order_id"] = json!(order_id);
    }
    let (status, recharge) = app.post_json("/api/v1/recharges", body).await;
    assert_eq!(status, StatusCode::CREATED, "{recharge}");
    recharge
}

fn id(r: &Value) -> String {
    r["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_filter_picks_its_recharges_newest_first() {
    let app = spawn_app().await;
    let started = create(&app, None).await;
    let confirmed = create(&app, None).await;
    let (status, body) = app.effectuate(&id(&confirmed), PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.confirm(&id(&confirmed), true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pending = create(&app, None).await;
    let (status, body) = app.effectuate(&id(&pending), PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ordered = create(&app, Some("ORDER4")).await;
    let [s, c, p, o] = [&started, &confirmed, &pending, &ordered].map(id);

    assert_eq!(
        ids(&app, &[]).await,
        [o.as_str(), p.as_str(), c.as_str(), s.as_str()]
    );
    assert_eq!(ids(&app, &[("status", "confirmed")]).await, [c.as_str()]);
    assert_eq!(
        ids(&app, &[("status", "confirmed,pending_confirmation")]).await,
        [p.as_str(), c.as_str()]
    );
    assert_eq!(
        ids(&app, &[("status", "started")]).await,
        [o.as_str(), s.as_str()]
    );
    assert_eq!(
        ids(&app, &[("in_doubt", "false")]).await,
        [o.as_str(), p.as_str(), c.as_str(), s.as_str()]
    );
    assert!(ids(&app, &[("in_doubt", "true")]).await.is_empty());
    assert_eq!(ids(&app, &[("order_id", "ORDER4")]).await, [o.as_str()]);
    assert!(ids(&app, &[("order_id", "NOSUCHORDER")]).await.is_empty());
    let nit = started["nit"].as_str().unwrap();
    assert_eq!(ids(&app, &[("nit", nit)]).await, [s.as_str()]);
    // created_from is inclusive, created_to exclusive.
    let at = pending["created_at"].as_str().unwrap();
    assert_eq!(
        ids(&app, &[("created_from", at)]).await,
        [o.as_str(), p.as_str()]
    );
    assert_eq!(
        ids(&app, &[("created_to", at)]).await,
        [c.as_str(), s.as_str()]
    );
    let from = confirmed["created_at"].as_str().unwrap();
    assert_eq!(
        ids(
            &app,
            &[
                ("created_from", from),
                ("created_to", at),
                ("status", "confirmed")
            ]
        )
        .await,
        [c.as_str()]
    );

    // Each entry is the recharge's own view, without its history and payment.
    let (_, listed) = list(&app, &[("status", "confirmed")]).await;
    let mut shown = app.recharge(&c).await;
    let shown = shown.as_object_mut().unwrap();
    shown.remove("events");
    shown.remove("payment");
    assert_eq!(listed["recharges"][0], Value::Object(shown.clone()));
    assert_eq!(listed["next_cursor"], Value::Null);
}

#[tokio::test]
async fn in_doubt_lists_the_recharge_whose_effectuation_went_unanswered() {
    let app = spawn_app_with(Options {
        carat_timeout: Duration::from_millis(700),
        slow_answer_delay: Duration::from_millis(1500),
        ..Options::default()
    })
    .await;
    let quiet = create(&app, None).await;
    let doubtful = create(&app, None).await;
    let (status, body) = app.effectuate(&id(&doubtful), PHONE_SLOW, 1000).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");

    let (status, body) = list(&app, &[("in_doubt", "true")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = body["recharges"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0]["id"], doubtful["id"]);
    assert_eq!(listed[0]["status"], "effectuating");
    assert_eq!(listed[0]["in_doubt"], true);
    assert_eq!(ids(&app, &[("in_doubt", "false")]).await, [id(&quiet)]);
    assert_eq!(
        ids(
            &app,
            &[("in_doubt", "true"), ("status", "effectuating,started")]
        )
        .await,
        [id(&doubtful)]
    );
    assert!(
        ids(&app, &[("in_doubt", "true"), ("status", "started")])
            .await
            .is_empty()
    );
}

/// Pages of 3 through 8 recharges while a new one is created after every page: each of the 8
/// comes exactly once, in order, and the new ones (newer than the cursor) never show up.
#[tokio::test]
async fn pages_go_through_every_recharge_once_while_more_are_created() {
    let app = spawn_app().await;
    let mut existing = Vec::new();
    for _ in 0..8 {
        existing.push(id(&create(&app, None).await));
    }
    existing.reverse();

    let mut seen = Vec::new();
    let mut added = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("limit", "3")];
        if let Some(c) = &cursor {
            query.push(("cursor", c));
        }
        let (status, body) = list(&app, &query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        let page = body["recharges"].as_array().unwrap();
        assert!(page.len() <= 3);
        seen.extend(page.iter().map(id));
        added.insert(id(&create(&app, None).await));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "no end to the pages");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, existing, "each once, newest first, none skipped");
    assert!(seen.iter().all(|s| !added.contains(s)));

    // The first page now starts with the newest, and the default limit takes all 11.
    let all = ids(&app, &[]).await;
    assert_eq!(all.len(), 11);
    assert!(added.contains(&all[0]));
}

#[tokio::test]
async fn each_bad_parameter_is_a_422_naming_it() {
    let app = spawn_app().await;
    let garbage_cursor = "bm90LWEtY3Vyc29y"; // base64 of "not-a-cursor"
    for (name, value) in [
        ("status", "confirmed,bogus"),
        ("status", ""),
        ("in_doubt", "yes"),
        ("created_from", "yesterday"),
        ("created_to", "2026-11-21"),
        ("order_id", "not-an-order-id!"),
        ("nit", "short"),
        ("cursor", "@@@"),
        ("cursor", garbage_cursor),
        ("limit", "0"),
        ("limit", "201"),
        ("limit", "fifty"),
    ] {
        let (status, body) = list(&app, &[(name, value)]).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}={value}: {body}"
        );
        assert_eq!(body["error"]["code"], "invalid_field", "{body}");
        assert_eq!(body["error"]["field"], name, "{name}={value}: {body}");
    }
    let (status, body) = list(
        &app,
        &[
            ("created_from", "2026-11-21T10:00:00Z"),
            ("created_to", "2026-11-21T09:00:00+00:00"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "created_to");
    assert_eq!(list(&app, &[("limit", "200")]).await.0, StatusCode::OK);
    let (status, body) = list(&app, &[("colour", "red")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let anonymous = app
        .client
        .get(app.url("/api/v1/recharges"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

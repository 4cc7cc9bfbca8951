//! The callback inbox: every authenticity POST kept with what it was answered, refused ones
//! included; a replay changes nothing but its receipt count; operators list them.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, event_names, spawn_app};

/// A create of ours waiting for its NIT, and the POST that Carat would send for it.
async fn pending_create(app: &TestApp, order_id: &str, usn: i64) -> (uuid::Uuid, String) {
    let id = app.pending_create(order_id, usn).await;
    let nit: String = uuid::Uuid::new_v4().simple().to_string().repeat(2);
    let body = format!(
        "nit={nit}&merchantId=LOJATESTE&orderId={order_id}&merchantUSN={usn}&generalHash=09A9681D09A9681D"
    );
    (id, body)
}

/// POSTs every body to the authenticity URL at once, as if through a proxy at 203.0.113.9;
/// answers their statuses.
async fn post_all_at_once(app: &TestApp, bodies: Vec<String>) -> Vec<StatusCode> {
    let mut posts = tokio::task::JoinSet::new();
    for body in bodies {
        let (client, url) = (app.client.clone(), app.url("/callbacks/authenticity"));
        posts.spawn(async move {
            client
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("X-Forwarded-For", "203.0.113.9")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    posts.join_all().await
}

async fn inbox(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get_json(&format!("/api/v1/callbacks{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["callbacks"].as_array().unwrap().clone()
}

#[tokio::test]
async fn concurrent_replays_commit_once_and_are_counted() {
    let app = spawn_app().await;
    let (id, body) = pending_create(&app, "INBOX1", 424242).await;
    for status in post_all_at_once(&app, vec![body.clone(); 8]).await {
        assert_eq!(status, StatusCode::OK);
    }
    let recharge = app.recharge(&id.to_string()).await;
    assert_eq!(recharge["status"], "started");
    let commits = recharge["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "created -> started")
        .count();
    assert_eq!(commits, 1, "{recharge}");

    let kept = inbox(&app, "?outcome=accepted").await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    let row = &kept[0];
    assert_eq!(row["receipt_count"], 8);
    assert_eq!(row["http_status"], 200);
    assert_eq!(row["recharge_id"], id.to_string());
    assert_eq!(row["raw_body"], body);
    assert_eq!(row["forwarded_for"], "203.0.113.9");
    assert!(
        row["source_addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{row}"
    );
}

/// Carat may send one NIT again in other bytes (another parameter order, an extra parameter):
/// each is a new POST for the inbox, yet the recharge moves once, and its history says so in
/// order (the one statement that applies a POST writes both events).
#[tokio::test]
async fn posts_in_other_bytes_for_one_order_commit_once_in_order() {
    let app = spawn_app().await;
    let (id, body) = pending_create(&app, "INBOX6", 484848).await;
    let retries = (0..6).map(|i| format!("{body}&retry={i}")).collect();
    for status in post_all_at_once(&app, retries).await {
        assert_eq!(status, StatusCode::OK);
    }
    let recharge = app.recharge(&id.to_string()).await;
    assert_eq!(recharge["status"], "started");
    assert_eq!(
        event_names(&recharge),
        ["callback:authenticity", "state_change:created -> started"],
        "one commit, the POST before the move: {recharge}"
    );
    let kept = inbox(&app, "?outcome=accepted").await;
    assert_eq!(kept.len(), 6, "each distinct POST is kept: {kept:?}");
    assert!(kept.iter().all(|row| row["recharge_id"] == id.to_string()));
}

#[tokio::test]
async fn refused_and_unmatched_posts_are_kept_with_their_reason() {
    let app = spawn_app().await;
    let (id, body) = pending_create(&app, "INBOX2", 434343).await;

    let forged = body.replace("merchantId=LOJATESTE", "merchantId=OUTRALOJA");
    assert_eq!(
        app.post_authenticity(&forged).await.0,
        StatusCode::FORBIDDEN
    );
    let malformed = body.replace("merchantUSN=434343", "merchantUSN=x");
    assert_eq!(
        app.post_authenticity(&malformed).await.0,
        StatusCode::BAD_REQUEST
    );
    let unknown = body.replace("orderId=INBOX2", "orderId=NOSUCHORDER");
    assert_eq!(
        app.post_authenticity(&unknown).await.0,
        StatusCode::NOT_FOUND
    );
    // A replay of a refusal is refused the same way, and only counted.
    assert_eq!(
        app.post_authenticity(&forged).await.0,
        StatusCode::FORBIDDEN
    );

    let refused = inbox(&app, "?outcome=refused").await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    let forged_row = refused.iter().find(|r| r["http_status"] == 403).unwrap();
    assert_eq!(forged_row["receipt_count"], 2);
    assert!(
        forged_row["reason"]
            .as_str()
            .unwrap()
            .contains("merchantId")
    );
    assert!(
        refused
            .iter()
            .any(|r| r["reason"].as_str().unwrap().contains("merchantUSN"))
    );

    let unmatched = inbox(&app, "?outcome=unmatched").await;
    assert_eq!(unmatched.len(), 1);
    assert!(unmatched[0]["recharge_id"].is_null());

    // None of them touched the recharge; the genuine POST still commits.
    assert_eq!(app.recharge(&id.to_string()).await["status"], "created");
    assert_eq!(app.post_authenticity(&body).await.0, StatusCode::OK);
    assert_eq!(app.recharge(&id.to_string()).await["status"], "started");

    // All of them, newest first, a page at a time.
    let page = inbox(&app, "?limit=2").await;
    assert_eq!(page.len(), 2);
    assert!(page[0]["id"].as_i64() > page[1]["id"].as_i64());
    let before = page[1]["id"].as_i64().unwrap();
    let rest = inbox(&app, &format!("?before={before}")).await;
    assert_eq!(rest.len(), 2);

    let (status, body) = app.get_json("/api/v1/callbacks?outcome=lost").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "outcome");
}

#[tokio::test]
async fn a_late_post_for_a_failed_create_is_refused_and_kept_against_it() {
    let app = spawn_app().await;
    let (id, body) = pending_create(&app, "INBOX3", 454545).await;
    sqlx::query("UPDATE recharges SET status = 'failed', next_attempt_at = NULL WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.post_authenticity(&body).await.0, StatusCode::NOT_FOUND);
    let refused = inbox(&app, "?outcome=refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["recharge_id"], id.to_string());
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no longer waiting")
    );
    assert_eq!(app.recharge(&id.to_string()).await["status"], "failed");
}

#[tokio::test]
async fn a_nit_another_recharge_holds_is_refused_and_kept() {
    let app = spawn_app().await;
    let (first, body) = pending_create(&app, "INBOX4", 464646).await;
    let (second, _) = pending_create(&app, "INBOX5", 474747).await;
    assert_eq!(app.post_authenticity(&body).await.0, StatusCode::OK);

    let reused = body
        .replace("orderId=INBOX4", "orderId=INBOX5")
        .replace("merchantUSN=464646", "merchantUSN=474747");
    let (status, text) = app.post_authenticity(&reused).await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert_eq!(app.recharge(&second.to_string()).await["status"], "created");
    assert_eq!(app.recharge(&first.to_string()).await["status"], "started");
    let refused = inbox(&app, "?outcome=refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["http_status"], 409);
}

//! Card storage end to end: the storefront stores a card, the sandbox (Carat) answers and
//! sends its HASH notification over HTTP to `/callbacks/hash`, which settles the card.

use std::time::Duration;

use carat_sandbox::{Channel, Fault, Notification, Operation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cluster::{Cluster, RefusedConnections};
use crate::helpers::{Options, TOKEN, TestApp, spawn_app, spawn_app_with};

const VISA: &str = "4111111111111111";
const DENIED: &str = "4000000000000002";
const MASTERCARD: &str = "5555555555554444";

async fn store(app: &TestApp, customer: &str, number: &str) -> (StatusCode, Value) {
    app.post_json(
        "/api/v1/cards",
        json!({"customer_id": customer, "authorizer_id": "1",
               "card": {"number": number, "expiry_date": "1230"}}),
    )
    .await
}

async fn card(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get_json(&format!("/api/v1/cards/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Polls the card every 50 ms until `done`, for at most 10 s.
async fn poll_card(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body = card(app, id).await;
        if done(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "card {id}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hash_notifications(app: &TestApp) -> Vec<Notification> {
    app.sandbox
        .notifications()
        .into_iter()
        .filter(|n| n.channel == Channel::Hash)
        .collect()
}

/// Waits until `count` HASH notifications were sent and every one finished; returns them.
async fn settled_notifications(app: &TestApp, count: usize) -> Vec<Notification> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let sent = hash_notifications(app);
        if sent.len() >= count && sent.iter().all(|n| n.finished) {
            return sent;
        }
        assert!(tokio::time::Instant::now() < deadline, "{sent:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post_hash(app: &TestApp, body: &str) -> (StatusCode, String) {
    let response = app
        .client
        .post(app.url("/callbacks/hash"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn encode(form: &[(String, String)]) -> String {
    serde_urlencoded::to_string(form).unwrap()
}

/// `form` with parameter `name` set to `value`.
fn with(form: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    form.iter()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

#[derive(Debug, sqlx::FromRow)]
struct InboxRow {
    outcome: String,
    http_status: i16,
    raw_body: Vec<u8>,
    receipt_count: i32,
}

async fn hash_inbox(app: &TestApp) -> Vec<InboxRow> {
    sqlx::query_as(
        "SELECT outcome, http_status, raw_body, receipt_count FROM callbacks \
          WHERE kind = 'hash' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn token_of(app: &TestApp, id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT token FROM cards WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stored_card_is_con_with_its_token_kept_and_never_shown() {
    let app = spawn_app().await;
    let (status, stored) = store(&app, "CUST1", VISA).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["status"], "CON", "{stored}");
    assert_eq!(stored["usable"], true);
    assert_eq!(stored["bin"], "411111");
    assert_eq!(stored["last4"], "1111");
    assert_eq!(stored["expiry"], "1230");
    assert_eq!(stored["nita"].as_str().unwrap().len(), 65, "{stored}");
    assert_eq!(stored["nsua"].as_str().unwrap().len(), 15, "{stored}");
    assert!(stored.get("token").is_none(), "{stored}");
    assert!(!stored.to_string().contains(VISA));
    let id = stored["id"].as_str().unwrap();

    let at_carat = app
        .sandbox
        .stored_card_by_nita(stored["nita"].as_str().unwrap())
        .unwrap();
    assert_eq!(token_of(&app, id).await.as_deref(), Some(&*at_carat.token));

    // The HASH notification lands: accepted, kept without the token.
    let sent = settled_notifications(&app, 1).await;
    assert!(sent[0].delivered, "{:?}", sent[0].answers);
    let inbox = hash_inbox(&app).await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        (inbox[0].outcome.as_str(), inbox[0].http_status),
        ("accepted", 200)
    );
    let kept = String::from_utf8(inbox[0].raw_body.clone()).unwrap();
    assert!(kept.contains("hash=[redacted]"), "{kept}");
    assert!(!kept.contains(&at_carat.token), "{kept}");

    let shown = card(&app, id).await;
    assert_eq!(shown["status"], "CON");
    assert!(shown.get("token").is_none(), "{shown}");
    let (status, list) = app.get_json("/api/v1/cards?customer_id=CUST1").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["cards"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["cards"][0]["id"], id);
    assert!(!list.to_string().contains(&at_carat.token));

    // The number is nowhere in the database.
    let holding: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM cards WHERE row_to_json(cards)::text LIKE '%' || $1 || '%') \
              + (SELECT count(*) FROM callbacks WHERE encode(raw_body, 'escape') LIKE '%' || $1 || '%')",
    )
    .bind(VISA)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(holding, 0);
}

#[tokio::test]
async fn the_listing_shows_each_card_byte_for_byte_as_its_own_answer() {
    let app = spawn_app().await;
    let (status, stored) = store(&app, "CUSTORDER", VISA).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let id = stored["id"].as_str().unwrap();
    // The HASH notification settled first: nothing changes the card between the two reads.
    settled_notifications(&app, 1).await;
    let text = |path: String| {
        let request = app
            .client
            .get(app.url(&path))
            .bearer_auth(crate::helpers::TOKEN);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let one = text(format!("/api/v1/cards/{id}")).await;
    let listed = text("/api/v1/cards?customer_id=CUSTORDER".to_owned()).await;
    assert_eq!(listed, format!("{{\"cards\":[{one}]}}"));
}

#[tokio::test]
async fn a_denied_card_is_neg_and_the_same_card_again_is_dup() {
    let app = spawn_app().await;
    let (status, denied) = store(&app, "CUST2", DENIED).await;
    assert_eq!(status, StatusCode::CREATED, "{denied}");
    assert_eq!(denied["status"], "NEG", "{denied}");
    assert_eq!(denied["usable"], false);
    let denied_id = denied["id"].as_str().unwrap();
    assert_eq!(token_of(&app, denied_id).await, None);

    let (_, first) = store(&app, "CUST2", MASTERCARD).await;
    assert_eq!(first["status"], "CON", "{first}");
    let (status, again) = store(&app, "CUST2", MASTERCARD).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["status"], "DUP", "{again}");
    let (_, other_customer) = store(&app, "CUST3", MASTERCARD).await;
    assert_eq!(other_customer["status"], "CON", "{other_customer}");

    // Their notifications (without a token for NEG and DUP) change none of them.
    let sent = settled_notifications(&app, 4).await;
    assert!(sent.iter().all(|n| n.delivered), "{sent:?}");
    assert_eq!(card(&app, denied_id).await["status"], "NEG");
    assert_eq!(
        card(&app, again["id"].as_str().unwrap()).await["status"],
        "DUP"
    );
    assert_eq!(token_of(&app, again["id"].as_str().unwrap()).await, None);
    let (_, list) = app.get_json("/api/v1/cards?customer_id=CUST2").await;
    let statuses: Vec<&str> = list["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["DUP", "CON", "NEG"], "newest first");
}

#[tokio::test]
async fn a_replayed_notification_changes_nothing() {
    let app = spawn_app().await;
    let (_, stored) = store(&app, "CUST4", VISA).await;
    let id = stored["id"].as_str().unwrap();
    let sent = settled_notifications(&app, 1).await;
    let before = card(&app, id).await;

    // Carat sends it again (the sandbox's notifier), then the same bytes come directly.
    app.sandbox
        .send_notification(Channel::Hash, sent[0].form.clone());
    let again = settled_notifications(&app, 2).await;
    assert!(again[1].delivered, "{:?}", again[1].answers);
    let (status, text) = post_hash(&app, &encode(&sent[0].form)).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));

    assert_eq!(card(&app, id).await, before, "nothing changed");
    let inbox = hash_inbox(&app).await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].receipt_count, 3);
}

#[tokio::test]
async fn an_older_status_arriving_late_does_not_regress_a_card() {
    let app = spawn_app().await;
    let (_, stored) = store(&app, "CUST5", VISA).await;
    let id = stored["id"].as_str().unwrap();
    let form = settled_notifications(&app, 1).await[0].form.clone();

    // Removed by the merchant: CON -> CAN.
    let (status, _) = post_hash(&app, &encode(&with(&form, "status", "CAN"))).await;
    assert_eq!(status, StatusCode::OK);
    let canceled = card(&app, id).await;
    assert_eq!(canceled["status"], "CAN");
    assert_eq!(canceled["usable"], false);

    // The storage's CON again, arriving after (other bytes: an extra parameter), and a DEL:
    // accepted so Carat stops, but nothing leaves CAN.
    let late_con = format!("{}&resent=1", encode(&form));
    let (status, text) = post_hash(&app, &late_con).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));
    let (status, _) = post_hash(&app, &encode(&with(&form, "status", "DEL"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(card(&app, id).await, canceled);
    let (_, list) = app.get_json("/api/v1/callbacks?outcome=accepted").await;
    let reasons: Vec<&str> = list["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["reason"].as_str())
        .collect();
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("older status"))
            .count(),
        2,
        "{list}"
    );
}

#[tokio::test]
async fn a_notification_for_no_card_is_kept_unmatched_and_answered_200() {
    let app = spawn_app().await;
    let nita = "Z".repeat(65);
    let body = format!(
        "nita={nita}&nsua=123456789012345&nsu=987654&status=NEG&hash=&bin=400000&final=0002&autorizadora=1"
    );
    let (status, text) = post_hash(&app, &body).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));
    let (status, list) = app.get_json("/api/v1/callbacks?outcome=unmatched").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let callbacks = list["callbacks"].as_array().unwrap();
    assert_eq!(callbacks.len(), 1, "{list}");
    assert_eq!(callbacks[0]["kind"], "hash");
    assert_eq!(callbacks[0]["http_status"], 200);
}

#[tokio::test]
async fn malformed_notifications_are_refused_naming_the_parameter() {
    let app = spawn_app().await;
    let good = format!(
        "nita={}&nsua=123456789012345&nsu=55&status=CON&hash={}&bin=411111&final=1111&autorizadora=1",
        "N".repeat(65),
        "T".repeat(88)
    );
    let cases = [
        (
            format!("nita={}", "N".repeat(65)),
            "nita=short".to_owned(),
            "nita",
        ),
        ("nsu=55".into(), "nsu=5x".into(), "nsu"),
        ("status=CON".into(), "status=ZZZ".into(), "status"),
        (
            format!("hash={}", "T".repeat(88)),
            "hash=TOOSHORT".into(),
            "hash",
        ),
        ("bin=411111".into(), "bin=4111".into(), "bin"),
        ("final=1111".into(), "final=111".into(), "final"),
        ("nsua=123456789012345".into(), "nsua=1".into(), "nsua"),
    ];
    for (from, to, field) in &cases {
        let body = good.replacen(from.as_str(), to, 1);
        let (status, text) = post_hash(&app, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert!(text.starts_with(&format!("{field}:")), "{field}: {text}");
    }
    let inbox = hash_inbox(&app).await;
    assert_eq!(inbox.len(), cases.len());
    assert!(
        inbox
            .iter()
            .all(|r| r.outcome == "refused" && r.http_status == 400)
    );
    let kept: Vec<String> = inbox
        .iter()
        .map(|r| String::from_utf8(r.raw_body.clone()).unwrap())
        .collect();
    assert!(
        kept.iter().all(|b| !b.contains(&"T".repeat(88))),
        "{kept:?}"
    );
}

#[tokio::test]
async fn a_lost_storage_answer_leaves_the_card_unknown_until_the_notification_settles_it() {
    let app = spawn_app_with(Options {
        carat_timeout: Duration::from_millis(800),
        slow_answer_delay: Duration::from_millis(2500),
        ..Options::default()
    })
    .await;
    app.sandbox.inject(Operation::StoreCard, Fault::Slow, 1);
    let (status, stored) = store(&app, "CUST6", VISA).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{stored}");
    assert_eq!(stored["status"], "unknown", "{stored}");
    assert!(stored["nita"].is_null(), "{stored}");
    assert!(
        stored["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("card storage"),
        "{stored}"
    );
    let id = stored["id"].as_str().unwrap();

    // The notification, matched by nsu (the storefront never sent it again).
    let settled = poll_card(&app, id, |c| c["status"] == "CON").await;
    assert_eq!(settled["nita"].as_str().unwrap().len(), 65, "{settled}");
    assert!(settled["last_error"].is_null(), "{settled}");
    assert_eq!(token_of(&app, id).await.unwrap().len(), 88);
    assert_eq!(app.sandbox.card_storage_requests(), 1);
}

#[tokio::test]
async fn a_refresh_queries_carat_and_the_notification_comes_again() {
    let app = spawn_app().await;
    let (_, stored) = store(&app, "CUST7", VISA).await;
    let id = stored["id"].as_str().unwrap();
    settled_notifications(&app, 1).await;

    let (status, body) = app
        .post_json(&format!("/api/v1/cards/{id}/refresh"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "CON");
    let sent = settled_notifications(&app, 2).await;
    assert!(sent[1].delivered);
    assert_eq!(sent[0].form, sent[1].form);
    assert_eq!(app.sandbox.card_query_requests(), 1);
    assert_eq!(hash_inbox(&app).await[0].receipt_count, 2);

    // A card without a NITA has nothing to query by: its storage's answer was lost.
    app.sandbox.inject(Operation::StoreCard, Fault::Error500, 1);
    let (status, bare) = store(&app, "C8", VISA).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{bare}");
    assert_eq!(bare["status"], "unknown", "{bare}");
    assert!(bare["nita"].is_null(), "{bare}");
    let bare = bare["id"].as_str().unwrap();
    let (status, body) = app
        .post_json(&format!("/api/v1/cards/{bare}/refresh"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("NITA"),
        "{body}"
    );
    assert_eq!(app.sandbox.card_query_requests(), 1);
    let (status, _) = app
        .post_json(
            &format!("/api/v1/cards/{}/refresh", uuid::Uuid::new_v4()),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn each_bad_field_is_a_422_naming_it_and_nothing_reaches_carat() {
    let app = spawn_app().await;
    let good = json!({"customer_id": "CUST9", "authorizer_id": "1",
                      "card": {"number": VISA, "expiry_date": "1230"}});
    let cases = [
        ("customer_id", json!("CUST-9")),
        ("customer_id", json!("C".repeat(21))),
        ("authorizer_id", json!("123456")),
        ("authorizer_id", json!("1a")),
        ("card.number", json!("4111111111111112")),
        ("card.number", json!("41111111")),
        ("card.expiry_date", json!("1330")),
        ("card.expiry_date", json!("12301")),
    ];
    for (field, value) in cases {
        let mut body = good.clone();
        match field.split_once('.') {
            Some((outer, inner)) => body[outer][inner] = value,
            None => body[field] = value,
        }
        let (status, answer) = app.post_json("/api/v1/cards", body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert_eq!(answer["error"]["field"], field, "{answer}");
        assert!(!answer.to_string().contains("4111111111111112"), "{answer}");
    }
    let (status, answer) = app
        .post_json(
            "/api/v1/cards",
            json!({"customer_id": "C", "authorizer_id": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "card", "{answer}");
    let (status, answer) = app.get_json("/api/v1/cards").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "customer_id");
    assert_eq!(app.sandbox.card_storage_requests(), 0);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM cards")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_notification_while_the_database_is_down_is_not_200_and_lands_once_it_is_back() {
    let cluster = Cluster::start_new();
    let app = spawn_app_with(Options {
        database_server: Some(cluster.server_url()),
        acquire_timeout: Duration::from_millis(500),
        notification_attempts: 100,
        notification_retry_delay: Duration::from_millis(100),
        ..Options::default()
    })
    .await;
    let (_, stored) = store(&app, "CUST10", VISA).await;
    let id = stored["id"].as_str().unwrap();
    let form = settled_notifications(&app, 1).await[0].form.clone();

    // Its open connections are terminated too: the pool's would otherwise go on working.
    let refused = RefusedConnections::start(&cluster, &app.pool).await;

    // Carat removes the card at the cardholder's request, while the database is away.
    app.sandbox
        .send_notification(Channel::Hash, with(&form, "status", "DEL"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answers = hash_notifications(&app)[1].answers.clone();
        if answers.len() >= 2 {
            assert!(answers.iter().all(|a| a == "503"), "{answers:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{answers:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    refused.allow().await;
    let removed = poll_card(&app, id, |c| c["status"] == "DEL").await;
    assert_eq!(removed["usable"], false);
    let sent = settled_notifications(&app, 2).await;
    assert!(sent[1].delivered, "{:?}", sent[1].answers);
    assert_eq!(sent[1].answers.last().map(String::as_str), Some("200"));
}

#[tokio::test]
async fn a_storage_retried_with_its_key_is_answered_from_the_key_without_a_second_storage() {
    let app = spawn_app().await;
    let body = json!({"customer_id": "CUST11", "authorizer_id": "1",
                      "card": {"number": VISA, "expiry_date": "1230"}});
    let send = || {
        app.client
            .post(app.url("/api/v1/cards"))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", "store-card-CUST11-1")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(app.sandbox.card_storage_requests(), 1);
    let (_, list) = app.get_json("/api/v1/cards?customer_id=CUST11").await;
    assert_eq!(list["cards"].as_array().unwrap().len(), 1, "{list}");
}

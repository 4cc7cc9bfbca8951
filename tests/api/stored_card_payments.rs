//! A card stored through the cards API (seed 004) pays a top-up with its token (seed 001):
//! every card here is made by the real path, `POST /api/v1/cards` against the sandbox and its
//! HASH notification over HTTP, and later storage statuses (BLQ, CAN, DEL) come as Carat sends
//! them, in a HASH notification.

use std::time::Duration;

use carat_sandbox::payments::CardSeen;
use carat_sandbox::{Channel, Fault, Operation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, get_from, post_to, spawn_app, spawn_app_with};
use crate::payments::{effectuate_paid, new_recharge, paid};

/// How long a HASH notification may take to land.
const NOTIFIED_WITHIN: Duration = Duration::from_secs(10);

/// Stores `number` for `customer` through the service at `base` (201 expected), then waits
/// until the sandbox's HASH notification for it (by its NITA) has been answered 200. Returns
/// the storage's answer.
pub async fn store_card_at(app: &TestApp, base: &str, customer: &str, number: &str) -> Value {
    let (status, stored) = post_to(
        &app.client,
        format!("{base}/api/v1/cards"),
        &json!({"customer_id": customer, "authorizer_id": "1",
                "card": {"number": number, "expiry_date": "1230"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let nita = stored["nita"].as_str().expect("a NITA").to_owned();
    until_hash_delivered(app, &nita, 1).await;
    stored
}

pub async fn store_card(app: &TestApp, customer: &str, number: &str) -> Value {
    store_card_at(app, &app.address, customer, number).await
}

pub async fn card_at(app: &TestApp, base: &str, id: &str) -> Value {
    let (status, card) = get_from(&app.client, format!("{base}/api/v1/cards/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    card
}

/// Waits until `count` HASH notifications naming `nita` have been answered 200.
async fn until_hash_delivered(app: &TestApp, nita: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + NOTIFIED_WITHIN;
    loop {
        let sent: Vec<_> = app
            .sandbox
            .notifications()
            .into_iter()
            .filter(|n| n.channel == Channel::Hash)
            .filter(|n| n.form.iter().any(|(k, v)| k == "nita" && v == nita))
            .collect();
        if sent.iter().filter(|n| n.delivered).count() >= count {
            return;
        }
        assert!(
            !sent.iter().any(|n| n.finished && !n.delivered),
            "a HASH notification was given up: {sent:?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "no HASH notification for {nita} landed within {NOTIFIED_WITHIN:?}: {sent:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Carat changes a stored card's status (the cardholder blocks it, the merchant removes it...):
/// the sandbox sends the card's HASH notification again with `status`, over HTTP; waits until
/// it has landed and returns the card as the service at `base` then shows it.
pub async fn carat_sets_status_at(app: &TestApp, base: &str, card: &Value, status: &str) -> Value {
    let nita = card["nita"].as_str().unwrap();
    let before = app
        .sandbox
        .notifications()
        .into_iter()
        .filter(|n| n.channel == Channel::Hash && n.delivered)
        .filter(|n| n.form.iter().any(|(k, v)| k == "nita" && v == nita))
        .collect::<Vec<_>>();
    let form: Vec<(String, String)> = before
        .last()
        .expect("the storage's own notification landed")
        .form
        .iter()
        .map(|(k, v)| {
            let v = if k == "status" { status } else { v };
            (k.clone(), v.to_owned())
        })
        .collect();
    app.sandbox.send_notification(Channel::Hash, form);
    until_hash_delivered(app, nita, before.len() + 1).await;
    let shown = card_at(app, base, card["id"].as_str().unwrap()).await;
    assert_eq!(shown["status"], status, "{shown}");
    shown
}

pub async fn carat_sets_status(app: &TestApp, card: &Value, status: &str) -> Value {
    carat_sets_status_at(app, &app.address, card, status).await
}

/// The stored card `card` as the payment's `card`.
pub fn with_stored(card: &Value) -> Value {
    json!({"stored_card_id": card["id"], "security_code": "123"})
}

/// The token Carat (the sandbox) gave the card.
pub fn token_at_carat(app: &TestApp, card: &Value) -> String {
    app.sandbox
        .stored_card_by_nita(card["nita"].as_str().unwrap())
        .expect("the sandbox keeps the card")
        .token
}

#[tokio::test]
async fn a_stored_card_pays_a_top_up_with_its_token_alone() {
    let app = spawn_app().await;
    let card = store_card(&app, "BUYER1", "5555555555554444").await;
    assert_eq!(card["status"], "CON", "{card}");
    let token = token_at_carat(&app, &card);
    let card_id = card["id"].as_str().unwrap().to_owned();

    let (id, nit) = new_recharge(&app).await;
    let (status, effectuated) = effectuate_paid(&app, &id, with_stored(&card)).await;
    assert_eq!(status, StatusCode::OK, "{effectuated}");
    assert_eq!(
        effectuated["status"], "pending_confirmation",
        "{effectuated}"
    );
    assert_eq!(effectuated["payment"]["status"], "PPC", "{effectuated}");
    // Carat received the card's token, and neither a number nor an expiry.
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().payment_card,
        Some(CardSeen {
            token: Some(token.clone()),
            number_sent: false,
            expiry_date_sent: false,
            security_code_sent: true,
        })
    );

    let (status, confirmed) = app.confirm(&id, true).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "confirmed", "{confirmed}");
    assert_eq!(confirmed["carat_status"], "CON");
    assert_eq!(confirmed["payment"]["status"], "CON", "{confirmed}");
    let shown = app.recharge(&id).await;
    assert_eq!(shown["payment"]["status"], "CON", "{shown}");
    let expected_card = json!({"source": "stored_card", "bin": "555555", "last4": "4444",
                               "stored_card_id": card_id});
    for answer in [&effectuated, &confirmed, &shown] {
        assert_eq!(answer["payment"]["card"], expected_card, "{answer}");
        assert!(
            !answer.to_string().contains(&token),
            "the token shown: {answer}"
        );
    }
    // Nor is it in the history, nor in the payment's row: only `cards` holds it.
    let holding: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM recharge_events e WHERE e::text LIKE '%' || $1 || '%') \
              + (SELECT count(*) FROM recharge_payments p WHERE p::text LIKE '%' || $1 || '%') \
              + (SELECT count(*) FROM recharges r WHERE r::text LIKE '%' || $1 || '%') \
              + (SELECT count(*) FROM idempotency_keys k WHERE k::text LIKE '%' || $1 || '%')",
    )
    .bind(&token)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(holding, 0);

    // The cardholder blocks the card afterwards: it paid once, it cannot pay again, and nothing
    // reaches Carat.
    carat_sets_status(&app, &card, "BLQ").await;
    let (again, again_nit) = new_recharge(&app).await;
    let error = app
        .refused_effectuation(&again, &paid(with_stored(&card)))
        .await;
    assert_eq!(error["field"], "payment.card.stored_card_id", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("BLQ"),
        "{error}"
    );
    assert_eq!(
        app.sandbox
            .transaction(&again_nit)
            .unwrap()
            .effectuation_requests,
        0
    );
    // The first purchase stays as it was.
    assert_eq!(app.recharge(&id).await["payment"]["status"], "CON");
}

#[tokio::test]
async fn a_card_whose_storage_is_pending_or_unknown_cannot_pay() {
    // A storage answered late, so that its card stays `pending` while the test pays with it.
    let app = spawn_app_with(Options {
        carat_timeout: Duration::from_secs(60),
        slow_answer_delay: Duration::from_secs(30),
        ..Options::default()
    })
    .await;
    let (id, nit) = new_recharge(&app).await;
    let refused = async |card_id: &Value, status: &str| {
        let error = app
            .refused_effectuation(
                &id,
                &paid(json!({"stored_card_id": card_id, "security_code": "123"})),
            )
            .await;
        assert_eq!(error["field"], "payment.card.stored_card_id", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains(status),
            "{status}: {error}"
        );
    };

    // Carat answers 500: the outcome is unknown, and stays so (no notification comes).
    app.sandbox.inject(Operation::StoreCard, Fault::Error500, 1);
    let (status, unknown) = app
        .post_json(
            "/api/v1/cards",
            json!({"customer_id": "BUYER2", "authorizer_id": "1",
                   "card": {"number": "4111111111111111", "expiry_date": "1230"}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{unknown}");
    assert_eq!(unknown["status"], "unknown", "{unknown}");
    refused(&unknown["id"], "unknown").await;

    app.sandbox.inject(Operation::StoreCard, Fault::Slow, 1);
    let storing = app.post_in_background(
        "/api/v1/cards",
        json!({"customer_id": "BUYER3", "authorizer_id": "1",
               "card": {"number": "4111111111111111", "expiry_date": "1230"}}),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let pending = loop {
        let (_, list) = app.get_json("/api/v1/cards?customer_id=BUYER3").await;
        if let Some(card) = list["cards"].as_array().and_then(|c| c.first()) {
            break card.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(pending["status"], "pending", "{pending}");
    refused(&pending["id"], "pending").await;
    assert!(!storing.is_finished(), "the storage was answered already");
    storing.abort();

    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        0
    );
}

//! A card payment linked to a recharge: sent once with the effectuation, its own status kept
//! from every answer of Carat's (effectuation, confirmation, query), and the storefront's
//! mistakes refused before Carat is called.

use std::time::Duration;

use carat_sandbox::notifier::Channel;
use carat_sandbox::payments::{DENIED_CARD, SLOW_CARD};
use carat_sandbox::vault::TEST_TOKEN;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, poll_recharge, spawn_app, spawn_app_with};
use crate::stored_card_payments::{carat_sets_status, store_card};

pub const CARD_OK: &str = "4111111111111111";

pub use crate::helpers::paid;

pub fn by_number(number: &str) -> Value {
    json!({"number": number, "expiry_date": "1230", "security_code": "123"})
}

pub async fn new_recharge(app: &TestApp) -> (String, String) {
    let created = app.create_recharge().await;
    (
        created["id"].as_str().unwrap().to_owned(),
        created["nit"].as_str().unwrap().to_owned(),
    )
}

pub async fn effectuate_paid(app: &TestApp, id: &str, card: Value) -> (StatusCode, Value) {
    app.post_json(&format!("/api/v1/recharges/{id}/effectuate"), paid(card))
        .await
}

/// The status notifications the sandbox sent for `nit`, as their `status` parameters.
fn notified(app: &TestApp, nit: &str) -> Vec<String> {
    app.sandbox
        .notifications()
        .iter()
        .filter(|n| n.channel == Channel::Status)
        .filter(|n| n.form.iter().any(|(k, v)| k == "nit" && v == nit))
        .filter_map(|n| {
            n.form
                .iter()
                .find(|(k, _)| k == "status")
                .map(|(_, v)| v.clone())
        })
        .collect()
}

#[tokio::test]
async fn an_approved_payment_is_kept_and_confirmed_with_the_recharge() {
    let app = spawn_app().await;
    let (id, nit) = new_recharge(&app).await;
    let (status, body) = effectuate_paid(&app, &id, by_number(CARD_OK)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    let payment = &body["payment"];
    assert_eq!(payment["status"], "PPC", "{body}");
    assert_eq!(payment["status_source"], "effectuation");
    assert_eq!(payment["amount"], 1000);
    assert_eq!(payment["installment"], json!({"number": 1, "type": "4"}));
    assert_eq!(
        payment["card"],
        json!({"source": "number", "bin": "411111", "last4": "1111", "stored_card_id": null})
    );
    assert_eq!(
        payment["authorization"]["number"].as_str().unwrap().len(),
        6
    );
    assert_eq!(payment["analysis"]["status"], "ACC");
    assert!(payment["receipts"]["customer"].is_string(), "{body}");

    let (status, body) = app.confirm(&id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed");
    assert_eq!(body["payment"]["status"], "CON", "{body}");
    let stored = app.recharge(&id).await;
    assert_eq!(stored["payment"]["status"], "CON");
    assert_eq!(stored["payment"]["status_source"], "confirmation");
    // The authorization from the effectuation stays.
    assert!(
        stored["payment"]["authorization"]["tid"].is_string(),
        "{stored}"
    );
    assert_eq!(notified(&app, &nit), vec!["CON"]);
    // The sandbox saw the card once.
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        1
    );
}

#[tokio::test]
async fn a_denied_card_fails_the_recharge_and_its_payment() {
    let app = spawn_app().await;
    let (id, nit) = new_recharge(&app).await;
    let (status, body) = effectuate_paid(&app, &id, by_number(DENIED_CARD)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "carat_denied", "{body}");
    assert_eq!(body["error"]["carat"]["code"], "05");
    let stored = app.recharge(&id).await;
    assert_eq!(stored["status"], "failed");
    assert_eq!(stored["payment"]["status"], "NEG", "{stored}");
    assert_eq!(stored["payment"]["analysis"]["status"], "REJ");
    assert_eq!(notified(&app, &nit), vec!["NEG"]);
}

#[tokio::test]
async fn an_undo_undoes_the_payment() {
    let app = spawn_app().await;
    let (id, nit) = new_recharge(&app).await;
    let (status, body) = effectuate_paid(&app, &id, by_number(CARD_OK)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.confirm(&id, false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "undone");
    assert_eq!(body["payment"]["status"], "PPN", "{body}");
    assert_eq!(notified(&app, &nit), vec!["PPN"]);
}

#[tokio::test]
async fn a_lost_answer_is_resolved_by_a_query_that_includes_the_payment() {
    let app = spawn_app_with(Options {
        carat_timeout: Duration::from_millis(1500),
        slow_answer_delay: Duration::from_millis(3000),
        ..Options::default()
    })
    .await;
    let (id, nit) = new_recharge(&app).await;
    let (status, body) = effectuate_paid(&app, &id, by_number(SLOW_CARD)).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    let stored = app.recharge(&id).await;
    assert_eq!(stored["in_doubt"], true, "{stored}");
    assert_eq!(stored["payment"]["status"], Value::Null, "{stored}");
    // The same request again: Carat is asked, never sent the card again.
    let (status, body) = effectuate_paid(&app, &id, by_number(SLOW_CARD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation");
    assert_eq!(body["payment"]["status"], "PPC", "{body}");
    assert_eq!(body["payment"]["status_source"], "query");
    let tx = app.sandbox.transaction(&nit).unwrap();
    assert_eq!((tx.effectuation_requests, tx.query_requests), (1, 1));
}

#[tokio::test]
async fn a_token_pays_without_number_or_expiry() {
    let app = spawn_app().await;
    let (id, _) = new_recharge(&app).await;
    let (status, body) = effectuate_paid(
        &app,
        &id,
        json!({"token": TEST_TOKEN, "security_code": "123"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["status"], "PPC");
    assert_eq!(body["payment"]["card"]["source"], "token");
    assert_eq!(body["payment"]["card"]["bin"], Value::Null);
    assert!(!body.to_string().contains(TEST_TOKEN), "{body}");
}

#[tokio::test]
async fn a_stored_card_pays_only_if_stored() {
    let app = spawn_app().await;
    let (id, nit) = new_recharge(&app).await;
    let refused = async |card_id: &Value, status: &str| {
        let error = app
            .refused_effectuation(&id, &paid(json!({"stored_card_id": card_id})))
            .await;
        assert_eq!(error["field"], "payment.card.stored_card_id", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains(status),
            "{status}: {error}"
        );
    };
    refused(&json!(uuid::Uuid::new_v4()), "not a stored card").await;
    // Every card below is stored by the real path: the cards API, the sandbox, its HASH
    // notification.
    let denied = store_card(&app, "CLIENTE1", DENIED_CARD).await;
    assert_eq!(denied["status"], "NEG", "{denied}");
    refused(&denied["id"], "NEG").await;
    let first = store_card(&app, "CLIENTE1", "5555555555554444").await;
    let duplicate = store_card(&app, "CLIENTE1", "5555555555554444").await;
    assert_eq!(duplicate["status"], "DUP", "{duplicate}");
    refused(&duplicate["id"], "DUP").await;
    // A card blocked, canceled or removed after it was stored still has its token: refused all
    // the same.
    for (customer, status) in [("CBLQ", "BLQ"), ("CCAN", "CAN"), ("CDEL", "DEL")] {
        let card = store_card(&app, customer, CARD_OK).await;
        assert_eq!(card["status"], "CON", "{card}");
        carat_sets_status(&app, &card, status).await;
        refused(&card["id"], status).await;
    }
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        0
    );

    assert_eq!(first["status"], "CON", "{first}");
    let (status, body) = effectuate_paid(&app, &id, json!({"stored_card_id": first["id"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["card"]["source"], "stored_card");
    assert_eq!(body["payment"]["card"]["stored_card_id"], first["id"]);
    assert_eq!(body["payment"]["card"]["last4"], "4444");
    assert_eq!(body["payment"]["status"], "PPC");
}

#[tokio::test]
async fn bad_payments_are_422_naming_the_field_before_carat_is_called() {
    let app = spawn_app().await;
    let (id, nit) = new_recharge(&app).await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = paid(by_number(CARD_OK));
        change(&mut body);
        body
    };
    let cases = [
        (
            with(&|b| b["payment"]["card"]["number"] = json!("4111111111111112")),
            "payment.card.number",
            "Luhn",
        ),
        (
            with(&|b| b["payment"]["card"]["expiry_date"] = json!("1330")),
            "payment.card.expiry_date",
            "MMYY",
        ),
        (
            with(&|b| b["payment"]["installment"]["type"] = json!("5")),
            "payment.installment.type",
            "",
        ),
        (
            with(&|b| b["payment"]["card"]["token"] = json!(TEST_TOKEN)),
            "payment.card",
            "one way",
        ),
        (
            with(&|b| b["payment"]["card"] = json!({"security_code": "123"})),
            "payment.card",
            "must give the card",
        ),
        (
            with(&|b| {
                b["payment"].as_object_mut().unwrap().remove("card");
            }),
            "payment.card",
            "required",
        ),
        (
            with(&|b| b["payment"]["card"]["security_code"] = json!(123)),
            "payment.card.security_code",
            "string",
        ),
        (
            with(&|b| b["payment"]["card"]["number"] = json!(4111111111111111u64)),
            "payment.card.number",
            "string",
        ),
        (
            with(&|b| b["payment"]["authorizer_id"] = json!("123456")),
            "payment.authorizer_id",
            "",
        ),
    ];
    for (body, field, words) in cases {
        let error = app.refused_effectuation(&id, &body).await;
        assert_eq!(error["field"], field, "{body} -> {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(words), "{body} -> {error}");
        assert!(!error.to_string().contains("411111111111111"), "{error}");
    }
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        0
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM recharge_payments")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn a_paid_recharge_left_pending_is_undone_with_its_payment_by_the_reconciler() {
    let app = spawn_app_with(Options {
        reconcile: true,
        pending_timeout: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let (id, nit) = new_recharge(&app).await;
    let (status, body) = effectuate_paid(&app, &id, by_number(CARD_OK)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ended = poll_recharge(
        &app.client,
        &app.address,
        &id,
        Duration::from_secs(10),
        |r| r["status"] == "undone",
    )
    .await;
    let stored = app.recharge(&id).await;
    assert_eq!(stored["payment"]["status"], "PPN", "{ended}");
    assert_eq!(stored["payment"]["status_source"], "confirmation");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "PPN");
}

#[tokio::test]
async fn a_paid_pin_sale_seals_the_payment_receipt_that_carries_the_pin() {
    let app = spawn_app().await;
    let sale = app.paid_pin_sale(CARD_OK).await;
    let (status, answer, id) = (sale.status, sale.answer, sale.id);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["payment"]["status"], "PPC", "{answer}");
    // The payment's customer receipt is not shown in the clear, nor kept so.
    assert_eq!(
        answer["payment"]["receipts"]["customer"],
        Value::Null,
        "{answer}"
    );
    let shown = app.recharge(&id).await;
    let customer = shown["receipts"]["customer"].as_str().unwrap();
    let pin = customer
        .lines()
        .find_map(|l| l.strip_prefix("PIN: "))
        .unwrap_or_else(|| panic!("no PIN: {shown}"));
    assert!(customer.contains("COMPROVANTE DE PAGAMENTO"), "{customer}");
    let clear: Option<String> =
        sqlx::query_scalar("SELECT customer_receipt FROM recharge_payments WHERE recharge_id = $1")
            .bind(uuid::Uuid::parse_str(&id).unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(clear, None);
    let anywhere: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM recharge_payments p WHERE row_to_json(p)::text LIKE '%' || $1 || '%'",
    )
    .bind(pin)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(anywhere, 0);
}

#[tokio::test]
async fn the_reconciler_resolves_a_paid_recharge_in_doubt_by_a_query() {
    let app = spawn_app_with(Options {
        reconcile: true,
        carat_timeout: Duration::from_millis(1500),
        slow_answer_delay: Duration::from_millis(3000),
        ..Options::default()
    })
    .await;
    let (id, nit) = new_recharge(&app).await;
    let (status, body) = effectuate_paid(&app, &id, by_number(SLOW_CARD)).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    let resolved = poll_recharge(
        &app.client,
        &app.address,
        &id,
        Duration::from_secs(10),
        |r| r["status"] == "pending_confirmation" && r["payment"]["status"] == "PPC",
    )
    .await;
    assert_eq!(resolved["payment"]["status_source"], "query", "{resolved}");
    assert_eq!(resolved["in_doubt"], false);
    let tx = app.sandbox.transaction(&nit).unwrap();
    assert_eq!(tx.effectuation_requests, 1, "the card was sent once");
}

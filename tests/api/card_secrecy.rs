//! Card numbers and security codes pass from the storefront to Carat once and are found
//! nowhere else: not in the service's logs (the real binary, everything logged down to trace),
//! not in any column of any table (the event history, the idempotency keys and the callback
//! inbox included), not in any answer. A stored card's token is kept in `cards` alone: never
//! logged, never in another table, never in an answer (`CARD_TOKEN_VISIBLE` is off).

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TOKEN, TestApp, every_row, get_from, holds_code, post_to, spawn_app};
use crate::payments::paid;
use crate::process::ServiceProcess;
use crate::stored_card_payments::{card_at, store_card_at, token_at_carat};

/// Everything the binary can log, as the security tests run it.
const VERBOSE: &str = "debug,carat_merchant=trace,tower_http=trace,reqwest=trace,hyper=trace,\
                       hyper_util=trace,sqlx=trace,h2=debug,rustls=debug";

/// Luhn-valid numbers used nowhere else in the sandbox (its vault's test token spells
/// 4111111111111111 out, so that one is not searched for).
const APPROVED: &str = "5555555555554444";
const UNDONE: &str = "4012888888881881";
const DENIED: &str = carat_sandbox::payments::DENIED_CARD;
/// The card stored (seed 004), then paid with by its token.
const STORED: &str = "6011111111111117";
const CVV: &str = "7391";

/// `value`'s bytes in hex, as `row_to_json` shows a bytea column.
fn hex(value: &str) -> String {
    value.bytes().map(|b| format!("{b:02x}")).collect()
}

/// `text` with each identifier Carat drew at random in `drawn`, and its hex, taken out.
fn without_drawn(text: &str, drawn: &[String]) -> String {
    drawn.iter().fold(text.to_owned(), |text, id| {
        text.replace(id.as_str(), "<drawn>")
            .replace(&hex(id), "<drawn>")
    })
}

/// The identifiers Carat drew at random in this test: its recharges' NITs and the stored
/// card's NITA (a callback's `raw_body` holds them in hex).
async fn drawn_by_carat(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT nit FROM recharges WHERE nit IS NOT NULL \
         UNION ALL SELECT nita FROM cards WHERE nita IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn assert_nothing_leaked(place: &str, texts: &[String], drawn: &[String]) {
    for text in texts {
        for number in [APPROVED, UNDONE, DENIED, STORED] {
            assert!(
                !text.contains(number),
                "a card number leaked into {place}: {text}"
            );
            assert!(
                !text.contains(&hex(number)),
                "a card number leaked into {place}: {text}"
            );
        }
        // A random NIT can hold 7391 (hex 37333931): Carat's draws are cut out, a leak is not.
        let searched = without_drawn(text, drawn);
        assert!(
            !holds_code(&searched, CVV),
            "the security code leaked into {place}: {text}"
        );
        assert!(
            !searched.contains(&hex(CVV)),
            "the security code leaked into {place}: {text}"
        );
    }
}

fn with_card(number: &str) -> Value {
    paid(json!({"number": number, "expiry_date": "1230", "security_code": CVV}))
}

/// The storefront's side of the test: the binary it calls, and every answer it was given.
struct Storefront<'a> {
    app: &'a TestApp,
    service: &'a ServiceProcess,
    answers: Vec<String>,
}

impl Storefront<'_> {
    async fn post(&self, path: String, body: Value) -> (StatusCode, Value) {
        post_to(&self.app.client, self.service.url(&path), &body).await
    }

    async fn get(&self, path: String) -> (StatusCode, Value) {
        get_from(&self.app.client, self.service.url(&path)).await
    }

    async fn create(&self) -> String {
        let (status, body) = self
            .post(
                "/api/v1/recharges".into(),
                json!({"recharge_type": "normal"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }
}

/// The real binary, logging everything, with every callback sent to it so that its handling
/// is logged too.
async fn start_verbose_service(app: &TestApp) -> ServiceProcess {
    let service = ServiceProcess::start(app.env_with(&[("LOG_FILTER", VERBOSE)])).await;
    app.sandbox
        .set_authenticity_url(service.url("/callbacks/authenticity").parse().unwrap());
    app.sandbox
        .set_status_url(service.url("/callbacks/status").parse().unwrap());
    app.sandbox
        .set_hash_url(service.url("/callbacks/hash").parse().unwrap());
    service
}

/// Approved then confirmed, with an idempotency key (its fingerprint covers the body).
async fn approve_and_confirm(shop: &mut Storefront<'_>) {
    let id = shop.create().await;
    let response = shop
        .app
        .client
        .post(
            shop.service
                .url(&format!("/api/v1/recharges/{id}/effectuate")),
        )
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", "secrecy-1")
        .json(&with_card(APPROVED))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    shop.answers.push(response.text().await.unwrap());
    let (status, body) = shop
        .post(
            format!("/api/v1/recharges/{id}/confirm"),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["status"], "CON", "{body}");
    shop.answers.push(body.to_string());
}

async fn undo(shop: &mut Storefront<'_>) {
    let id = shop.create().await;
    let (status, body) = shop
        .post(
            format!("/api/v1/recharges/{id}/effectuate"),
            with_card(UNDONE),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    shop.answers.push(body.to_string());
    let (status, body) = shop
        .post(
            format!("/api/v1/recharges/{id}/confirm"),
            json!({"confirm": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    shop.answers.push(body.to_string());
}

async fn deny(shop: &mut Storefront<'_>) {
    let id = shop.create().await;
    let (status, body) = shop
        .post(
            format!("/api/v1/recharges/{id}/effectuate"),
            with_card(DENIED),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    shop.answers.push(body.to_string());
}

/// A card stored (its HASH notification landed on the binary), shown and listed; returns the
/// card's id and its token at Carat.
async fn store_a_card(shop: &mut Storefront<'_>) -> (String, String) {
    let base = shop.service.url("");
    let stored = store_card_at(shop.app, &base, "SECRECY1", STORED).await;
    assert_eq!(stored["status"], "CON", "{stored}");
    shop.answers.push(stored.to_string());
    let token = token_at_carat(shop.app, &stored);
    let card_id = stored["id"].as_str().unwrap().to_owned();
    shop.answers
        .push(card_at(shop.app, &base, &card_id).await.to_string());
    let (status, list) = shop.get("/api/v1/cards?customer_id=SECRECY1".into()).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    shop.answers.push(list.to_string());
    (card_id, token)
}

/// A top-up bought with the stored card and confirmed: the token goes to Carat, the number
/// never leaves the storage.
async fn pay_with_the_stored_card(shop: &mut Storefront<'_>, card_id: &str) {
    let id = shop.create().await;
    let (status, body) = shop
        .post(
            format!("/api/v1/recharges/{id}/effectuate"),
            paid(json!({"stored_card_id": card_id, "security_code": CVV})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["card"]["source"], "stored_card", "{body}");
    shop.answers.push(body.to_string());
    let (status, body) = shop
        .post(
            format!("/api/v1/recharges/{id}/confirm"),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["status"], "CON", "{body}");
    shop.answers.push(body.to_string());
    let (status, shown) = shop.get(format!("/api/v1/recharges/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    shop.answers.push(shown.to_string());
}

/// Refused before Carat: a security code of the wrong type, and a number failing Luhn; then
/// what the storefront sees afterwards, history included.
async fn refuse_before_carat(shop: &mut Storefront<'_>) {
    let id = shop.create().await;
    let mut body = with_card(APPROVED);
    body["payment"]["card"]["security_code"] = json!(7391);
    let (status, answer) = shop
        .post(format!("/api/v1/recharges/{id}/effectuate"), body)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        answer["error"]["field"], "payment.card.security_code",
        "{answer}"
    );
    shop.answers.push(answer.to_string());
    let mut body = with_card(APPROVED);
    body["payment"]["card"]["number"] = json!("5555555555554445");
    let (status, answer) = shop
        .post(format!("/api/v1/recharges/{id}/effectuate"), body)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    shop.answers.push(answer.to_string());
    let answers = &shop.answers;
    assert!(
        !answers.iter().any(|a| a.contains("5555555555554445")),
        "{answers:?}"
    );
    let (status, shown) = shop.get(format!("/api/v1/recharges/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    shop.answers.push(shown.to_string());
}

/// The searches do read what they must: the debug logs, the payments' kept BIN, the HASH
/// notification's handling, and the token where the service keeps it to pay with.
fn assert_the_searches_read(logs: &[String], rows: &[String], token: &str) {
    assert!(
        logs.iter()
            .any(|l| l.contains("DEBUG") || l.contains("TRACE")),
        "not verbose"
    );
    assert!(
        logs.iter().any(|l| l.contains("carat call answered")),
        "no call logged"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("recharge_payments") && r.contains("555555"))
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("recharge_events") && r.contains("security_code"))
    );
    assert!(
        logs.iter().any(|l| l.contains("/callbacks/hash")),
        "the HASH notification did not reach the binary"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("cards: ") && r.contains(token)),
        "the stored card's token is not in `cards`"
    );
}

/// The token is kept in `cards` and nowhere else.
fn assert_the_token_only_in_cards(
    logs: &[String],
    rows: &[String],
    answers: &[String],
    token: &str,
) {
    for (place, texts) in [("the service's logs", logs), ("the answers", answers)] {
        assert!(
            !texts.iter().any(|t| t.contains(token)),
            "the stored card's token leaked into {place}"
        );
    }
    let holding: Vec<&String> = rows
        .iter()
        .filter(|r| !r.starts_with("cards: ") && (r.contains(token) || r.contains(&hex(token))))
        .collect();
    assert!(holding.is_empty(), "the token leaked: {holding:?}");
}

#[tokio::test]
async fn card_data_is_found_in_no_log_no_table_and_no_answer() {
    let app = spawn_app().await;
    let service = start_verbose_service(&app).await;
    let mut shop = Storefront {
        app: &app,
        service: &service,
        answers: Vec::new(),
    };
    approve_and_confirm(&mut shop).await;
    undo(&mut shop).await;
    deny(&mut shop).await;
    let (card_id, token) = store_a_card(&mut shop).await;
    pay_with_the_stored_card(&mut shop, &card_id).await;
    refuse_before_carat(&mut shop).await;
    let answers = shop.answers;

    let logs = service.log_lines();
    let rows = every_row(&app.pool).await;
    let drawn = drawn_by_carat(&app.pool).await;
    assert_the_searches_read(&logs, &rows, &token);
    assert_nothing_leaked("the service's logs", &logs, &drawn);
    assert_nothing_leaked("the database", &rows, &drawn);
    assert_nothing_leaked("the answers", &answers, &drawn);
    assert_the_token_only_in_cards(&logs, &rows, &answers, &token);
}

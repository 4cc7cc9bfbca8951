//! Card numbers and security codes pass from the storefront to Carat once and are found
//! nowhere else: not in the service's logs (the real binary, everything logged down to trace),
//! not in any column of any table (the event history, the idempotency keys and the callback
//! inbox included), not in any answer. A stored card's token is kept in `cards` alone: never
//! logged, never in another table, never in an answer (`CARD_TOKEN_VISIBLE` is off).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TOKEN, every_row, holds_code, post_to, spawn_app};
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

fn assert_nothing_leaked(place: &str, texts: &[String]) {
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
        assert!(
            !holds_code(text, CVV),
            "the security code leaked into {place}: {text}"
        );
        assert!(
            !text.contains(&hex(CVV)),
            "the security code leaked into {place}: {text}"
        );
    }
}

fn with_card(number: &str) -> Value {
    paid(json!({"number": number, "expiry_date": "1230", "security_code": CVV}))
}

#[tokio::test]
async fn card_data_is_found_in_no_log_no_table_and_no_answer() {
    let app = spawn_app().await;
    let service = ServiceProcess::start(app.env_with(&[("LOG_FILTER", VERBOSE)])).await;
    // Every callback goes to the binary, so its handling is logged too.
    app.sandbox
        .set_authenticity_url(service.url("/callbacks/authenticity").parse().unwrap());
    app.sandbox
        .set_status_url(service.url("/callbacks/status").parse().unwrap());
    app.sandbox
        .set_hash_url(service.url("/callbacks/hash").parse().unwrap());
    let mut answers: Vec<String> = Vec::new();
    let post =
        async |path: String, body: Value| post_to(&app.client, service.url(&path), &body).await;
    let create = async || {
        let (status, body) = post(
            "/api/v1/recharges".into(),
            json!({"recharge_type": "normal"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    };

    // Approved then confirmed, with an idempotency key (its fingerprint covers the body).
    let id = create().await;
    let response = app
        .client
        .post(service.url(&format!("/api/v1/recharges/{id}/effectuate")))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", "secrecy-1")
        .json(&with_card(APPROVED))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    answers.push(response.text().await.unwrap());
    let (status, body) = post(
        format!("/api/v1/recharges/{id}/confirm"),
        json!({"confirm": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["status"], "CON", "{body}");
    answers.push(body.to_string());

    // Undone.
    let id = create().await;
    let (status, body) = post(
        format!("/api/v1/recharges/{id}/effectuate"),
        with_card(UNDONE),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    answers.push(body.to_string());
    let (status, body) = post(
        format!("/api/v1/recharges/{id}/confirm"),
        json!({"confirm": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    answers.push(body.to_string());

    // Denied.
    let id = create().await;
    let (status, body) = post(
        format!("/api/v1/recharges/{id}/effectuate"),
        with_card(DENIED),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    answers.push(body.to_string());

    // A card stored (its HASH notification landed on the binary), then a top-up bought with it
    // and confirmed: the token goes to Carat, the number never leaves the storage.
    let base = service.url("");
    let stored = store_card_at(&app, &base, "SECRECY1", STORED).await;
    assert_eq!(stored["status"], "CON", "{stored}");
    answers.push(stored.to_string());
    let token = token_at_carat(&app, &stored);
    let card_id = stored["id"].as_str().unwrap();
    answers.push(card_at(&app, &base, card_id).await.to_string());
    let (status, list) = crate::helpers::get_from(
        &app.client,
        service.url("/api/v1/cards?customer_id=SECRECY1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    answers.push(list.to_string());
    let id = create().await;
    let (status, body) = post(
        format!("/api/v1/recharges/{id}/effectuate"),
        paid(json!({"stored_card_id": card_id, "security_code": CVV})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["card"]["source"], "stored_card", "{body}");
    answers.push(body.to_string());
    let (status, body) = post(
        format!("/api/v1/recharges/{id}/confirm"),
        json!({"confirm": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["status"], "CON", "{body}");
    answers.push(body.to_string());
    let (status, shown) =
        crate::helpers::get_from(&app.client, service.url(&format!("/api/v1/recharges/{id}")))
            .await;
    assert_eq!(status, StatusCode::OK);
    answers.push(shown.to_string());

    // Refused before Carat: a security code of the wrong type, and a number failing Luhn.
    let id = create().await;
    let mut body = with_card(APPROVED);
    body["payment"]["card"]["security_code"] = json!(7391);
    let (status, answer) = post(format!("/api/v1/recharges/{id}/effectuate"), body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        answer["error"]["field"], "payment.card.security_code",
        "{answer}"
    );
    answers.push(answer.to_string());
    let mut body = with_card(APPROVED);
    body["payment"]["card"]["number"] = json!("5555555555554445");
    let (status, answer) = post(format!("/api/v1/recharges/{id}/effectuate"), body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    answers.push(answer.to_string());
    assert!(
        !answers.iter().any(|a| a.contains("5555555555554445")),
        "{answers:?}"
    );

    // What the storefront sees afterwards, history included.
    let (status, shown) =
        crate::helpers::get_from(&app.client, service.url(&format!("/api/v1/recharges/{id}")))
            .await;
    assert_eq!(status, StatusCode::OK);
    answers.push(shown.to_string());

    let logs = service.log_lines();
    let rows = every_row(&app.pool).await;
    // The searches do read what they must: the debug logs and the payments' kept BIN.
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
    // The token is kept for the service to pay with (the search reads it there) and nowhere
    // else.
    assert!(
        rows.iter()
            .any(|r| r.starts_with("cards: ") && r.contains(&token)),
        "the stored card's token is not in `cards`"
    );
    assert_nothing_leaked("the service's logs", &logs);
    assert_nothing_leaked("the database", &rows);
    assert_nothing_leaked("the answers", &answers);
    for (place, texts) in [("the service's logs", &logs), ("the answers", &answers)] {
        assert!(
            !texts.iter().any(|t| t.contains(&token)),
            "the stored card's token leaked into {place}"
        );
    }
    let holding: Vec<&String> = rows
        .iter()
        .filter(|r| !r.starts_with("cards: ") && (r.contains(&token) || r.contains(&hex(&token))))
        .collect();
    assert!(holding.is_empty(), "the token leaked: {holding:?}");
}

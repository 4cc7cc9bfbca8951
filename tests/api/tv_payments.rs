//! A TV recharge paid by card, resubmitted with its package: the card data was never kept, so
//! the storefront's choice brings the same card again (`payment_card`), checked before Carat
//! is called; a stored card is read again by its kept id.

use carat_sandbox::payments::SeenCard;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PHONE_OK, TestApp, holds_code};

const SKY: &str = "005";
/// Luhn-valid numbers the sandbox approves, not spelt out by its vault's test token.
const PAYER: &str = "5555555555554444";
const OTHER: &str = "4012888888881881";
/// A security code and an expiry with a leading zero: no count or duration is written so, so a
/// search for them finds the card data or nothing.
const CVV: &str = "0739";
const EXPIRY: &str = "0931";

fn by_number(number: &str) -> Value {
    json!({"number": number, "expiry_date": EXPIRY, "security_code": CVV})
}

/// The Sky TV effectuation body paying its 3000 cents with `card` (none with `Value::Null`).
fn tv_effectuation(card: Value) -> Value {
    let mut body = json!({
        "dealer": {"code": SKY, "type_code": "03"},
        "phone": {"ddd": "11", "number": PHONE_OK},
        "amount": 3000,
    });
    if !card.is_null() {
        body["payment"] = json!({
            "amount": 3000,
            "authorizer_id": "1",
            "installment": {"number": 1, "type": "4"},
            "card": card,
        });
    }
    body
}

/// A Sky TV recharge effectuated once with `card`: `awaiting_choice`, Carat AGU. Its id and NIT.
async fn awaiting_choice(app: &TestApp, card: Value) -> (String, String) {
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap().to_owned();
    let nit = created["nit"].as_str().unwrap().to_owned();
    app.list_catalogue(&id, SKY, "11").await;
    let (status, body) = app
        .post_json(
            &format!("/api/v1/recharges/{id}/effectuate"),
            tv_effectuation(card),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "awaiting_choice", "{body}");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "AGU");
    (id, nit)
}

async fn choose(app: &TestApp, id: &str, choice: Value) -> (StatusCode, Value) {
    app.post_json(&format!("/api/v1/recharges/{id}/effectuate"), choice)
        .await
}

/// The choice was refused before Carat heard of it: still waiting, one effectuation sent.
async fn nothing_sent(app: &TestApp, id: &str, nit: &str) {
    assert_eq!(app.recharge(id).await["status"], "awaiting_choice");
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!(tx.effectuation_requests, 1);
    assert_eq!(tx.status, "AGU");
}

fn seen(bin: &str, last4: &str, by_token: bool, security_code: bool) -> Option<SeenCard> {
    Some(SeenCard {
        bin: bin.to_owned(),
        last4: last4.to_owned(),
        by_token,
        security_code,
    })
}

/// Every row of the tables a recharge writes, as JSON text.
async fn kept_rows(app: &TestApp) -> String {
    let mut text = String::new();
    for table in [
        "recharges",
        "recharge_events",
        "recharge_payments",
        "idempotency_keys",
    ] {
        let sql = format!("SELECT coalesce(json_agg(t)::text, '') FROM \"{table}\" t");
        let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&app.pool)
            .await
            .unwrap();
        text.push_str(&rows);
    }
    text
}

#[tokio::test]
async fn a_paid_tv_recharge_is_resent_with_the_same_card_and_confirmed() {
    let app = crate::helpers::spawn_app().await;
    let (id, nit) = awaiting_choice(&app, by_number(PAYER)).await;

    let (status, body) = choose(
        &app,
        &id,
        json!({"tv_package": "SKYPRE60", "payment_card": by_number(PAYER)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    assert_eq!(body["payment"]["status"], "PPC", "{body}");
    assert_eq!(
        body["payment"]["card"],
        json!({"source": "number", "bin": "555555", "last4": "4444", "stored_card_id": null})
    );
    // Carat saw the card on the first effectuation and on the resend.
    let tx = app.sandbox.transaction(&nit).unwrap();
    assert_eq!(tx.effectuation_requests, 2);
    let paid = seen("555555", "4444", false, true);
    assert_eq!(tx.effectuation_cards, vec![paid.clone(), paid]);
    assert_eq!(
        tx.effectuation_answers[1],
        vec![("126".into(), "SKYPRE60".into())]
    );

    let (status, body) = app.confirm(&id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed", "{body}");
    assert_eq!(body["payment"]["status"], "CON", "{body}");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "CON");

    // The card went to Carat twice and was kept nowhere.
    let shown = app.recharge(&id).await.to_string();
    let kept = kept_rows(&app).await;
    for text in [&shown, &kept] {
        assert!(
            !holds_code(text, PAYER),
            "the card number was kept or shown"
        );
        assert!(!holds_code(text, CVV), "the security code");
        assert!(!holds_code(text, EXPIRY), "the expiry");
    }
}

#[tokio::test]
async fn a_paid_tv_choice_without_the_card_or_with_another_is_refused_before_carat() {
    let app = crate::helpers::spawn_app().await;
    let (id, nit) = awaiting_choice(&app, by_number(PAYER)).await;

    let error = app
        .refused_effectuation(&id, &json!({"tv_package": "SKYPRE60"}))
        .await;
    assert_eq!(error["field"], "payment_card", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("payment_card: is required"),
        "{error}"
    );
    nothing_sent(&app, &id, &nit).await;

    // Another card: a resubmission never changes the payer.
    let error = app
        .refused_effectuation(
            &id,
            &json!({"tv_package": "SKYPRE60", "payment_card": by_number(OTHER)}),
        )
        .await;
    assert_eq!(error["field"], "payment_card", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("is not the card that paid"),
        "{error}"
    );
    let error = app
        .refused_effectuation(
            &id,
            &json!({"tv_package": "SKYPRE60",
                    "payment_card": {"token": carat_sandbox::vault::TEST_TOKEN}}),
        )
        .await;
    assert_eq!(error["field"], "payment_card", "{error}");
    nothing_sent(&app, &id, &nit).await;

    // The payment card's own checks, named under `payment_card`, its value never echoed.
    let bad_luhn = "5555555555554445";
    let error = app
        .refused_effectuation(
            &id,
            &json!({"tv_package": "SKYPRE60",
                    "payment_card": {"number": bad_luhn, "expiry_date": "1230"}}),
        )
        .await;
    assert_eq!(error["field"], "payment_card.number", "{error}");
    assert!(!error.to_string().contains(bad_luhn), "{error}");
    let error = app
        .refused_effectuation(
            &id,
            &json!({"tv_package": "SKYPRE60",
                    "payment_card": {"number": 5555555555554444u64, "expiry_date": "1230"}}),
        )
        .await;
    assert_eq!(error["field"], "payment_card.number", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("string"),
        "{error}"
    );
    assert!(!error.to_string().contains("555555555555"), "{error}");
    let error = app
        .refused_effectuation(
            &id,
            &json!({"tv_package": "SKYPRE60", "payment_card": {"number": PAYER}}),
        )
        .await;
    assert_eq!(error["field"], "payment_card.expiry_date", "{error}");
    nothing_sent(&app, &id, &nit).await;
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_cards,
        vec![seen("555555", "4444", false, true)]
    );
}

#[tokio::test]
async fn a_card_on_an_unpaid_tv_choice_is_refused() {
    let app = crate::helpers::spawn_app().await;
    let (id, nit) = awaiting_choice(&app, Value::Null).await;
    let error = app
        .refused_effectuation(
            &id,
            &json!({"tv_package": "SKYPRE60", "payment_card": by_number(PAYER)}),
        )
        .await;
    assert_eq!(error["field"], "payment_card", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("has no card payment"),
        "{error}"
    );
    nothing_sent(&app, &id, &nit).await;
    // Without one it goes through, and Carat saw no card either time.
    let (status, body) = choose(&app, &id, json!({"tv_package": "SKYPRE30"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_cards,
        vec![None, None]
    );
}

/// Stores `number` as a card of customer CUST1; its id.
async fn stored_card(app: &TestApp, number: &str) -> String {
    let (status, body) = app
        .post_json(
            "/api/v1/cards",
            json!({"customer_id": "CUST1", "authorizer_id": "1",
                   "card": {"number": number, "expiry_date": "1230"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "CON", "{body}");
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stored_card_pays_the_resend_by_its_kept_id() {
    let app = crate::helpers::spawn_app().await;
    let payer = stored_card(&app, PAYER).await;
    let other = stored_card(&app, OTHER).await;
    let (id, nit) = awaiting_choice(&app, json!({"stored_card_id": payer})).await;

    let error = app
        .refused_effectuation(
            &id,
            &json!({"tv_package": "SKYPRE90", "payment_card": {"stored_card_id": other}}),
        )
        .await;
    assert_eq!(error["field"], "payment_card", "{error}");
    nothing_sent(&app, &id, &nit).await;

    // No card given: the service reads the stored card's token again.
    let (status, body) = choose(&app, &id, json!({"tv_package": "SKYPRE90"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    assert_eq!(body["payment"]["status"], "PPC", "{body}");
    assert_eq!(body["payment"]["card"]["stored_card_id"], payer.as_str());
    let by_token = seen("555555", "4444", true, false);
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_cards,
        vec![by_token.clone(), by_token]
    );
}

/// Everything the binary can log, as the card secrecy tests run it.
const VERBOSE: &str = "debug,carat_merchant=trace,tower_http=trace,reqwest=trace,hyper=trace,\
                       hyper_util=trace,sqlx=trace,h2=debug,rustls=debug";

#[tokio::test]
async fn the_card_given_again_is_found_in_no_log_no_table_and_no_answer() {
    let app = crate::helpers::spawn_app().await;
    let service =
        crate::process::ServiceProcess::start(app.env_with(&[("LOG_FILTER", VERBOSE)])).await;
    app.sandbox
        .set_authenticity_url(service.url("/callbacks/authenticity").parse().unwrap());
    let post = async |path: String, body: Value| {
        crate::helpers::post_to(&app.client, service.url(&path), &body).await
    };
    let mut answers: Vec<String> = Vec::new();
    let (status, created) = post(
        "/api/v1/recharges".into(),
        json!({"recharge_type": "normal"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let effectuate = format!("/api/v1/recharges/{id}/effectuate");
    let (status, body) = post(effectuate.clone(), tv_effectuation(by_number(PAYER))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "awaiting_choice", "{body}");
    answers.push(body.to_string());
    // Refused: another card, and one failing Luhn; then the right one.
    for (card, field) in [
        (by_number(OTHER), "payment_card"),
        (
            json!({"number": "5555555555554445", "expiry_date": EXPIRY, "security_code": CVV}),
            "payment_card.number",
        ),
    ] {
        let (status, body) = post(
            effectuate.clone(),
            json!({"tv_package": "SKYPRE30", "payment_card": card}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
        answers.push(body.to_string());
    }
    let (status, body) = post(
        effectuate.clone(),
        json!({"tv_package": "SKYPRE30", "payment_card": by_number(PAYER)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    answers.push(body.to_string());
    let (status, body) = post(
        format!("/api/v1/recharges/{id}/confirm"),
        json!({"confirm": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["status"], "CON", "{body}");
    let (_, shown) =
        crate::helpers::get_from(&app.client, service.url(&format!("/api/v1/recharges/{id}")))
            .await;
    answers.push(shown.to_string());

    let logs = service.log_lines().join("\n");
    let rows = kept_rows(&app).await;
    // The searches read what they must: verbose logs with the calls, the history's requests.
    assert!(
        logs.contains("TRACE") && logs.contains("carat call answered"),
        "not verbose"
    );
    assert!(
        rows.contains("SKYPRE30") && rows.contains("security_code"),
        "no history"
    );
    for (place, text) in [
        ("logs", &logs),
        ("tables", &rows),
        ("answers", &answers.join("\n")),
    ] {
        for secret in [PAYER, OTHER, "5555555555554445", CVV, EXPIRY] {
            assert!(!holds_code(text, secret), "{secret} found in the {place}");
        }
    }
}

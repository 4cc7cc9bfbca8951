//! Answers that stay true: a repeat of a step answers as the first request did, a query that
//! resolves a recharge fills in what Carat reports, a success clears the last error, and every
//! failure says what the storefront needs to act on it.

use std::time::Duration;

use carat_sandbox::{Fault, Operation};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    MERCHANT_KEY, Options, PHONE_DENY, PHONE_OK, PHONE_SLOW, TestApp, spawn_app, spawn_app_with,
};

async fn started(app: &TestApp) -> String {
    app.create_recharge().await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_denied_effectuation_repeated_answers_as_the_first_time() {
    let app = spawn_app().await;
    let id = started(&app).await;

    let first = app.effectuate(&id, PHONE_DENY, 1000).await;
    assert_eq!(first.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", first.1);
    assert_eq!(first.1["error"]["code"], "carat_denied");
    for _ in 0..2 {
        let again = app.effectuate(&id, PHONE_DENY, 1000).await;
        assert_eq!(again, first, "a repeat answers as the first request did");
    }
    // Another effectuation is not a repeat: the recharge has failed.
    let (status, body) = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["recharge_status"], "failed");
}

#[tokio::test]
async fn repeats_of_effectuation_confirmation_and_undo_answer_as_the_first_time() {
    let app = spawn_app().await;
    let id = started(&app).await;
    let effectuated = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(effectuated.0, StatusCode::OK, "{}", effectuated.1);
    let again = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(again.0, StatusCode::OK, "{}", again.1);
    assert_eq!(again.1["status"], "pending_confirmation");
    assert_eq!(again.1["esitef_usn"], effectuated.1["esitef_usn"]);

    let confirmed = app.confirm(&id, true).await;
    assert_eq!(confirmed.0, StatusCode::OK, "{}", confirmed.1);
    let again = app.confirm(&id, true).await;
    assert_eq!(
        (again.0, &again.1["status"]),
        (StatusCode::OK, &json!("confirmed"))
    );
    // After the confirmation, an effectuation repeated still answers with the recharge.
    let effectuation = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(effectuation.0, StatusCode::OK, "{}", effectuation.1);
    assert_eq!(effectuation.1["status"], "confirmed");

    let id = started(&app).await;
    assert_eq!(app.effectuate(&id, PHONE_OK, 1000).await.0, StatusCode::OK);
    let undone = app.confirm(&id, false).await;
    assert_eq!(undone.0, StatusCode::OK, "{}", undone.1);
    let again = app.confirm(&id, false).await;
    assert_eq!(
        (again.0, &again.1["status"]),
        (StatusCode::OK, &json!("undone"))
    );
    let (status, body) = app.confirm(&id, true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["recharge_status"], "undone");
}

#[tokio::test]
async fn a_success_clears_the_last_error() {
    let app = spawn_app().await;
    let id = started(&app).await;
    // The effectuation's answer is a 500: in doubt, with Carat's words as the last error.
    app.sandbox
        .inject(Operation::Effectuate, Fault::Error500, 1);
    let (status, body) = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(app.recharge(&id).await["last_error"].is_object());

    // The repeat learns by query that nothing happened, sends it again, and succeeds.
    let (status, body) = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation");
    assert!(body["last_error"].is_null(), "{body}");
}

#[tokio::test]
async fn a_reused_order_id_names_the_recharge_and_its_status() {
    let app = spawn_app().await;
    let create = json!({"recharge_type": "normal", "order_id": "ANSWERS0001"});
    let (status, first) = app.post_json("/api/v1/recharges", create.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");

    let (status, body) = app.post_json("/api/v1/recharges", create).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["recharge_id"], first["id"]);
    assert_eq!(body["error"]["recharge_status"], "started");
}

#[tokio::test]
async fn a_failed_create_answers_with_the_recharge_its_order_id_is_bound_to() {
    let app = spawn_app().await;
    // The sandbox answers a create whose order id starts SBX500 with HTTP 500.
    let create = json!({"recharge_type": "normal", "order_id": "SBX500ANSWERS"});
    let (status, body) = app.post_json("/api/v1/recharges", create.clone()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["recharge_status"], "failed");
    let id = body["error"]["recharge_id"]
        .as_str()
        .expect("the recharge's id");
    let stored = app.recharge(id).await;
    assert_eq!(
        (stored["order_id"].as_str(), stored["status"].as_str()),
        (Some("SBX500ANSWERS"), Some("failed"))
    );
    let (status, again) = app.post_json("/api/v1/recharges", create).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["recharge_id"], id);
}

#[tokio::test]
async fn a_timeout_names_the_call_and_the_query_that_resolves_it_fills_in_what_carat_reports() {
    let app = spawn_app_with(Options {
        carat_timeout: Duration::from_millis(700),
        slow_answer_delay: Duration::from_millis(1500),
        ..Options::default()
    })
    .await;
    let id = started(&app).await;

    let (status, body) = app.effectuate(&id, PHONE_SLOW, 1000).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], "carat_outcome_unknown");
    assert_eq!(
        error["message"],
        "Carat Portal did not answer the effectuation within 700 ms"
    );
    assert_eq!(error["carat"]["call"], "effectuation");
    assert_eq!(error["carat"]["timeout_ms"], 700);

    // The repeat resolves it by query: Carat's record is the answer, authorization included.
    let (status, body) = app.effectuate(&id, PHONE_SLOW, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation");
    assert!(body["authorization"]["number"].is_string(), "{body}");
    assert!(body["receipts"]["customer"].is_string(), "{body}");
    assert_eq!(
        body["esitef_usn"].as_str().map(str::len),
        Some(15),
        "{body}"
    );
    assert!(body["last_error"].is_null(), "{body}");

    // The query is in the history with what it sent, its merchant key redacted.
    let recharge = app.recharge(&id).await;
    let query = recharge["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "outbound_call" && e["name"] == "query")
        .expect("a query resolved it");
    assert_eq!(query["detail"]["request"]["merchantkey"], "[redacted]");
    assert!(!recharge.to_string().contains(MERCHANT_KEY));
}

#[tokio::test]
async fn outbound_calls_in_the_history_carry_the_request_never_the_merchant_key() {
    let app = spawn_app().await;
    let id = started(&app).await;
    let (status, _) = app
        .get_json(&format!("/api/v1/recharges/{id}/dealers"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.effectuate(&id, PHONE_OK, 1000).await.0, StatusCode::OK);
    assert_eq!(app.confirm(&id, true).await.0, StatusCode::OK);

    let recharge = app.recharge(&id).await;
    let calls: Vec<_> = recharge["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "outbound_call")
        .collect();
    let named = |name: &str| {
        calls
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name} call in {calls:?}"))["detail"]["request"]
            .clone()
    };
    let begin = named("begin");
    assert_eq!(
        begin["begin_recharge_request"]["order_id"],
        recharge["order_id"]
    );
    assert_eq!(
        begin["begin_recharge_request"]["merchant_key"],
        "[redacted]"
    );
    let effectuation = named("effectuate");
    assert_eq!(
        effectuation["do_recharge_request"]["phone"]["number"],
        PHONE_OK
    );
    assert_eq!(effectuation["do_recharge_request"]["amount"], "1000");
    assert_eq!(
        named("confirm")["confirm_recharge_request"]["confirm"],
        "true"
    );
    assert_eq!(named("list_dealers")["nit"], recharge["nit"]);

    // No event of any recharge holds the merchant key, in any field.
    let leaks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM recharge_events WHERE detail::text LIKE '%' || $1 || '%'",
    )
    .bind(MERCHANT_KEY)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(leaks, 0);
}

//! Carat's failures, each surfacing to the storefront with Carat's own code and message.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    Options, PHONE_DENY, PHONE_ESITEF_ERROR, PHONE_HTTP_500, PHONE_OK, PHONE_SLOW, spawn_app,
    spawn_app_with,
};

#[tokio::test]
async fn a_denial_fails_the_recharge_with_the_authorizers_words() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();

    let (status, body) = app.effectuate(id, PHONE_DENY, 1000).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], "carat_denied");
    assert_eq!(error["carat"]["status"], "NEG");
    assert_eq!(error["carat"]["code"], "05");
    assert_eq!(error["carat"]["message"], "TRANSACAO NEGADA");
    assert_eq!(error["recharge_status"], "failed");
    let stored = app.recharge(id).await;
    assert_eq!(
        (stored["status"].as_str(), stored["carat_status"].as_str()),
        (Some("failed"), Some("NEG"))
    );
}

#[tokio::test]
async fn an_esitef_error_code_is_surfaced_and_the_recharge_may_try_again() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();

    let (status, body) = app.effectuate(id, PHONE_ESITEF_ERROR, 1000).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "carat_refused");
    assert_eq!(body["error"]["carat"]["code"], "55");
    assert!(
        body["error"]["carat"]["message"]
            .as_str()
            .unwrap()
            .contains("esitef error")
    );
    // Carat refused it outright: nothing happened there, so the recharge is usable again.
    assert_eq!(body["error"]["recharge_status"], "started");

    let (status, body) = app.effectuate(id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation");
    // The refusal no longer stands once the effectuation went through; the history keeps it.
    assert!(body["last_error"].is_null(), "{body}");
    let history = app.recharge(id).await;
    assert!(
        history["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "outbound_call" && e["detail"]["esitef_code"] == "55"),
        "{history}"
    );
}

#[tokio::test]
async fn an_http_500_leaves_the_outcome_unknown_until_a_query_says_otherwise() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    let nit = created["nit"].as_str().unwrap();

    let (status, body) = app.effectuate(id, PHONE_HTTP_500, 1000).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "carat_outcome_unknown");
    assert_eq!(body["error"]["carat"]["http_status"], 500);
    assert_eq!(body["error"]["carat"]["code"], "99");
    assert!(
        body["error"]["carat"]["message"]
            .as_str()
            .unwrap()
            .contains("internal error")
    );
    let stored = app.recharge(id).await;
    assert_eq!(stored["status"], "effectuating");
    assert_eq!(stored["outcome_unknown"], true);

    // Another effectuation may not start while this one is in doubt...
    let (status, body) = app.effectuate(id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("with the same body"),
        "{body}"
    );
    assert_eq!(app.sandbox.transaction(nit).unwrap().query_requests, 0);

    // ...the same one, repeated, asks Carat first (NOV: it never happened), and only then is
    // sent again (and fails again, the test value being what it is).
    let (status, body) = app.effectuate(id, PHONE_HTTP_500, 1000).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "carat_outcome_unknown");
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!((tx.effectuation_requests, tx.query_requests), (2, 1));
    let stored = app.recharge(id).await;
    assert_eq!(
        (stored["attempt"].as_i64(), stored["in_doubt"].as_bool()),
        (Some(2), Some(true))
    );
}

#[tokio::test]
async fn a_timeout_on_effectuation_is_resolved_by_a_query_never_by_a_second_effectuation() {
    let app = spawn_app_with(Options {
        carat_timeout: Duration::from_millis(1500),
        slow_answer_delay: Duration::from_millis(3000),
        ..Options::default()
    })
    .await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap().to_owned();
    let nit = created["nit"].as_str().unwrap();

    // While the call is out, nobody else may take the step or resolve it: the same request
    // again waits for it, and answers from Carat's record once it is over.
    let first = app.post_in_background(
        &format!("/api/v1/recharges/{id}/effectuate"),
        crate::helpers::effectuation(PHONE_SLOW, 1000),
    );
    while app.recharge(&id).await["status"] != "effectuating" {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::CONFLICT, "another body: {body}");
    let (status, body) = app.effectuate(&id, PHONE_SLOW, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation");

    // The first request's own answer was lost: it says so, and records nothing over what the
    // query found.
    let (status, body) = first.await.unwrap();
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "carat_outcome_unknown");
    let stored = app.recharge(&id).await;
    assert_eq!(stored["status"], "pending_confirmation", "{stored}");
    assert_eq!(stored["outcome_unknown"], false);
    assert!(stored["receipts"]["customer"].is_string(), "{stored}");
    // Carat applied it, received it once, and was asked once.
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!(
        (
            tx.status.as_str(),
            tx.effectuation_requests,
            tx.query_requests
        ),
        ("PPC", 1, 1)
    );

    let (status, body) = app.confirm(&id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed");
}

#[tokio::test]
async fn failed_creates_carry_carats_code() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            "/api/v1/recharges",
            json!({"recharge_type": "normal", "order_id": "SBXERR1"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["carat"]["code"], "56");
    assert_eq!(body["error"]["recharge_status"], "failed");

    let (status, body) = app
        .post_json(
            "/api/v1/recharges",
            json!({"recharge_type": "normal", "order_id": "SBX500A"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["carat"]["http_status"], 500);
    assert_eq!(body["error"]["recharge_status"], "failed");
}

#[tokio::test]
async fn a_nit_past_its_lifetime_expires_the_recharge() {
    let app = spawn_app_with(Options {
        nit_lifetime: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let (status, body) = app
        .get_json(&format!("/api/v1/recharges/{id}/dealers"))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["carat"]["status"], "EXP");
    assert_eq!(body["error"]["recharge_status"], "expired");

    let (status, body) = app.effectuate(id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn a_confirmation_whose_answer_is_lost_is_resolved_by_query() {
    let app = spawn_app_with(Options {
        carat_timeout: Duration::from_millis(700),
        slow_answer_delay: Duration::from_millis(1500),
        ..Options::default()
    })
    .await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    let nit = created["nit"].as_str().unwrap();
    // The sandbox applies a confirmation of 1414 cents but answers it late.
    let (status, body) = app.effectuate(id, PHONE_OK, 1414).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = app.confirm(id, true).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["error"]["recharge_status"], "confirming");
    assert_eq!(app.sandbox.transaction(nit).unwrap().status, "CON");

    let (status, body) = app.confirm(id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed");
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!((tx.confirmation_requests, tx.query_requests), (1, 1));
}

#[tokio::test]
async fn a_confirmation_that_failed_can_still_be_undone() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    let nit = created["nit"].as_str().unwrap();
    // The sandbox answers a confirmation of 1313 cents with HTTP 500, applying nothing.
    let (status, body) = app.effectuate(id, PHONE_OK, 1313).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = app.confirm(id, true).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "carat_outcome_unknown");
    assert_eq!(body["error"]["carat"]["http_status"], 500);
    assert_eq!(app.recharge(id).await["status"], "confirming");

    // Undo: the service asks Carat first (still PPC), then undoes.
    let (status, body) = app.confirm(id, false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "undone");
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!(
        (
            tx.status.as_str(),
            tx.confirmation_requests,
            tx.query_requests
        ),
        ("PPN", 2, 1)
    );
}

#[tokio::test]
async fn a_storefront_that_hangs_up_does_not_stop_the_call_half_way() {
    let app = spawn_app_with(Options {
        carat_timeout: Duration::from_secs(5),
        slow_answer_delay: Duration::from_millis(1500),
        ..Options::default()
    })
    .await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    // The storefront gives up long before Carat answers, dropping its request.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let hung_up = impatient
        .post(app.url(&format!("/api/v1/recharges/{id}/effectuate")))
        .bearer_auth(crate::helpers::TOKEN)
        .json(&crate::helpers::effectuation(PHONE_SLOW, 1000))
        .send()
        .await;
    assert!(hung_up.is_err_and(|e| e.is_timeout()));
    // The call goes on, and its outcome is recorded (the reconciler is off in this test).
    let recharge = crate::helpers::poll_recharge(
        &app.client,
        &app.address,
        id,
        Duration::from_secs(10),
        |r| r["status"] != "effectuating",
    )
    .await;
    assert_eq!(recharge["status"], "pending_confirmation", "{recharge}");
    assert!(
        crate::helpers::event_names(&recharge).contains(&"outbound_call:effectuate".to_owned()),
        "{recharge}"
    );
}

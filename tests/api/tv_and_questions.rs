//! Questions and TV resubmission, through the storefront API, the service and the sandbox: a
//! dealer's questions must be answered before Carat is called; a TV dealer's effectuation waits
//! (`awaiting_choice`, Carat AGU) for the storefront to choose a package, which the service
//! resends as answer 126.

use std::time::Duration;

use carat_sandbox::{Fault, Operation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Options, PHONE_OK, TestApp, event_names, poll_recharge, spawn_app, spawn_app_with,
};

const SKY: &str = "005";
const PACKAGES: [&str; 3] = ["SKYPRE30", "SKYPRE60", "SKYPRE90"];

fn tv_effectuation() -> Value {
    json!({
        "dealer": {"code": SKY, "type_code": "03"},
        "phone": {"ddd": "11", "number": PHONE_OK},
        "amount": 3000,
    })
}

fn answers(pairs: &[(&str, &str)]) -> Vec<Vec<(String, String)>> {
    vec![
        pairs
            .iter()
            .map(|(c, d)| ((*c).to_owned(), (*d).to_owned()))
            .collect(),
    ]
}

/// A created recharge's id and NIT.
async fn created(app: &TestApp) -> (String, String) {
    let created = app.create_recharge().await;
    (
        created["id"].as_str().unwrap().to_owned(),
        created["nit"].as_str().unwrap().to_owned(),
    )
}

/// A TV recharge effectuated once: `awaiting_choice` with Sky's packages.
async fn awaiting_choice(app: &TestApp) -> (String, String) {
    let (id, nit) = created(app).await;
    let (dealers, _) = app.list_catalogue(&id, SKY, "11").await;
    assert_eq!(dealers["dealers"][4]["name"], "Sky TV", "{dealers}");
    let (status, body) = app
        .post_json(
            &format!("/api/v1/recharges/{id}/effectuate"),
            tv_effectuation(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "awaiting_choice", "{body}");
    assert_eq!(body["carat_status"], "AGU");
    assert_eq!(body["in_doubt"], false);
    assert_eq!(body["tv_package_subscription_codes"], json!(PACKAGES));
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "AGU");
    (id, nit)
}

async fn choose(app: &TestApp, id: &str, package: &str) -> (StatusCode, Value) {
    app.post_json(
        &format!("/api/v1/recharges/{id}/effectuate"),
        json!({"tv_package": package}),
    )
    .await
}

/// A package Carat did not offer: 422 naming it, nothing sent, still waiting.
async fn assert_an_unoffered_package_refused(app: &TestApp, id: &str, nit: &str) {
    let error = app
        .refused_effectuation(id, &json!({"tv_package": "SKYPRE99"}))
        .await;
    assert_eq!(error["field"], "tv_package", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("SKYPRE30, SKYPRE60, SKYPRE90"),
        "{error}"
    );
    let error = app
        .refused_effectuation(id, &json!({"tv_package": "SKYPRE60", "extra": 1}))
        .await;
    assert_eq!(error["field"], "extra", "{error}");
    assert_eq!(
        app.sandbox.transaction(nit).unwrap().effectuation_requests,
        1
    );
    assert_eq!(app.recharge(id).await["status"], "awaiting_choice");
}

/// SKYPRE60 chosen: resent with answer 126, pending confirmation; the same choice again
/// answers alike without a call, another is out of order.
async fn choose_and_resend_with_answer_126(app: &TestApp, id: &str, nit: &str) {
    let (status, body) = choose(app, id, "SKYPRE60").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    assert_eq!(body["carat_status"], "PPC");
    assert_eq!(body["attempt"], 2, "the resend is a call of its own");
    assert!(body["receipts"]["customer"].is_string(), "{body}");
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!(tx.effectuation_requests, 2);
    let mut sent = answers(&[]);
    sent.extend(answers(&[("126", "SKYPRE60")]));
    assert_eq!(
        tx.effectuation_answers, sent,
        "the sandbox received answer 126"
    );

    // The same choice again answers as the first did, without another call.
    let (status, again) = choose(app, id, "SKYPRE60").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["status"], "pending_confirmation");
    // Another choice once effectuated is out of order.
    let (status, other) = choose(app, id, "SKYPRE30").await;
    assert_eq!(status, StatusCode::CONFLICT, "{other}");
    assert_eq!(
        app.sandbox.transaction(nit).unwrap().effectuation_requests,
        2
    );
}

/// The history's wait for a choice and resend, the resend carrying the choice as answer 126.
fn assert_the_history_keeps_the_resend(recharge: &Value) {
    let history = event_names(recharge);
    let expected = [
        "state_change:started -> effectuating",
        "outbound_call:effectuate",
        "state_change:effectuating -> awaiting_choice",
        "state_change:awaiting_choice -> effectuating",
        "outbound_call:effectuate",
        "state_change:effectuating -> pending_confirmation",
    ];
    let at = history
        .iter()
        .position(|e| e == expected[0])
        .unwrap_or_else(|| panic!("{history:?}"));
    assert_eq!(&history[at..at + expected.len()], expected, "{history:?}");
    // The resend, as the history keeps it, carries the choice as answer 126.
    let resend = recharge["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "effectuate")
        .nth(1)
        .unwrap();
    assert_eq!(
        resend["detail"]["request"]["do_recharge_request"]["answers"],
        json!([{"code": "126", "description": "SKYPRE60"}]),
        "{resend}"
    );
}

#[tokio::test]
async fn a_tv_recharge_waits_for_a_package_then_is_resent_with_answer_126_and_confirmed() {
    let app = spawn_app().await;
    let (id, nit) = awaiting_choice(&app).await;
    assert_an_unoffered_package_refused(&app, &id, &nit).await;
    choose_and_resend_with_answer_126(&app, &id, &nit).await;

    let (status, body) = app.confirm(&id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed", "{body}");

    assert_the_history_keeps_the_resend(&app.recharge(&id).await);
}

#[tokio::test]
async fn a_resend_whose_answer_is_lost_is_resolved_by_a_query_never_sent_blindly() {
    let app = spawn_app().await;

    // Lost, and not applied: the repeated choice queries (AGU), then resends it.
    let (id, nit) = awaiting_choice(&app).await;
    app.sandbox
        .inject(Operation::Effectuate, Fault::Error500, 1);
    let (status, body) = choose(&app, &id, "SKYPRE30").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "carat_outcome_unknown", "{body}");
    let recharge = app.recharge(&id).await;
    assert_eq!(recharge["status"], "effectuating", "{recharge}");
    assert_eq!(recharge["in_doubt"], true);
    // Another package while that one is in doubt is refused.
    let (status, body) = choose(&app, &id, "SKYPRE90").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = choose(&app, &id, "SKYPRE30").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    let tx = app.sandbox.transaction(&nit).unwrap();
    assert_eq!((tx.effectuation_requests, tx.query_requests), (3, 1));
    assert_eq!(body["attempt"], 3);

    // Lost, but applied: the repeated choice finds PPC by query and sends nothing more.
    let (id, nit) = awaiting_choice(&app).await;
    app.sandbox
        .inject(Operation::Effectuate, Fault::AppliedThen500, 1);
    let (status, body) = choose(&app, &id, "SKYPRE30").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let (status, body) = choose(&app, &id, "SKYPRE30").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    let tx = app.sandbox.transaction(&nit).unwrap();
    assert_eq!((tx.effectuation_requests, tx.query_requests), (2, 1));
}

#[tokio::test]
async fn a_package_chosen_when_none_was_offered_is_out_of_order_and_sends_nothing() {
    let app = spawn_app().await;
    let (id, nit) = created(&app).await;
    let (status, body) = choose(&app, &id, "SKYPRE60").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["recharge_status"], "started", "{body}");
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        0
    );
}

#[tokio::test]
async fn a_recharge_left_awaiting_a_choice_ends_expired_with_its_nit() {
    let app = spawn_app_with(Options {
        reconcile: true,
        nit_lifetime: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let (id, nit) = awaiting_choice(&app).await;
    // Looked at when the NIT would expire, not after a call's window (10 s here).
    let waiting = app.recharge(&id).await;
    let time = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let due = time(&waiting["reconciliation"]["next_attempt_at"]) - time(&waiting["created_at"]);
    assert!(due <= chrono::TimeDelta::seconds(3), "{waiting}");
    let ended = poll_recharge(
        &app.client,
        &app.address,
        &id,
        Duration::from_secs(15),
        |r| r["status"] != "awaiting_choice",
    )
    .await;
    assert_eq!(ended["status"], "expired", "{ended}");
    assert_eq!(ended["carat_status"], "EXP");
    let tx = app.sandbox.transaction(&nit).unwrap();
    assert_eq!(tx.effectuation_requests, 1, "nothing resent");
    assert_eq!(tx.confirmation_requests, 0, "nothing to undo");
}

#[tokio::test]
async fn a_question_must_be_answered_before_carat_is_called_and_the_answer_is_sent() {
    let app = spawn_app().await;
    let (id, nit) = created(&app).await;
    let tim = |answers: Value| {
        json!({
            "dealer": {"code": "004", "type_code": "03"},
            "phone": {"ddd": "11", "number": PHONE_OK},
            "amount": 1000,
            "answers": answers,
        })
    };
    let long = "J".repeat(201);
    let cases = [
        (
            json!([]),
            "answers[5]",
            "question 5 (Qual o nome do seu pai?)",
        ),
        (
            json!([{"code": "6", "description": "Joaquim"}]),
            "answers[5]",
            "answer it with code 5",
        ),
        (
            json!([{"code": "5", "description": "Jo"}]),
            "answers[5].description",
            "must be 5 to 30 characters for question 5 (found 2)",
        ),
        (
            json!([{"code": "5", "description": "J".repeat(31)}]),
            "answers[5].description",
            "(found 31)",
        ),
        // The answer's own formats, `code < 20 AN` and `description < 200 AN`.
        (
            json!([{"code": "5", "description": long}]),
            "answers[0].description",
            "200",
        ),
        (
            json!([{"code": "5-5", "description": "Joaquim"}]),
            "answers[0].code",
            "letters and digits",
        ),
    ];
    for (given, field, words) in cases {
        let error = app.refused_effectuation(&id, &tim(given.clone())).await;
        assert_eq!(error["field"], field, "{given} -> {error}");
        assert!(
            error["message"].as_str().unwrap().contains(words),
            "{given} -> {error}"
        );
        assert_eq!(
            app.sandbox.transaction(&nit).unwrap().effectuation_requests,
            0,
            "Carat not called for {given}"
        );
    }

    let (status, body) = app
        .post_json(
            &format!("/api/v1/recharges/{id}/effectuate"),
            tim(json!([{"code": "5", "description": "Joaquim José"}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    let tx = app.sandbox.transaction(&nit).unwrap();
    assert_eq!(tx.effectuation_requests, 1);
    assert_eq!(
        tx.effectuation_answers,
        answers(&[("5", "Joaquim José")]),
        "the answers sent"
    );
}

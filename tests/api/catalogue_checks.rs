//! An effectuation that asks for what Carat did not list for the recharge (a dealer, a type, an
//! amount, an amount key, an answer) is the storefront's own mistake: a 422 naming the field,
//! Carat is not asked to effectuate, and the recharge stays `started` for a corrected request.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PHONE_OK, TestApp, effectuation, event_names, spawn_app};

/// The sandbox's effectuation requests for the transaction.
fn effectuations_sent(app: &TestApp, nit: &str) -> u32 {
    app.sandbox.transaction(nit).unwrap().effectuation_requests
}

fn with(pointer: &str, value: Value) -> Value {
    let mut body = effectuation(PHONE_OK, 1000);
    match body.pointer_mut(pointer) {
        Some(slot) => *slot = value,
        None => {
            let key = pointer.trim_start_matches('/');
            body[key] = value;
        }
    }
    body
}

/// Each body is refused with a 422 naming `field`, nothing reaches Carat's effectuation and
/// the recharge stays `started`; then the correct body goes through.
async fn refused_then_corrected(app: &TestApp, id: &str, nit: &str, cases: Vec<(Value, &str)>) {
    let path = format!("/api/v1/recharges/{id}/effectuate");
    for (body, field) in cases {
        let (status, answer) = app.post_json(&path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {answer}"
        );
        assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
        assert_eq!(answer["error"]["field"], field, "{body} -> {answer}");
        assert_eq!(effectuations_sent(app, nit), 0, "{body}");
        assert_eq!(app.recharge(id).await["status"], "started", "{body}");
    }

    let (status, body) = app.post_json(&path, effectuation(PHONE_OK, 1000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    assert_eq!(effectuations_sent(app, nit), 1);
}

#[tokio::test]
async fn choices_carat_did_not_list_are_422_and_never_reach_carat() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let (id, nit) = (
        created["id"].as_str().unwrap(),
        created["nit"].as_str().unwrap(),
    );
    // The storefront lists as Carat's flow has it: these listings are what it is held to.
    app.list_catalogue(id, "001", "11").await;

    let tim = |answers: Value| {
        let mut body = with("/dealer/code", json!("004"));
        body["answers"] = answers;
        body
    };
    let cases = vec![
        (with("/dealer/code", json!("009")), "dealer.code"),
        (with("/dealer/type_code", json!("02")), "dealer.type_code"),
        (with("/amount", json!(2500)), "amount"),
        (with("/amount_key", json!("7")), "amount_key"),
        (
            {
                let mut body = with("/amount", json!(2500));
                body["amount_key"] = json!("3");
                body
            },
            "amount",
        ),
        // Tim asks a question (its branch data is listed by the service itself).
        (tim(json!([])), "answers[5]"),
        (
            tim(json!([{"code": "5", "description": "Jo"}])),
            "answers[5].description",
        ),
    ];
    refused_then_corrected(&app, id, nit, cases).await;
}

#[tokio::test]
async fn without_a_listing_the_service_lists_first_then_checks() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let (id, nit) = (
        created["id"].as_str().unwrap(),
        created["nit"].as_str().unwrap(),
    );

    let cases = vec![
        (with("/amount", json!(2500)), "amount"),
        (with("/dealer/code", json!("9")), "dealer.code"),
    ];
    refused_then_corrected(&app, id, nit, cases).await;

    let history = event_names(&app.recharge(id).await);
    let listed = |name: &str| history.iter().filter(|e| *e == name).count();
    // Listed once each and kept: the later requests are checked against the same listings.
    assert_eq!(listed("outbound_call:list_dealers"), 1, "{history:?}");
    assert_eq!(listed("outbound_call:list_branches"), 1, "{history:?}");
}

//! `used_payment_methods` end to end: the storefront's lists reach Carat on the effectuation
//! (`sale.used_payment_methods`) and on the confirmation, each bad list is a 422 naming the
//! field before Carat is called, a lost confirmation answer is resent with the same list, and
//! `send_payment_methods` makes the merchant's next effectuation carry them.

use std::time::Duration;

use carat_sandbox::faults::SEND_PAYMENT_METHODS_AMOUNT;
use carat_sandbox::{Fault, Operation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Options, PHONE_OK, TestApp, actors_of, effectuation, poll_recharge, spawn_app, spawn_app_with,
};

/// A top-up of `amount` cents whose body carries `methods` in `sale`.
fn paid_with(amount: u64, methods: Value) -> Value {
    let mut body = effectuation(PHONE_OK, amount);
    body["sale"] = json!({"used_payment_methods": methods});
    body
}

async fn started(app: &TestApp) -> (String, String) {
    let created = app.create_recharge().await;
    (
        created["id"].as_str().unwrap().to_owned(),
        created["nit"].as_str().unwrap().to_owned(),
    )
}

/// A new recharge's effectuation without `used_payment_methods`, refused naming the field, with
/// nothing sent to Carat; answers the recharge's id and the refusal.
async fn refused_without_methods(app: &TestApp) -> (String, Value) {
    let (next, nit) = started(app).await;
    let error = app
        .refused_effectuation(&next, &effectuation(PHONE_OK, 1000))
        .await;
    assert_eq!(error["field"], "sale.used_payment_methods", "{error}");
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        0
    );
    (next, error)
}

async fn effectuate(app: &TestApp, id: &str, body: Value) -> (StatusCode, Value) {
    app.post_json(&format!("/api/v1/recharges/{id}/effectuate"), body)
        .await
}

async fn confirm(app: &TestApp, id: &str, body: Value) -> (StatusCode, Value) {
    app.post_json(&format!("/api/v1/recharges/{id}/confirm"), body)
        .await
}

fn strings(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| (*s).to_owned()).collect())
}

#[tokio::test]
async fn given_on_the_effectuation_and_the_confirmation_they_reach_carat() {
    let app = spawn_app().await;
    let (id, nit) = started(&app).await;
    let methods = json!([
        {"type": "00", "amount": 600},
        {"type": "05", "amount": 400, "collected": [{"id": "1", "data": "5"}, {"id": "2", "data": "123456789"}]},
    ]);
    let (status, body) = effectuate(&app, &id, paid_with(1000, methods.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    assert_eq!(body["used_payment_methods"], methods, "{body}");
    assert_eq!(body["payment_methods_max"], 2, "{body}");

    let (status, body) = confirm(
        &app,
        &id,
        json!({"confirm": true, "used_payment_methods": [{"type": "99", "amount": 1000}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed", "{body}");
    assert_eq!(
        body["confirmation_payment_methods"],
        json!([{"type": "99", "amount": 1000}])
    );

    let seen = app.sandbox.transaction(&nit).unwrap();
    assert_eq!(
        seen.effectuation_payment_methods,
        [strings(&["00:600", "05:400:1:5-2:123456789"])]
    );
    assert_eq!(seen.confirmation_payment_methods, [strings(&["99:1000"])]);
}

/// Three cash entries summing to 1000 cents: one more than the sandbox's max of 2.
fn three_entries() -> Value {
    json!([
        {"type": "00", "amount": 300}, {"type": "00", "amount": 300}, {"type": "00", "amount": 400}
    ])
}

/// Before any answer announced a max, the service checks none: three entries reach Carat
/// (which holds them to its max of 2 itself). That recharge's next answer announces max 2.
async fn before_a_max_three_entries_reach_carat(app: &TestApp) {
    let (first, first_nit) = started(app).await;
    let (_, body) = effectuate(app, &first, paid_with(1000, three_entries())).await;
    assert_eq!(body["error"]["code"], "carat_refused", "{body}");
    assert_eq!(
        app.sandbox
            .transaction(&first_nit)
            .unwrap()
            .effectuation_requests,
        1
    );
    let (status, body) = effectuate(app, &first, effectuation(PHONE_OK, 1000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A bad effectuation list of a 1000-cent top-up, the field its 422 names and words of its
/// message.
fn bad_effectuation_lists() -> [(Value, &'static str, &'static str); 7] {
    [
        (three_entries(), "sale.used_payment_methods", "at most 2"),
        (
            json!([{"type": "00", "amount": 999}]),
            "sale.used_payment_methods",
            "sum to 999 cents",
        ),
        (
            json!([{"type": "5", "amount": 1000}]),
            "sale.used_payment_methods[0].type",
            "exactly 2",
        ),
        (
            json!([{"type": "00", "amount": 500}, {"type": "05", "amount": "500"}]),
            "sale.used_payment_methods[1].amount",
            "",
        ),
        (
            json!([{"type": "05", "amount": 1000, "collected": [{"id": "1", "data": "12-34"}]}]),
            "sale.used_payment_methods[0].collected[0].data",
            "must not contain ':' or '-'",
        ),
        (
            json!([{"type": "05", "amount": 1000, "collected": [{"id": "1", "data": "a:b"}]}]),
            "sale.used_payment_methods[0].collected[0].data",
            "must not contain ':' or '-'",
        ),
        (json!([]), "sale.used_payment_methods", "at least one"),
    ]
}

/// A bad confirmation of a 1000-cent top-up (held to its own effectuation's max and amount),
/// the field its 422 names and words of its message.
fn bad_confirmation_lists() -> [(Value, &'static str, &'static str); 5] {
    [
        (
            json!({"confirm": true, "used_payment_methods": [
                {"type": "00", "amount": 300}, {"type": "00", "amount": 300}, {"type": "00", "amount": 400}]}),
            "used_payment_methods",
            "at most 2",
        ),
        (
            json!({"confirm": true, "used_payment_methods": [{"type": "00", "amount": 1001}]}),
            "used_payment_methods",
            "must sum to the transaction's amount, 1000 cents",
        ),
        (
            json!({"confirm": true, "used_payment_methods": [{"type": "0A", "amount": 1000}]}),
            "used_payment_methods[0].type",
            "",
        ),
        (
            json!({"confirm": true, "used_payment_methods": [
                {"type": "05", "amount": 1000, "collected": [{"id": "1", "data": "x-y"}]}]}),
            "used_payment_methods[0].collected[0].data",
            "must not contain",
        ),
        (
            json!({"confirm": false, "used_payment_methods": [{"type": "00", "amount": 1000}]}),
            "used_payment_methods",
            "goes only with",
        ),
    ]
}

#[tokio::test]
async fn each_bad_list_is_a_422_naming_the_field_before_carat_is_called() {
    let app = spawn_app().await;
    before_a_max_three_entries_reach_carat(&app).await;
    // That answer announced max 2 (the sandbox's), now held against every list.

    let (id, nit) = started(&app).await;
    for (methods, field, words) in bad_effectuation_lists() {
        let error = app
            .refused_effectuation(&id, &paid_with(1000, methods.clone()))
            .await;
        assert_eq!(error["field"], field, "{methods} -> {error}");
        assert!(
            error["message"].as_str().unwrap().contains(words),
            "{methods} -> {error}"
        );
    }
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        0
    );

    // The confirmation: held to its own effectuation's max and amount.
    let (status, body) = effectuate(&app, &id, effectuation(PHONE_OK, 1000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (body, field, words) in bad_confirmation_lists() {
        let (status, answer) = confirm(&app, &id, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {answer}"
        );
        assert_eq!(answer["error"]["field"], field, "{body} -> {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(words),
            "{body} -> {answer}"
        );
    }
    let seen = app.sandbox.transaction(&nit).unwrap();
    assert_eq!(seen.confirmation_requests, 0);
    assert_eq!(app.recharge(&id).await["status"], "pending_confirmation");
}

#[tokio::test]
async fn a_lost_confirmation_answer_is_resent_by_the_reconciler_with_the_same_list() {
    let app = spawn_app_with(Options {
        carat_timeout: Duration::from_millis(700),
        reconcile: true,
        reconcile_interval: Duration::from_millis(100),
        ..Options::default()
    })
    .await;
    let (id, nit) = started(&app).await;
    let (status, body) = effectuate(&app, &id, effectuation(PHONE_OK, 1000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Carat answers 500 without applying it: the confirmation's outcome is unknown.
    app.sandbox.inject(Operation::Confirm, Fault::Error500, 1);
    let methods = json!([
        {"type": "00", "amount": 250},
        {"type": "05", "amount": 750, "collected": [{"id": "3", "data": "0520200001A6"}]},
    ]);
    let (status, body) = confirm(
        &app,
        &id,
        json!({"confirm": true, "used_payment_methods": methods}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["recharge_status"], "confirming", "{body}");

    let recharge = poll_recharge(
        &app.client,
        &app.address,
        &id,
        Duration::from_secs(10),
        |r| r["status"] == "confirmed",
    )
    .await;
    let actors = actors_of(&recharge, "confirming -> confirmed");
    assert!(
        actors.iter().all(|a| a.starts_with("reconciler:")),
        "{actors:?}"
    );
    let seen = app.sandbox.transaction(&nit).unwrap();
    assert_eq!(seen.confirmation_requests, 2);
    // The resend is the one Carat applied: it carried the storefront's list.
    assert_eq!(
        seen.confirmation_payment_methods,
        [strings(&["00:250", "05:750:3:0520200001A6"])]
    );
}

#[tokio::test]
async fn send_payment_methods_makes_the_next_effectuation_carry_them() {
    let app = spawn_app().await;
    let (asked, _) = started(&app).await;
    let (status, body) = effectuate(
        &app,
        &asked,
        effectuation(PHONE_OK, SEND_PAYMENT_METHODS_AMOUNT),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["send_payment_methods"], true, "{body}");

    // The merchant's next effectuation, another recharge's, must carry them.
    let (next, error) = refused_without_methods(&app).await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("Carat Portal asked"),
        "{error}"
    );
    let (status, body) = effectuate(
        &app,
        &next,
        paid_with(1000, json!([{"type": "00", "amount": 1000}])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("send_payment_methods").is_none(), "{body}");

    // Sent once: the request is answered, the one after needs none.
    let (after, _) = started(&app).await;
    let (status, body) = effectuate(&app, &after, effectuation(PHONE_OK, 1000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_bill_carries_them_too_summing_to_the_bill() {
    use carat_sandbox::bills::PAYABLE_BAR_CODE;
    let app = spawn_app().await;
    let (status, created) = app
        .post_json("/api/v1/recharges", json!({"recharge_type": "invoice"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (id, nit) = (
        created["id"].as_str().unwrap().to_owned(),
        created["nit"].as_str().unwrap().to_owned(),
    );
    let (status, listed) = app
        .get_json(&format!(
            "/api/v1/recharges/{id}/branches?dealer_code=910&bar_code={PAYABLE_BAR_CODE}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let pay = |methods: Value| {
        json!({"dealer": {"code": "910", "type_code": "04"},
               "invoice": {"bar_code": PAYABLE_BAR_CODE}, "amount": 15990,
               "sale": {"used_payment_methods": methods}})
    };
    let error = app
        .refused_effectuation(&id, &pay(json!([{"type": "00", "amount": 15000}])))
        .await;
    assert_eq!(error["field"], "sale.used_payment_methods", "{error}");
    let (status, body) = effectuate(
        &app,
        &id,
        pay(json!([{"type": "00", "amount": 10000}, {"type": "05", "amount": 5990}])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.sandbox
            .transaction(&nit)
            .unwrap()
            .effectuation_payment_methods,
        [strings(&["00:10000", "05:5990"])]
    );
}

/// What Carat announces about payment methods is kept in each instance's memory
/// (`carat_core::shared_memory`): a request another instance hears is seen here as soon as its
/// notification arrives, before this instance's next effectuation is checked.
#[tokio::test]
async fn a_request_another_instance_hears_is_seen_here() {
    let app = spawn_app().await;
    let other = app.spawn_second_instance().await;
    // Both instances have checked an effectuation: each holds the row's copy.
    for _ in 0..2 {
        let (id, _) = started(&app).await;
        let (status, body) = effectuate(&app, &id, effectuation(PHONE_OK, 1000)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let created = crate::helpers::post_to(
        &app.client,
        format!("{other}/api/v1/recharges"),
        &json!({"recharge_type": "normal"}),
    )
    .await
    .1;
    let asked = created["id"].as_str().unwrap();
    let (status, body) = crate::helpers::post_to(
        &app.client,
        format!("{other}/api/v1/recharges/{asked}/effectuate"),
        &effectuation(PHONE_OK, SEND_PAYMENT_METHODS_AMOUNT),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["send_payment_methods"], true, "{body}");

    // Committed, and so announced, before the other instance answered.
    refused_without_methods(&app).await;
}

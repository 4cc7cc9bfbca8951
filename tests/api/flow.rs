//! The whole top-up, to confirmed and to undone.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PHONE_OK, TestApp, concurrently, effectuation, event_names, spawn_app};

/// A recharge created: its NIT came, Carat holds it NOV. Returns its id and NIT.
async fn a_created_recharge(app: &TestApp) -> (String, String) {
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    let nit = created["nit"].as_str().unwrap();
    assert_eq!(nit.len(), 64);
    assert_eq!(created["carat_status"], "NOV");
    assert!(
        created["merchant_usn"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(app.sandbox.transaction(nit).unwrap().status, "NOV");
    (id.to_owned(), nit.to_owned())
}

/// The dealers (Vivo among them), then Vivo's branch data, amounts in integer cents.
async fn list_the_catalogue(app: &TestApp, id: &str) {
    let (status, dealers) = app
        .get_json(&format!("/api/v1/recharges/{id}/dealers"))
        .await;
    assert_eq!(status, StatusCode::OK, "{dealers}");
    let vivo = dealers["dealers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Vivo")
        .expect("Vivo is listed");
    assert_eq!(vivo["code"], "001");

    let (status, branches) = app
        .get_json(&format!(
            "/api/v1/recharges/{id}/branches?dealer_code=001&ddd=11"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{branches}");
    let range = &branches["categories"][0]["amount_ranges"][0];
    assert_eq!(range["amount_key"], "1");
    assert_eq!(
        range["min_amount"], 1000,
        "amounts are integer cents: {branches}"
    );
}

/// R$ 10,00 by amount key 1: pending confirmation, Carat's PPC.
async fn effectuate_by_amount_key(app: &TestApp, id: &str, nit: &str) {
    let (status, effectuated) = app
        .post_json(
            &format!("/api/v1/recharges/{id}/effectuate"),
            json!({"dealer": {"code": "001", "type_code": "03"}, "phone": {"ddd": "11", "number": PHONE_OK},
                   "amount": 1000, "amount_key": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{effectuated}");
    assert_eq!(effectuated["status"], "pending_confirmation");
    assert_eq!(effectuated["carat_status"], "PPC");
    assert_eq!(effectuated["esitef_usn"].as_str().unwrap().len(), 15);
    assert!(
        effectuated["receipts"]["customer"]
            .as_str()
            .unwrap()
            .contains("RECARGA")
    );
    assert!(effectuated["authorization"]["number"].is_string());
    assert_eq!(effectuated["effectuation"]["amount"], 1000);
    assert_eq!(app.sandbox.transaction(nit).unwrap().status, "PPC");
}

#[tokio::test]
async fn a_top_up_completes_to_confirmed() {
    let app = spawn_app().await;
    let (id, nit) = a_created_recharge(&app).await;
    let (id, nit) = (id.as_str(), nit.as_str());
    list_the_catalogue(&app, id).await;
    effectuate_by_amount_key(&app, id, nit).await;

    let (status, confirmed) = app.confirm(id, true).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["carat_status"], "CON");
    assert_eq!(app.sandbox.transaction(nit).unwrap().status, "CON");

    // Asking again answers the same and calls Carat no more.
    let (status, again) = app.confirm(id, true).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["status"], "confirmed");
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!((tx.effectuation_requests, tx.confirmation_requests), (1, 1));

    let history = event_names(&app.recharge(id).await);
    assert_eq!(
        history,
        [
            "state_change:created",
            "callback:authenticity",
            "state_change:created -> started",
            "outbound_call:begin",
            "outbound_call:list_dealers",
            "outbound_call:list_branches",
            "state_change:started -> effectuating",
            "outbound_call:effectuate",
            "state_change:effectuating -> pending_confirmation",
            "state_change:pending_confirmation -> confirming",
            "outbound_call:confirm",
            "state_change:confirming -> confirmed",
        ]
    );
}

#[tokio::test]
async fn a_top_up_can_be_undone() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    let nit = created["nit"].as_str().unwrap();

    let (status, body) = app.effectuate(id, PHONE_OK, 2000).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, undone) = app.confirm(id, false).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert_eq!(undone["status"], "undone");
    assert_eq!(app.sandbox.transaction(nit).unwrap().status, "PPN");

    // Once undone it cannot be confirmed.
    let (status, body) = app.confirm(id, true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["recharge_status"], "undone");
}

#[tokio::test]
async fn steps_out_of_order_are_conflicts_that_say_why() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();

    let (status, body) = app.confirm(id, true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not been effectuated"),
        "{body}"
    );

    let (status, _) = app.effectuate(id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK);
    // The same effectuation again (a lost answer retried) answers as the first did...
    let (status, body) = app.effectuate(id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation");
    // ...another one is refused, and nothing reached Carat twice.
    let (status, body) = app.effectuate(id, PHONE_OK, 2000).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let nit = created["nit"].as_str().unwrap();
    assert_eq!(
        app.sandbox.transaction(nit).unwrap().effectuation_requests,
        1
    );

    let (status, body) = app
        .get_json(&format!("/api/v1/recharges/{id}/dealers"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn concurrent_steps_reach_carat_once() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    let nit = created["nit"].as_str().unwrap();

    // Five identical effectuations at once: one goes to Carat; the others are told it is in
    // progress, or (once it is done) get its result.
    let answers = concurrently(
        &app,
        &format!("/api/v1/recharges/{id}/effectuate"),
        vec![effectuation(PHONE_OK, 1000); 5],
    )
    .await;
    assert!(
        answers.iter().any(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    for (status, body) in &answers {
        assert!(
            matches!(*status, StatusCode::OK | StatusCode::CONFLICT),
            "{status} {body}"
        );
    }
    assert_eq!(
        app.sandbox.transaction(nit).unwrap().effectuation_requests,
        1
    );

    // Confirm and undo at once: exactly one is sent, and the recharge ends as Carat says.
    let answers = concurrently(
        &app,
        &format!("/api/v1/recharges/{id}/confirm"),
        vec![json!({"confirm": true}), json!({"confirm": false})],
    )
    .await;
    let winners = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(winners, 1, "{answers:?}");
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!(tx.confirmation_requests, 1);
    let expected = if tx.status == "CON" {
        "confirmed"
    } else {
        "undone"
    };
    assert_eq!(app.recharge(id).await["status"], expected);
}

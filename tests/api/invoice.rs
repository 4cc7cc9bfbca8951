//! Bill payments (`invoice`): a bill found by its bar code, paid exactly as Carat listed it.

use carat_sandbox::bills::{EXPIRED_BAR_CODE, PAYABLE_BAR_CODE};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TOKEN, TestApp, read, spawn_app};

/// A bar code no sandbox bill has.
const UNKNOWN_BAR_CODE: &str = "836900000000000000000000000000000000000000000000";

/// Creates an `invoice` recharge; answers its id and NIT.
async fn started_invoice(app: &TestApp) -> (String, String) {
    let (status, body) = app
        .post_json("/api/v1/recharges", json!({"recharge_type": "invoice"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "started", "{body}");
    assert_eq!(body["recharge_type"], "invoice", "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["nit"].as_str().unwrap().to_owned(),
    )
}

async fn list_bill(app: &TestApp, id: &str, bar_code: &str) -> (StatusCode, Value) {
    app.get_json(&format!(
        "/api/v1/recharges/{id}/branches?dealer_code=910&bar_code={bar_code}"
    ))
    .await
}

fn pay(bar_code: &str, amount: u64) -> Value {
    json!({"dealer": {"code": "910", "type_code": "04"},
           "invoice": {"bar_code": bar_code}, "amount": amount})
}

/// The `request` of the history's outbound call `name`.
fn sent(recharge: &Value, name: &str) -> Value {
    recharge["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "outbound_call" && e["name"] == name)
        .unwrap_or_else(|| panic!("no {name} call in {recharge}"))["detail"]["request"]
        .clone()
}

#[tokio::test]
async fn a_bill_is_paid_exactly_as_carat_listed_it() {
    let app = spawn_app().await;
    let (id, nit) = started_invoice(&app).await;

    let (status, dealers) = app
        .get_json(&format!("/api/v1/recharges/{id}/dealers"))
        .await;
    assert_eq!(status, StatusCode::OK, "{dealers}");
    assert_eq!(dealers["dealers"][0]["code"], "910", "{dealers}");

    let (status, listed) = list_bill(&app, &id, PAYABLE_BAR_CODE).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let bill = listed["invoice"].clone();
    assert_eq!(bill["bar_code"], PAYABLE_BAR_CODE);
    assert_eq!(bill["amount"], 15990, "amounts are integer cents: {listed}");
    assert_eq!(bill["expiry_date"].as_str().unwrap().len(), 8);

    let (status, paid) = app
        .post_json(
            &format!("/api/v1/recharges/{id}/effectuate"),
            pay(PAYABLE_BAR_CODE, 15990),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["status"], "pending_confirmation", "{paid}");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "PPC");

    // Carat was sent the bill exactly as it listed it, from the kept listing.
    let recharge = app.recharge(&id).await;
    let listing = sent(&recharge, "list_invoice");
    assert_eq!(
        listing["list_branch_data_request"],
        json!({"merchant_key": "[redacted]", "recharge_type": "invoice",
               "dealer": {"code": "910", "type_code": "04"},
               "invoice": {"bar_code": PAYABLE_BAR_CODE}}),
    );
    let effectuation = &sent(&recharge, "effectuate")["do_recharge_request"];
    let mut expected = bill.clone();
    expected.as_object_mut().unwrap().remove("amount");
    assert_eq!(effectuation["invoice"], expected, "{effectuation}");
    assert_eq!(effectuation["amount"], "15990");
    assert!(effectuation.get("phone").is_none(), "{effectuation}");
    assert_eq!(recharge["effectuation"]["invoice"], expected);

    let (status, confirmed) = app.confirm(&id, true).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "CON");

    // A repeat of the payment answers as the first did, and pays nothing more.
    let (status, again) = app
        .post_json(
            &format!("/api/v1/recharges/{id}/effectuate"),
            pay(PAYABLE_BAR_CODE, 15990),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        1
    );
}

#[tokio::test]
async fn an_unknown_bar_code_or_an_expired_bill_is_refused_by_the_listing() {
    let app = spawn_app().await;
    let (id, nit) = started_invoice(&app).await;

    for (bar_code, code) in [(UNKNOWN_BAR_CODE, "20"), (EXPIRED_BAR_CODE, "21")] {
        let (status, body) = list_bill(&app, &id, bar_code).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert_eq!(body["error"]["carat"]["code"], code, "{body}");
        // Nothing was kept: paying it is the storefront's mistake, and Carat is not called.
        let error = app.refused_effectuation(&id, &pay(bar_code, 4590)).await;
        assert_eq!(error["field"], "invoice.bar_code", "{error}");
    }
    assert_eq!(app.recharge(&id).await["status"], "started");
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        0
    );
}

#[tokio::test]
async fn a_bar_code_not_listed_or_another_amount_is_refused_before_carat_is_called() {
    let app = spawn_app().await;
    let (id, nit) = started_invoice(&app).await;
    assert_eq!(
        list_bill(&app, &id, PAYABLE_BAR_CODE).await.0,
        StatusCode::OK
    );

    let error = app
        .refused_effectuation(&id, &pay(UNKNOWN_BAR_CODE, 15990))
        .await;
    assert_eq!(error["field"], "invoice.bar_code", "{error}");
    let error = app
        .refused_effectuation(&id, &pay(PAYABLE_BAR_CODE, 15000))
        .await;
    assert_eq!(error["field"], "amount", "{error}");
    let mut wrong_type = pay(PAYABLE_BAR_CODE, 15990);
    wrong_type["dealer"]["type_code"] = json!("03");
    let error = app.refused_effectuation(&id, &wrong_type).await;
    assert_eq!(error["field"], "dealer.type_code", "{error}");

    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        0
    );
    assert_eq!(app.recharge(&id).await["status"], "started");
}

#[tokio::test]
async fn a_malformed_bar_code_or_a_bill_field_from_the_storefront_is_a_422_naming_it() {
    let app = spawn_app().await;
    let (id, nit) = started_invoice(&app).await;

    for bad in ["123", &format!("{}X", &PAYABLE_BAR_CODE[..47])] {
        let (status, body) = list_bill(&app, &id, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "bar_code", "{body}");
        let error = app.refused_effectuation(&id, &pay(bad, 15990)).await;
        assert_eq!(error["field"], "invoice.bar_code", "{error}");
    }
    let (status, body) = app
        .get_json(&format!("/api/v1/recharges/{id}/branches?dealer_code=910"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "bar_code", "{body}");

    // The bill's other fields, its date among them, come from Carat's listing only.
    let mut dated = pay(PAYABLE_BAR_CODE, 15990);
    dated["invoice"]["expiry_date"] = json!("31022026");
    let error = app.refused_effectuation(&id, &dated).await;
    assert_eq!(error["field"], "invoice.expiry_date", "{error}");

    // Read as strictly as any body: a field twice is refused, not the last one taken.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/recharges/{id}/effectuate")))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"dealer":{{"code":"910","type_code":"04"}},"invoice":{{"bar_code":"{PAYABLE_BAR_CODE}"}},"amount":1,"amount":15990}}"#
        ))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "amount", "{body}");

    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        0
    );
}

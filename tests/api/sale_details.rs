//! `sale`: the effectuation's optional facts (terminal type, the customer's CPF or CNPJ, CEP)
//! are checked before Carat is called and sent to Carat as the storefront gave them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PHONE_OK, effectuation, spawn_app};

fn with_sale(sale: Value) -> Value {
    let mut body = effectuation(PHONE_OK, 1000);
    body["sale"] = sale;
    body
}

#[tokio::test]
async fn sale_details_are_checked_then_sent_to_carat() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap().to_owned();
    let nit = created["nit"].as_str().unwrap().to_owned();
    app.list_catalogue(&id, "001", "11").await;

    for (sale, field) in [
        (json!({"terminal_type": "06"}), "sale.terminal_type"),
        (json!({"cpf": "52998224724"}), "sale.cpf"),
        (json!({"cnpj": "11222333000182"}), "sale.cnpj"),
        (json!({"zip_code": "01310-100"}), "sale.zip_code"),
        (json!({"rg": "123"}), "sale.rg"),
    ] {
        let error = app
            .refused_effectuation(&id, &with_sale(sale.clone()))
            .await;
        assert_eq!(error["field"], field, "{sale} -> {error}");
    }
    let sent = app.sandbox.transaction(&nit).unwrap().effectuation_requests;
    assert_eq!(sent, 0, "nothing reached Carat");

    let sale = json!({
        "terminal_type": "04",
        "cpf": "52998224725",
        "cnpj": "12ABC34501DE35",
        "zip_code": "01310100",
    });
    let (status, body) = app
        .post_json(
            &format!("/api/v1/recharges/{id}/effectuate"),
            with_sale(sale),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");

    // What went to Carat is in the history's record of the call.
    let recharge = app.recharge(&id).await;
    let call = recharge["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "outbound_call" && e["name"] == "effectuate")
        .expect("the effectuation's call is recorded");
    let request = &call["detail"]["request"]["do_recharge_request"];
    assert_eq!(request["terminal_type"], "04", "{call}");
    assert_eq!(request["cpf"], "52998224725", "{call}");
    assert_eq!(request["cnpj"], "12ABC34501DE35", "{call}");
    assert_eq!(request["zip_code"], "01310100", "{call}");
    // And how long Carat took to answer it, for the operators' timeline.
    assert!(call["detail"]["elapsed_ms"].is_u64(), "{call}");
}

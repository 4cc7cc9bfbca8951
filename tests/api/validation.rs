//! Bad input: a clear 4xx naming the field, and nothing written.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PHONE_OK, read, spawn_app};

#[tokio::test]
async fn requests_without_the_token_are_401() {
    let app = spawn_app().await;
    for token in [None, Some("wrong")] {
        let mut req = app
            .client
            .post(app.url("/api/v1/recharges"))
            .json(&json!({"recharge_type": "normal"}));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let (status, body) = read(req.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM recharges")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn bad_create_bodies_name_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"recharge_type": "normal", "order_id": "bad-id!"}),
            "order_id",
        ),
        (
            json!({"recharge_type": "normal", "order_id": "123456789012345678901"}),
            "order_id",
        ),
        (json!({"recharge_type": "phone"}), "recharge_type"),
        (json!({}), "recharge_type"),
        (
            json!({"recharge_type": "normal", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post_json("/api/v1/recharges", body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {answer}"
        );
        assert_eq!(answer["error"]["field"], field, "{body} -> {answer}");
    }
    let response = app
        .client
        .post(app.url("/api/v1/recharges"))
        .bearer_auth(crate::helpers::TOKEN)
        .header("Content-Type", "application/json")
        .body("{\"recharge_type\":")
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "malformed_body");
    let response = app
        .client
        .post(app.url("/api/v1/recharges"))
        .bearer_auth(crate::helpers::TOKEN)
        .body("recharge_type=normal")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM recharges")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing is written for a bad request");
}

#[tokio::test]
async fn an_order_id_is_used_once() {
    let app = spawn_app().await;
    let body = json!({"recharge_type": "normal", "order_id": "PEDIDO0001"});
    let (status, created) = app.post_json("/api/v1/recharges", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["order_id"], "PEDIDO0001");
    // A retry whose first answer was lost learns which recharge holds the order id.
    let (status, answer) = app.post_json("/api/v1/recharges", body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("order_id")
    );
    assert_eq!(answer["error"]["recharge_id"], created["id"]);
}

#[tokio::test]
async fn bad_effectuations_name_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    let before = app.recharge(id).await;

    let good = crate::helpers::effectuation(PHONE_OK, 1000);
    let with = |pointer: &str, value: Value| {
        let mut body = good.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let cases = [
        (with("/phone/ddd", json!("1")), "phone.ddd"),
        // Well-formed for Carat (`= 2 N`, `< 9 N`), but no Brazilian phone has them.
        (with("/phone/ddd", json!("00")), "phone.ddd"),
        (with("/phone/ddd", json!("20")), "phone.ddd"),
        (with("/phone/number", json!("123")), "phone.number"),
        (with("/phone/number", json!("12345678901")), "phone.number"),
        (with("/phone/number", json!(987654321)), "phone.number"),
        (with("/dealer/code", json!("1234")), "dealer.code"),
        (with("/dealer/type_code", json!("abc")), "dealer.type_code"),
        (with("/amount", json!(10.5)), "amount"),
        (with("/amount", json!("1000")), "amount"),
        (with("/amount", json!(0)), "amount"),
        (with("/amount", json!(-5)), "amount"),
        (
            json!({"dealer": {"code": "001", "type_code": "03"}, "amount": 1000}),
            "phone",
        ),
        (
            json!({"dealer": {"code": "001", "type_code": "03"}, "phone": {"ddd": "11", "number": PHONE_OK},
                "amount": 1000, "amount_key": "not a key"}),
            "amount_key",
        ),
    ];
    for (body, field) in cases {
        let error = app.refused_effectuation(id, &body).await;
        assert_eq!(error["field"], field, "{body} -> {error}");
    }
    let after = app.recharge(id).await;
    assert_eq!(after["status"], "started");
    assert_eq!(after["events"], before["events"]);
    assert_eq!(
        app.sandbox
            .transaction(created["nit"].as_str().unwrap())
            .unwrap()
            .effectuation_requests,
        0
    );
}

#[tokio::test]
async fn branch_queries_and_ids_are_checked() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();

    let (status, body) = app
        .get_json(&format!("/api/v1/recharges/{id}/branches?dealer_code=001"))
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("ddd"))
    );
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/recharges/{id}/branches?dealer_code=x1&ddd=11"
        ))
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("dealer_code"))
    );

    for path in [
        "/api/v1/recharges/not-an-id",
        &format!("/api/v1/recharges/{}", uuid::Uuid::new_v4()),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "not_found");
    }
}

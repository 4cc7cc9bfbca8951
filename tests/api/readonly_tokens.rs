//! `API_READONLY_TOKENS`: support staff read what is stored and nothing else.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TOKEN, TestApp, read, spawn_app};

const SUPPORT: &str = "support-staff-token";

async fn call(
    app: &TestApp,
    base: &str,
    method: Method,
    path: &str,
    token: &str,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method.clone(), format!("{base}{path}"))
        .bearer_auth(token);
    if method == Method::POST {
        request = request.json(&json!({}));
    }
    read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_read_only_token_reads_what_is_stored_and_nothing_else() {
    let app = spawn_app().await;
    let recharge = app.create_recharge().await;
    let id = recharge["id"].as_str().unwrap();
    // The same database, configured with a support token (a restart with it).
    let base = app
        .spawn_instance_with(&[("API_READONLY_TOKENS", SUPPORT)])
        .await;

    for path in [
        "/api/v1/recharges".to_owned(),
        format!("/api/v1/recharges/{id}"),
        "/api/v1/callbacks".to_owned(),
        "/api/v1/cards?customer_id=c1".to_owned(),
    ] {
        let (status, body) = call(&app, &base, Method::GET, &path, SUPPORT).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, listed) = call(&app, &base, Method::GET, "/api/v1/recharges", SUPPORT).await;
    assert_eq!(listed["recharges"][0]["id"], id, "{listed}");

    let forbidden = [
        (Method::POST, "/api/v1/recharges".to_owned()),
        (Method::POST, format!("/api/v1/recharges/{id}/effectuate")),
        (Method::POST, format!("/api/v1/recharges/{id}/confirm")),
        (Method::POST, "/api/v1/cards".to_owned()),
        // GETs that would call Carat.
        (Method::GET, format!("/api/v1/recharges/{id}/dealers")),
        (
            Method::GET,
            format!("/api/v1/recharges/{id}/branches?dealer_code=1&ddd=11"),
        ),
    ];
    // Every call to Carat and every change leaves an event in the history.
    let events_before = app.event_count().await;
    for (method, path) in &forbidden {
        let (status, body) = call(&app, &base, method.clone(), path, SUPPORT).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "read_only_token", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("read-only"),
            "{body}"
        );
    }
    assert_eq!(app.event_count().await, events_before, "something was done");
    // Nothing changed: the recharge is still as created, and no recharge was added.
    let (_, after) = call(&app, &base, Method::GET, "/api/v1/recharges", SUPPORT).await;
    assert_eq!(after["recharges"].as_array().unwrap().len(), 1, "{after}");
    assert_eq!(after["recharges"][0]["status"], "started");

    // The full token still does everything there; an unknown one is 401 as before.
    let (status, body) = call(
        &app,
        &base,
        Method::GET,
        &format!("/api/v1/recharges/{id}/dealers"),
        TOKEN,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(&app, &base, Method::GET, "/api/v1/recharges", "nobody").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Where it is not configured, the support token opens nothing.
    let (status, _) = call(
        &app,
        &app.address,
        Method::GET,
        "/api/v1/recharges",
        SUPPORT,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

//! The probe's findings (issue 17), each through the real service: a listing cursor whose
//! instant PostgreSQL cannot hold, a trusted proxy's unreadable `X-Forwarded-For`, and a
//! repeated `Authorization` header (with the `WWW-Authenticate` a 401 owes).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::helpers::{TOKEN, TestApp, read, spawn_app};

async fn list_with_cursor(app: &TestApp, cursor: &str) -> (StatusCode, Value) {
    app.get_json(&format!("/api/v1/recharges?cursor={cursor}"))
        .await
}

/// A cursor at this many microseconds since 1970, for the nil id.
fn cursor_at(micros: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{micros}.{}", uuid::Uuid::nil().simple()))
}

/// Microseconds since 1970 of January 1st of `year` (astronomical: 0 is 1 BC), midnight UTC.
fn micros_of_year(year: i32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

#[tokio::test]
async fn a_cursor_outside_postgres_range_is_a_422_naming_it() {
    let app = spawn_app().await;
    app.create_recharge().await;
    // Today's answer to a cursor the listing did not give: every bad cursor gets the same.
    let (status, malformed) = list_with_cursor(&app, "not-a-cursor").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{malformed}");
    assert_eq!(malformed["error"]["code"], "invalid_field");
    assert_eq!(malformed["error"]["field"], "cursor");

    // Before 4713 BC (PostgreSQL's first instant) and past year 9999 (a cursor's last).
    for year in [-5000, 0, 10_000, 200_000] {
        let (status, body) = list_with_cursor(&app, &cursor_at(micros_of_year(year))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{year}: {body}");
        assert_eq!(body, malformed, "{year}");
    }
    // Within years 1..=9999 a well-formed cursor is read: an empty page past the first row.
    for year in [1, 9999] {
        let (status, body) = list_with_cursor(&app, &cursor_at(micros_of_year(year))).await;
        assert_eq!(status, StatusCode::OK, "{year}: {body}");
    }
}

/// A callback POST (a form the handler itself refuses, 400, once admitted) with these
/// `X-Forwarded-For` headers.
async fn post_callback(app: &TestApp, base: &str, chain: &[&[u8]]) -> (StatusCode, String) {
    let mut request = app
        .client
        .post(format!("{base}/callbacks/authenticity"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("nit=not-a-nit");
    for hop in chain {
        request = request.header("X-Forwarded-For", HeaderValue::from_bytes(hop).unwrap());
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The POSTs the inbox kept (a body received again counts on its first row).
async fn inbox_receipts(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT coalesce(sum(receipt_count), 0)::bigint FROM callbacks")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_unreadable_forwarded_for_from_a_trusted_proxy_is_refused() {
    let app = spawn_app().await;
    // The test's loopback is both the trusted proxy and an allowed network: taking the proxy
    // for the source would admit anyone behind it.
    let base = app
        .spawn_instance_with(&[
            ("CALLBACK_ALLOWED_NETWORKS", "127.0.0.0/8, 203.0.113.0/24"),
            ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ])
        .await;
    let before = inbox_receipts(&app).await;
    for chain in [
        &[&b"198.51.100.9\xff"[..]][..],
        &[b"\xc3\xa9"],
        &[b"unknown"],
        &[b""],
        &[b"198.51.100.9, "],
        &[b"127.0.0.9", b"198.51.100.9\xff"],
        // A trusted proxy's hop first, so the walk reaches the garbage.
        &[b"\xff, 127.0.0.9"],
    ] {
        let (status, text) = post_callback(&app, &base, chain).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{chain:?}: {text}");
        assert!(text.contains("X-Forwarded-For"), "{text}");
    }
    assert_eq!(
        inbox_receipts(&app).await,
        before,
        "refused sources are not kept"
    );

    // Readable chains are judged as before: an outside source refused, an allowed one
    // admitted (the handler then refuses the form itself, 400, and keeps it).
    let (status, text) = post_callback(&app, &base, &[b"198.51.100.9"]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("not allowed"), "{text}");
    let (status, text) = post_callback(&app, &base, &[b"127.0.0.9"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    // Garbage left of the source is the sender's own writing: not read.
    let (status, text) = post_callback(&app, &base, &[b"\xff, 203.0.113.5"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (status, text) = post_callback(&app, &base, &[b"\xff, 198.51.100.9", b"127.0.0.9"]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("not allowed"), "{text}");
    assert_eq!(inbox_receipts(&app).await, before + 2);
}

#[tokio::test]
async fn a_repeated_authorization_header_is_a_400_naming_it() {
    let app = spawn_app().await;
    let bearer = HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap();
    for second in [bearer.clone(), HeaderValue::from_static("Bearer wrong")] {
        let requests = [
            app.client.get(app.url("/api/v1/recharges")),
            app.client
                .post(app.url("/api/v1/recharges"))
                .json(&json!({"recharge_type": "normal"})),
            // `GET /metrics` on the main listener reads the same header the same way.
            app.client.get(app.url("/metrics")),
        ];
        for request in requests {
            let response = request
                .header(AUTHORIZATION, bearer.clone())
                .header(AUTHORIZATION, second.clone())
                .send()
                .await
                .unwrap();
            let (status, body) = read(response).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["error"]["code"], "malformed_header");
            assert_eq!(body["error"]["header"], "Authorization");
            assert_eq!(body["error"]["message"], "Authorization must be sent once");
        }
    }
    // Nothing was created by the refused POSTs.
    let (status, listed) = app.get_json("/api/v1/recharges").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["recharges"], json!([]));
}

#[tokio::test]
async fn a_401_names_the_bearer_scheme() {
    let app = spawn_app().await;
    for authorization in [None, Some("Bearer wrong"), Some("Basic dXNlcjpwdw==")] {
        let mut request = app.client.get(app.url("/api/v1/recharges"));
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        let response = request.send().await.unwrap();
        let challenge = response.headers().get(WWW_AUTHENTICATE).cloned();
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "unauthorized");
        assert_eq!(challenge.unwrap(), "Bearer", "{authorization:?}");
    }
    // An answer other than 401 does not carry it.
    let response = app
        .client
        .get(app.url("/api/v1/recharges"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
}

#[tokio::test]
async fn the_document_lists_the_new_answers() {
    let app = spawn_app().await;
    let (status, document) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let codes = &document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
        ["enum"];
    assert!(
        codes
            .as_array()
            .unwrap()
            .contains(&json!("malformed_header")),
        "{codes}"
    );
    let listing = &document["paths"]["/api/v1/recharges"]["get"]["responses"];
    assert!(
        listing["400"]["description"]
            .as_str()
            .unwrap()
            .contains("malformed_header"),
        "{listing}"
    );
    assert_eq!(
        listing["401"]["headers"]["WWW-Authenticate"]["schema"]["const"],
        "Bearer"
    );
}

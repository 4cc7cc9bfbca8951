//! The probe's findings (issue 17), each through the real service: a listing cursor whose
//! instant PostgreSQL cannot hold, a trusted proxy's unreadable `X-Forwarded-For`, a
//! repeated `Authorization` header (with the `WWW-Authenticate` a 401 owes), control
//! characters in free text, an unbounded `payment.extra_param`, and (schemathesis) branch data
//! asked for a dealer the recharge's listing does not hold.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::helpers::{PHONE_OK, TOKEN, TestApp, event_names, paid, read, spawn_app};
use crate::payments::{CARD_OK, by_number};

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
    // The header is described once, under components, and referred to from each 401.
    assert_eq!(
        listing["401"]["headers"]["WWW-Authenticate"]["$ref"],
        "#/components/headers/WWW-Authenticate"
    );
    assert_eq!(
        document["components"]["headers"]["WWW-Authenticate"]["schema"]["const"],
        "Bearer"
    );
}

/// A `normal` recharge whose catalogue (dealer 001, DDD 11) is listed; answers its id.
async fn listed_top_up(app: &TestApp) -> String {
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap().to_owned();
    app.list_catalogue(&id, "001", "11").await;
    id
}

/// `body` refused with a 422 naming `field`.
fn assert_names(status: StatusCode, body: &Value, field: &str, what: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
    assert_eq!(body["error"]["code"], "invalid_field", "{what}: {body}");
    assert_eq!(body["error"]["field"], field, "{what}: {body}");
}

/// The paid top-up body with `extra_param` set to `params`.
fn with_extra_params(params: Value) -> Value {
    let mut body = paid(by_number(CARD_OK));
    body["payment"]["extra_param"] = params;
    body
}

/// Effectuation bodies with `text` in one free-text field each, keyed by the field a 422 names.
fn effectuations_with(text: &str, control: &str) -> Vec<(&'static str, Value)> {
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let kv = |key: &str, value: &str| with_extra_params(json!([{"key": key, "value": value}]));
    cases.push(("payment.extra_param[0].key", kv(text, "1")));
    cases.push(("payment.extra_param[0].value", kv("CRIPTO", text)));
    let mut answers = paid(by_number(CARD_OK));
    answers["answers"] = json!([{"code": "1", "description": text}]);
    cases.push(("answers[0].description", answers));
    let mut customer = paid(by_number(CARD_OK));
    customer["payment"]["customer_id"] = json!(text);
    cases.push(("payment.customer_id", customer));
    let mut phone = paid(by_number(CARD_OK));
    phone["phone"]["number"] = json!(format!("98765432{control}"));
    cases.push(("phone.number", phone));
    let mut methods = paid(by_number(CARD_OK));
    methods["sale"] = json!({"used_payment_methods": [
        {"type": "99", "amount": 1000, "collected": [{"id": "1", "data": text}]}]});
    cases.push(("sale.used_payment_methods[0].collected[0].data", methods));
    cases.push(("tv_package", json!({"tv_package": text})));
    cases
}

/// Listing and branch queries with `text` in one parameter each, percent-encoded as a client
/// sends them, keyed by the field a 422 names.
fn queries_with(id: &str, text: &str) -> Vec<(String, &'static str)> {
    let encoded: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    vec![
        (format!("/api/v1/recharges?order_id={encoded}"), "order_id"),
        (format!("/api/v1/recharges?nit={encoded}"), "nit"),
        (format!("/api/v1/recharges?status={encoded}"), "status"),
        (
            format!("/api/v1/recharges?created_from={encoded}"),
            "created_from",
        ),
        (
            format!("/api/v1/cards?customer_id={encoded}"),
            "customer_id",
        ),
        (
            format!("/api/v1/recharges/{id}/branches?dealer_code={encoded}&ddd=11"),
            "dealer_code",
        ),
        (
            format!("/api/v1/recharges/{id}/branches?dealer_code=001&ddd={encoded}"),
            "ddd",
        ),
    ]
}

#[tokio::test]
async fn a_control_character_in_any_free_text_is_a_422_naming_the_field() {
    let app = spawn_app().await;
    let id = listed_top_up(&app).await;
    let effectuate = format!("/api/v1/recharges/{id}/effectuate");
    // C0 (NUL above all: PostgreSQL refuses it in text and JSONB), DEL and C1 alike.
    for control in [
        "\u{0}", "\u{7}", "\u{1b}", "\n", "\u{7f}", "\u{85}", "\u{9b}",
    ] {
        let text = format!("a{control}b");
        for (field, body) in effectuations_with(&text, control) {
            let (status, answer) = app.post_json(&effectuate, body).await;
            assert_names(status, &answer, field, &format!("{control:?} in {field}"));
        }
        let (status, answer) = app
            .post_json(
                "/api/v1/recharges",
                json!({"recharge_type": "normal", "order_id": text}),
            )
            .await;
        assert_names(status, &answer, "order_id", &format!("{control:?}"));
        let (status, answer) = app
            .post_json(
                "/api/v1/cards",
                json!({"customer_id": text, "authorizer_id": "1",
                       "card": {"number": CARD_OK, "expiry_date": "1230"}}),
            )
            .await;
        assert_names(status, &answer, "customer_id", &format!("{control:?}"));
        for (path, field) in queries_with(&id, &text) {
            let (status, answer) = app.get_json(&path).await;
            assert_names(status, &answer, field, &format!("{control:?} in {path}"));
        }
    }
    // Nothing was sent: the recharge is still waiting for its effectuation.
    let recharge = app.recharge(&id).await;
    assert_eq!(recharge["status"], "started", "{recharge}");
    // Accents and other printable text still pass: the same body without the control.
    let (status, answer) = app
        .post_json(
            &effectuate,
            with_extra_params(json!([{"key": "CRIPTO", "value": "ação 1"}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn extra_param_is_bounded_in_count_and_length() {
    let app = spawn_app().await;
    let id = listed_top_up(&app).await;
    let effectuate = format!("/api/v1/recharges/{id}/effectuate");
    let entry = |key: String, value: String| json!({"key": key, "value": value});
    let many = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| entry(format!("K{i}"), "1".to_owned()))
                .collect(),
        )
    };
    let cases = [
        ("payment.extra_param", many(21)),
        (
            "payment.extra_param[0].key",
            json!([entry("K".repeat(65), "1".into())]),
        ),
        (
            "payment.extra_param[1].value",
            json!([
                entry("A".into(), "1".into()),
                entry("B".into(), "v".repeat(257))
            ]),
        ),
        // The probe's 200 KB value, once forwarded to Carat.
        (
            "payment.extra_param[0].value",
            json!([entry("CRIPTO".into(), "v".repeat(200_000))]),
        ),
        (
            "payment.extra_param[0].key",
            json!([entry(String::new(), "1".into())]),
        ),
        (
            "payment.extra_param[0].value",
            json!([entry("CRIPTO".into(), String::new())]),
        ),
    ];
    for (field, params) in cases {
        let (status, answer) = app.post_json(&effectuate, with_extra_params(params)).await;
        assert_names(status, &answer, field, field);
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.len() < 300, "no echo of the value: {message}");
    }
    assert_eq!(app.recharge(&id).await["status"], "started");
    // At the limits exactly (multi-byte characters count as one), it is sold.
    let mut full: Vec<Value> = (0..19)
        .map(|i| entry(format!("K{i}"), "1".into()))
        .collect();
    full.push(entry("ç".repeat(64), "é".repeat(256)));
    let (status, answer) = app
        .post_json(&effectuate, with_extra_params(Value::Array(full)))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["payment"]["extra_param"].as_array().unwrap().len(),
        20
    );
}

/// The Carat calls a recharge's history records.
fn carat_calls(recharge: &Value) -> Vec<String> {
    event_names(recharge)
        .into_iter()
        .filter(|name| name.starts_with("outbound_call:"))
        .collect()
}

#[tokio::test]
async fn branch_data_of_a_dealer_the_listing_lacks_is_a_422_without_calling_carat() {
    let app = spawn_app().await;
    // A top-up: 905 is listed for products, not for top-ups; 777 nowhere.
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, dealers) = app
        .get_json(&format!("/api/v1/recharges/{id}/dealers"))
        .await;
    assert_eq!(status, StatusCode::OK, "{dealers}");
    let calls = carat_calls(&app.recharge(&id).await);
    assert_eq!(calls, ["outbound_call:begin", "outbound_call:list_dealers"]);
    for dealer in ["777", "905", "0"] {
        let (status, answer) = app
            .get_json(&format!(
                "/api/v1/recharges/{id}/branches?dealer_code={dealer}&ddd=11"
            ))
            .await;
        assert_names(status, &answer, "dealer_code", dealer);
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("001"), "lists the dealers: {message}");
    }
    assert_eq!(
        carat_calls(&app.recharge(&id).await),
        calls,
        "no branch data was asked of Carat"
    );
    // Not listed yet: the dealers are listed first (as for a product), then the same 422.
    let other = app.create_recharge().await;
    let other = other["id"].as_str().unwrap();
    let (status, answer) = app
        .get_json(&format!(
            "/api/v1/recharges/{other}/branches?dealer_code=777&ddd=11"
        ))
        .await;
    assert_names(status, &answer, "dealer_code", "unlisted");
    assert_eq!(carat_calls(&app.recharge(other).await), calls);
    // A listed dealer, written another way (`1` is `001`), is still listed.
    let (status, answer) = app
        .get_json(&format!(
            "/api/v1/recharges/{id}/branches?dealer_code=1&ddd=11"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Products and bills take their dealer from the same listing, and are refused alike.
    for (kind, query) in [
        ("others", "dealer_code=001&branch_code=97200000000"),
        (
            "invoice",
            &format!("dealer_code=001&bar_code={}", "8".repeat(48))[..],
        ),
    ] {
        let (status, created) = app
            .post_json("/api/v1/recharges", json!({"recharge_type": kind}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap();
        let (status, answer) = app
            .get_json(&format!("/api/v1/recharges/{id}/branches?{query}"))
            .await;
        assert_names(status, &answer, "dealer_code", kind);
    }
}

//! The edges a storefront's developer meets first: strict JSON, content types, body limits,
//! plain-words field errors, JSON 404/405, the bearer scheme, token rotation, request ids.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Options, TOKEN, TestApp, read, spawn_app, spawn_app_with};

/// POSTs `body` as is, with `content_type` (none when `None`), as the storefront.
async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let mut req = app.client.post(app.url(path)).bearer_auth(TOKEN).body(body);
    if let Some(content_type) = content_type {
        req = req.header("Content-Type", content_type);
    }
    read(req.send().await.unwrap()).await
}

async fn recharge_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM recharges")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

const JSON: Option<&str> = Some("application/json");

#[tokio::test]
async fn anything_after_the_json_value_is_malformed() {
    let app = spawn_app().await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    for body in [
        r#"{"confirm":false} trailing"#,
        r#"{"confirm":false}{"confirm":true}"#,
        r#"{"confirm":false},"#,
    ] {
        let (status, answer) =
            post_raw(&app, &format!("/api/v1/recharges/{id}/confirm"), JSON, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], "malformed_body");
    }
    // Not acted on: the recharge is where it was.
    assert_eq!(app.recharge(id).await["status"], "started");
    for body in [
        r#"{"recharge_type":"normal"} x"#,
        r#"{"recharge_type":"normal"}]"#,
    ] {
        let (status, answer) = post_raw(&app, "/api/v1/recharges", JSON, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
    }
    assert_eq!(recharge_count(&app).await, 1);
    // Whitespace after the value is still one value.
    let (status, answer) = post_raw(
        &app,
        "/api/v1/recharges",
        JSON,
        "{\"recharge_type\":\"normal\"} \r\n\t ",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn only_the_json_media_type_is_accepted() {
    let app = spawn_app().await;
    let body = r#"{"recharge_type":"normal"}"#;
    for content_type in [
        Some("application/jsonx"),
        Some("application/json-patch+json"),
        Some("text/json"),
        Some("text/plain"),
        None,
    ] {
        let (status, answer) = post_raw(&app, "/api/v1/recharges", content_type, body).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?} -> {answer}"
        );
        assert_eq!(answer["error"]["code"], "unsupported_media_type");
    }
    assert_eq!(recharge_count(&app).await, 0);
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
    ] {
        let (status, answer) = post_raw(&app, "/api/v1/recharges", Some(content_type), body).await;
        assert_eq!(status, StatusCode::CREATED, "{content_type} -> {answer}");
    }
}

#[tokio::test]
async fn wrong_types_name_the_field_in_plain_words() {
    let app = spawn_app().await;
    let (status, answer) = app
        .post_json("/api/v1/recharges", json!({"recharge_type": 1}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_field");
    assert_eq!(answer["error"]["field"], "recharge_type");
    assert_eq!(
        answer["error"]["message"],
        "recharge_type: must be one of normal, others or invoice, not a number"
    );
    let (status, answer) = app.post_json("/api/v1/recharges", json!(["normal"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "body: must be an object with recharge_type and order_id, not an array"
    );

    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    let good = crate::helpers::effectuation(crate::helpers::PHONE_OK, 1000);
    let with = |pointer: &str, value: Value| {
        let mut body = good.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let cases = [
        (
            with("/phone", json!(5)),
            "phone: must be an object with ddd and number, not a number",
        ),
        (
            with("/phone/ddd", json!(11)),
            "phone.ddd: must be a string, not a number",
        ),
        (
            with("/amount", json!("1000")),
            "amount: must be a whole number of cents, not a string",
        ),
        (
            with("/amount", json!(10.5)),
            "amount: must be a whole number of cents, not a fraction",
        ),
        (
            with("/amount", json!(-5)),
            "amount: must be a whole number of cents, not negative",
        ),
        (
            {
                let mut body = good.clone();
                body["answers"] = json!({});
                body
            },
            "answers: must be an array, not an object",
        ),
    ];
    for (body, message) in cases {
        let error = app.refused_effectuation(id, &body).await;
        assert_eq!(error["message"], message, "{body}");
    }
}

#[tokio::test]
async fn a_huge_value_is_not_echoed() {
    let app = spawn_app().await;
    let huge = "A".repeat(200 * 1024);
    for body in [
        json!({"recharge_type": huge}),
        json!({"recharge_type": "normal", "order_id": huge}),
        json!({"recharge_type": "normal", huge.clone(): 1}),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/recharges"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text:.300}");
        assert!(text.len() < 512, "{} bytes: {text:.300}", text.len());
    }
}

#[tokio::test]
async fn api_bodies_over_256_kib_are_413() {
    let app = spawn_app().await;
    let padding = "x".repeat(256 * 1024);
    let body = format!(r#"{{"recharge_type":"normal","order_id":"{padding}"}}"#);
    let (status, answer) = post_raw(&app, "/api/v1/recharges", JSON, body.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer:.300}");
    assert_eq!(answer["error"]["code"], "body_too_large");

    // Chunked, no Content-Length: cut off once it grows past the limit.
    let (status, answer) = post_chunked(&app, "/api/v1/recharges", "application/json", &body).await;
    assert_eq!(status, 413, "{answer:.300}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["error"]["code"], "body_too_large");
    // Just under the limit is read (and refused for what it says, not for its size).
    let under = format!(
        r#"{{"recharge_type":"normal","order_id":"{}"}}"#,
        "x".repeat(200 * 1024)
    );
    let (status, answer) =
        post_chunked(&app, "/api/v1/recharges", "application/json", &under).await;
    assert_eq!(status, 422, "{answer:.300}");
    assert_eq!(recharge_count(&app).await, 0);
}

#[tokio::test]
async fn callback_bodies_over_64_kib_are_413_in_plain_text() {
    let app = spawn_app().await;
    let body = format!("nit={}", "1".repeat(64 * 1024));
    let (status, text) = app.post_authenticity(&body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text:.300}");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text:.300}");
    let (status, text) = post_chunked(
        &app,
        "/callbacks/authenticity",
        "application/x-www-form-urlencoded",
        &body,
    )
    .await;
    assert_eq!(status, 413, "{text:.300}");
    // Under the limit it is read: refused for its content (400 names the parameter).
    let (status, text) = app
        .post_authenticity(&format!("nit={}", "1".repeat(60 * 1024)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text:.300}");
}

/// POSTs `body` with `Transfer-Encoding: chunked` (4 KiB chunks) over a plain connection;
/// answers the status and the response body.
async fn post_chunked(app: &TestApp, path: &str, content_type: &str, body: &str) -> (u16, String) {
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut request = head.into_bytes();
    for chunk in body.as_bytes().chunks(4096) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The service may answer and close before reading it all; its answer is what counts.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:.300}"));
    let (_, payload) = answer.split_once("\r\n\r\n").unwrap_or_default();
    (status, payload.to_owned())
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_the_json_envelope() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/no/such/route").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");

    for (method, path, allow) in [
        // GET is the operators' listing.
        (
            reqwest::Method::DELETE,
            "/api/v1/recharges",
            "POST,GET,HEAD",
        ),
        (reqwest::Method::PATCH, "/api/v1/callbacks", "GET,HEAD"),
        (reqwest::Method::POST, "/callbacks/authenticity/", ""),
        (reqwest::Method::GET, "/callbacks/authenticity", "POST"),
        (reqwest::Method::PUT, "/health", "GET,HEAD"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let allowed = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().replace(' ', ""));
        let (status, body) = read(response).await;
        if allow.is_empty() {
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(body["error"]["code"], "not_found");
            continue;
        }
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(
            body["error"]["code"], "method_not_allowed",
            "{method} {path}"
        );
        assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
    }
}

#[tokio::test]
async fn an_unknown_recharge_is_404_whatever_the_body() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4();
    let huge = format!(r#"{{"confirm":"{}"}}"#, "x".repeat(300 * 1024));
    for id in [unknown.to_string(), "not-a-uuid".to_owned()] {
        for step in ["confirm", "effectuate"] {
            let path = format!("/api/v1/recharges/{id}/{step}");
            for (content_type, body) in [
                (JSON, r#"{"confirm":true}"#.to_owned()),
                (JSON, "{not json".to_owned()),
                (JSON, r#"{"confirm":false} trailing"#.to_owned()),
                (Some("text/plain"), "confirm".to_owned()),
                (None, String::new()),
                (JSON, huge.clone()),
            ] {
                let (status, answer) = post_raw(&app, &path, content_type, body).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{path} {content_type:?}");
                assert_eq!(answer["error"]["code"], "not_found");
            }
        }
        let (status, answer) = app.get_json(&format!("/api/v1/recharges/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_tokens_rotate() {
    let app = spawn_app_with(Options {
        api_tokens: "old-token,new-token",
        ..Options::default()
    })
    .await;
    let ask = |authorization: &'static str| {
        let request = app
            .client
            .get(app.url("/api/v1/callbacks"))
            .header("Authorization", authorization);
        async move { request.send().await.unwrap().status() }
    };
    for authorization in [
        "Bearer old-token",
        "Bearer new-token",
        "bearer new-token",
        "BEARER old-token",
    ] {
        assert_eq!(ask(authorization).await, StatusCode::OK, "{authorization}");
    }
    for authorization in [
        "Bearer other-token",
        "Bearer old-token,new-token",
        "Basic old-token",
        "Bearer",
        "old-token",
    ] {
        assert_eq!(
            ask(authorization).await,
            StatusCode::UNAUTHORIZED,
            "{authorization}"
        );
    }
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = spawn_app().await;
    let id_of = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let made = |id: Option<String>| {
        let id = id.expect("an X-Request-Id");
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        id
    };
    // Absent: a fresh UUID each time, on answers good and bad.
    let first = app.client.get(app.url("/health")).send().await.unwrap();
    let second = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::NOT_FOUND);
    assert_ne!(made(id_of(&first)), made(id_of(&second)));
    let unauthorized = app
        .client
        .get(app.url("/api/v1/callbacks"))
        .send()
        .await
        .unwrap();
    made(id_of(&unauthorized));

    let sane = "shop-7f3a:retry/2";
    let response = app
        .client
        .get(app.url("/api/v1/callbacks"))
        .bearer_auth(TOKEN)
        .header("X-Request-Id", sane)
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&response).as_deref(), Some(sane));
    for insane in ["x".repeat(129), "has spaces".to_owned(), String::new()] {
        let response = app
            .client
            .get(app.url("/health"))
            .header("X-Request-Id", &insane)
            .send()
            .await
            .unwrap();
        assert_ne!(made(id_of(&response)), insane);
    }
}

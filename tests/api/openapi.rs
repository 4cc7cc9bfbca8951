//! `GET /api/openapi.json` holds the API's real answers: a flow through every route (create,
//! catalogue, a paid effectuation, confirm, the listings, the card routes, and errors), each
//! answer validated against the response the document gives for its route and status.
//!
//! The schemas are checked by the `jsonschema` crate (draft 2020-12, OpenAPI 3.1's dialect,
//! with `format` asserted); the headers the document marks `required` must be in each answer.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{TOKEN, TestApp, spawn_app};

/// One answer of the flow: the route as the document names it, and what came back.
struct Answer {
    method: &'static str,
    route: &'static str,
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

struct Flow<'a> {
    app: &'a TestApp,
    answers: Vec<Answer>,
}

impl Flow<'_> {
    async fn get(&mut self, route: &'static str, path: &str) -> Value {
        let request = self.app.client.get(self.app.url(path)).bearer_auth(TOKEN);
        self.keep("get", route, request).await
    }

    async fn post(&mut self, route: &'static str, path: &str, body: Value) -> Value {
        let request = self.app.client.post(self.app.url(path)).bearer_auth(TOKEN);
        self.keep("post", route, request.json(&body)).await
    }

    /// Sends `request` and keeps its answer, headers included.
    async fn keep(
        &mut self,
        method: &'static str,
        route: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Value {
        let response = request.send().await.unwrap();
        let headers = response.headers().clone();
        let (status, body) = crate::helpers::read(response).await;
        self.answers.push(Answer {
            method,
            route,
            status,
            headers,
            body: body.clone(),
        });
        body
    }

    fn last_status(&self) -> StatusCode {
        self.answers.last().unwrap().status
    }
}

/// The document, public: a client generator fetches it without a token.
async fn the_document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    document
}

/// A recharge created, listed, paid, confirmed and shown; then the listings.
async fn a_paid_recharge(flow: &mut Flow<'_>) {
    let recharges = "/api/v1/recharges";
    let created = flow
        .post(recharges, recharges, json!({"recharge_type": "normal"}))
        .await;
    assert_eq!(flow.last_status(), StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let one = |tail: &str| format!("/api/v1/recharges/{id}{tail}");

    flow.get("/api/v1/recharges/{id}/dealers", &one("/dealers"))
        .await;
    flow.get(
        "/api/v1/recharges/{id}/branches",
        &one("/branches?dealer_code=001&ddd=11"),
    )
    .await;
    let effectuated = flow
        .post(
            "/api/v1/recharges/{id}/effectuate",
            &one("/effectuate"),
            crate::payments::paid(crate::payments::by_number("4111111111111111")),
        )
        .await;
    assert_eq!(flow.last_status(), StatusCode::OK, "{effectuated}");
    assert_eq!(effectuated["payment"]["status"], "PPC", "{effectuated}");
    flow.post(
        "/api/v1/recharges/{id}/confirm",
        &one("/confirm"),
        json!({"confirm": true}),
    )
    .await;
    assert_eq!(flow.last_status(), StatusCode::OK);
    let shown = flow.get("/api/v1/recharges/{id}", &one("")).await;
    assert_eq!(shown["status"], "confirmed", "{shown}");
    assert!(shown["events"].is_array(), "{shown}");
    flow.get(recharges, recharges).await;
    flow.get("/api/v1/callbacks", "/api/v1/callbacks").await;
}

/// The denied test card (422 carat_denied, Carat's part of the envelope), then a 422 naming
/// the field, a 404, a 409, a 401.
async fn the_errors(flow: &mut Flow<'_>) {
    let app = flow.app;
    let recharges = "/api/v1/recharges";
    let denied = app.create_recharge().await;
    let denied = denied["id"].as_str().unwrap();
    app.list_catalogue(denied, "001", "11").await;
    let answer = flow
        .post(
            "/api/v1/recharges/{id}/effectuate",
            &format!("/api/v1/recharges/{denied}/effectuate"),
            crate::payments::paid(crate::payments::by_number("4000000000000002")),
        )
        .await;
    assert_eq!(answer["error"]["code"], "carat_denied", "{answer}");

    let answer = flow
        .post(recharges, recharges, json!({"recharge_type": "tv"}))
        .await;
    assert_eq!(answer["error"]["field"], "recharge_type", "{answer}");
    let missing = format!("/api/v1/recharges/{}", uuid::Uuid::new_v4());
    flow.get("/api/v1/recharges/{id}", &missing).await;
    assert_eq!(flow.last_status(), StatusCode::NOT_FOUND);
    let answer = flow
        .post(
            "/api/v1/recharges/{id}/confirm",
            &format!("/api/v1/recharges/{denied}/confirm"),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(flow.last_status(), StatusCode::CONFLICT, "{answer}");
    flow.keep("get", recharges, app.client.get(app.url(recharges)))
        .await;
    assert_eq!(flow.last_status(), StatusCode::UNAUTHORIZED);
}

/// The card routes: stored, listed (and a listing without its customer refused), shown and
/// refreshed.
async fn the_card_routes(flow: &mut Flow<'_>) {
    let cards = "/api/v1/cards";
    let card = flow
        .post(
            cards,
            cards,
            json!({"customer_id": "CUST1", "authorizer_id": "1",
                   "card": {"number": "4111111111111111", "expiry_date": "1230"}}),
        )
        .await;
    assert_eq!(flow.last_status(), StatusCode::CREATED, "{card}");
    let card_id = card["id"].as_str().unwrap().to_owned();
    flow.get(cards, "/api/v1/cards?customer_id=CUST1").await;
    flow.get(cards, cards).await;
    assert_eq!(flow.last_status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The HASH notification settles the card (CON) before it can be refreshed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, card) = flow.app.get_json(&format!("/api/v1/cards/{card_id}")).await;
        if card["status"] == "CON" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{card}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    flow.get("/api/v1/cards/{id}", &format!("/api/v1/cards/{card_id}"))
        .await;
    flow.post(
        "/api/v1/cards/{id}/refresh",
        &format!("/api/v1/cards/{card_id}/refresh"),
        json!({}),
    )
    .await;
    assert_eq!(flow.last_status(), StatusCode::ACCEPTED);
}

/// With `OPENAPI_DUMP` set, the flow's answers are written to that file.
fn dump_if_asked(answers: &[Answer]) {
    if let Ok(path) = std::env::var("OPENAPI_DUMP") {
        let dump: Vec<Value> = answers
            .iter()
            .map(|a| json!({"method": a.method, "route": a.route, "status": a.status.as_u16(), "body": a.body}))
            .collect();
        std::fs::write(path, serde_json::to_string_pretty(&dump).unwrap()).unwrap();
    }
}

#[tokio::test]
async fn the_documents_schemas_hold_the_apis_real_answers() {
    let app = spawn_app().await;
    let document = the_document(&app).await;
    let mut flow = Flow {
        app: &app,
        answers: Vec::new(),
    };
    a_paid_recharge(&mut flow).await;
    the_errors(&mut flow).await;
    the_card_routes(&mut flow).await;
    dump_if_asked(&flow.answers);
    check(&document, &flow.answers);
}

/// A bill (`invoice`): its listing (`BillListing`) and its effectuation's shape.
#[tokio::test]
async fn a_bills_answers_hold_to_the_document_too() {
    let app = spawn_app().await;
    let document = app.get_json("/api/openapi.json").await.1;
    let mut flow = Flow {
        app: &app,
        answers: Vec::new(),
    };
    let recharges = "/api/v1/recharges";
    let created = flow
        .post(recharges, recharges, json!({"recharge_type": "invoice"}))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let one = |tail: &str| format!("/api/v1/recharges/{id}{tail}");
    flow.get("/api/v1/recharges/{id}/dealers", &one("/dealers"))
        .await;
    let bar_code = carat_sandbox::bills::PAYABLE_BAR_CODE;
    let listed = flow
        .get(
            "/api/v1/recharges/{id}/branches",
            &one(&format!("/branches?dealer_code=910&bar_code={bar_code}")),
        )
        .await;
    assert_eq!(flow.last_status(), StatusCode::OK, "{listed}");
    let paid = flow
        .post(
            "/api/v1/recharges/{id}/effectuate",
            &one("/effectuate"),
            json!({"dealer": {"code": "910", "type_code": "04"},
                   "invoice": {"bar_code": bar_code}, "amount": listed["invoice"]["amount"]}),
        )
        .await;
    assert_eq!(flow.last_status(), StatusCode::OK, "{paid}");
    assert_eq!(paid["effectuation"]["invoice"]["bar_code"], bar_code);
    flow.get("/api/v1/recharges/{id}", &one("")).await;
    check(&document, &flow.answers);
}

/// Validates every answer against the document; fails listing every mismatch.
fn check(document: &Value, answers: &[Answer]) {
    let mut failures = Vec::new();
    for answer in answers {
        let response = response_of(document, answer);
        let schema = &response["content"]["application/json"]["schema"];
        let mut errors = schema_errors(document, schema, &answer.body);
        errors.extend(missing_headers(document, response, &answer.headers));
        if !errors.is_empty() {
            failures.push(format!(
                "{} {} {}: {}\n  {}",
                answer.method.to_uppercase(),
                answer.route,
                answer.status,
                errors.join("\n  "),
                answer.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Where `value` breaks `schema`, a schema of `document` (its `$ref`s name the document's
/// `components`, which go along as the validated schema's root). Formats are asserted.
fn schema_errors(document: &Value, schema: &Value, value: &Value) -> Vec<String> {
    assert!(schema.is_object(), "no schema: {schema}");
    let mut root = json!({"allOf": [schema], "components": document["components"]});
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema".into();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("the document's schema does not compile: {e}: {schema}"));
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The response the document gives for this answer's route, method and status (a status it
/// does not list is a failure: the document must say every status the API answers).
fn response_of<'a>(document: &'a Value, answer: &Answer) -> &'a Value {
    let operation = &document["paths"][answer.route][answer.method];
    assert!(
        operation.is_object(),
        "{} {} is not in the document",
        answer.method,
        answer.route
    );
    let response = resolve(document, &operation["responses"][answer.status.as_str()]);
    assert!(
        response["content"]["application/json"]["schema"].is_object(),
        "{} {} answered {}, which the document does not list: {}",
        answer.method,
        answer.route,
        answer.status,
        answer.body
    );
    response
}

/// The headers `response` marks `required` that the answer lacks or carries against their
/// schema.
fn missing_headers(document: &Value, response: &Value, headers: &HeaderMap) -> Vec<String> {
    let Some(described) = response["headers"].as_object() else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    for (name, header) in described {
        let header = resolve(document, header);
        match headers.get(name.as_str()).map(|v| v.to_str()) {
            None if header["required"] == true => {
                errors.push(format!("the header {name} is required and absent"));
            }
            None => {}
            Some(Ok(text)) => {
                let value = match header["schema"]["type"].as_str() {
                    Some("integer") => text.parse().map_or(json!(text), |n: i64| json!(n)),
                    _ => json!(text),
                };
                for e in schema_errors(document, &header["schema"], &value) {
                    errors.push(format!("the header {name}: {e}"));
                }
            }
            Some(Err(_)) => errors.push(format!("the header {name} is not visible ASCII")),
        }
    }
    errors
}

/// Follows a `$ref` (`#/components/...`) to what it names.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local $ref");
            let target = document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} names nothing"));
            resolve(document, target)
        }
        None => value,
    }
}

/// The validator catches what the document forbids: a member it does not list, a value
/// outside an enumeration, a control character in free text, a missing required member.
#[test]
fn answers_that_break_the_document_are_caught() {
    let document = carat_merchant::api::openapi::document();
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let errors = |name: &str, value: Value| schema_errors(&document, &schema(name), &value);
    assert!(
        errors(
            "Error",
            json!({"error": {"code": "not_found", "message": "m"}})
        )
        .is_empty()
    );
    for bad in [
        json!({"error": {"code": "not_found", "message": "m", "colour": "red"}}),
        json!({"error": {"code": "no_such_code", "message": "m"}}),
        json!({"error": {"message": "m"}}),
        json!({"error": {"code": "not_found", "message": "m", "recharge_id": "not-a-uuid"}}),
    ] {
        assert!(!errors("Error", bad.clone()).is_empty(), "{bad}");
    }
    let answers = |text: &str| json!([{"code": "126", "description": text}]);
    assert!(errors("Answers", answers("PACOTE TOP")).is_empty());
    assert!(!errors("Answers", answers("PACOTE\u{0}TOP")).is_empty());
    assert!(!errors("Answers", answers("PACOTE\u{85}TOP")).is_empty());
    assert!(!errors("Answers", answers(&"A".repeat(201))).is_empty());
}

/// Each example the document gives (request bodies and answers) holds to its own schema: an
/// example cannot drift from what it illustrates.
#[test]
fn every_example_holds_to_its_schema() {
    let document = carat_merchant::api::openapi::document();
    let mut failures = Vec::new();
    let mut seen = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let bodies = std::iter::once(("request", &operation["requestBody"])).chain(
                operation["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(s, r)| (s.as_str(), r)),
            );
            for (which, part) in bodies {
                let media = &part["content"]["application/json"];
                if let Some(example) = media.get("example") {
                    seen += 1;
                    let errors = schema_errors(&document, &media["schema"], example);
                    if !errors.is_empty() {
                        failures.push(format!("{method} {path} {which}: {}", errors.join("; ")));
                    }
                }
            }
        }
    }
    assert!(seen >= 15, "{seen} examples");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

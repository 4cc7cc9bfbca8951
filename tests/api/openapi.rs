//! `GET /api/openapi.json` holds the API's real answers: a flow through every route (create,
//! catalogue, a paid effectuation, confirm, the listings, the card routes, and errors), each
//! answer validated against the response the document gives for its route and status.
//!
//! The validator is the subset of JSON Schema the document uses (`type` with type arrays for
//! null, `properties`, `required`, `additionalProperties: false`, `items`, `enum`, `const`,
//! `oneOf`, `$ref`, `minLength`/`maxLength`, `minimum`, and
//! `pattern` of the one shape the document uses: `^[class]*$`, `+` or `{n}`): small enough to read, no crate.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// One answer of the flow: the route as the document names it, and what came back.
struct Answer {
    method: &'static str,
    route: &'static str,
    status: StatusCode,
    body: Value,
}

struct Flow<'a> {
    app: &'a TestApp,
    answers: Vec<Answer>,
}

impl Flow<'_> {
    async fn get(&mut self, route: &'static str, path: &str) -> Value {
        let (status, body) = self.app.get_json(path).await;
        self.keep("get", route, status, body)
    }

    async fn post(&mut self, route: &'static str, path: &str, body: Value) -> Value {
        let (status, body) = self.app.post_json(path, body).await;
        self.keep("post", route, status, body)
    }

    fn keep(
        &mut self,
        method: &'static str,
        route: &'static str,
        status: StatusCode,
        body: Value,
    ) -> Value {
        self.answers.push(Answer {
            method,
            route,
            status,
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
    let unauthorized = app.client.get(app.url(recharges)).send().await.unwrap();
    let (status, body) = crate::helpers::read(unauthorized).await;
    flow.keep("get", recharges, status, body);
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
    let document = document.clone();
    let mut failures = Vec::new();
    for answer in answers {
        let schema = response_schema(&document, answer);
        let mut errors = Vec::new();
        validate(&document, schema, &answer.body, "$", &mut errors);
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

/// The schema the document gives for this answer's route, method and status (a status it does
/// not list is a failure: the document must say every status the API answers).
fn response_schema<'a>(document: &'a Value, answer: &Answer) -> &'a Value {
    let operation = &document["paths"][answer.route][answer.method];
    assert!(
        operation.is_object(),
        "{} {} is not in the document",
        answer.method,
        answer.route
    );
    let response = &operation["responses"][answer.status.as_str()];
    let response = resolve(document, response);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{} {} answered {}, which the document does not list: {}",
        answer.method,
        answer.route,
        answer.status,
        answer.body
    );
    schema
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

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Appends to `errors` where `value` breaks `schema` (the subset in the module's docs; any
/// other keyword is a failure, so the document cannot say more than this test checks).
fn validate(document: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(document, schema);
    let Some(keywords) = schema.as_object() else {
        errors.push(format!("{at}: the schema is not an object: {schema}"));
        return;
    };
    for (keyword, rule) in keywords {
        match keyword.as_str() {
            "properties" | "required" | "additionalProperties" => {
                check_object(document, schema, keyword, rule, value, at, errors);
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        validate(document, rule, item, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            "oneOf" => {
                let fitting = rule
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| {
                        let mut e = Vec::new();
                        validate(document, s, value, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                if fitting != 1 {
                    errors.push(format!("{at}: fits {fitting} of oneOf's schemas, not one"));
                }
            }
            // Annotations: they constrain nothing this test checks.
            "description" | "format" | "example" | "examples" | "title" | "maximum" => {}
            _ => errors.extend(check_value(keyword, rule, value, at)),
        }
    }
}

/// The keywords about an object's members: they hold only on an object.
fn check_object(
    document: &Value,
    schema: &Value,
    keyword: &str,
    rule: &Value,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    if keyword == "additionalProperties" {
        assert_eq!(rule, &Value::Bool(false), "{at}: only `false` is used");
    }
    let Some(object) = value.as_object() else {
        return;
    };
    match keyword {
        "properties" => {
            for (name, property) in rule.as_object().unwrap() {
                if let Some(v) = object.get(name) {
                    validate(document, property, v, &format!("{at}.{name}"), errors);
                }
            }
        }
        "required" => {
            for name in rule.as_array().unwrap() {
                let name = name.as_str().unwrap();
                if !object.contains_key(name) {
                    errors.push(format!("{at}: `{name}` is required and absent"));
                }
            }
        }
        _ => {
            let known = schema.get("properties").and_then(Value::as_object);
            for name in object.keys() {
                if !known.is_some_and(|k| k.contains_key(name)) {
                    errors.push(format!("{at}: `{name}` is not in the schema"));
                }
            }
        }
    }
}

/// The keywords that hold the value itself (its type, its set, its bounds): where it breaks
/// `rule`, why; an unknown keyword is an error too.
fn check_value(keyword: &str, rule: &Value, value: &Value, at: &str) -> Option<String> {
    match keyword {
        "type" => {
            let actual = type_of(value);
            let allowed: Vec<&str> = match rule {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let fits = allowed
                .iter()
                .any(|t| *t == actual || (*t == "number" && actual == "integer"));
            (!fits).then(|| format!("{at}: {actual}, the schema says {rule}"))
        }
        "enum" => (!rule.as_array().unwrap().contains(value))
            .then(|| format!("{at}: {value} is not one of {rule}")),
        "const" => (rule != value).then(|| format!("{at}: {value} is not {rule}")),
        "minLength" | "maxLength" => {
            let s = value.as_str()?;
            let n = s.chars().count() as u64;
            let bound = rule.as_u64().unwrap();
            ((keyword == "minLength" && n < bound) || (keyword == "maxLength" && n > bound))
                .then(|| format!("{at}: {n} characters, {keyword} {bound}"))
        }
        "minimum" => {
            let n = value.as_f64()?;
            (n < rule.as_f64().unwrap()).then(|| format!("{at}: {n} is below {rule}"))
        }
        "pattern" => {
            let s = value.as_str()?;
            (!matches_pattern(rule.as_str().unwrap(), s))
                .then(|| format!("{at}: {value} does not match {rule}"))
        }
        other => Some(format!("{at}: the validator does not know `{other}`")),
    }
}

/// `^[class]*$`, `^[class]+$` or `^[class]{n}$`, where `class` holds `a-z`-style ranges and
/// single characters: the only patterns the document writes.
fn matches_pattern(pattern: &str, value: &str) -> bool {
    let inner = pattern
        .strip_prefix("^[")
        .and_then(|p| p.strip_suffix('$'))
        .unwrap_or_else(|| panic!("the validator does not know the pattern {pattern}"));
    let (class, quantifier) = inner.split_once(']').unwrap();
    let class: Vec<char> = class.chars().collect();
    let fits = |c: char| {
        let mut i = 0;
        while i < class.len() {
            if i + 2 < class.len() && class[i + 1] == '-' {
                if (class[i]..=class[i + 2]).contains(&c) {
                    return true;
                }
                i += 3;
            } else {
                if class[i] == c {
                    return true;
                }
                i += 1;
            }
        }
        false
    };
    let count = value.chars().count();
    let count_fits = match quantifier {
        "*" => true,
        "+" => count >= 1,
        q => {
            let n: usize = q
                .strip_prefix('{')
                .and_then(|q| q.strip_suffix('}'))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("the validator does not know the pattern {pattern}"));
            count == n
        }
    };
    count_fits && value.chars().all(fits)
}

#[test]
fn the_pattern_subset_matches_as_json_schema_does() {
    assert!(matches_pattern("^[0-9]*$", "0123"));
    assert!(!matches_pattern("^[0-9]*$", "01a"));
    assert!(matches_pattern("^[A-Za-z0-9]*$", "F10C7266"));
    assert!(!matches_pattern("^[A-Za-z0-9]*$", "F10-"));
    assert!(matches_pattern("^[0-9]{4}$", "1230"));
    assert!(!matches_pattern("^[0-9]{4}$", "12301"));
    assert!(!matches_pattern("^[0-9]+$", ""));
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
                    let mut errors = Vec::new();
                    validate(&document, &media["schema"], example, "$", &mut errors);
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

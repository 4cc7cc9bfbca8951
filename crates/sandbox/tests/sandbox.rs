//! The sandbox over real HTTP: the sandbox on one port, a tiny merchant app on another that
//! receives the authenticity POST.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Form, Router};
use carat_domain::{GeneralHash, MerchantId, Secret};
use carat_sandbox::{Fault, Operation, Sandbox, SandboxConfig, SandboxTransaction, faults, serve};
use carat_wire::AuthenticityForm;
use carat_wire::signature::JwtKey;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use url::Url;

const KEY: &str = "SANDBOXKEY123";
const MERCHANT_ID: &str = "LOJATESTE";
const TABLE_HASH: &str = "09A9681D09A9681D";
const SLOW: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------------------------
// The merchant's authenticity endpoint: records every POST, answers as the test says.

#[derive(Clone)]
struct Merchant {
    received: Arc<Mutex<Vec<Received>>>,
    answer: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

#[derive(Clone, Debug)]
struct Received {
    content_type: String,
    form: AuthenticityForm,
}

impl Merchant {
    fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    async fn start(&self) -> Url {
        let app = Router::new()
            .route("/authenticity", post(authenticity))
            .with_state(self.clone());
        let base = spawn(app).await;
        Url::parse(&format!("{base}/authenticity")).unwrap()
    }
}

async fn authenticity(
    State(merchant): State<Merchant>,
    headers: HeaderMap,
    Form(form): Form<AuthenticityForm>,
) -> StatusCode {
    let delay = merchant.delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    merchant
        .received
        .lock()
        .unwrap()
        .push(Received { content_type, form });
    StatusCode::from_u16(merchant.answer.load(Ordering::SeqCst)).unwrap()
}

async fn spawn(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// The harness: a sandbox served with `serve`, a merchant, an HTTP client.

struct Harness {
    sandbox: Sandbox,
    base: String,
    http: reqwest::Client,
    merchant: Merchant,
    merchant_url: Url,
}

type Reply = (u16, Value);

fn config(authenticity_url: Url) -> SandboxConfig {
    SandboxConfig {
        merchant_id: MerchantId::parse(MERCHANT_ID).unwrap(),
        merchant_key: Secret::new(KEY),
        authenticity_url: Some(authenticity_url),
        nit_lifetime: Duration::from_secs(60),
        slow_answer_delay: SLOW,
        callback_timeout: Duration::from_secs(5),
        status_url: None,
        hash_url: None,
        notification_attempts: 3,
        notification_retry_delay: Duration::from_millis(50),
        jwt_public_key: Some(test_jwt_key().public_key()),
        jwt_max_age: Duration::from_secs(300),
    }
}

impl Harness {
    async fn start() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(tweak: impl FnOnce(&mut SandboxConfig)) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let merchant = Merchant {
            received: Arc::default(),
            answer: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::default(),
        };
        let merchant_url = merchant.start().await;
        let mut config = config(merchant_url.clone());
        tweak(&mut config);
        let sandbox = Sandbox::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/e-sitef/v3", listener.local_addr().unwrap());
        tokio::spawn(serve(sandbox.clone(), listener));
        Self {
            sandbox,
            base,
            http: reqwest::Client::new(),
            merchant,
            merchant_url,
        }
    }

    fn tx(&self, nit: &str) -> SandboxTransaction {
        self.sandbox.transaction(nit).expect("known transaction")
    }

    async fn call(&self, request: reqwest::RequestBuilder, envelope: &str) -> Reply {
        let response = request.send().await.expect("the sandbox answers");
        let http = response.status().as_u16();
        let mut body: Value = response.json().await.expect("a JSON body");
        let content = body
            .get_mut(envelope)
            .map(Value::take)
            .unwrap_or_else(|| panic!("no {envelope} in {body}"));
        (http, content)
    }

    async fn create_with(&self, content: Value) -> Reply {
        let request = self
            .http
            .post(format!("{}/recharge", self.base))
            .json(&json!({ "begin_recharge_request": content }));
        self.call(request, "begin_recharge_response").await
    }

    async fn create(&self, order_id: &str) -> Reply {
        self.create_with(begin_request(order_id, "normal")).await
    }

    /// A created transaction's NIT, as the merchant learnt it from the authenticity POST.
    async fn begin(&self, order_id: &str) -> String {
        self.begin_typed(order_id, "normal").await
    }

    async fn begin_typed(&self, order_id: &str, recharge_type: &str) -> String {
        let reply = self
            .create_with(begin_request(order_id, recharge_type))
            .await;
        assert_ok(&reply);
        self.merchant
            .received()
            .into_iter()
            .rev()
            .find(|r| r.form.order_id.as_deref() == Some(order_id))
            .and_then(|r| r.form.nit)
            .expect("the authenticity POST carried the NIT")
    }

    async fn get(&self, path_and_query: &str, envelope: &str) -> Reply {
        let request = self.http.get(format!("{}{path_and_query}", self.base));
        self.call(request, envelope).await
    }

    async fn dealers(&self, nit: &str) -> Reply {
        let query = format!("/rechargedealers?nit={nit}&generalhash=0000000000000000");
        self.get(&query, "list_dealers_response").await
    }

    async fn branches(&self, query: &str) -> Reply {
        self.get(
            &format!("/rechargebranches?{query}"),
            "list_branch_data_response",
        )
        .await
    }

    async fn put(&self, nit: &str, body: Value, envelope: &str) -> Reply {
        let request = self
            .http
            .put(format!("{}/recharge/{nit}", self.base))
            .json(&body);
        self.call(request, envelope).await
    }

    async fn effectuate(&self, nit: &str, content: Value) -> Reply {
        let body = json!({ "do_recharge_request": content });
        self.put(nit, body, "do_recharge_response").await
    }

    async fn confirm(&self, nit: &str, confirm: &str) -> Reply {
        self.confirm_with(nit, json!({"confirm": confirm, "merchant_key": KEY}))
            .await
    }

    async fn confirm_with(&self, nit: &str, content: Value) -> Reply {
        let body = json!({ "confirm_recharge_request": content });
        self.put(nit, body, "confirm_recharge_response").await
    }

    async fn query(&self, nit: &str, key: &str) -> Reply {
        let path = format!("/recharge/{nit}/?merchantkey={key}");
        self.get(&path, "get_status_recharge_response").await
    }

    /// A NIT effectuated (PPC) with `amount` cents.
    async fn pending(&self, order_id: &str, amount: &str) -> String {
        let nit = self.begin(order_id).await;
        let reply = self.effectuate(&nit, top_up("987654321", amount)).await;
        assert_ok(&reply);
        assert_eq!(reply.1["status"], "PPC");
        nit
    }
}

fn begin_request(order_id: &str, recharge_type: &str) -> Value {
    json!({
        "merchant_key": KEY,
        "merchant_usn": "000123",
        "order_id": order_id,
        "general_hash": "0000000000000000",
        "recharge_type": recharge_type,
    })
}

/// A valid normal effectuation: Vivo, (11) `number`, `amount` cents, paid in cash (the
/// payment methods' amounts sum to the transaction's).
fn top_up(number: &str, amount: &str) -> Value {
    json!({
        "hashes": {"general": TABLE_HASH},
        "dealer": {"code": "001", "type_code": "03"},
        "phone": {"ddd": "11", "number": number},
        "amount": amount,
        "terminal_type": "04",
        "used_payment_methods": [format!("00:{amount}")],
    })
}

/// `request` with the field at JSON `pointer` set to `value`, or removed for `None`.
fn edit(mut request: Value, pointer: &str, value: Option<Value>) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    let object = request
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("an object to edit");
    match value {
        Some(value) => object.insert(key.to_owned(), value),
        None => object.remove(key),
    };
    request
}

#[track_caller]
fn assert_ok((http, body): &Reply) {
    assert_eq!(*http, 200, "{body}");
    assert_eq!(body["esitef"]["code"], "0", "{body}");
}

/// An error answer: HTTP status, esitef code, and a message containing `needle`.
#[track_caller]
fn assert_error((http, body): &Reply, expected_http: u16, code: &str, needle: &str) {
    let message = body["esitef"]["message"].as_str().unwrap_or_default();
    assert_eq!(*http, expected_http, "{body}");
    assert_eq!(body["esitef"]["code"], code, "{body}");
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

fn is_digits(value: &Value, len: usize) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// The flow

/// ORDER1 created: the merchant received its NIT by a form POST, and the sandbox keeps it NOV.
async fn create_and_receive_the_nit(h: &Harness) -> String {
    let created = h.create("ORDER1").await;
    assert_ok(&created);
    assert_eq!(
        created.1,
        json!({"esitef": {"message": "OK. Transaction successful.", "code": "0"}})
    );

    let received = h.merchant.received();
    assert_eq!(received.len(), 1);
    assert!(
        received[0]
            .content_type
            .starts_with("application/x-www-form-urlencoded"),
        "{}",
        received[0].content_type
    );
    let form = &received[0].form;
    assert_eq!(form.merchant_usn.as_deref(), Some("000123"));
    assert_eq!(form.merchant_id.as_deref(), Some(MERCHANT_ID));
    assert_eq!(form.order_id.as_deref(), Some("ORDER1"));
    assert_eq!(form.general_hash.as_deref(), Some(TABLE_HASH));
    let nit = form.nit.clone().unwrap();
    assert_eq!(nit.len(), 64);
    assert!(
        nit.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{nit}"
    );
    let tx = h.sandbox.find_by_order_id("ORDER1").unwrap();
    assert_eq!((tx.nit.as_str(), tx.status.as_str()), (nit.as_str(), "NOV"));
    assert_eq!(tx.merchant_usn.as_deref(), Some("000123"));
    assert_eq!(tx.recharge_type, "normal");
    nit
}

async fn assert_the_dealers_listed(h: &Harness, nit: &str) {
    let (http, dealers) = h.dealers(nit).await;
    assert_eq!(http, 200);
    assert_eq!(dealers["status"], "NOV");
    assert_eq!(dealers["authorizer"], json!({"code": "000", "message": ""}));
    assert_eq!(dealers["hashes"]["general"], TABLE_HASH);
    let list: Vec<_> = dealers["dealers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap(), d["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        list,
        [
            ("001", "Vivo"),
            ("002", "Claro"),
            ("003", "Oi"),
            ("004", "Tim"),
            ("005", "Sky TV")
        ]
    );
    assert!(
        dealers["dealers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| { d["type_code"] == "03" && d["type_name"] == "RECARGA CELULAR" })
    );
}

/// Vivo's branch data (its amount ranges), then Tim's question.
async fn assert_the_branch_data_listed(h: &Harness, nit: &str) {
    let (http, branch) = h
        .branches(&format!(
            "nit={nit}&ddd=11&dealercode=1&generalhash=0000000000000000"
        ))
        .await;
    assert_eq!(http, 200, "{branch}");
    assert_eq!(branch["status"], "NOV");
    assert_eq!(branch["sitef"]["code"], "000");
    assert_eq!(branch["questions"], json!([]));
    assert_eq!(branch["general"], json!([{"message": "MENSAGEM DE TESTE"}]));
    let ranges = branch["categories"][0]["amount_ranges"].as_array().unwrap();
    let keys: Vec<_> = ranges
        .iter()
        .map(|r| r["amount_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["1", "2", "3", "4"]);
    assert_eq!(ranges[0]["min_amount"], "1000");
    assert_eq!(ranges[0]["max_amount"], "1000");
    assert_eq!(ranges[1]["bonus"], "500");
    assert_eq!(ranges[1]["bonus_expiry_date"], "15");
    assert_eq!(ranges[2]["bonus_in_percentage"], "10");
    assert_eq!(ranges[2]["payment_amount"], "3000");
    assert_eq!(ranges[2]["max_amount"], "10000");
    assert_eq!(ranges[3]["expiry_date"], "30");

    let (_, tim) = h
        .branches(&format!("nit={nit}&ddd=11&dealercode=004"))
        .await;
    assert_eq!(
        tim["questions"],
        json!([{"id": "5", "display": "Qual o nome do seu pai?", "rule": "3",
                "min": "5", "max": "30", "type": "i"}])
    );
}

/// R$ 30,00 effectuated by amount key 3 (an unknown field tolerated): PPC, with its
/// authorization and receipts. Returns the answer.
async fn effectuate_by_amount_key(h: &Harness, nit: &str) -> Value {
    let mut request = top_up("987654321", "3000");
    request["amount_key"] = json!("3");
    request["brand_new_field"] = json!({"tolerated": true});
    let effectuated = h.effectuate(nit, request).await;
    assert_ok(&effectuated);
    let done = effectuated.1;
    assert_eq!(done["status"], "PPC");
    assert_eq!(done["order_id"], "ORDER1");
    assert_eq!(done["merchant_usn"], "000123");
    assert_eq!(done["esitef"]["message"], "OK. Transaction successful.");
    assert!(is_digits(&done["esitef"]["usn"], 15), "{done}");
    assert_eq!(done["sitef"], json!({"code": "000", "message": "OK"}));
    assert_eq!(done["host"], json!({"code": "00", "message": "OK"}));
    assert!(done["acquirer"]["branch_code"].is_string());
    let authorization = &done["authorization"];
    assert!(
        is_digits(&authorization["authorizer_date"], 4),
        "{authorization}"
    );
    assert!(
        is_digits(&authorization["authorizer_time"], 6),
        "{authorization}"
    );
    assert!(is_digits(&authorization["number"], 6), "{authorization}");
    assert!(authorization["confirmation_data"].is_string());
    let receipt = done["customer"]["receipt"].as_str().unwrap();
    assert!(receipt.starts_with("COMPROVANTE DE RECARGA"), "{receipt}");
    for part in ["Vivo", "(11) 987654321", "R$ 30,00"] {
        assert!(receipt.contains(part), "{receipt} lacks {part}");
    }
    assert_eq!(done["customer"]["total_copies"], 1);
    assert_eq!(done["merchant"]["total_copies"], 1);
    assert_eq!(done["hashes"]["general"], TABLE_HASH);
    assert_eq!(done["payment_methods"]["max"], "2");
    assert_eq!(
        done["payment_methods"]["available"],
        json!([{"name": "Dinheiro"}, {"name": "Cartao de Debito"}])
    );
    assert_eq!(h.tx(nit).status, "PPC");
    done
}

/// The pending transaction's query repeats what the effectuation `done` answered.
async fn assert_the_query_shows_it_pending(h: &Harness, nit: &str, done: &Value) {
    let (http, pending) = h.query(nit, KEY).await;
    assert_eq!(http, 200, "{pending}");
    assert_eq!(pending["status"], "PPC");
    assert_eq!(pending["order_id"], "ORDER1");
    assert_eq!(pending["merchant_usn"], "000123");
    assert_eq!(
        pending["authorizers"],
        json!([{"name": "sitef", "code": "0", "message": "OK"}])
    );
    assert_eq!(pending["authorization"], done["authorization"]);
    assert_eq!(pending["customer"], done["customer"]);
    assert_eq!(pending["merchant"], done["merchant"]);
}

#[tokio::test]
async fn a_normal_recharge_goes_from_create_to_confirmation() {
    let h = Harness::start().await;
    let nit = create_and_receive_the_nit(&h).await;
    assert_the_dealers_listed(&h, &nit).await;
    assert_the_branch_data_listed(&h, &nit).await;
    let done = effectuate_by_amount_key(&h, &nit).await;
    assert_the_query_shows_it_pending(&h, &nit, &done).await;

    let confirmed = h.confirm(&nit, "true").await;
    assert_ok(&confirmed);
    assert_eq!(
        confirmed.1,
        json!({"esitef": {"code": "0", "message": "OK"}, "status": "CON"})
    );

    let path = format!("/recharge/{nit}?merchantkey={KEY}");
    let (http, settled) = h.get(&path, "get_status_recharge_response").await;
    assert_eq!(http, 200);
    assert_eq!(settled["status"], "CON");
    // The query carries the effectuation's Carat USN (inferred: see sandbox::responses::query).
    assert_eq!(
        settled["esitef"],
        json!({"code": "0", "message": "OK", "usn": done["esitef"]["usn"]})
    );

    let tx = h.tx(&nit);
    assert_eq!(tx.status, "CON");
    assert_eq!(
        (
            tx.effectuation_requests,
            tx.confirmation_requests,
            tx.query_requests
        ),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn an_undo_leaves_ppn_and_repeated_decisions_are_idempotent() {
    let h = Harness::start().await;

    let undone = h.pending("UNDO1", "1000").await;
    for _ in 0..2 {
        let reply = h.confirm(&undone, "false").await;
        assert_ok(&reply);
        assert_eq!(reply.1["status"], "PPN");
    }
    let reversed = h.confirm(&undone, "true").await;
    assert_error(&reversed, 400, "6", "PPN");
    assert_eq!(reversed.1["status"], "PPN");
    let tx = h.tx(&undone);
    assert_eq!((tx.status.as_str(), tx.confirmation_requests), ("PPN", 3));

    let confirmed = h.pending("CONFIRM2", "2000").await;
    for _ in 0..2 {
        let reply = h.confirm(&confirmed, "true").await;
        assert_ok(&reply);
        assert_eq!(reply.1["status"], "CON");
    }
    assert_error(&h.confirm(&confirmed, "false").await, 400, "6", "CON");
    assert_eq!(h.tx(&confirmed).status, "CON");

    let fresh = h.begin("FRESH3").await;
    let early = h.confirm(&fresh, "true").await;
    assert_error(&early, 400, "6", "NOV");
    assert_eq!(early.1["status"], "NOV");

    let twice = h.effectuate(&confirmed, top_up("987654321", "1000")).await;
    assert_error(&twice, 400, "6", "CON");
    assert_eq!(h.tx(&confirmed).effectuation_requests, 2);
}

#[tokio::test]
async fn an_others_recharge_sells_pin_products_by_branch() {
    let h = Harness::start().await;
    let nit = h.begin_typed("PIN1", "others").await;

    let (http, dealers) = h.dealers(&nit).await;
    assert_eq!(http, 200);
    assert_eq!(dealers["dealers"][0]["code"], "905");
    assert_eq!(dealers["dealers"][0]["type_code"], "02");
    assert_eq!(
        dealers["dealers"][0]["branches"],
        json!([{"name": "Vex-PIN", "code": "97200000000"}])
    );
    let by_get = h
        .branches(&format!("nit={nit}&ddd=11&dealercode=905"))
        .await;
    assert_error(&by_get, 400, "6", "recharge_type normal");

    let mut request = json!({"dealer": {"code": "905", "type_code": "02"}, "amount": "1000"});
    let missing = h.effectuate(&nit, request.clone()).await;
    assert_error(&missing, 400, "3", "dealer.branch.code");
    request["dealer"]["branch"] = json!({"code": "97001000000"});
    let foreign = h.effectuate(&nit, request.clone()).await;
    assert_error(&foreign, 400, "8", "dealer.branch.code");
    request["dealer"]["branch"] = json!({"code": "97200000000"});
    let sold = h.effectuate(&nit, request).await;
    assert_ok(&sold);
    assert_eq!(sold.1["status"], "PPC");
    let receipt = sold.1["customer"]["receipt"].as_str().unwrap();
    assert!(
        receipt.contains("Vex-PIN") && receipt.contains("R$ 10,00"),
        "{receipt}"
    );
    assert_eq!(h.tx(&nit).effectuation_requests, 3);
}

/// Branch data listed by `PUT /rechargebranches/{nit}`, as an others recharge asks for it.
async fn list_by_put(h: &Harness, content: Value, nit: &str) -> Reply {
    let request = h
        .http
        .put(format!("{}/rechargebranches/{nit}", h.base))
        .json(&json!({ "list_branch_data_request": content }));
    h.call(request, "list_branch_data_response").await
}

/// Each listing field wrong in turn: where (a JSON pointer), the value (`None`: removed), the
/// HTTP status, the esitef code and a word the message must hold.
fn bad_listings() -> [(&'static str, Option<Value>, u16, &'static str, &'static str); 8] {
    [
        (
            "/merchant_key",
            Some(json!("WRONGKEY")),
            401,
            "4",
            "merchant_key",
        ),
        (
            "/recharge_type",
            Some(json!("invoice")),
            400,
            "8",
            "recharge_type",
        ),
        ("/dealer/branch", None, 400, "3", "dealer.branch.code"),
        (
            "/dealer/branch/code",
            Some(json!("97001000000")),
            400,
            "8",
            "dealer.branch.code",
        ),
        (
            "/dealer/branch/code",
            Some(json!("972")),
            400,
            "2",
            "dealer.branch.code",
        ),
        (
            "/dealer/type_code",
            Some(json!("03")),
            400,
            "8",
            "dealer.type_code",
        ),
        ("/dealer/code", Some(json!("001")), 400, "8", "dealer.code"),
        (
            "/hashes/general",
            Some(json!("XYZ")),
            400,
            "2",
            "hashes.general",
        ),
    ]
}

/// Each sale's customer receipt carries a new PIN; the merchant's none.
async fn assert_each_sale_has_its_own_pin(h: &Harness) {
    let mut pins = Vec::new();
    for order in ["PIN3", "PIN4"] {
        let nit = h.begin_typed(order, "others").await;
        let sale = json!({"dealer": {"code": "905", "type_code": "02",
                                     "branch": {"code": "97200000000"}}, "amount": "1000"});
        let (_, sold) = h.effectuate(&nit, sale).await;
        let customer = sold["customer"]["receipt"].as_str().unwrap().to_owned();
        assert!(
            !sold["merchant"]["receipt"]
                .as_str()
                .unwrap()
                .contains("PIN:")
        );
        let pin = customer.lines().find_map(|l| l.strip_prefix("PIN: "));
        pins.push(
            pin.unwrap_or_else(|| panic!("no PIN: {customer}"))
                .to_owned(),
        );
        // The query's receipts carry it too.
        let (_, queried) = h.query(&nit, KEY).await;
        assert_eq!(queried["customer"]["receipt"], customer.as_str());
    }
    assert_ne!(pins[0], pins[1]);
}

#[tokio::test]
async fn others_branch_data_is_listed_by_put_and_checked_as_carat_would() {
    let h = Harness::start().await;
    let nit = h.begin_typed("PIN2", "others").await;
    let good = json!({
        "merchant_key": KEY,
        "recharge_type": "others",
        "dealer": {"code": "905", "type_code": "02", "branch": {"code": "97200000000"}},
        "hashes": {"general": "0000000000000000"},
    });
    let listed = list_by_put(&h, good.clone(), &nit).await;
    assert_ok(&listed);
    assert_eq!(listed.1["status"], "NOV");
    assert_eq!(
        listed.1["categories"][0]["amount_ranges"][0]["amount_key"],
        "1"
    );

    for (pointer, value, http, code, needle) in bad_listings() {
        let reply = list_by_put(&h, edit(good.clone(), pointer, value), &nit).await;
        assert_error(&reply, http, code, needle);
    }

    // A normal transaction's branch data is listed by GET, not PUT.
    let top_up_nit = h.begin("TOPUPPUT").await;
    let mut normal = good.clone();
    normal["recharge_type"] = json!("normal");
    assert_error(
        &list_by_put(&h, normal, &top_up_nit).await,
        400,
        "6",
        "normal",
    );

    assert_each_sale_has_its_own_pin(&h).await;
}

#[tokio::test]
async fn a_listing_with_the_current_hash_lists_nothing_and_a_new_hash_lists_all_again() {
    let h = Harness::start().await;
    let nit = h.begin("HASH1").await;
    let dealers_query = format!("/rechargedealers?nit={nit}&generalhash={TABLE_HASH}");
    let branches_query = format!("nit={nit}&ddd=11&dealercode=1&generalhash={TABLE_HASH}");

    let (http, dealers) = h.get(&dealers_query, "list_dealers_response").await;
    assert_eq!(http, 200, "{dealers}");
    assert_eq!(dealers["hashes"]["general"], TABLE_HASH);
    assert!(
        dealers.get("dealers").is_none_or(|d| d == &json!([])),
        "{dealers}"
    );
    let (http, branch) = h.branches(&branches_query).await;
    assert_eq!(http, 200, "{branch}");
    assert_eq!(branch["hashes"]["general"], TABLE_HASH);
    assert!(
        branch.get("categories").is_none_or(|c| c == &json!([])),
        "{branch}"
    );

    let new = "AF32810AAF32810A";
    h.sandbox.set_general_hash(GeneralHash::parse(new).unwrap());
    assert_eq!(h.sandbox.general_hash(), new);
    let (_, dealers) = h.get(&dealers_query, "list_dealers_response").await;
    assert_eq!(dealers["hashes"]["general"], new);
    assert_eq!(
        dealers["dealers"].as_array().map(Vec::len),
        Some(5),
        "{dealers}"
    );
    let (_, branch) = h.branches(&branches_query).await;
    assert_eq!(branch["hashes"]["general"], new);
    assert_eq!(
        branch["categories"][0]["amount_ranges"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    assert_eq!(
        h.tx(&nit).listing_general_hashes,
        vec![Some(TABLE_HASH.to_owned()); 4],
        "every listing's hash is recorded"
    );
    assert_eq!(
        h.tx(&nit).create_general_hash.as_deref(),
        Some("0000000000000000")
    );

    // The create's authenticity POST and the effectuation carry the new hash too.
    let other = h.begin("HASH2").await;
    let post = h.merchant.received().into_iter().last().unwrap();
    assert_eq!(post.form.general_hash.as_deref(), Some(new));
    let sold = h.effectuate(&other, top_up("987654321", "1000")).await;
    assert_ok(&sold);
    assert_eq!(sold.1["hashes"]["general"], new);
}

// ---------------------------------------------------------------------------------------------
// The authenticity POST

#[tokio::test]
async fn a_tv_recharge_waits_for_a_package_and_takes_the_resend_with_answer_126() {
    let h = Harness::start().await;
    let nit = h.begin("TV1").await;
    let mut sky = top_up("987654321", "3000");
    sky["dealer"]["code"] = json!("005");

    // Without answer 126: AGU, nothing charged, the packages offered.
    let first = h.effectuate(&nit, sky.clone()).await;
    assert_ok(&first);
    assert_eq!(first.1["status"], "AGU", "{}", first.1);
    assert_eq!(first.1["resubmit_transaction"], true);
    assert_eq!(
        first.1["tv_package_subscription_codes"],
        json!(["SKYPRE30", "SKYPRE60", "SKYPRE90"])
    );
    assert!(first.1.get("authorization").is_none(), "{}", first.1);
    assert_eq!(h.query(&nit, KEY).await.1["status"], "AGU");
    // Nothing to confirm while a package is awaited.
    assert_error(&h.confirm(&nit, "true").await, 400, "6", "AGU");

    // A package it did not offer is refused, and Carat still waits.
    sky["answers"] = json!([{"code": "126", "description": "SKYPRE99"}]);
    assert_error(
        &h.effectuate(&nit, sky.clone()).await,
        400,
        "8",
        "answers[0].description",
    );
    assert_eq!(h.tx(&nit).status, "AGU");

    // The resend with an offered package is approved, and confirms as any top-up.
    sky["answers"] = json!([{"code": "126", "description": "SKYPRE60"}]);
    let resent = h.effectuate(&nit, sky.clone()).await;
    assert_ok(&resent);
    assert_eq!(resent.1["status"], "PPC", "{}", resent.1);
    assert!(resent.1.get("resubmit_transaction").is_none());
    // Once approved, a resend is out of order.
    assert_error(&h.effectuate(&nit, sky).await, 400, "6", "PPC");
    assert_ok(&h.confirm(&nit, "true").await);

    let tx = h.tx(&nit);
    assert_eq!(tx.status, "CON");
    assert_eq!(tx.effectuation_requests, 4);
    let package = vec![("126".to_owned(), "SKYPRE60".to_owned())];
    assert_eq!(tx.effectuation_answers, vec![vec![], package]);
}

#[tokio::test]
async fn a_tv_package_to_another_dealer_or_a_tv_wait_past_the_nit_lifetime_is_refused() {
    let h = Harness::start().await;
    let nit = h.begin("TV2").await;
    let mut vivo = top_up("987654321", "3000");
    vivo["answers"] = json!([{"code": "126", "description": "SKYPRE30"}]);
    assert_error(&h.effectuate(&nit, vivo).await, 400, "8", "dealer 001");

    let mut sky = top_up("987654321", "3000");
    sky["dealer"]["code"] = json!("5");
    assert_eq!(h.effectuate(&nit, sky.clone()).await.1["status"], "AGU");
    // Carat's wait for a choice ends with the NIT.
    assert!(h.sandbox.backdate(&nit, Duration::from_secs(61)));
    sky["answers"] = json!([{"code": "126", "description": "SKYPRE30"}]);
    let late = h.effectuate(&nit, sky).await;
    assert_error(&late, 400, "7", "expired");
    assert_eq!(h.tx(&nit).status, "EXP");
}

#[tokio::test]
async fn a_refused_authenticity_post_fails_the_create_with_115() {
    let h = Harness::start().await;
    h.merchant.answer_with(404);

    let refused = h.create("REFUSED1").await;
    assert_error(&refused, 200, "115", "Authenticity error");
    assert_error(&refused, 200, "115", "404");
    assert_eq!(refused.1["status"], "INV");
    assert!(refused.1.get("nit").is_none());
    let tx = h.sandbox.find_by_order_id("REFUSED1").unwrap();
    assert_eq!(tx.status, "INV");
    assert_eq!(
        h.merchant.received()[0].form.nit.as_deref(),
        Some(tx.nit.as_str())
    );

    let listed = h.dealers(&tx.nit).await;
    assert_error(&listed, 400, "6", "INV");
    assert_eq!(listed.1["status"], "INV");
}

#[tokio::test]
async fn an_unanswered_or_unconfigured_authenticity_post_fails_the_create() {
    let h = Harness::with(|c| {
        c.authenticity_url = None;
        c.callback_timeout = Duration::from_millis(100);
    })
    .await;
    assert_error(&h.create("NOURL1").await, 200, "115", "no authenticity URL");
    assert_eq!(h.sandbox.find_by_order_id("NOURL1").unwrap().status, "INV");

    h.sandbox.set_authenticity_url(h.merchant_url.clone());
    h.merchant.delay_ms.store(500, Ordering::SeqCst);
    let started = Instant::now();
    assert_error(&h.create("LATE1").await, 200, "115", "within 100 ms");
    assert!(started.elapsed() < Duration::from_millis(450));
    assert_eq!(h.sandbox.find_by_order_id("LATE1").unwrap().status, "INV");

    h.merchant.delay_ms.store(0, Ordering::SeqCst);
    assert_ok(&h.create("ONTIME1").await);
    assert_eq!(h.sandbox.find_by_order_id("ONTIME1").unwrap().status, "NOV");
}

// ---------------------------------------------------------------------------------------------
// Field checks

#[tokio::test]
async fn bad_effectuation_fields_are_refused_naming_the_field() {
    let h = Harness::start().await;
    let nit = h.begin("FIELDS1").await;

    #[rustfmt::skip]
    let cases = [
        ("/phone/ddd", Some(json!("123")), "2", "phone.ddd: must be exactly 2 digits (found 3)"),
        ("/phone/number", Some(json!("98765432a")), "2", "phone.number: must be at most 9 digits"),
        ("/phone", None, "3", "phone: mandatory field missing"),
        ("/amount", Some(json!(3000)), "2", "amount: invalid type: integer `3000`"),
        ("/amount", Some(json!("30,00")), "2", "amount: must be at most 12 digits"),
        ("/amount", Some(json!("0")), "2", "amount: must be a positive number"),
        ("/amount", Some(json!("2500")), "8", "amount: 2500 cents is outside"),
        ("/amount_key", Some(json!("9")), "8", "amount_key: 9 is not"),
        ("/amount_key", Some(json!("1")), "8", "amount: 3000 cents is outside amount_key 1"),
        ("/dealer/code", Some(json!("1234")), "2", "dealer.code: must be at most 3 digits"),
        ("/dealer/code", Some(json!("9")), "8", "dealer.code: dealer 9 is not offered"),
        ("/dealer/type_code", Some(json!("02")), "8", "dealer.type_code: dealer 001 is"),
        ("/dealer/type_code", None, "3", "dealer.type_code: mandatory field missing"),
        ("/dealer/branch", Some(json!({"code": "123"})), "2", "dealer.branch.code: must be exactly 11 digits"),
        ("/hashes/general", Some(json!("ABC")), "2", "hashes.general: must be exactly 16 characters"),
        ("/terminal_type", Some(json!("06")), "2", "terminal_type: must be 01"),
        ("/cpf", Some(json!("1".repeat(21))), "2", "cpf: must be at most 20 characters"),
        ("/zip_code", Some(json!("01310-100")), "2", "zip_code: must be at most 9 characters"),
        ("/used_payment_methods", Some(json!(["1:1000"])), "2", "used_payment_methods[0]: must"),
        ("/used_payment_methods", Some(json!([11])), "2", "used_payment_methods[0]: invalid"),
        ("/answers", Some(json!([{"code": "5", "description": "a\u{1}b"}])), "2", "answers[0]"),
    ];
    let count = cases.len();
    for (pointer, value, code, needle) in cases {
        let request = edit(top_up("987654321", "3000"), pointer, value);
        let reply = h.effectuate(&nit, request).await;
        assert_error(&reply, 400, code, needle);
        assert_eq!(reply.1["status"], "NOV", "{needle}");
    }
    let tx = h.tx(&nit);
    assert_eq!(tx.status, "NOV");
    assert_eq!(tx.effectuation_requests as usize, count);

    // Tim asks question 5: an answer of 5 to 30 characters is due.
    let mut tim = top_up("987654321", "3000");
    tim["dealer"]["code"] = json!("4");
    assert_error(&h.effectuate(&nit, tim.clone()).await, 400, "3", "answers");
    tim["answers"] = json!([{"code": "5", "description": "Jo"}]);
    assert_error(
        &h.effectuate(&nit, tim.clone()).await,
        400,
        "2",
        "answers[0].description: must be 5 to 30 characters",
    );
    tim["answers"] = json!([{"code": "5", "description": "Joaquim"}]);
    assert_ok(&h.effectuate(&nit, tim).await);
}

#[tokio::test]
async fn bad_create_listing_and_confirmation_fields_are_refused() {
    let h = Harness::start().await;

    #[rustfmt::skip]
    let creates = [
        ("/merchant_usn", Some(json!("12a")), "2", "merchant_usn: must be at most 12 digits"),
        ("/merchant_usn", Some(json!(123)), "2", "merchant_usn: invalid type"),
        ("/order_id", Some(json!("ORDER-1")), "2", "order_id: must be at most 20 characters"),
        ("/general_hash", Some(json!("0")), "2", "general_hash: must be exactly 16 characters"),
        ("/recharge_type", Some(json!("phone")), "2", "recharge_type: must be normal"),
        ("/merchant_key", None, "3", "merchant_key: mandatory field missing"),
    ];
    for (pointer, value, code, needle) in creates {
        let request = edit(begin_request("BAD1", "normal"), pointer, value);
        let reply = h.create_with(request).await;
        assert_error(&reply, 400, code, needle);
    }
    assert!(
        h.merchant.received().is_empty(),
        "no POST for a refused create"
    );
    assert!(h.sandbox.find_by_order_id("BAD1").is_none());

    let nit = h.begin("GOOD1").await;
    let unknown = "0".repeat(64);
    let (dealers, branches) = ("list_dealers_response", "list_branch_data_response");
    #[rustfmt::skip]
    let listings = [
        (format!("/rechargedealers?generalhash={TABLE_HASH}"), dealers, 400, "1", "nit"),
        ("/rechargedealers?nit=".to_owned(), dealers, 400, "1", "nit"),
        ("/rechargedealers?nit=abc".to_owned(), dealers, 400, "2", "nit: must be exactly 64 characters"),
        (format!("/rechargedealers?nit={unknown}"), dealers, 404, "5", "not found"),
        (format!("/rechargedealers?nit={nit}&generalhash=1"), dealers, 400, "2", "generalhash"),
        (format!("/rechargebranches?nit={nit}&ddd=123&dealercode=1"), branches, 400, "2", "ddd: must"),
        (format!("/rechargebranches?nit={nit}&dealercode=1"), branches, 400, "3", "ddd: mandatory"),
        (format!("/rechargebranches?nit={nit}&ddd=11&dealercode=1234"), branches, 400, "2", "dealercode"),
        (format!("/rechargebranches?nit={nit}&ddd=11&dealercode=9"), branches, 400, "8", "dealer 9"),
    ];
    for (path, envelope, http, code, needle) in listings {
        assert_error(&h.get(&path, envelope).await, http, code, needle);
    }

    let nit = h.pending("CONF1", "1000").await;
    #[rustfmt::skip]
    let confirmations = [
        (json!({"confirm": "yes", "merchant_key": KEY}), "2", "confirm: must be \"true\" or"),
        (json!({"confirm": true, "merchant_key": KEY}), "2", "confirm: invalid type"),
        (json!({"confirm": "true"}), "3", "merchant_key: mandatory field missing"),
        (json!({"confirm": "true", "merchant_key": KEY, "used_payment_methods": ["x"]}), "2",
            "used_payment_methods[0]: must be Type:Amount"),
    ];
    for (content, code, needle) in confirmations {
        let reply = h.confirm_with(&nit, content).await;
        assert_error(&reply, 400, code, needle);
        assert_eq!(reply.1["status"], "PPC");
    }
    assert_eq!(h.tx(&nit).confirmation_requests, 4);
    assert_eq!(h.tx(&nit).status, "PPC");
}

#[tokio::test]
async fn bodies_that_are_not_one_json_envelope_are_refused() {
    let h = Harness::start().await;
    let nit = h.begin("BODY1").await;
    let url = format!("{}/recharge/{nit}", h.base);
    let envelope = "do_recharge_response";

    let plain = h.http.put(&url).header(header::CONTENT_TYPE, "text/plain");
    let reply = h.call(plain.body("{}"), envelope).await;
    assert_error(&reply, 400, "2", "Content-Type: must be application/json");

    let json_type = |body: &'static str| {
        h.http
            .put(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
    };
    let reply = h
        .call(json_type("{\"do_recharge_request\":"), envelope)
        .await;
    assert_error(&reply, 400, "2", "body: not valid JSON");
    let reply = h.call(json_type("{\"something_else\":{}}"), envelope).await;
    assert_error(
        &reply,
        400,
        "3",
        "do_recharge_request or confirm_recharge_request",
    );
    let both = r#"{"do_recharge_request":{},"confirm_recharge_request":{}}"#;
    assert_error(&h.call(json_type(both), envelope).await, 400, "2", "both");

    let short = h.effectuate("abc", top_up("987654321", "1000")).await;
    assert_error(&short, 400, "2", "nit: must be exactly 64 characters");
    let unknown = h
        .effectuate(&"f".repeat(64), top_up("987654321", "1000"))
        .await;
    assert_error(&unknown, 404, "5", "not found");
    let without_nit = h.http.put(format!("{}/recharge", h.base)).json(&json!({}));
    assert_error(&h.call(without_nit, envelope).await, 400, "1", "nit");

    let create = h.http.post(format!("{}/recharge", h.base)).body("x");
    let reply = h.call(create, "begin_recharge_response").await;
    assert_error(&reply, 400, "2", "Content-Type");
    assert_eq!(h.tx(&nit).effectuation_requests, 0);
}

#[tokio::test]
async fn only_the_configured_merchant_key_is_accepted() {
    let h = Harness::start().await;

    let mut request = begin_request("KEY1", "normal");
    request["merchant_key"] = json!("WRONGKEY");
    let refused = h.create_with(request).await;
    assert_error(
        &refused,
        401,
        "4",
        "merchant_key: merchant key not accepted",
    );
    assert!(!refused.1.to_string().contains("WRONGKEY"));
    assert!(h.merchant.received().is_empty());

    let nit = h.pending("KEY2", "1000").await;
    let query = h.query(&nit, "WRONGKEY").await;
    assert_error(&query, 401, "4", "merchantkey");
    assert_eq!(query.1["status"], "PPC");
    let missing = h
        .get(&format!("/recharge/{nit}"), "get_status_recharge_response")
        .await;
    assert_error(&missing, 400, "3", "merchantkey: mandatory field missing");

    let confirm = json!({"confirm": "true", "merchant_key": "WRONGKEY"});
    assert_error(
        &h.confirm_with(&nit, confirm).await,
        401,
        "4",
        "merchant_key",
    );
    assert_eq!(h.tx(&nit).status, "PPC");
    assert_eq!(h.tx(&nit).query_requests, 2);
}

// ---------------------------------------------------------------------------------------------
// Test values

#[tokio::test]
async fn the_denial_test_number_denies_the_recharge() {
    let h = Harness::start().await;
    let nit = h.begin("DENY1").await;

    let denied = h
        .effectuate(&nit, top_up(faults::DENIAL_PHONE, "1000"))
        .await;
    assert_ok(&denied);
    assert_eq!(denied.1["status"], "NEG");
    assert_eq!(
        denied.1["host"],
        json!({"code": "05", "message": "TRANSACAO NEGADA"})
    );
    assert_eq!(
        denied.1["sitef"],
        json!({"code": "005", "message": "Transacao negada"})
    );
    assert!(denied.1.get("authorization").is_none());
    assert_eq!(h.tx(&nit).status, "NEG");
    assert_error(&h.confirm(&nit, "true").await, 400, "6", "NEG");
}

#[tokio::test]
async fn the_error_test_numbers_leave_the_transaction_new() {
    let h = Harness::start().await;
    let nit = h.begin("ERRORS1").await;

    let esitef = h
        .effectuate(&nit, top_up(faults::ESITEF_ERROR_PHONE, "1000"))
        .await;
    assert_error(
        &esitef,
        200,
        "55",
        "Sandbox: esitef error requested by test value",
    );
    assert_eq!(esitef.1["status"], "NOV");
    assert_eq!(h.tx(&nit).status, "NOV");

    let internal = h
        .effectuate(&nit, top_up(faults::INTERNAL_ERROR_PHONE, "1000"))
        .await;
    assert_error(
        &internal,
        500,
        "99",
        "Sandbox: internal error requested by test value",
    );
    assert_eq!(internal.1["status"], "NOV");
    assert_eq!(h.tx(&nit).status, "NOV");

    assert_ok(&h.effectuate(&nit, top_up("987654321", "1000")).await);
    let tx = h.tx(&nit);
    assert_eq!((tx.status.as_str(), tx.effectuation_requests), ("PPC", 3));
}

#[tokio::test]
async fn the_slow_test_number_effectuates_before_answering_late() {
    let h = Harness::start().await;

    // A merchant with a shorter timeout sees a timeout, yet the recharge happened.
    let nit = h.begin("SLOW1").await;
    let impatient = h
        .http
        .put(format!("{}/recharge/{nit}", h.base))
        .timeout(Duration::from_millis(100))
        .json(&json!({"do_recharge_request": top_up(faults::SLOW_PHONE, "1000")}))
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
    assert_eq!(h.tx(&nit).status, "PPC");

    let nit = h.begin("SLOW2").await;
    let started = Instant::now();
    let late = h.effectuate(&nit, top_up(faults::SLOW_PHONE, "1000")).await;
    assert!(started.elapsed() >= SLOW, "{:?}", started.elapsed());
    assert_ok(&late);
    assert_eq!(late.1["status"], "PPC");
}

#[tokio::test]
async fn the_confirmation_test_amounts_fail_or_delay_the_confirmation() {
    let h = Arc::new(Harness::start().await);

    let failing = h
        .pending("CONF500", &faults::CONFIRMATION_ERROR_AMOUNT.to_string())
        .await;
    let reply = h.confirm(&failing, "true").await;
    assert_error(&reply, 500, "99", "internal error requested by test value");
    assert_eq!(reply.1["status"], "PPC");
    assert_eq!(h.tx(&failing).status, "PPC");
    let undone = h.confirm(&failing, "false").await;
    assert_ok(&undone);
    assert_eq!(undone.1["status"], "PPN");

    let slow = h
        .pending("CONFSLOW", &faults::SLOW_CONFIRMATION_AMOUNT.to_string())
        .await;
    let started = Instant::now();
    let confirming = tokio::spawn({
        let (h, slow) = (Arc::clone(&h), slow.clone());
        async move { h.confirm(&slow, "true").await }
    });
    while h.tx(&slow).status != "CON" {
        assert!(started.elapsed() < SLOW, "not confirmed before the answer");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!confirming.is_finished(), "answered before the delay");
    let reply = confirming.await.unwrap();
    assert!(started.elapsed() >= SLOW);
    assert_ok(&reply);
    assert_eq!(reply.1["status"], "CON");
}

#[tokio::test]
async fn the_create_test_order_ids_fail_before_any_post() {
    let h = Harness::start().await;

    let internal = h.create("SBX500A").await;
    assert_error(
        &internal,
        500,
        "99",
        "internal error requested by test value",
    );
    let esitef = h.create("SBXERRA").await;
    assert_error(&esitef, 200, "56", "esitef error requested by test value");

    assert!(h.merchant.received().is_empty());
    assert!(h.sandbox.find_by_order_id("SBX500A").is_none());
    assert!(h.sandbox.find_by_order_id("SBXERRA").is_none());
}

// ---------------------------------------------------------------------------------------------
// Injected faults

/// The HTTP 500 of an injected fault, carrying the transaction's status.
#[track_caller]
fn assert_injected_500(reply: &Reply, status: &str) {
    assert_error(reply, 500, "99", "injected by the test");
    assert_eq!(reply.1["status"], status, "{}", reply.1);
}

/// `request` answered, and how long it took.
async fn timed<T>(request: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let reply = request.await;
    (reply, started.elapsed())
}

#[tokio::test]
async fn an_injected_error_500_applies_nothing_and_spares_requests_that_would_fail() {
    let h = Harness::start().await;
    let nit = h.begin("INJ500").await;
    h.sandbox.inject(Operation::Effectuate, Fault::Error500, 1);
    h.sandbox.inject(Operation::Query, Fault::Error500, 1);

    // A refused request, or one carrying a test value, does not draw the fault.
    let bad_ddd = edit(top_up("987654321", "1000"), "/phone/ddd", Some(json!("1")));
    assert_error(&h.effectuate(&nit, bad_ddd).await, 400, "2", "phone.ddd");
    let test_value = h
        .effectuate(&nit, top_up(faults::ESITEF_ERROR_PHONE, "1000"))
        .await;
    assert_error(&test_value, 200, "55", "requested by test value");
    assert_injected_500(
        &h.effectuate(&nit, top_up("987654321", "1000")).await,
        "NOV",
    );
    assert_eq!(h.tx(&nit).status, "NOV");
    assert_ok(&h.effectuate(&nit, top_up("987654321", "1000")).await);

    assert_error(&h.query(&nit, "WRONGKEY").await, 401, "4", "merchantkey");
    assert_injected_500(&h.query(&nit, KEY).await, "PPC");
    assert_ok(&h.query(&nit, KEY).await);

    h.sandbox.inject(Operation::Confirm, Fault::Error500, 1);
    h.sandbox.inject(Operation::Undo, Fault::Error500, 1);
    assert_injected_500(&h.confirm(&nit, "true").await, "PPC");
    assert_injected_500(&h.confirm(&nit, "false").await, "PPC");
    assert_eq!(h.tx(&nit).status, "PPC");
    let undone = h.confirm(&nit, "false").await;
    assert_ok(&undone);
    assert_eq!(undone.1["status"], "PPN");

    let tx = h.tx(&nit);
    assert_eq!(
        (
            tx.effectuation_requests,
            tx.confirmation_requests,
            tx.query_requests
        ),
        (4, 3, 3),
        "every request counted, failed or not"
    );
}

#[tokio::test]
async fn applied_then_500_takes_effect_before_failing() {
    let h = Harness::start().await;
    for operation in [
        Operation::Create,
        Operation::Effectuate,
        Operation::Confirm,
        Operation::Undo,
        Operation::ListDealers,
        Operation::ListBranches,
        Operation::Query,
    ] {
        h.sandbox.inject(operation, Fault::AppliedThen500, 1);
    }

    // The create opens the transaction and sends the POST, then fails.
    let created = h.create("APPLIED1").await;
    assert_error(&created, 500, "99", "injected by the test");
    let nit = h.sandbox.find_by_order_id("APPLIED1").unwrap().nit;
    assert_eq!(h.tx(&nit).status, "NOV");
    assert_eq!(
        h.merchant.received()[0].form.nit.as_deref(),
        Some(nit.as_str())
    );

    // The read-only operations simply fail.
    assert_injected_500(&h.dealers(&nit).await, "NOV");
    let branches = format!("nit={nit}&ddd=11&dealercode=001");
    assert_injected_500(&h.branches(&branches).await, "NOV");
    assert_injected_500(&h.query(&nit, KEY).await, "NOV");

    assert_injected_500(
        &h.effectuate(&nit, top_up("987654321", "1000")).await,
        "PPC",
    );
    assert_eq!(h.tx(&nit).status, "PPC");
    assert_injected_500(&h.confirm(&nit, "true").await, "CON");
    assert_eq!(h.tx(&nit).status, "CON");

    let other = h.pending("APPLIED2", "1000").await;
    assert_injected_500(&h.confirm(&other, "false").await, "PPN");
    assert_eq!(h.tx(&other).status, "PPN");

    // All spent: the same requests succeed now.
    assert_ok(&h.confirm(&nit, "true").await);
    assert_ok(&h.query(&nit, KEY).await);
    let tx = h.tx(&nit);
    assert_eq!(
        (
            tx.effectuation_requests,
            tx.confirmation_requests,
            tx.query_requests
        ),
        (1, 2, 2)
    );
}

#[tokio::test]
async fn a_slow_fault_takes_effect_and_answers_late() {
    let h = Harness::start().await;
    let other = h.pending("SLOWC2", "1000").await;
    for operation in [
        Operation::Create,
        Operation::Effectuate,
        Operation::Confirm,
        Operation::Undo,
        Operation::ListDealers,
        Operation::ListBranches,
        Operation::Query,
    ] {
        h.sandbox.inject(operation, Fault::Slow, 1);
    }

    // A merchant with a shorter timeout sees a timeout, yet it got its NIT by the POST.
    let impatient = h
        .http
        .post(format!("{}/recharge", h.base))
        .timeout(Duration::from_millis(100))
        .json(&json!({"begin_recharge_request": begin_request("SLOWC1", "normal")}))
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
    let nit = h.merchant.received()[1].form.nit.clone().unwrap();
    let tx = h.sandbox.find_by_order_id("SLOWC1").unwrap();
    assert_eq!((tx.nit.as_str(), tx.status.as_str()), (nit.as_str(), "NOV"));

    let branches = format!("nit={nit}&ddd=11&dealercode=001");
    let ((dealers, d1), (branch_data, d2), (queried, d3)) = tokio::join!(
        timed(h.dealers(&nit)),
        timed(h.branches(&branches)),
        timed(h.query(&nit, KEY)),
    );
    for (reply, elapsed) in [(&dealers, d1), (&branch_data, d2), (&queried, d3)] {
        assert_ok(reply);
        assert_eq!(reply.1["status"], "NOV");
        assert!(elapsed >= SLOW, "answered after {elapsed:?}");
    }

    let (effectuated, elapsed) = timed(h.effectuate(&nit, top_up("987654321", "1000"))).await;
    assert_ok(&effectuated);
    assert_eq!(effectuated.1["status"], "PPC");
    assert!(elapsed >= SLOW, "answered after {elapsed:?}");

    let ((confirmed, d1), (undone, d2)) = tokio::join!(
        timed(h.confirm(&nit, "true")),
        timed(h.confirm(&other, "false")),
    );
    assert_eq!(
        (confirmed.1["status"].as_str(), undone.1["status"].as_str()),
        (Some("CON"), Some("PPN"))
    );
    for (reply, elapsed) in [(&confirmed, d1), (&undone, d2)] {
        assert_ok(reply);
        assert!(elapsed >= SLOW, "answered after {elapsed:?}");
    }

    // All spent: prompt again.
    let (queried, elapsed) = timed(h.query(&nit, KEY)).await;
    assert_ok(&queried);
    assert!(elapsed < SLOW, "answered after {elapsed:?}");
}

#[tokio::test]
async fn injected_faults_queue_in_order_and_a_refused_create_keeps_its_fault() {
    let h = Harness::start().await;
    let nit = h.begin("QUEUE1").await;
    h.sandbox.inject(Operation::Query, Fault::Error500, 2);
    h.sandbox.inject(Operation::Query, Fault::Slow, 1);
    assert_injected_500(&h.query(&nit, KEY).await, "NOV");
    assert_injected_500(&h.query(&nit, KEY).await, "NOV");
    let (late, elapsed) = timed(h.query(&nit, KEY)).await;
    assert_ok(&late);
    assert!(elapsed >= SLOW, "answered after {elapsed:?}");
    let (prompt, elapsed) = timed(h.query(&nit, KEY)).await;
    assert_ok(&prompt);
    assert!(elapsed < SLOW, "answered after {elapsed:?}");
    assert_eq!(h.tx(&nit).query_requests, 4);

    // An Error500 answers before anything is opened or posted.
    h.sandbox.inject(Operation::Create, Fault::Error500, 1);
    assert_error(&h.create("QUEUE2").await, 500, "99", "injected by the test");
    assert!(h.sandbox.find_by_order_id("QUEUE2").is_none());
    assert_eq!(h.merchant.received().len(), 1);

    // A create whose POST is refused would not have succeeded: its fault waits for the next.
    h.sandbox
        .inject(Operation::Create, Fault::AppliedThen500, 1);
    h.merchant.answer_with(403);
    assert_error(&h.create("QUEUE3").await, 200, "115", "403");
    h.merchant.answer_with(200);
    assert_error(&h.create("QUEUE4").await, 500, "99", "injected by the test");
    assert_eq!(h.sandbox.find_by_order_id("QUEUE4").unwrap().status, "NOV");
    assert_ok(&h.create("QUEUE5").await);
}

#[tokio::test]
async fn a_backdated_new_transaction_expires_at_once() {
    let h = Harness::start().await;
    let nit = h.begin("BACK1").await;
    let pending = h.pending("BACK2", "1000").await;
    assert!(h.sandbox.backdate(&nit, Duration::from_secs(61)));
    assert!(h.sandbox.backdate(&pending, Duration::from_secs(61)));
    assert!(!h.sandbox.backdate(&"0".repeat(64), Duration::from_secs(61)));

    let queried = h.query(&nit, KEY).await;
    assert_error(&queried, 400, "7", "expired");
    assert_eq!(queried.1["status"], "EXP");
    // Only a NIT never effectuated has a lifetime.
    let queried = h.query(&pending, KEY).await;
    assert_ok(&queried);
    assert_eq!(queried.1["status"], "PPC");
}

// ---------------------------------------------------------------------------------------------
// Expiry, reused orders, routing

#[tokio::test]
async fn a_new_transaction_expires_after_the_nit_lifetime() {
    let h = Harness::with(|c| c.nit_lifetime = Duration::from_millis(200)).await;
    let nit = h.begin("EXPIRE1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let listed = h.dealers(&nit).await;
    assert_error(&listed, 400, "7", "expired");
    assert_eq!(listed.1["status"], "EXP");
    let effectuated = h.effectuate(&nit, top_up("987654321", "1000")).await;
    assert_error(&effectuated, 400, "7", "expired");
    assert_eq!(effectuated.1["status"], "EXP");
    let queried = h.query(&nit, KEY).await;
    assert_error(&queried, 400, "7", "expired");
    assert_eq!(queried.1["status"], "EXP");

    let tx = h.tx(&nit);
    assert_eq!(tx.status, "EXP");
    assert_eq!((tx.effectuation_requests, tx.query_requests), (1, 1));
}

#[tokio::test]
async fn a_reused_order_id_makes_a_new_transaction() {
    let h = Harness::start().await;
    let first = h.begin("AGAIN1").await;
    let second = h.begin("AGAIN1").await;
    assert_ne!(first, second);
    assert_eq!(h.sandbox.find_by_order_id("AGAIN1").unwrap().nit, second);
    assert_eq!(h.tx(&first).status, "NOV");
}

#[tokio::test]
async fn the_router_merges_into_another_app() {
    let h = Harness::start().await;
    let app = Router::new()
        .route("/health", get(|| async { "up" }))
        .merge(h.sandbox.router());
    let base = spawn(app).await;

    let health = h.http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.text().await.unwrap(), "up");
    let request = h
        .http
        .post(format!("{base}/e-sitef/v3/recharge"))
        .json(&json!({"begin_recharge_request": begin_request("MERGED1", "normal")}));
    assert_ok(&h.call(request, "begin_recharge_response").await);
    assert_eq!(h.sandbox.find_by_order_id("MERGED1").unwrap().status, "NOV");
}

// ---------------------------------------------------------------------------------------------
// Bills (invoice)

#[tokio::test]
async fn an_invoice_bill_is_listed_by_bar_code_and_paid_whole_exactly_as_listed() {
    use carat_sandbox::bills::{EXPIRED_BAR_CODE, PAYABLE_BAR_CODE};
    let h = Harness::start().await;
    let nit = h.begin_typed("BILL1", "invoice").await;
    let list = |content: Value| {
        let request = h
            .http
            .put(format!("{}/rechargebranches/{nit}", h.base))
            .json(&json!({ "list_branch_data_request": content }));
        h.call(request, "list_branch_data_response")
    };
    let asking = |bar_code: &str| {
        json!({"merchant_key": KEY, "recharge_type": "invoice",
               "dealer": {"code": "910", "type_code": "04"}, "invoice": {"bar_code": bar_code}})
    };

    let (http, listed) = list(asking(PAYABLE_BAR_CODE)).await;
    assert_eq!(http, 200, "{listed}");
    let bill = listed["invoice"].clone();
    assert_eq!(bill["amount"], "15990");
    assert_error(&list(asking(EXPIRED_BAR_CODE)).await, 400, "21", "expired");
    assert_error(&list(asking(&"7".repeat(48))).await, 400, "20", "no bill");
    assert_error(&list(asking("123")).await, 400, "2", "invoice.bar_code");
    let wrong_key = edit(
        asking(PAYABLE_BAR_CODE),
        "/merchant_key",
        Some(json!("OTHER")),
    );
    assert_error(&list(wrong_key).await, 401, "4", "merchant_key");
    let wrong_type = edit(
        asking(PAYABLE_BAR_CODE),
        "/recharge_type",
        Some(json!("others")),
    );
    assert_error(&list(wrong_type).await, 400, "2", "recharge_type");
    let no_bill = edit(asking(PAYABLE_BAR_CODE), "/invoice", None);
    assert_error(&list(no_bill).await, 400, "3", "invoice");

    let mut invoice = bill.clone();
    invoice.as_object_mut().unwrap().remove("amount");
    let pay = |invoice: &Value, amount: &str| json!({"dealer": {"code": "910", "type_code": "04"}, "invoice": invoice, "amount": amount});
    let edited = edit(invoice.clone(), "/echo", Some(json!("1")));
    assert_error(
        &h.effectuate(&nit, pay(&edited, "15990")).await,
        400,
        "8",
        "invoice.echo",
    );
    assert_error(
        &h.effectuate(&nit, pay(&invoice, "15000")).await,
        400,
        "8",
        "amount",
    );
    let missing = edit(pay(&invoice, "15990"), "/invoice", None);
    assert_error(&h.effectuate(&nit, missing).await, 400, "3", "invoice");
    let paid = h.effectuate(&nit, pay(&invoice, "15990")).await;
    assert_ok(&paid);
    assert_eq!(paid.1["status"], "PPC");

    // The PUT lists nothing for a normal transaction (it lists by GET).
    let normal = h.begin("BILL2").await;
    let request = h
        .http
        .put(format!("{}/rechargebranches/{normal}", h.base))
        .json(&json!({ "list_branch_data_request": asking(PAYABLE_BAR_CODE) }));
    let refused = h.call(request, "list_branch_data_response").await;
    assert_error(&refused, 400, "6", "recharge_type others and invoice");
}

#[tokio::test]
async fn payment_methods_are_kept_must_sum_to_the_amount_and_default_to_99_for_tim() {
    let h = Harness::start().await;
    let strings = |list: &[&str]| Some(list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());

    // The amounts must sum to the transaction's (code 22), on the effectuation...
    let nit = h.begin("UPMSUM").await;
    let short = edit(
        top_up("987654321", "1000"),
        "/used_payment_methods",
        Some(json!(["00:999"])),
    );
    assert_error(
        &h.effectuate(&nit, short).await,
        400,
        "22",
        "sum to 999 cents",
    );
    let two = edit(
        top_up("987654321", "1000"),
        "/used_payment_methods",
        Some(json!(["00:600", "05:400:1:5-2:123456789"])),
    );
    let reply = h.effectuate(&nit, two).await;
    assert_ok(&reply);
    assert!(reply.1.get("send_payment_methods").is_none(), "{}", reply.1);
    // ... and on the confirmation, against the effectuated amount.
    let confirmation =
        |list: Value| json!({"confirm": "true", "merchant_key": KEY, "used_payment_methods": list});
    assert_error(
        &h.confirm_with(&nit, confirmation(json!(["00:1001"]))).await,
        400,
        "22",
        "transaction's 1000",
    );
    assert_ok(&h.confirm_with(&nit, confirmation(json!(["99:1000"]))).await);
    // Each valid effectuation's and applied confirmation's lists are kept, as sent.
    let tx = h.tx(&nit);
    assert_eq!(
        tx.effectuation_payment_methods,
        [strings(&["00:600", "05:400:1:5-2:123456789"])]
    );
    assert_eq!(tx.confirmation_payment_methods, [strings(&["99:1000"])]);

    // A TIM top-up confirmed without them: Carat assumes "Other forms" (99) for the whole.
    let tim_nit = h.begin("UPMTIM").await;
    let mut tim = edit(top_up("987654321", "1200"), "/used_payment_methods", None);
    tim["dealer"]["code"] = json!("004");
    tim["answers"] = json!([{"code": "5", "description": "Joaquim Jose"}]);
    assert_ok(&h.effectuate(&tim_nit, tim).await);
    assert_ok(&h.confirm(&tim_nit, "true").await);
    let tx = h.tx(&tim_nit);
    assert_eq!(tx.effectuation_payment_methods, [None]);
    assert_eq!(tx.confirmation_payment_methods, [strings(&["99:1200"])]);

    // Another dealer's: nothing assumed.
    let vivo_nit = h.begin("UPMVIVO").await;
    let vivo = edit(top_up("987654321", "1000"), "/used_payment_methods", None);
    assert_ok(&h.effectuate(&vivo_nit, vivo).await);
    assert_ok(&h.confirm(&vivo_nit, "true").await);
    assert_eq!(h.tx(&vivo_nit).confirmation_payment_methods, [None]);
}

#[tokio::test]
async fn the_send_payment_methods_test_amount_asks_for_them() {
    let h = Harness::start().await;
    let amount = carat_sandbox::faults::SEND_PAYMENT_METHODS_AMOUNT.to_string();
    let asked = h.begin("UPMSEND").await;
    let reply = h.effectuate(&asked, top_up("987654321", &amount)).await;
    assert_ok(&reply);
    assert_eq!(reply.1["send_payment_methods"], "true", "{}", reply.1);
}

// ---------------------------------------------------------------------------------------------
// The payment linked to an effectuation (`src/sandbox/payments.rs`).

/// A top-up of 1000 cents paid with `card`.
fn paid_top_up(card: Value) -> Value {
    let mut request = top_up("987654321", "1000");
    request["payment"] = json!({
        "amount": "1000",
        "authorizer_id": "1",
        "merchant_key": KEY,
        "installment": {"number": "1", "type": "4"},
        "card": card,
    });
    request
}

fn card_number(number: &str) -> Value {
    json!({"number": number, "expiry_date": "1230", "security_code": "123"})
}

/// The `status` parameters of the status notifications sent for `nit`.
fn payment_notifications(h: &Harness, nit: &str) -> Vec<Vec<(String, String)>> {
    h.sandbox
        .notifications()
        .into_iter()
        .filter(|n| n.channel == carat_sandbox::notifier::Channel::Status)
        .filter(|n| n.form.iter().any(|(k, v)| k == "nit" && v == nit))
        .map(|n| n.form)
        .collect()
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Each payment field wrong in turn: where (a JSON pointer), the value (`None`: removed), the
/// esitef code and a word the message must hold.
fn bad_payments() -> [(&'static str, Option<Value>, &'static str, &'static str); 11] {
    [
        (
            "/payment/authorizer_id",
            Some(json!("123456")),
            "2",
            "payment.authorizer_id",
        ),
        (
            "/payment/installment/type",
            Some(json!("5")),
            "2",
            "payment.installment.type",
        ),
        ("/payment/installment", None, "3", "payment.installment"),
        (
            "/payment/card/number",
            Some(json!("4111111111111112")),
            "2",
            "Luhn",
        ),
        (
            "/payment/card/number",
            Some(json!("41111111111111111111")),
            "2",
            "payment.card.number",
        ),
        (
            "/payment/card/expiry_date",
            Some(json!("1330")),
            "2",
            "payment.card.expiry_date",
        ),
        (
            "/payment/card/expiry_date",
            None,
            "3",
            "payment.card.expiry_date",
        ),
        (
            "/payment/card/security_code",
            Some(json!("123456")),
            "2",
            "payment.card.security_code",
        ),
        (
            "/payment/card/token",
            Some(json!("short")),
            "2",
            "payment.card.token",
        ),
        (
            "/payment/merchant_key",
            Some(json!("OTHERKEY")),
            "4",
            "payment.merchant_key",
        ),
        ("/payment/amount", Some(json!("999")), "8", "payment.amount"),
    ]
}

#[tokio::test]
async fn a_payment_is_checked_field_by_field() {
    let h = Harness::start().await;
    let nit = h.begin("PAYCHECK").await;
    let good = paid_top_up(card_number("4111111111111111"));
    for (pointer, value, code, needle) in bad_payments() {
        let reply = h.effectuate(&nit, edit(good.clone(), pointer, value)).await;
        assert_eq!(reply.1["esitef"]["code"], code, "{pointer}: {}", reply.1);
        let message = reply.1["esitef"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{pointer}: {message}");
        assert_eq!(h.tx(&nit).status, "NOV");
    }
    // An unknown token is Carat's refusal naming the field.
    let reply = h
        .effectuate(&nit, paid_top_up(json!({"token": "Z".repeat(88)})))
        .await;
    assert_eq!(reply.1["esitef"]["code"], "8", "{}", reply.1);
    assert!(
        reply.1["esitef"]["message"]
            .as_str()
            .unwrap()
            .starts_with("payment.card.token")
    );
}

#[tokio::test]
async fn test_cards_approve_deny_or_answer_late_and_notify() {
    let h = Harness::start().await;

    // Approved: PPC with the full payment answer, CON on confirm, notified.
    let nit = h.begin("PAYOK").await;
    let reply = h
        .effectuate(&nit, paid_top_up(card_number("4111111111111111")))
        .await;
    assert_ok(&reply);
    let payment = &reply.1["payment"];
    assert_eq!(payment["status"], "PPC", "{}", reply.1);
    assert_eq!(payment["type"], "C");
    assert_eq!(payment["amount"], "1000");
    assert!(
        is_digits(&payment["authorization"]["number"], 6),
        "{payment}"
    );
    assert!(is_digits(&payment["esitef"]["usn"], 15), "{payment}");
    assert!(payment["customer"]["receipt"].is_string());
    assert!(!reply.1.to_string().contains("4111111111111111"));
    let confirmed = h.confirm(&nit, "true").await;
    assert_ok(&confirmed);
    assert_eq!(confirmed.1["payment"], json!({"status": "CON"}));
    let query = h.query(&nit, KEY).await;
    assert_eq!(query.1["payment"]["status"], "CON", "{}", query.1);
    let forms = payment_notifications(&h, &nit);
    assert_eq!(forms.len(), 1);
    let form = &forms[0];
    assert_eq!(param(form, "status"), "CON");
    assert_eq!(param(form, "pedido"), "PAYOK");
    assert_eq!(param(form, "binCartao"), "411111");
    assert_eq!(param(form, "numeroAutorizacao").len(), 6);
    assert_eq!(param(form, "bandeira"), carat_sandbox::payments::BRAND_VISA);
    assert!(form.iter().all(|(k, _)| k != "tid"), "SiTef-routed: no tid");
    assert_eq!(param(form, "dataSitef").len(), 19, "DD/MM/YYYY hh:mm:SS");

    // Denied: recharge and payment NEG, the phone deny's codes.
    let nit = h.begin("PAYNEG").await;
    let reply = h
        .effectuate(
            &nit,
            paid_top_up(card_number(carat_sandbox::payments::DENIED_CARD)),
        )
        .await;
    assert_ok(&reply);
    assert_eq!(reply.1["status"], "NEG");
    assert_eq!(reply.1["host"]["code"], "05");
    assert_eq!(reply.1["payment"]["status"], "NEG");
    assert_eq!(h.tx(&nit).status, "NEG");
    let forms = payment_notifications(&h, &nit);
    assert_eq!(param(&forms[0], "status"), "NEG");

    // Undone: PPN, notified.
    let nit = h.begin("PAYPPN").await;
    let token = json!({"token": carat_sandbox::vault::TEST_TOKEN});
    assert_ok(&h.effectuate(&nit, paid_top_up(token)).await);
    let undone = h.confirm(&nit, "false").await;
    assert_eq!(undone.1["payment"]["status"], "PPN");
    assert_eq!(param(&payment_notifications(&h, &nit)[0], "status"), "PPN");

    // Late: applied, answered after the slow delay.
    let nit = h.begin("PAYSLOW").await;
    let started = Instant::now();
    let reply = h
        .effectuate(
            &nit,
            paid_top_up(card_number(carat_sandbox::payments::SLOW_CARD)),
        )
        .await;
    assert!(started.elapsed() >= SLOW, "{:?}", started.elapsed());
    assert_eq!(reply.1["payment"]["status"], "PPC");
}

// ---------------------------------------------------------------------------------------------
// Card storage (seed 004): `POST /e-sitef/api/v1/cards` and the storage-data query.

fn card_storage(number: &str, customer: &str, usn: &str) -> Value {
    json!({"card": {"number": number, "expiry_date": "1230"}, "authorizer_id": "1",
           "merchant_usn": usn, "customer_id": customer})
}

impl Harness {
    fn cards_url(&self, path: &str) -> String {
        format!("{}/api/v1/cards{path}", self.base.trim_end_matches("/v3"))
    }

    async fn store_card(&self, body: &Value, id: &str, key: &str) -> Reply {
        let response = self
            .http
            .post(self.cards_url(""))
            .header("merchant_id", id)
            .header("merchant_key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let http = response.status().as_u16();
        (http, response.json().await.expect("a JSON body"))
    }

    fn hash_forms(&self) -> Vec<Vec<(String, String)>> {
        self.sandbox
            .notifications()
            .into_iter()
            .filter(|n| n.channel == carat_sandbox::Channel::Hash)
            .map(|n| n.form)
            .collect()
    }
}

/// Each storage field wrong in turn: where (a JSON pointer), the value, the field the message
/// starts with and the esitef code.
fn bad_storages() -> [(&'static str, Value, &'static str, &'static str); 8] {
    [
        (
            "/card/number",
            json!("4111111111111112"),
            "card.number",
            "2",
        ),
        (
            "/card/number",
            json!("41111111111111111111"),
            "card.number",
            "2",
        ),
        ("/card/expiry_date", json!("1330"), "card.expiry_date", "2"),
        ("/card/expiry_date", Value::Null, "card.expiry_date", "3"),
        ("/authorizer_id", json!("123456"), "authorizer_id", "2"),
        ("/merchant_usn", json!("1234567890123"), "merchant_usn", "2"),
        ("/customer_id", json!("C".repeat(21)), "customer_id", "2"),
        ("/customer_id", json!(12), "customer_id", "2"),
    ]
}

/// Wrong headers are a 401, each bad field a 400 naming it; nothing is stored or notified.
async fn assert_bad_storages_refused(h: &Harness, good: &Value) {
    let (http, body) = h.store_card(good, MERCHANT_ID, "WRONGKEY").await;
    assert_eq!((http, body["code"].as_str()), (401, Some("4")), "{body}");
    let (http, body) = h.store_card(good, "OTHERSTORE", KEY).await;
    assert_eq!((http, body["code"].as_str()), (401, Some("4")), "{body}");
    for (pointer, value, field, code) in bad_storages() {
        let body = edit(good.clone(), pointer, Some(value));
        let (http, answer) = h.store_card(&body, MERCHANT_ID, KEY).await;
        assert_eq!(
            (http, answer["code"].as_str()),
            (400, Some(code)),
            "{pointer}: {answer}"
        );
        assert!(
            answer["message"].as_str().unwrap().starts_with(field),
            "{answer}"
        );
    }
    assert!(
        h.hash_forms().is_empty(),
        "nothing stored, nothing notified"
    );
}

/// `good` stored: its NITA, NSUA and token answered, and the HASH notification sent with them.
async fn assert_stored_and_notified(h: &Harness, good: &Value) {
    let (http, stored) = h.store_card(good, MERCHANT_ID, KEY).await;
    assert_eq!(
        (http, stored["code"].as_str()),
        (200, Some("0")),
        "{stored}"
    );
    let nita = stored["store"]["nita"].as_str().unwrap();
    let token = stored["card"]["token"].as_str().unwrap();
    assert_eq!((nita.len(), token.len()), (65, 88));
    assert!(is_digits(&stored["store"]["nsua"], 15), "{stored}");
    assert_eq!(stored["store"]["status"], "CON");
    assert_eq!(stored["store"]["merchant_usn"], "77");
    assert_eq!(stored["card"]["suffix"], "1111");
    assert_eq!(h.sandbox.stored_card_by_nita(nita).unwrap().token, token);
    let forms = h.hash_forms();
    assert_eq!(forms.len(), 1);
    assert_eq!(param(&forms[0], "nita"), nita);
    assert_eq!(param(&forms[0], "nsu"), "77");
    assert_eq!(param(&forms[0], "status"), "CON");
    assert_eq!(param(&forms[0], "hash"), token);
    assert_eq!(
        (param(&forms[0], "bin"), param(&forms[0], "final")),
        ("411111", "1111")
    );
}

#[tokio::test]
async fn card_storage_checks_headers_and_formats_then_stores_and_notifies() {
    let h = Harness::start().await;
    let good = card_storage("4111111111111111", "CUST1", "77");
    assert_bad_storages_refused(&h, &good).await;
    assert_stored_and_notified(&h, &good).await;

    // The same card for the same customer is a duplicate; for another, stored.
    let (_, dup) = h.store_card(&good, MERCHANT_ID, KEY).await;
    assert_eq!(dup["store"]["status"], "DUP", "{dup}");
    assert!(dup.get("card").is_none(), "{dup}");
    let other = card_storage("4111111111111111", "CUST2", "78");
    let (_, stored) = h.store_card(&other, MERCHANT_ID, KEY).await;
    assert_eq!(stored["store"]["status"], "CON", "{stored}");

    // The test card judged invalid: NEG, notified without a token.
    let denied = card_storage("4000000000000002", "CUST1", "79");
    let (http, neg) = h.store_card(&denied, MERCHANT_ID, KEY).await;
    assert_eq!(
        (http, neg["store"]["status"].as_str()),
        (200, Some("NEG")),
        "{neg}"
    );
    assert!(neg.get("card").is_none(), "{neg}");
    let forms = h.hash_forms();
    assert_eq!(forms.len(), 4);
    assert_eq!(param(&forms[3], "status"), "NEG");
    assert_eq!(param(&forms[3], "hash"), "");
    assert_eq!(h.sandbox.card_storage_requests(), 14);
}

#[tokio::test]
async fn the_storage_query_resends_the_notification_and_refuses_an_unknown_nita() {
    let h = Harness::start().await;
    let (_, stored) = h
        .store_card(
            &card_storage("5555555555554444", "Q1", "5"),
            MERCHANT_ID,
            KEY,
        )
        .await;
    let nita = stored["store"]["nita"].as_str().unwrap();
    let query = |nita: String, key: &'static str| {
        h.http
            .post(h.cards_url(&format!("/query/{nita}")))
            .header("merchant_id", MERCHANT_ID)
            .header("merchant_key", key)
            .form(&[("nita", nita)])
            .send()
    };
    let response = query(nita.to_owned(), KEY).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "OK");
    let forms = h.hash_forms();
    assert_eq!(forms.len(), 2);
    assert_eq!(forms[0], forms[1], "the same notification again");

    let response = query("X".repeat(65), KEY).await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "5", "{body}");
    let response = query(nita.to_owned(), "WRONGKEY").await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(h.hash_forms().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Signature mode (JWT): tokens made by hand with the test key pair, so that a test can date
// them as it likes.

const JWT_KEY: &str = include_str!("../../../tests/fixtures/jwt-test.key");
const OTHER_JWT_KEY: &str = include_str!("../../../tests/fixtures/jwt-test-other.key");

fn test_jwt_key() -> JwtKey {
    JwtKey::from_pem(JWT_KEY).unwrap()
}

fn nit_token(key: &JwtKey, nit: &str, timestamp_ms: u64) -> String {
    key.sign(
        &json!({"merchant_id": MERCHANT_ID, "merchant_key": KEY, "nit": nit,
                     "timestamp": timestamp_ms.to_string()}),
    )
    .unwrap()
}

fn create_token(key: &JwtKey, order_id: &str, timestamp_ms: u64) -> String {
    key.sign(
        &json!({"merchant_id": MERCHANT_ID, "merchant_key": KEY, "order_id": order_id,
                     "merchant_usn": "000123", "timestamp": timestamp_ms.to_string()}),
    )
    .unwrap()
}

impl Harness {
    async fn signed_create(&self, order_id: &str, token: &str) -> Reply {
        let request = self
            .http
            .post(format!("{}/recharge", self.base))
            .bearer_auth(token)
            .json(&json!({ "begin_recharge_request": begin_request(order_id, "normal") }));
        self.call(request, "begin_recharge_response").await
    }

    /// A signature-mode transaction's NIT, from the signed create's answer.
    async fn signed_begin(&self, order_id: &str) -> String {
        let token = create_token(&test_jwt_key(), order_id, now_ms());
        let reply = self.signed_create(order_id, &token).await;
        assert_ok(&reply);
        reply.1["nit"]
            .as_str()
            .expect("the answer carries the NIT")
            .to_owned()
    }

    async fn signed_dealers(&self, nit: &str, token: Option<&str>) -> Reply {
        let query = format!(
            "{}/rechargedealers?nit={nit}&generalhash=0000000000000000",
            self.base
        );
        let mut request = self.http.get(query);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.call(request, "list_dealers_response").await
    }
}

fn now_ms() -> u64 {
    carat_wire::signature::now_millis()
}

fn assert_signature_refused(reply: &Reply, naming: &str) {
    assert_eq!(reply.0, 401, "{reply:?}");
    assert_eq!(reply.1["esitef"]["code"], "30", "{reply:?}");
    let message = reply.1["esitef"]["message"].as_str().unwrap();
    assert!(message.contains(naming), "{message}");
}

#[tokio::test]
async fn a_signed_create_answers_the_nit_and_sends_no_authenticity_post() {
    let h = Harness::start().await;
    let nit = h.signed_begin("SIGNED1").await;
    let token = create_token(&test_jwt_key(), "SIGNED2", now_ms());
    let (http, answer) = h.signed_create("SIGNED2", &token).await;
    assert_eq!(http, 200);
    assert_eq!(answer["merchant_id"], MERCHANT_ID);
    assert_eq!(answer["order_id"], "SIGNED2");
    assert_eq!(answer["merchant_usn"], "000123");
    assert_eq!(answer["general_hash"], TABLE_HASH);
    assert_eq!(answer["nit"].as_str().unwrap().len(), 64);
    assert!(h.merchant.received().is_empty(), "no authenticity POST");
    let tx = h.tx(&nit);
    assert!(tx.signature_mode);
    assert_eq!(tx.status, "NOV");

    // Every later call must be signed, with this NIT.
    let signed = nit_token(&test_jwt_key(), &nit, now_ms());
    assert_ok(&h.signed_dealers(&nit, Some(&signed)).await);
    assert_eq!(h.tx(&nit).signed_calls, 1);
    assert_signature_refused(&h.signed_dealers(&nit, None).await, "missing");
    assert_signature_refused(&h.query(&nit, KEY).await, "missing");
    let other_nit = h.signed_begin("SIGNED3").await;
    let for_another = nit_token(&test_jwt_key(), &other_nit, now_ms());
    assert_signature_refused(&h.signed_dealers(&nit, Some(&for_another)).await, "nit");
    assert_eq!(
        h.tx(&nit).signed_calls,
        1,
        "refused calls are not counted as signed"
    );
}

#[tokio::test]
async fn an_expired_a_future_or_a_badly_signed_token_is_refused() {
    let h = Harness::start().await;
    let nit = h.signed_begin("SIGNED4").await;
    let key = test_jwt_key();
    let expired = nit_token(&key, &nit, now_ms() - 301_000);
    assert_signature_refused(&h.signed_dealers(&nit, Some(&expired)).await, "expired");
    let future = nit_token(&key, &nit, now_ms() + 120_000);
    assert_signature_refused(&h.signed_dealers(&nit, Some(&future)).await, "future");
    let other = JwtKey::from_pem(OTHER_JWT_KEY).unwrap();
    let forged = nit_token(&other, &nit, now_ms());
    assert_signature_refused(
        &h.signed_dealers(&nit, Some(&forged)).await,
        "does not verify",
    );
    assert_signature_refused(
        &h.signed_dealers(&nit, Some("not.a.jwt")).await,
        "Authorization",
    );

    // A create signed with another key, or for another order, opens nothing.
    let forged = create_token(&other, "SIGNED5", now_ms());
    assert_signature_refused(
        &h.signed_create("SIGNED5", &forged).await,
        "does not verify",
    );
    let wrong_order = create_token(&key, "SIGNED6", now_ms());
    assert_signature_refused(&h.signed_create("SIGNED7", &wrong_order).await, "order_id");
    assert!(h.sandbox.find_by_order_id("SIGNED5").is_none());
    assert!(h.sandbox.find_by_order_id("SIGNED7").is_none());
}

#[tokio::test]
async fn an_unsigned_transaction_takes_an_optional_valid_signature() {
    let h = Harness::start().await;
    let nit = h.begin("UNSIGNED1").await;
    assert!(!h.tx(&nit).signature_mode);
    assert_ok(&h.dealers(&nit).await);
    let signed = nit_token(&test_jwt_key(), &nit, now_ms());
    assert_ok(&h.signed_dealers(&nit, Some(&signed)).await);
    assert_eq!(h.tx(&nit).signed_calls, 1);
    let expired = nit_token(&test_jwt_key(), &nit, now_ms() - 301_000);
    assert_signature_refused(&h.signed_dealers(&nit, Some(&expired)).await, "expired");
}

//! `spawn_app()`: the real service on port 0, against a fresh PostgreSQL database of its own,
//! with a standalone sandbox on another port 0 playing Carat Portal. The authenticity POST
//! crosses HTTP from the sandbox's listener to the service's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use carat_domain::{MerchantId, Secret};
use carat_merchant::config::Settings;
use carat_merchant::startup::Application;
use carat_sandbox::{self as sandbox, Sandbox, SandboxConfig};
use carat_wire::signature::JwtPublicKey;

use crate::database::{TestDatabase, server_url};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::net::TcpListener;
use url::Url;

pub const TOKEN: &str = "test-api-token";
pub const MERCHANT_ID: &str = "LOJATESTE";
pub const MERCHANT_KEY: &str = "TESTMERCHANTKEY0001";
/// The PIN keys the tests' service runs with: `PIN_ENCRYPTION_KEYS`.
pub const PIN_KEYS: &str = "test1:dGhlLXRlc3QtaGFybmVzcy1waW4ta2V5LTMyYnl0ZSE=";

/// Sandbox test values (see `src/sandbox/faults.rs`).
pub const PHONE_OK: &str = "987654321";
pub const PHONE_DENY: &str = "999990001";
pub const PHONE_ESITEF_ERROR: &str = "999990002";
pub const PHONE_HTTP_500: &str = "999990003";
pub const PHONE_SLOW: &str = "999990004";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub sandbox: Sandbox,
    pub pool: PgPool,
    settings: Settings,
    /// The environment the service was configured from (the real binary takes it too).
    env: BTreeMap<&'static str, String>,
    /// Last: dropped after everything that uses it.
    _database: TestDatabase,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub merchant_id: &'static str,
    pub carat_timeout: Duration,
    pub slow_answer_delay: Duration,
    pub nit_lifetime: Duration,
    /// Whether the service runs its reconciler (off by default, so a test sees a recharge in
    /// doubt stay so until it acts).
    pub reconcile: bool,
    pub reconcile_interval: Duration,
    pub pending_timeout: Duration,
    pub pending_policy: &'static str,
    pub call_grace: Duration,
    /// Another PostgreSQL server than `TEST_DATABASE_URL` (a throwaway cluster).
    pub database_server: Option<String>,
    pub acquire_timeout: Duration,
    /// `API_TOKENS`, comma-separated.
    pub api_tokens: &'static str,
    /// The sandbox's POSTs per status or HASH notification at most.
    pub notification_attempts: u32,
    /// The sandbox's wait between two POSTs of one notification.
    pub notification_retry_delay: Duration,
    /// `CARAT_AUTH_MODE`.
    pub auth_mode: &'static str,
    /// `CARAT_JWT_PRIVATE_KEY` (a path), if any.
    pub jwt_private_key: Option<String>,
    /// The public key the sandbox verifies signed calls with (by default the test key pair's,
    /// [`fixture`]`("jwt-test.pub")`).
    pub sandbox_jwt_public_key: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            merchant_id: MERCHANT_ID,
            carat_timeout: Duration::from_secs(10),
            slow_answer_delay: Duration::from_secs(3),
            nit_lifetime: Duration::from_secs(600),
            reconcile: false,
            reconcile_interval: Duration::from_millis(100),
            pending_timeout: Duration::from_secs(300),
            pending_policy: "undo",
            call_grace: Duration::from_millis(200),
            database_server: None,
            acquire_timeout: Duration::from_secs(3),
            api_tokens: TOKEN,
            notification_attempts: 3,
            notification_retry_delay: Duration::from_millis(100),
            auth_mode: "authenticity",
            jwt_private_key: None,
            sandbox_jwt_public_key: Some(fixture("jwt-test.pub")),
        }
    }
}

/// The path of a file in `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

static INIT: Once = Once::new();

fn init_process() {
    INIT.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter("info,carat_merchant=debug,sqlx=warn")
                .with_test_writer()
                .init();
        }
    });
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    init_process();
    let service_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service_addr = service_listener.local_addr().unwrap();
    let (sandbox, sandbox_addr) = spawn_sandbox(&options, service_addr).await;

    // A database of its own, created by the service itself (create-when-missing).
    let database = TestDatabase::on(&options.database_server.clone().unwrap_or_else(server_url));
    let env = environment(&options, database.url(), sandbox_addr);
    let config_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let settings = Settings::load_from(&config_dir, |name| env.get(name).cloned()).unwrap();

    let app = Application::build_on(settings.clone(), service_listener)
        .await
        .unwrap();
    let pool = app.pool().clone();
    tokio::spawn(app.run_until(std::future::pending()));

    TestApp {
        address: format!("http://{service_addr}"),
        client: reqwest::Client::new(),
        sandbox,
        pool,
        settings,
        env,
        _database: database,
    }
}

/// A sandbox of the test's own on a port of its own, calling back the service at
/// `service_addr`.
async fn spawn_sandbox(options: &Options, service_addr: SocketAddr) -> (Sandbox, SocketAddr) {
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox_addr = sandbox_listener.local_addr().unwrap();
    let sandbox = Sandbox::new(SandboxConfig {
        merchant_id: MerchantId::parse(options.merchant_id).unwrap(),
        merchant_key: Secret::new(MERCHANT_KEY),
        authenticity_url: Some(
            Url::parse(&format!("http://{service_addr}/callbacks/authenticity")).unwrap(),
        ),
        nit_lifetime: options.nit_lifetime,
        slow_answer_delay: options.slow_answer_delay,
        callback_timeout: Duration::from_secs(5),
        status_url: Some(Url::parse(&format!("http://{service_addr}/callbacks/status")).unwrap()),
        hash_url: Some(Url::parse(&format!("http://{service_addr}/callbacks/hash")).unwrap()),
        notification_attempts: options.notification_attempts,
        notification_retry_delay: options.notification_retry_delay,
        jwt_public_key: options
            .sandbox_jwt_public_key
            .as_deref()
            .map(|path| JwtPublicKey::load(path).unwrap()),
        jwt_max_age: sandbox::signature::DEFAULT_MAX_AGE,
    });
    tokio::spawn(sandbox::serve(sandbox.clone(), sandbox_listener));
    (sandbox, sandbox_addr)
}

/// The service's environment: `options` over the `local` profile, Carat being the sandbox.
fn environment(
    options: &Options,
    database_url: String,
    sandbox_addr: SocketAddr,
) -> BTreeMap<&'static str, String> {
    let mut env = BTreeMap::new();
    env.insert("DATABASE_URL", database_url);
    env.insert("API_TOKENS", options.api_tokens.to_owned());
    env.insert("CARAT_BASE_URL", format!("http://{sandbox_addr}/e-sitef"));
    env.insert("CARAT_MERCHANT_ID", options.merchant_id.to_owned());
    env.insert("CARAT_MERCHANT_KEY", MERCHANT_KEY.to_owned());
    // Not local.toml's key, so a test that runs the production profile keeps it.
    env.insert("PIN_ENCRYPTION_KEYS", PIN_KEYS.to_owned());
    env.insert(
        "CARAT_TIMEOUT_MS",
        options.carat_timeout.as_millis().to_string(),
    );
    env.insert("DATABASE_MAX_CONNECTIONS", "5".to_owned());
    env.insert("CARAT_CALL_GRACE_MS", millis(options.call_grace));
    env.insert(
        "DATABASE_ACQUIRE_TIMEOUT_MS",
        millis(options.acquire_timeout),
    );
    env.insert(
        "CARAT_NIT_LIFETIME_SECS",
        options.nit_lifetime.as_secs().max(1).to_string(),
    );
    env.insert("RECONCILE_ENABLED", options.reconcile.to_string());
    env.insert("CARAT_AUTH_MODE", options.auth_mode.to_owned());
    if let Some(key) = &options.jwt_private_key {
        env.insert("CARAT_JWT_PRIVATE_KEY", key.clone());
    }
    env.insert("RECONCILE_INTERVAL_MS", millis(options.reconcile_interval));
    env.insert("RECONCILE_MAX_BACKOFF_SECS", "1".to_owned());
    env.insert(
        "PENDING_CONFIRMATION_TIMEOUT_SECS",
        options.pending_timeout.as_secs().max(1).to_string(),
    );
    env.insert(
        "PENDING_CONFIRMATION_POLICY",
        options.pending_policy.to_owned(),
    );
    env
}

impl TestApp {
    /// Another instance of the service on the same database (and the same sandbox).
    pub async fn spawn_second_instance(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut settings = self.settings.clone();
        // Its own name: leases tell instances apart by it.
        settings.reconcile.instance_id = format!("second-{}", uuid::Uuid::new_v4().simple());
        let app = Application::build_on(settings, listener).await.unwrap();
        tokio::spawn(app.run_until(std::future::pending()));
        format!("http://{addr}")
    }

    /// Another instance on the same database and sandbox, configured with `overrides` on top of
    /// this one's environment (a restart with another configuration).
    pub async fn spawn_instance_with(&self, overrides: &[(&'static str, &str)]) -> String {
        let env = self.env_with(overrides);
        let config_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut settings = Settings::load_from(&config_dir, |name| env.get(name).cloned()).unwrap();
        settings.reconcile.instance_id = format!("other-{}", uuid::Uuid::new_v4().simple());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Application::build_on(settings, listener).await.unwrap();
        tokio::spawn(app.run_until(std::future::pending()));
        format!("http://{addr}")
    }

    /// The service's configuration, as environment variables, with `overrides` on top.
    pub fn env_with(&self, overrides: &[(&'static str, &str)]) -> BTreeMap<&'static str, String> {
        let mut env = self.env.clone();
        for (key, value) in overrides {
            env.insert(key, (*value).to_owned());
        }
        env
    }

    /// A create of ours waiting for its NIT (as if its create call were out), with this order
    /// id and merchant USN; its id.
    pub async fn pending_create(&self, order_id: &str, usn: i64) -> uuid::Uuid {
        let id = uuid::Uuid::new_v4();
        sqlx::query(
            "INSERT INTO recharges (id, recharge_type, order_id, merchant_usn, status, \
                                    call_deadline, next_attempt_at) \
             VALUES ($1, 'normal', $2, $3, 'created', now() + interval '1 minute', \
                     now() + interval '1 minute')",
        )
        .bind(id)
        .bind(order_id)
        .bind(usn)
        .execute(&self.pool)
        .await
        .unwrap();
        id
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        post_to(&self.client, self.url(path), &body).await
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        get_from(&self.client, self.url(path)).await
    }

    /// POSTs from a task of its own: the test goes on while the request is out.
    pub fn post_in_background(
        &self,
        path: &str,
        body: Value,
    ) -> tokio::task::JoinHandle<(StatusCode, Value)> {
        let (client, url) = (self.client.clone(), self.url(path));
        tokio::spawn(async move { post_to(&client, url, &body).await })
    }

    /// Creates a normal recharge and checks it started.
    pub async fn create_recharge(&self) -> Value {
        let (status, body) = self
            .post_json("/api/v1/recharges", json!({"recharge_type": "normal"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["status"], "started", "{body}");
        body
    }

    /// Lists as the storefront does before an effectuation: the recharge's dealers, then the
    /// branch data of `dealer_code` in area `ddd`; both must be 200.
    pub async fn list_catalogue(&self, id: &str, dealer_code: &str, ddd: &str) -> (Value, Value) {
        let (status, dealers) = self
            .get_json(&format!("/api/v1/recharges/{id}/dealers"))
            .await;
        assert_eq!(status, StatusCode::OK, "{dealers}");
        let (status, branches) = self
            .get_json(&format!(
                "/api/v1/recharges/{id}/branches?dealer_code={dealer_code}&ddd={ddd}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{branches}");
        (dealers, branches)
    }

    pub async fn effectuate(&self, id: &str, phone: &str, amount: u64) -> (StatusCode, Value) {
        self.post_json(
            &format!("/api/v1/recharges/{id}/effectuate"),
            effectuation(phone, amount),
        )
        .await
    }

    /// POSTs an effectuation that must be refused as bad input; answers its `error`.
    pub async fn refused_effectuation(&self, id: &str, body: &Value) -> Value {
        let (status, answer) = self
            .post_json(&format!("/api/v1/recharges/{id}/effectuate"), body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {answer}"
        );
        answer["error"].clone()
    }

    pub async fn confirm(&self, id: &str, confirm: bool) -> (StatusCode, Value) {
        self.post_json(
            &format!("/api/v1/recharges/{id}/confirm"),
            json!({"confirm": confirm}),
        )
        .await
    }

    pub async fn recharge(&self, id: &str) -> Value {
        let (status, body) = self.get_json(&format!("/api/v1/recharges/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// A top-up paid with the card `number` (the sandbox's test cards decide its fate), made
    /// through the storefront API as `tests/api/payments.rs` makes one: created, catalogue
    /// listed, effectuated with the payment. An approved one is left pending confirmation.
    pub async fn paid_top_up(&self, number: &str) -> Paid {
        let created = self.create_recharge().await;
        let id = created["id"].as_str().unwrap().to_owned();
        self.list_catalogue(&id, "001", "11").await;
        let (status, answer) = self
            .post_json(
                &format!("/api/v1/recharges/{id}/effectuate"),
                paid(crate::payments::by_number(number)),
            )
            .await;
        Paid::new(created, status, answer)
    }

    /// A PIN sale (`others`: the sandbox's Vex-PIN, dealer 905) paid with the card `number`,
    /// as `tests/api/others.rs` sells one; an approved one is left pending confirmation.
    pub async fn paid_pin_sale(&self, number: &str) -> Paid {
        let (status, created) = self
            .post_json("/api/v1/recharges", json!({"recharge_type": "others"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let recharge = format!("/api/v1/recharges/{id}");
        let (status, dealers) = self.get_json(&format!("{recharge}/dealers")).await;
        assert_eq!(status, StatusCode::OK, "{dealers}");
        let (status, branches) = self
            .get_json(&format!(
                "{recharge}/branches?dealer_code=905&branch_code=97200000000"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{branches}");
        let mut body = json!({
            "dealer": {"code": "905", "type_code": "02", "branch": {"code": "97200000000"}},
            "amount": 1000,
            "amount_key": "1",
        });
        body["payment"] = paid(crate::payments::by_number(number))["payment"].clone();
        let (status, answer) = self
            .post_json(&format!("{recharge}/effectuate"), body)
            .await;
        Paid::new(created, status, answer)
    }

    pub async fn post_authenticity(&self, body: &str) -> (StatusCode, String) {
        let response = self
            .client
            .post(self.url("/callbacks/authenticity"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM recharge_events")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// A paid recharge and what its effectuation was answered.
#[derive(Clone, Debug)]
pub struct Paid {
    pub id: String,
    pub nit: String,
    /// The recharge as created (its `order_id` and `merchant_usn` included).
    pub created: Value,
    pub status: StatusCode,
    pub answer: Value,
}

impl Paid {
    fn new(created: Value, status: StatusCode, answer: Value) -> Self {
        Self {
            id: created["id"].as_str().unwrap().to_owned(),
            nit: created["nit"].as_str().unwrap().to_owned(),
            created,
            status,
            answer,
        }
    }
}

/// Every row of every table of the service's database, as `table: {row as JSON}` (a bytea
/// column shows as hex): for tests that search the whole store for a secret.
pub async fn every_row(pool: &PgPool) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(tables.iter().any(|t| t == "recharge_events"), "{tables:?}");
    let mut rows = Vec::new();
    for table in tables {
        let sql = format!("SELECT row_to_json(t)::text FROM \"{table}\" t");
        let texts: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap();
        rows.extend(texts.into_iter().map(|r| format!("{table}: {r}")));
    }
    rows
}

/// Whether the short code `code` (a security code, an expiry) stands in `text` as a value of
/// its own. Random values hold any four digits now and then, so what cannot be a leak is
/// passed over: a match inside a longer run of letters and digits (an NSU, a bytea column's
/// hex, a token) and a UUID's groups. A leak prints a code with something else around it:
/// `"7391"`, `=7391&`, `SecurityCode(7391)`.
pub fn holds_code(text: &str, code: &str) -> bool {
    let text = without_uuids(text);
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.match_indices(code).any(|(at, _)| {
        !alnum(text[..at].chars().next_back()) && !alnum(text[at + code.len()..].chars().next())
    })
}

/// `text` with every UUID (8-4-4-4-12 hex digits) replaced by `<uuid>`.
fn without_uuids(text: &str) -> String {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    let bytes = text.as_bytes();
    let is_uuid_at = |start: usize| {
        let mut at = start;
        for (i, len) in SHAPE.iter().enumerate() {
            if i > 0 {
                if bytes.get(at) != Some(&b'-') {
                    return false;
                }
                at += 1;
            }
            if at + len > bytes.len() || !bytes[at..at + len].iter().all(u8::is_ascii_hexdigit) {
                return false;
            }
            at += len;
        }
        true
    };
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < bytes.len() {
        if is_uuid_at(at) {
            out.push_str("<uuid>");
            at += 36;
        } else {
            let c = text[at..].chars().next().unwrap();
            out.push(c);
            at += c.len_utf8();
        }
    }
    out
}

#[test]
fn a_code_is_found_standing_alone_only() {
    for leak in [
        r#"{"security_code":"7391"}"#,
        "cvv=7391&x",
        "SecurityCode(7391)",
    ] {
        assert!(holds_code(leak, "7391"), "{leak}");
    }
    for noise in [
        "usn 123739145",
        r#""\\xab7391cd""#,
        "id 0b7c7391-7391-4a1b-8c2d-0123456789ab",
    ] {
        assert!(!holds_code(noise, "7391"), "{noise}");
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

pub fn effectuation(phone: &str, amount: u64) -> Value {
    json!({
        "dealer": {"code": "001", "type_code": "03"},
        "phone": {"ddd": "11", "number": phone},
        "amount": amount,
    })
}

/// POSTs `body` to `url` as the storefront.
pub async fn post_to(client: &reqwest::Client, url: String, body: &Value) -> (StatusCode, Value) {
    let response = client
        .post(url)
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    read(response).await
}

/// GETs `url` as the storefront.
pub async fn get_from(client: &reqwest::Client, url: String) -> (StatusCode, Value) {
    let response = client.get(url).bearer_auth(TOKEN).send().await.unwrap();
    read(response).await
}

/// POSTs each body to `path` from its own task, all at once.
pub async fn concurrently(
    app: &TestApp,
    path: &str,
    bodies: Vec<Value>,
) -> Vec<(StatusCode, Value)> {
    let mut tasks = tokio::task::JoinSet::new();
    for body in bodies {
        let (client, url) = (app.client.clone(), app.url(path));
        tasks.spawn(async move { post_to(&client, url, &body).await });
    }
    tasks.join_all().await
}

pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The names of a recharge's history entries, in order.
pub fn event_names(recharge: &Value) -> Vec<String> {
    recharge["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["kind"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// GETs the recharge at `base` every 50 ms until `done` holds, for at most `within`; panics
/// with the last answer otherwise.
pub async fn poll_recharge(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (_, body) = get_from(client, format!("{base}/api/v1/recharges/{id}")).await;
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "recharge {id} did not get there within {within:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The actors of a recharge's state changes whose name is `name`.
pub fn actors_of(recharge: &Value, name: &str) -> Vec<String> {
    recharge["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "state_change" && e["name"] == name)
        .map(|e| e["actor"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The storefront's `normal` effectuation body paying 1000 cents with `card`.
pub fn paid(card: Value) -> Value {
    json!({
        "dealer": {"code": "001", "type_code": "03"},
        "phone": {"ddd": "11", "number": PHONE_OK},
        "amount": 1000,
        "payment": {
            "amount": 1000,
            "authorizer_id": "1",
            "installment": {"number": 1, "type": "4"},
            "card": card,
        },
    })
}

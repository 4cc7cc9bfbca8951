//! `others` products (PINs): dealers with branches, branch data by `PUT rechargebranches`, an
//! effectuation with `dealer.branch.code`, and the PIN: kept encrypted before the storefront
//! hears of the sale, shown by `GET` only, found nowhere else (database, history, logs), and a
//! sale whose PIN was not kept undone, never confirmed.

use std::time::Duration;

use carat_sandbox::{Fault, Operation};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{Options, TOKEN, TestApp, poll_recharge, read, spawn_app, spawn_app_with};
use crate::process::ServiceProcess;

/// The sandbox's PIN product: Vex-PIN, dealer 905, branch 97200000000, type "02".
const DEALER: &str = "905";
const BRANCH: &str = "97200000000";

fn pin_sale(amount: u64) -> Value {
    json!({
        "dealer": {"code": DEALER, "type_code": "02", "branch": {"code": BRANCH}},
        "amount": amount,
        "amount_key": "1",
    })
}

/// The storefront's side, against any running service (the test's, or the real binary).
struct Storefront<'a> {
    client: &'a reqwest::Client,
    base: String,
}

impl Storefront<'_> {
    /// With an `Idempotency-Key`: the answers kept under it are searched for the PIN too.
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string());
        read(request.bearer_auth(TOKEN).json(&body).send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let request = self.client.get(format!("{}{path}", self.base));
        read(request.bearer_auth(TOKEN).send().await.unwrap()).await
    }

    /// create → dealers → branches → effectuate: answers the recharge's id and the
    /// effectuation's answer.
    async fn sell_a_pin(&self) -> (String, Value) {
        let (status, created) = self
            .post("/api/v1/recharges", json!({"recharge_type": "others"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let recharge = format!("/api/v1/recharges/{id}");

        let (status, dealers) = self.get(&format!("{recharge}/dealers")).await;
        assert_eq!(status, StatusCode::OK, "{dealers}");
        let vex = dealers["dealers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == DEALER)
            .unwrap_or_else(|| panic!("no dealer {DEALER}: {dealers}"));
        assert_eq!(vex["type_code"], "02", "{vex}");
        assert_eq!(vex["type_name"], "PIN TELEFONE", "{vex}");
        assert_eq!(vex["branches"][0]["code"], BRANCH, "{vex}");

        let (status, branches) = self
            .get(&format!(
                "{recharge}/branches?dealer_code={DEALER}&branch_code={BRANCH}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{branches}");
        assert_eq!(
            branches["categories"][0]["amount_ranges"][0]["amount_key"], "1",
            "{branches}"
        );

        let (status, answer) = self
            .post(&format!("{recharge}/effectuate"), pin_sale(1000))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        (id, answer)
    }

    /// The PIN on the customer's receipt, as `GET` shows it.
    async fn pin_of(&self, id: &str) -> (String, Value) {
        let (status, recharge) = self.get(&format!("/api/v1/recharges/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{recharge}");
        assert_eq!(recharge["pin_receipt"], "kept", "{recharge}");
        let receipt = recharge["receipts"]["customer"]
            .as_str()
            .unwrap_or_default();
        let pin = receipt
            .lines()
            .find_map(|l| l.strip_prefix("PIN: "))
            .unwrap_or_else(|| panic!("no PIN line: {recharge}"))
            .to_owned();
        (pin, recharge)
    }
}

fn storefront(app: &TestApp) -> Storefront<'_> {
    Storefront {
        client: &app.client,
        base: app.address.clone(),
    }
}

/// Every row of every table, as text (binary columns read as bytes, so a body kept as `bytea`
/// is searched too), outside the ciphertext column: where `needle` is.
async fn found_in_database(pool: &PgPool, needle: &str) -> Vec<String> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT quote_ident(t.table_name), \
                coalesce(string_agg(format('encode(t.%I, ''escape'')', c.column_name), ' || '' '' || ') \
                         FILTER (WHERE c.data_type = 'bytea' AND c.column_name <> 'receipt_ciphertext'), \
                         'NULL') \
         FROM information_schema.tables t \
         JOIN information_schema.columns c USING (table_schema, table_name) \
         WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
         GROUP BY t.table_name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(tables.iter().any(|(t, _)| t == "recharges"), "{tables:?}");
    let mut found = Vec::new();
    for (table, binary) in tables {
        // The names come from the catalogue, quoted by PostgreSQL.
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT (to_jsonb(t) - 'receipt_ciphertext')::text || ' ' || coalesce({binary}, '') \
             FROM {table} t"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        found.extend(
            rows.into_iter()
                .filter(|row| row.contains(needle))
                .map(|row| format!("{table}: {row}")),
        );
    }
    found
}

/// The PIN with its dashes, and its digits alone.
fn forms(pin: &str) -> [String; 2] {
    [pin.to_owned(), pin.replace('-', "")]
}

#[tokio::test]
async fn a_pin_sale_keeps_its_pin_encrypted_and_shows_it_on_get_only() {
    let app = spawn_app().await;
    let shop = storefront(&app);
    let (id, answer) = shop.sell_a_pin().await;
    assert_eq!(answer["status"], "pending_confirmation", "{answer}");
    assert_eq!(answer["pin_receipt"], "kept", "{answer}");
    // The POST's answer (which idempotency may keep) carries no receipt.
    assert!(answer["receipts"].is_null(), "{answer}");
    assert_eq!(
        answer["effectuation"]["dealer"]["branch"]["code"], BRANCH,
        "{answer}"
    );

    let (pin, shown) = shop.pin_of(&id).await;
    assert_eq!(pin.len(), 19, "{pin}");
    let nit = shown["nit"].as_str().unwrap().to_owned();
    let (status, confirmed) = shop
        .post(
            &format!("/api/v1/recharges/{id}/confirm"),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "confirmed", "{confirmed}");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "CON");
    // Still there once confirmed.
    assert_eq!(shop.pin_of(&id).await.0, pin);

    // Stored sealed, with its key's id; in no other column of any table, history included.
    let (key_id, sealed): (Option<String>, Option<Vec<u8>>) = sqlx::query_as(
        "SELECT receipt_key_id, receipt_ciphertext FROM recharges WHERE id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(key_id.as_deref(), Some("test1"));
    assert!(sealed.is_some_and(|c| c.len() > 28));
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(kept >= 3, "{kept} answers kept");
    let (_, history) = shop.get(&format!("/api/v1/recharges/{id}")).await;
    let events = history["events"].to_string();
    assert!(events.contains("\"pin_receipt_kept\":true"), "{events}");
    for form in forms(&pin) {
        assert_eq!(
            found_in_database(&app.pool, &form).await,
            Vec::<String>::new()
        );
        assert!(!events.contains(&form), "{events}");
    }
}

#[tokio::test]
async fn two_sales_never_get_the_same_pin() {
    let app = spawn_app().await;
    let shop = storefront(&app);
    let (first, _) = shop.sell_a_pin().await;
    let (second, _) = shop.sell_a_pin().await;
    let (a, b) = (shop.pin_of(&first).await.0, shop.pin_of(&second).await.0);
    assert_ne!(a, b);
}

#[tokio::test]
async fn a_product_not_listed_is_named_before_carat_is_called() {
    let app = spawn_app().await;
    let shop = storefront(&app);
    let (_, created) = shop
        .post("/api/v1/recharges", json!({"recharge_type": "others"}))
        .await;
    let id = created["id"].as_str().unwrap();
    let recharge = format!("/api/v1/recharges/{id}");

    let (status, body) = shop
        .get(&format!(
            "{recharge}/branches?dealer_code={DEALER}&branch_code=97001000000"
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "branch_code", "{body}");
    let (status, body) = shop
        .get(&format!(
            "{recharge}/branches?dealer_code={DEALER}&branch_code=12"
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "branch_code", "{body}");

    let (status, body) = shop
        .get(&format!(
            "{recharge}/branches?dealer_code={DEALER}&branch_code={BRANCH}&ddd=11"
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "ddd", "{body}");
    // A top-up's branch data is by DDD.
    let top_up = app.create_recharge().await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = shop
        .get(&format!(
            "/api/v1/recharges/{top_up}/branches?dealer_code=001&branch_code={BRANCH}"
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "branch_code", "{body}");

    let mut wrong_branch = pin_sale(1000);
    wrong_branch["dealer"]["branch"]["code"] = json!("97001000000");
    let mut phone = pin_sale(1000);
    phone["phone"] = json!({"ddd": "11", "number": "987654321"});
    let mut no_branch = pin_sale(1000);
    no_branch["dealer"]
        .as_object_mut()
        .unwrap()
        .remove("branch");
    for (body, field) in [
        (wrong_branch, "dealer.branch.code"),
        (phone, "phone"),
        (no_branch, "dealer.branch"),
        (pin_sale(2500), "amount"),
    ] {
        let error = app.refused_effectuation(id, &body).await;
        assert_eq!(error["field"], field, "{body} -> {error}");
    }
    let nit = app.recharge(id).await["nit"].as_str().unwrap().to_owned();
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().effectuation_requests,
        0
    );
}

/// The effectuation went through at Carat, its answer (and the PIN on it) was lost: the query
/// finds it PPC, but a PIN read from a query does not count as kept.
async fn a_pin_sale_whose_answer_was_lost(options: Options) -> (TestApp, String, String) {
    let app = spawn_app_with(Options {
        carat_timeout: Duration::from_millis(700),
        ..options
    })
    .await;
    let shop = storefront(&app);
    let (_, created) = shop
        .post("/api/v1/recharges", json!({"recharge_type": "others"}))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let nit = created["nit"].as_str().unwrap().to_owned();
    app.sandbox
        .inject(Operation::Effectuate, Fault::AppliedThen500, 1);
    let (status, body) = shop
        .post(
            &format!("/api/v1/recharges/{id}/effectuate"),
            pin_sale(1000),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "PPC");
    (app, id, nit)
}

#[tokio::test]
async fn a_pin_sale_whose_answer_was_lost_is_never_confirmed() {
    let (app, id, nit) = a_pin_sale_whose_answer_was_lost(Options::default()).await;
    let (status, body) = app.confirm(&id, true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("receipt was not kept"),
        "{body}"
    );
    let recharge = app.recharge(&id).await;
    assert_eq!(recharge["status"], "pending_confirmation", "{recharge}");
    assert_eq!(recharge["pin_receipt"], "not_kept", "{recharge}");
    assert!(recharge["receipts"].is_null(), "{recharge}");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "PPC");
    // The storefront may still undo it itself.
    let (status, body) = app.confirm(&id, false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "undone", "{body}");
}

#[tokio::test]
async fn a_pin_sale_whose_answer_was_lost_is_undone_even_under_the_confirm_policy() {
    let (app, id, nit) = a_pin_sale_whose_answer_was_lost(Options {
        reconcile: true,
        pending_policy: "confirm",
        ..Options::default()
    })
    .await;
    // Undone at once, not after the (default, five-minute) pending-confirmation timeout.
    let recharge = poll_recharge(
        &app.client,
        &app.address,
        &id,
        Duration::from_secs(10),
        |r| r["status"] == "undone",
    )
    .await;
    assert_eq!(recharge["pin_receipt"], "not_kept", "{recharge}");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "PPN");
}

#[tokio::test]
async fn the_pin_never_reaches_the_real_binarys_logs() {
    let app = spawn_app().await;
    let service = ServiceProcess::start(app.env_with(&[
        ("LOG_FORMAT", "json"),
        (
            "LOG_FILTER",
            "debug,carat_merchant=trace,tower_http=trace,reqwest=trace,hyper=trace,sqlx=trace",
        ),
    ]))
    .await;
    app.sandbox
        .set_authenticity_url(service.url("/callbacks/authenticity").parse().unwrap());
    let shop = Storefront {
        client: &app.client,
        base: service.url(""),
    };
    let (id, _) = shop.sell_a_pin().await;
    let (pin, _) = shop.pin_of(&id).await;
    let (status, body) = shop
        .post(
            &format!("/api/v1/recharges/{id}/confirm"),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let lines = service.log_lines();
    assert!(lines.len() > 50, "only {} lines", lines.len());
    assert!(
        lines.iter().all(|l| l.starts_with('{')),
        "not JSON: {lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains(&id)), "the sale is logged");
    for form in forms(&pin) {
        let leaks: Vec<&String> = lines.iter().filter(|l| l.contains(&form)).collect();
        assert!(leaks.is_empty(), "{leaks:?}");
    }
}

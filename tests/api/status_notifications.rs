//! Status notifications (`POST /callbacks/status`, digest §6.2): kept, then applied to the
//! recharge's payment only when they move it forward, then 200; a replay changes nothing; a
//! notification never ends a recharge by itself: a contradiction is settled by a query.
//!
//! Every recharge here is paid with a card through the storefront API, and the sandbox sends
//! its own notifications as Carat would (CON on confirm, NEG on a denied card, PPN on undo):
//! they reach the service over HTTP and are waited for by polling, with a deadline.

use std::time::{Duration, Instant};

use carat_sandbox::notifier::{Channel, Notification};
use carat_sandbox::payments::DENIED_CARD;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;
use uuid::Uuid;

use crate::cluster::Cluster;
use crate::helpers::{Options, Paid, TestApp, every_row, spawn_app, spawn_app_with};
use crate::payments::CARD_OK;

/// A top-up paid by card, effectuated (Carat holds it and its payment PPC), left pending
/// confirmation.
async fn pending_recharge(app: &TestApp) -> Paid {
    let paid = app.paid_top_up(CARD_OK).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.answer);
    assert_eq!(
        paid.answer["status"], "pending_confirmation",
        "{}",
        paid.answer
    );
    assert_eq!(paid.answer["payment"]["status"], "PPC", "{}", paid.answer);
    paid
}

/// A paid top-up confirmed (recharge and payment CON), and the sandbox's CON notification of
/// it, landed.
async fn confirmed_recharge(app: &TestApp) -> (Paid, Notification) {
    let paid = pending_recharge(app).await;
    let (status, body) = app.confirm(&paid.id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed", "{body}");
    let sent = landed(app, &paid.nit, "CON").await;
    (paid, sent)
}

/// The sandbox's status notification of `status` for `nit`, once it is finished (every POST
/// made or one answered 200); panics if it is not within 20 s, or was not delivered.
async fn landed(app: &TestApp, nit: &str, status: &str) -> Notification {
    let sent = finished(app, nit, status, Duration::from_secs(20)).await;
    assert!(sent.delivered, "not delivered: {sent:?}");
    sent
}

async fn finished(app: &TestApp, nit: &str, status: &str, within: Duration) -> Notification {
    let deadline = Instant::now() + within;
    loop {
        let found = sandbox_notification(app, nit, status);
        if let Some(sent) = found.as_ref().filter(|n| n.finished) {
            return sent.clone();
        }
        assert!(Instant::now() < deadline, "not finished in time: {found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sandbox_notification(app: &TestApp, nit: &str, status: &str) -> Option<Notification> {
    let has = |n: &Notification, key: &str, value: &str| {
        n.form.iter().any(|(k, v)| k == key && v == value)
    };
    let mut found: Vec<_> = app
        .sandbox
        .notifications()
        .into_iter()
        .filter(|n| n.channel == Channel::Status && has(n, "nit", nit) && has(n, "status", status))
        .collect();
    assert!(found.len() <= 1, "{found:?}");
    found.pop()
}

fn param<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    &form.iter().find(|(k, _)| k == key).unwrap().1
}

/// `form` with `key` set to `value`.
fn with(form: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut form = form.to_vec();
    match form.iter_mut().find(|(k, _)| k == key) {
        Some(pair) => pair.1 = value.to_owned(),
        None => form.push((key.to_owned(), value.to_owned())),
    }
    form
}

/// A notification Carat could send for `paid` reaching payment status `status`, with the
/// details a confirmed SiTef payment carries (for a status the sandbox sends no notification
/// of, or before it sends one).
fn form(paid: &Paid, status: &str) -> Vec<(String, String)> {
    let recharge = &paid.created;
    [
        ("nit", recharge["nit"].as_str().unwrap()),
        ("pedido", recharge["order_id"].as_str().unwrap()),
        ("nsu", recharge["merchant_usn"].as_str().unwrap()),
        ("status", status),
        ("nsuSitef", "000123"),
        ("nsuHost", "998877"),
        ("nsuesitef", "261121000000042"),
        ("autorizadora", "1"),
        ("tipoPagamento", "C"),
        ("dataSitef", "21/11/2026 13:45:09"),
        ("parcelas", "1"),
        ("tipoFinanciamento", "4"),
        ("numeroAutorizacao", "A1B2C3"),
        ("eci", "05"),
        ("cupom", "VIA CLIENTE\nAPROVADO"),
        ("binCartao", "411111"),
        ("somethingNew", "ignored"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn encode(form: &[(String, String)]) -> String {
    serde_urlencoded::to_string(form).unwrap()
}

async fn post_status(app: &TestApp, body: &str) -> (StatusCode, String) {
    let response = app
        .client
        .post(app.url("/callbacks/status"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn payment_status(app: &TestApp, recharge_id: &str) -> (Option<String>, Option<String>) {
    sqlx::query_as("SELECT status, status_source FROM recharge_payments WHERE recharge_id = $1")
        .bind(Uuid::parse_str(recharge_id).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The kept notifications of a recharge: (status, advance, follow_up), oldest first.
async fn kept(app: &TestApp, recharge_id: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT status, advance, follow_up FROM payment_notifications \
         WHERE recharge_id = $1 ORDER BY id",
    )
    .bind(Uuid::parse_str(recharge_id).unwrap())
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn inbox(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get_json(&format!("/api/v1/callbacks{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["callbacks"].as_array().unwrap().clone()
}

fn event_count(recharge: &Value, name: &str) -> usize {
    recharge["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == name)
        .count()
}

/// What the history shows of the notifications: no payment discrepancy and no query
/// requested, for a notification that agrees with its recharge.
fn assert_no_follow_up(recharge: &Value) {
    assert_eq!(
        event_count(recharge, "payment_discrepancy"),
        0,
        "{recharge}"
    );
    assert_eq!(event_count(recharge, "query_requested"), 0, "{recharge}");
}

/// The sandbox's own notification of `status` for `paid` landed once, at its first POST, and
/// is kept accepted against its recharge: `advance` is `same` when the call's answer was
/// committed first, `forward` when the notification overtook it (both happen: Carat sends it
/// as it settles). Answers its `follow_up`.
async fn assert_landed_once(app: &TestApp, paid: &Paid, status: &str) -> String {
    let sent = landed(app, &paid.nit, status).await;
    assert_eq!(sent.answers, vec!["200"], "{sent:?}");
    let rows = inbox(app, "?kind=status").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["outcome"], "accepted", "{rows:?}");
    assert_eq!(rows[0]["http_status"], 200);
    assert_eq!(rows[0]["recharge_id"], paid.id.as_str());
    let kept = kept(app, &paid.id).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    let (kept_status, advance, follow_up) = kept[0].clone();
    assert_eq!(kept_status, status);
    assert!(["same", "forward"].contains(&advance.as_str()), "{kept:?}");
    follow_up
}

#[tokio::test]
async fn the_sandboxs_con_of_a_confirmed_top_up_lands_and_changes_nothing_wrong() {
    let app = spawn_app().await;
    let (paid, _) = confirmed_recharge(&app).await;
    let follow_up = assert_landed_once(&app, &paid, "CON").await;
    assert_eq!(follow_up, "none");
    let recharge = app.recharge(&paid.id).await;
    assert_eq!(recharge["status"], "confirmed", "{recharge}");
    assert_eq!(recharge["payment"]["status"], "CON", "{recharge}");
    // The confirmation's answer is the last word on the payment, whichever came first.
    assert_eq!(recharge["payment"]["status_source"], "confirmation");
    assert_no_follow_up(&recharge);
    assert_eq!(event_count(&recharge, "status_notification"), 1);
}

#[tokio::test]
async fn the_sandboxs_neg_of_a_denied_card_lands() {
    let app = spawn_app().await;
    let paid = app.paid_top_up(DENIED_CARD).await;
    assert_eq!(
        paid.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        paid.answer
    );
    let follow_up = assert_landed_once(&app, &paid, "NEG").await;
    // Landing while the effectuation is still out, it asks for a query at the call's deadline
    // (the call's outcome is not known then); after it, it agrees with the failed recharge.
    assert!(
        ["none", "query"].contains(&follow_up.as_str()),
        "{follow_up}"
    );
    let recharge = app.recharge(&paid.id).await;
    assert_eq!(recharge["status"], "failed", "{recharge}");
    assert_eq!(recharge["payment"]["status"], "NEG", "{recharge}");
    assert_eq!(
        event_count(&recharge, "payment_discrepancy"),
        0,
        "{recharge}"
    );
}

#[tokio::test]
async fn the_sandboxs_ppn_of_an_undo_lands() {
    let app = spawn_app().await;
    let paid = pending_recharge(&app).await;
    let (status, body) = app.confirm(&paid.id, false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "undone", "{body}");
    let follow_up = assert_landed_once(&app, &paid, "PPN").await;
    assert_eq!(follow_up, "none");
    let recharge = app.recharge(&paid.id).await;
    assert_eq!(recharge["status"], "undone", "{recharge}");
    assert_eq!(recharge["payment"]["status"], "PPN", "{recharge}");
    assert_no_follow_up(&recharge);
}

#[tokio::test]
async fn a_notification_delivered_twice_is_applied_once() {
    let app = spawn_app().await;
    let (paid, sent) = confirmed_recharge(&app).await;
    let id = paid.id.as_str();
    let after_first = app.recharge(id).await;
    let detail = &after_first["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "status_notification")
        .expect("the history records the notification")["detail"];
    assert_eq!(
        detail["notification"]["nsu_sitef"],
        param(&sent.form, "nsuSitef")
    );
    assert_eq!(
        detail["notification"]["authorization_number"],
        param(&sent.form, "numeroAutorizacao")
    );
    let events = app.event_count().await;
    let kept_before = kept(&app, id).await;

    // Carat sends the same POST again (its 200 got lost): answered the same, nothing changes.
    assert_eq!(
        post_status(&app, &encode(&sent.form)).await,
        (StatusCode::OK, "OK".into())
    );
    assert_eq!(app.event_count().await, events);
    assert_eq!(kept(&app, id).await, kept_before);
    let rows = inbox(&app, "?kind=status").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["receipt_count"], 2);
    assert_eq!(rows[0]["outcome"], "accepted");
    assert_eq!(rows[0]["recharge_id"], id);
    assert_eq!(app.recharge(id).await["status"], "confirmed");
}

#[tokio::test]
async fn an_older_notification_arriving_late_changes_nothing() {
    let app = spawn_app().await;
    let (paid, sent) = confirmed_recharge(&app).await;
    let id = paid.id.as_str();

    // The PPC notification Carat sent before the CON one, delivered after it.
    let ppc = encode(&with(&sent.form, "status", "PPC"));
    assert_eq!(post_status(&app, &ppc).await, (StatusCode::OK, "OK".into()));

    assert_eq!(payment_status(&app, id).await.0.as_deref(), Some("CON"));
    let kept = kept(&app, id).await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(kept[1], ("PPC".into(), "stale".into(), "none".into()));
    let rows = inbox(&app, "?kind=status").await;
    assert!(
        rows[0]["reason"].as_str().unwrap().starts_with("stale"),
        "{rows:?}"
    );
    assert_eq!(app.recharge(id).await["status"], "confirmed");
}

#[tokio::test]
async fn a_notification_for_an_unknown_nit_is_kept_unmatched_and_answered_200() {
    let app = spawn_app().await;
    let nit = Uuid::new_v4().simple().to_string().repeat(2);
    let body = format!("nit={nit}&status=CON&pedido=NOTOURS1&nsu=77");

    assert_eq!(post_status(&app, &body).await.0, StatusCode::OK);
    let rows = inbox(&app, "?outcome=unmatched&kind=status").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["raw_body"], body);
    assert_eq!(rows[0]["http_status"], 200);
    assert!(
        inbox(&app, "?kind=authenticity&outcome=unmatched")
            .await
            .is_empty()
    );
    let (status, error) = app.get_json("/api/v1/callbacks?kind=bogus").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["field"], "kind", "{error}");
}

#[tokio::test]
async fn malformed_or_mismatched_notifications_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (paid, sent) = confirmed_recharge(&app).await;
    let id = paid.id.as_str();
    let events = app.event_count().await;
    let kept_before = kept(&app, id).await;

    let bad = with(&sent.form, "numeroAutorizacao", "12345");
    let (status, text) = post_status(&app, &encode(&bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.starts_with("numeroAutorizacao:"), "{text}");

    let late_date = with(&sent.form, "dataEfetivacao", "2026-11-21 13:45:09");
    let (status, text) = post_status(&app, &encode(&late_date)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.starts_with("dataEfetivacao:"), "{text}");

    // Its NIT, another order's pedido: not this recharge's payment.
    let other = with(&with(&sent.form, "pedido", "SOMEONEELSE"), "status", "EST");
    let (status, text) = post_status(&app, &encode(&other)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(text.starts_with("pedido/nsu"), "{text}");

    let refused = inbox(&app, "?outcome=refused&kind=status").await;
    assert_eq!(refused.len(), 3, "{refused:?}");
    // Refused ones keep no receipt either.
    for row in &refused {
        let body = row["raw_body"].as_str().unwrap();
        assert!(body.contains("cupom=[redacted]"), "{body}");
    }
    assert_eq!(payment_status(&app, id).await.0.as_deref(), Some("CON"));
    assert_eq!(kept(&app, id).await, kept_before);
    assert_eq!(app.event_count().await, events);
}

#[tokio::test]
async fn a_contradiction_is_settled_by_a_query_not_by_the_notification() {
    let app = spawn_app_with(Options {
        reconcile: true,
        ..Options::default()
    })
    .await;
    let paid = pending_recharge(&app).await;
    let (id, nit) = (paid.id.as_str(), paid.nit.as_str());
    let queries_before = app.sandbox.transaction(nit).unwrap().query_requests;

    // CON while the store has not confirmed: Carat still holds the recharge PPC.
    let body = encode(&form(&paid, "CON"));
    assert_eq!(post_status(&app, &body).await.0, StatusCode::OK);

    // The reconciler asks Carat at once (not at the pending-confirmation timeout, 300 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let requested: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT query_requested_at FROM recharges WHERE id = $1")
                .bind(Uuid::parse_str(id).unwrap())
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if requested.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the reconciler never queried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(app.sandbox.transaction(nit).unwrap().query_requests > queries_before);
    let recharge = app.recharge(id).await;
    // Carat's answer (PPC) decides: the recharge is neither confirmed by the notification nor
    // undone early by the policy; it waits for its timeout again.
    assert_eq!(recharge["status"], "pending_confirmation", "{recharge}");
    assert_eq!(app.sandbox.transaction(nit).unwrap().status, "PPC");
    assert_eq!(
        app.sandbox.transaction(nit).unwrap().confirmation_requests,
        0
    );
    assert_eq!(event_count(&recharge, "query_requested"), 1);
    let waits: bool = sqlx::query_scalar(
        "SELECT next_attempt_at > now() + interval '200 seconds' FROM recharges WHERE id = $1",
    )
    .bind(Uuid::parse_str(id).unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(waits, "the pending-confirmation timeout was not restored");
    assert_eq!(
        kept(&app, id).await,
        vec![("CON".into(), "forward".into(), "query".into())]
    );
    assert_eq!(inbox(&app, "?follow_up=query").await.len(), 1);
}

#[tokio::test]
async fn a_contradiction_of_an_ended_recharge_is_listed_for_operators() {
    let app = spawn_app().await;
    let (paid, sent) = confirmed_recharge(&app).await;
    let id = paid.id.as_str();

    // Reversed after the recharge was confirmed: nothing a query would change here.
    let body = encode(&with(&sent.form, "status", "EST"));
    assert_eq!(post_status(&app, &body).await.0, StatusCode::OK);

    assert_eq!(payment_status(&app, id).await.0.as_deref(), Some("EST"));
    let after = app.recharge(id).await;
    assert_eq!(after["status"], "confirmed");
    assert_eq!(event_count(&after, "payment_discrepancy"), 1);
    let listed = inbox(&app, "?kind=status&follow_up=discrepancy").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("discrepancy"),
        "{listed:?}"
    );
}

#[tokio::test]
async fn the_sandboxs_notification_refused_503_while_the_database_is_down_is_retried_and_lands() {
    let began = Instant::now();
    // Before the app: dropped after it.
    let cluster = Cluster::start_new();
    let app = spawn_app_with(Options {
        database_server: Some(cluster.server_url()),
        acquire_timeout: Duration::from_millis(500),
        notification_attempts: 80,
        notification_retry_delay: Duration::from_millis(250),
        ..Options::default()
    })
    .await;
    let paid = pending_recharge(&app).await;
    let id = paid.id.as_str();

    // The sandbox's CON goes nowhere at first (nothing listens there), so that the database
    // can be stopped before it reaches the service.
    app.sandbox
        .set_status_url(Url::parse("http://127.0.0.1:9/callbacks/status").unwrap());
    let (status, body) = app.confirm(id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed", "{body}");
    wait_for_answer(&app, &paid.nit, |a| a.starts_with("failed")).await;

    cluster.stop().await;
    app.sandbox
        .set_status_url(Url::parse(&app.url("/callbacks/status")).unwrap());
    // Carat's POST is answered, and not with a 200.
    wait_for_answer(&app, &paid.nit, |a| a == "503").await;

    cluster.start().await;
    let delivered = finished(&app, &paid.nit, "CON", Duration::from_secs(20)).await;
    assert!(delivered.delivered, "{delivered:?}");
    let (last, before) = delivered.answers.split_last().unwrap();
    assert_eq!(last, "200");
    assert!(before.iter().all(|a| a != "200"), "{delivered:?}");
    assert_eq!(payment_status(&app, id).await.0.as_deref(), Some("CON"));
    // The confirmation's answer was committed long before: the notification repeats it.
    assert_eq!(
        kept(&app, id).await,
        vec![("CON".into(), "same".into(), "none".into())]
    );
    assert_no_follow_up(&app.recharge(id).await);
    eprintln!("test took {:?}", began.elapsed());
}

/// Waits (10 s at most) until one of the answers to the sandbox's CON for `nit` is `wanted`.
async fn wait_for_answer(app: &TestApp, nit: &str, wanted: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sent = sandbox_notification(app, nit, "CON");
        if sent
            .as_ref()
            .is_some_and(|n| n.answers.iter().any(|a| wanted(a)))
        {
            return;
        }
        assert!(Instant::now() < deadline, "no such answer: {sent:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `value`'s bytes in hex, as `row_to_json` shows a bytea column.
fn hex(value: &str) -> String {
    value.bytes().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_paid_pin_sales_notification_lands_and_its_pin_is_kept_nowhere_in_clear() {
    let app = spawn_app().await;
    let paid = app.paid_pin_sale(CARD_OK).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.answer);
    let shown = app.recharge(&paid.id).await;
    let pin = shown["receipts"]["customer"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("PIN: "))
        .unwrap_or_else(|| panic!("no PIN: {shown}"))
        .to_owned();
    let (status, body) = app.confirm(&paid.id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Carat's notification carries the PIN on its customer receipt (seed 001), and lands.
    let sent = landed(&app, &paid.nit, "CON").await;
    assert!(param(&sent.form, "cupom").contains(&pin), "{sent:?}");
    let follow_up = assert_landed_once(&app, &paid, "CON").await;
    assert_eq!(follow_up, "none");
    let rows = inbox(&app, "?kind=status").await;
    let kept_body = rows[0]["raw_body"].as_str().unwrap();
    assert!(kept_body.contains("cupom=[redacted]"), "{kept_body}");
    assert!(
        kept_body.contains("cupomEstabelecimento=[redacted]"),
        "{kept_body}"
    );
    let detail: Value =
        sqlx::query_scalar("SELECT detail FROM payment_notifications WHERE recharge_id = $1")
            .bind(Uuid::parse_str(&paid.id).unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(detail["customer_receipt"], "[not kept]", "{detail}");

    // Not in any column of any table: the inbox, the notification's detail, the history.
    for row in every_row(&app.pool).await {
        assert!(!row.contains(&pin), "the PIN is kept in clear: {row}");
        assert!(!row.contains(&hex(&pin)), "the PIN is kept in clear: {row}");
    }
}

//! Status notifications (`POST /callbacks/status`, digest §6.2): kept, then applied to the
//! recharge's payment only when they move it forward, then 200; a replay changes nothing; a
//! notification never ends a recharge by itself: a contradiction is settled by a query.

use std::time::{Duration, Instant};

use carat_merchant::sandbox::Channel;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::cluster::Cluster;
use crate::helpers::{Options, PHONE_OK, TestApp, spawn_app, spawn_app_with};

/// Stands for a card payment until the payment flow lands: the payment row Carat's
/// effectuation answer would have written for `recharge_id`, with payment status `status`.
async fn attach_payment(app: &TestApp, recharge_id: &str, status: &str) {
    sqlx::query(
        "INSERT INTO recharge_payments (recharge_id, amount_cents, authorizer_id, installments, \
             installment_type, card_source, card_bin, card_last4, status, status_source, status_at) \
         VALUES ($1, 1000, '2', 1, '4', 'number', '411111', '1111', $2, 'effectuation', now())",
    )
    .bind(Uuid::parse_str(recharge_id).unwrap())
    .bind(status)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// A recharge effectuated (Carat holds it PPC), left pending confirmation.
async fn pending_recharge(app: &TestApp) -> Value {
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    app.list_catalogue(id, "001", "11").await;
    let (status, body) = app.effectuate(id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    body
}

/// A recharge confirmed at Carat (CON).
async fn confirmed_recharge(app: &TestApp) -> Value {
    let pending = pending_recharge(app).await;
    let (status, body) = app.confirm(pending["id"].as_str().unwrap(), true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed", "{body}");
    body
}

/// The notification Carat would send for `recharge` reaching payment status `status`, with
/// the details a confirmed SiTef payment carries.
fn form(recharge: &Value, status: &str) -> Vec<(String, String)> {
    [
        ("nit", recharge["nit"].as_str().unwrap()),
        ("pedido", recharge["order_id"].as_str().unwrap()),
        ("nsu", recharge["merchant_usn"].as_str().unwrap()),
        ("status", status),
        ("nsuSitef", "000123"),
        ("nsuHost", "998877"),
        ("nsuesitef", "261121000000042"),
        ("autorizadora", "2"),
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

#[tokio::test]
async fn a_notification_delivered_twice_is_applied_once() {
    let app = spawn_app().await;
    let recharge = confirmed_recharge(&app).await;
    let id = recharge["id"].as_str().unwrap();
    attach_payment(&app, id, "PPC").await;
    let body = encode(&form(&recharge, "CON"));

    assert_eq!(
        post_status(&app, &body).await,
        (StatusCode::OK, "OK".into())
    );
    assert_eq!(
        payment_status(&app, id).await,
        (Some("CON".into()), Some("notification".into()))
    );
    let after_first = app.recharge(id).await;
    let detail = &after_first["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "status_notification")
        .expect("the history records the notification")["detail"];
    assert_eq!(detail["advance"], "forward");
    assert_eq!(detail["notification"]["nsu_sitef"], "000123");
    assert_eq!(detail["notification"]["authorization_number"], "A1B2C3");
    let events = app.event_count().await;

    // Carat retries (its 200 got lost): answered the same, nothing else changes.
    assert_eq!(
        post_status(&app, &body).await,
        (StatusCode::OK, "OK".into())
    );
    assert_eq!(app.event_count().await, events);
    assert_eq!(
        kept(&app, id).await,
        vec![("CON".into(), "forward".into(), "none".into())]
    );
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
    let recharge = confirmed_recharge(&app).await;
    let id = recharge["id"].as_str().unwrap();
    attach_payment(&app, id, "PPC").await;

    let con = encode(&form(&recharge, "CON"));
    assert_eq!(post_status(&app, &con).await.0, StatusCode::OK);
    // The PPC notification Carat sent before the CON one, delivered after it.
    let ppc = encode(&form(&recharge, "PPC"));
    assert_eq!(post_status(&app, &ppc).await, (StatusCode::OK, "OK".into()));

    assert_eq!(payment_status(&app, id).await.0.as_deref(), Some("CON"));
    assert_eq!(
        kept(&app, id).await,
        vec![
            ("CON".into(), "forward".into(), "none".into()),
            ("PPC".into(), "stale".into(), "none".into()),
        ]
    );
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
    let recharge = confirmed_recharge(&app).await;
    let id = recharge["id"].as_str().unwrap();
    attach_payment(&app, id, "PPC").await;
    let events = app.event_count().await;

    let mut bad = form(&recharge, "CON");
    bad.iter_mut()
        .find(|(k, _)| k == "numeroAutorizacao")
        .unwrap()
        .1 = "12345".into();
    let (status, text) = post_status(&app, &encode(&bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.starts_with("numeroAutorizacao:"), "{text}");

    let mut late_date = form(&recharge, "CON");
    late_date.push(("dataEfetivacao".into(), "2026-11-21 13:45:09".into()));
    let (status, text) = post_status(&app, &encode(&late_date)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.starts_with("dataEfetivacao:"), "{text}");

    // Its NIT, another order's pedido: not this recharge's payment.
    let mut other = form(&recharge, "CON");
    other.iter_mut().find(|(k, _)| k == "pedido").unwrap().1 = "SOMEONEELSE".into();
    let (status, text) = post_status(&app, &encode(&other)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(text.starts_with("pedido/nsu"), "{text}");

    let refused = inbox(&app, "?outcome=refused&kind=status").await;
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert_eq!(payment_status(&app, id).await.0.as_deref(), Some("PPC"));
    assert!(kept(&app, id).await.is_empty());
    assert_eq!(app.event_count().await, events);
}

#[tokio::test]
async fn a_contradiction_is_settled_by_a_query_not_by_the_notification() {
    let app = spawn_app_with(Options {
        reconcile: true,
        ..Options::default()
    })
    .await;
    let pending = pending_recharge(&app).await;
    let id = pending["id"].as_str().unwrap();
    let nit = pending["nit"].as_str().unwrap();
    attach_payment(&app, id, "PPC").await;
    let queries_before = app.sandbox.transaction(nit).unwrap().query_requests;

    // CON while the store has not confirmed: Carat still holds the recharge PPC.
    let body = encode(&form(&pending, "CON"));
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
    let recharge = confirmed_recharge(&app).await;
    let id = recharge["id"].as_str().unwrap();
    attach_payment(&app, id, "CON").await;

    // Reversed after the recharge was confirmed: nothing a query would change here.
    let body = encode(&form(&recharge, "EST"));
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
async fn a_notification_while_the_database_is_down_is_not_200_and_lands_when_it_is_back() {
    let began = Instant::now();
    // Before the app: dropped after it.
    let cluster = Cluster::start_new();
    let app = spawn_app_with(Options {
        database_server: Some(cluster.server_url()),
        acquire_timeout: Duration::from_millis(500),
        notification_attempts: 40,
        notification_retry_delay: Duration::from_millis(250),
        ..Options::default()
    })
    .await;
    let recharge = confirmed_recharge(&app).await;
    let id = recharge["id"].as_str().unwrap();
    attach_payment(&app, id, "PPC").await;

    cluster.stop().await;
    app.sandbox
        .send_notification(Channel::Status, form(&recharge, "CON"));
    // Carat's first POST is answered, and not with a 200.
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let sent = app.sandbox.notifications();
        if let Some(answer) = sent[0].answers.first() {
            break answer.clone();
        }
        assert!(Instant::now() < deadline, "no answer: {sent:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(first, "503");

    cluster.start().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let delivered = loop {
        let sent = app.sandbox.notifications();
        if sent[0].finished {
            break sent[0].clone();
        }
        assert!(Instant::now() < deadline, "never delivered: {sent:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(delivered.delivered, "{delivered:?}");
    let (last, before) = delivered.answers.split_last().unwrap();
    assert_eq!(last, "200");
    assert!(before.iter().all(|a| a != "200"), "{delivered:?}");
    assert_eq!(payment_status(&app, id).await.0.as_deref(), Some("CON"));
    assert_eq!(
        kept(&app, id).await,
        vec![("CON".into(), "forward".into(), "none".into())]
    );
    eprintln!("test took {:?}", began.elapsed());
}

//! The reconciler ends what a crash or an abandoning storefront leaves half way: each state
//! seeded as a crash would leave it ends after one `carat-merchant reconcile` pass; two
//! instances reconciling one database never act twice on a recharge.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    Options, PHONE_OK, TestApp, actors_of, concurrently, event_names, poll_recharge, spawn_app,
    spawn_app_with,
};
use crate::process::reconcile_once;

/// Rewrites a recharge as a crash would have left it: in `status`, waiting on a call whose
/// deadline passed, and effectuated long ago.
async fn as_a_crash_left_it(app: &TestApp, id: &str, status: &str) {
    sqlx::query(
        "UPDATE recharges SET status = $2, attempt = attempt + 1, outcome_unknown = false, \
            call_deadline = now() - interval '1 second', \
            next_attempt_at = now() - interval '1 second', \
            effectuated_at = now() - interval '1 hour' \
         WHERE id = $1::uuid",
    )
    .bind(id)
    .bind(status)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// A recharge created and effectuated through the service (Carat: PPC).
async fn effectuated(app: &TestApp) -> (String, String) {
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, body) = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (id, created["nit"].as_str().unwrap().to_owned())
}

/// A seeded recharge and how one pass must end it: its id, its NIT, its status, and Carat's
/// (status, effectuations, confirmations) for the NIT.
type Ending = (
    String,
    Option<String>,
    &'static str,
    Option<(&'static str, u32, u32)>,
);

/// created, without a NIT, its create's window over.
async fn an_abandoned_create(app: &TestApp) -> uuid::Uuid {
    let abandoned_create = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO recharges (id, recharge_type, order_id, status, call_deadline, next_attempt_at) \
         VALUES ($1, 'normal', 'CRASHEDCREATE1', 'created', now() - interval '1 second', \
                 now() - interval '1 second')",
    )
    .bind(abandoned_create)
    .execute(&app.pool)
    .await
    .unwrap();
    abandoned_create
}

/// Every state a crash leaves after an effectuation reached Carat (PPC).
async fn crashed_after_effectuating(app: &TestApp) -> [Ending; 5] {
    // effectuating: the effectuation reached Carat (PPC), its answer was never recorded.
    let (effectuating, effectuating_nit) = effectuated(app).await;
    as_a_crash_left_it(app, &effectuating, "effectuating").await;

    // confirming: the confirmation never reached Carat (still PPC).
    let (confirming_lost, confirming_lost_nit) = effectuated(app).await;
    as_a_crash_left_it(app, &confirming_lost, "confirming").await;

    // confirming: Carat confirmed, the answer was never recorded.
    let (confirming_done, confirming_done_nit) = effectuated(app).await;
    let (status, body) = app.confirm(&confirming_done, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    as_a_crash_left_it(app, &confirming_done, "confirming").await;

    // undoing: the undo never reached Carat.
    let (undoing, undoing_nit) = effectuated(app).await;
    as_a_crash_left_it(app, &undoing, "undoing").await;

    // pending_confirmation past its timeout: the storefront never decided.
    let (pending, pending_nit) = effectuated(app).await;
    sqlx::query(
        "UPDATE recharges SET effectuated_at = now() - interval '1 hour', \
            next_attempt_at = now() - interval '1 second' WHERE id = $1::uuid",
    )
    .bind(&pending)
    .execute(&app.pool)
    .await
    .unwrap();

    [
        (
            effectuating,
            Some(effectuating_nit),
            "undone",
            Some(("PPN", 1, 1)),
        ),
        (
            confirming_lost,
            Some(confirming_lost_nit),
            "confirmed",
            Some(("CON", 1, 1)),
        ),
        (
            confirming_done,
            Some(confirming_done_nit),
            "confirmed",
            Some(("CON", 1, 1)),
        ),
        (undoing, Some(undoing_nit), "undone", Some(("PPN", 1, 1))),
        (pending, Some(pending_nit), "undone", Some(("PPN", 1, 1))),
    ]
}

/// started, older than the NIT's lifetime, which Carat agrees has passed.
async fn started_past_its_lifetime(app: &TestApp) -> Ending {
    let started = app.create_recharge().await;
    let started_id = started["id"].as_str().unwrap().to_owned();
    let started_nit = started["nit"].as_str().unwrap().to_owned();
    app.sandbox
        .backdate(&started_nit, Duration::from_secs(3600));
    sqlx::query(
        "UPDATE recharges SET started_at = now() - interval '1 hour', \
            next_attempt_at = now() - interval '1 second' WHERE id = $1::uuid",
    )
    .bind(&started_id)
    .execute(&app.pool)
    .await
    .unwrap();
    (
        started_id,
        Some(started_nit),
        "expired",
        Some(("EXP", 0, 0)),
    )
}

/// Each recharge ended as `expect` says, by the reconciler, and Carat agrees.
async fn assert_each_ended(app: &TestApp, expect: Vec<Ending>) {
    for (id, nit, status, carat) in expect {
        let recharge = app.recharge(&id).await;
        assert_eq!(recharge["status"], status, "{recharge}");
        assert!(recharge["reconciliation"].is_null(), "ended: {recharge}");
        let last = recharge["events"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert!(
            last["actor"].as_str().unwrap().starts_with("reconciler:"),
            "{recharge}"
        );
        if let (Some(nit), Some((carat_status, effectuations, confirmations))) = (nit, carat) {
            let tx = app.sandbox.transaction(&nit).unwrap();
            assert_eq!(
                (
                    tx.status.as_str(),
                    tx.effectuation_requests,
                    tx.confirmation_requests
                ),
                (carat_status, effectuations, confirmations),
                "{recharge}"
            );
        }
    }
}

#[tokio::test]
async fn every_state_a_crash_leaves_ends_after_one_reconcile_pass() {
    let app = spawn_app().await;
    let abandoned_create = an_abandoned_create(&app).await;
    let mut expect = vec![(abandoned_create.to_string(), None, "failed", None)];
    expect.extend(crashed_after_effectuating(&app).await);
    expect.push(started_past_its_lifetime(&app).await);

    let report = reconcile_once(app.env_with(&[])).await;
    assert_eq!(report["claimed"], 7, "{report}");
    assert_eq!(report["ended"], 7, "{report}");
    assert_each_ended(&app, expect).await;

    // A late authenticity POST for the abandoned create is refused: Carat then aborts it.
    let (status, _) = app
        .post_authenticity(&format!(
            "nit={}&merchantId=LOJATESTE&orderId=CRASHEDCREATE1&merchantUSN={}&generalHash=0000000000000000",
            "C".repeat(64),
            app.recharge(&abandoned_create.to_string()).await["merchant_usn"]
                .as_str()
                .unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nothing is left due: a second pass claims nothing.
    let report = reconcile_once(app.env_with(&[])).await;
    assert_eq!(report["claimed"], 0, "{report}");
}

#[tokio::test]
async fn two_instances_reconciling_one_database_never_act_twice() {
    let app = spawn_app_with(Options {
        reconcile: true,
        reconcile_interval: Duration::from_millis(20),
        pending_timeout: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let _second = app.spawn_second_instance().await;
    let mut recharges = Vec::new();
    for _ in 0..8 {
        recharges.push(effectuated(&app).await);
    }
    for (id, nit) in &recharges {
        let ended = poll_recharge(
            &app.client,
            &app.address,
            id,
            Duration::from_secs(10),
            |r| r["status"] == "undone",
        )
        .await;
        assert_eq!(
            actors_of(&ended, "pending_confirmation -> undoing").len(),
            1,
            "{ended}"
        );
        assert_eq!(actors_of(&ended, "undoing -> undone").len(), 1, "{ended}");
        let undos = event_names(&ended)
            .iter()
            .filter(|e| *e == "outbound_call:undo")
            .count();
        assert_eq!(undos, 1, "{ended}");
        let tx = app.sandbox.transaction(nit).unwrap();
        assert_eq!(
            (
                tx.status.as_str(),
                tx.effectuation_requests,
                tx.confirmation_requests
            ),
            ("PPN", 1, 1)
        );
    }
}

#[tokio::test]
async fn a_pending_recharge_is_confirmed_when_the_policy_says_so() {
    let app = spawn_app_with(Options {
        reconcile: true,
        pending_timeout: Duration::from_secs(1),
        pending_policy: "confirm",
        ..Options::default()
    })
    .await;
    let (id, nit) = effectuated(&app).await;
    let ended = poll_recharge(
        &app.client,
        &app.address,
        &id,
        Duration::from_secs(10),
        |r| r["status"] != "pending_confirmation" && r["in_doubt"] == false,
    )
    .await;
    assert_eq!(ended["status"], "confirmed", "{ended}");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "CON");
}

#[tokio::test]
async fn identical_concurrent_confirms_all_get_the_same_answer() {
    let app = spawn_app().await;
    let (id, nit) = effectuated(&app).await;
    let answers = concurrently(
        &app,
        &format!("/api/v1/recharges/{id}/confirm"),
        vec![json!({"confirm": true}); 6],
    )
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answers:?}");
        assert_eq!(body["status"], "confirmed", "{answers:?}");
    }
    assert_eq!(
        app.sandbox.transaction(&nit).unwrap().confirmation_requests,
        1
    );
}

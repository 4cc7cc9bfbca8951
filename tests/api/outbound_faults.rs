//! Every outbound call failing, by timeout and by HTTP 500 (`Sandbox::inject`): the storefront
//! hears the right answer, and with the reconciler running, every recharge whose money may
//! have moved ends as Carat holds it, effectuated at most once.

use std::time::{Duration, Instant};

use carat_sandbox::{Fault, Operation, SandboxTransaction};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, PHONE_OK, TestApp, event_names, spawn_app_with};

/// How long a recharge may take to get where a test expects it.
const DEADLINE: Duration = Duration::from_secs(10);

/// The service times out after 700 ms; a `Fault::Slow` answers after 1.5 s. The reconciler
/// looks every 100 ms and ends a recharge pending confirmation for 1 s by undoing it.
async fn spawn() -> TestApp {
    spawn_app_with(options()).await
}

fn options() -> Options {
    Options {
        carat_timeout: Duration::from_millis(700),
        slow_answer_delay: Duration::from_millis(1500),
        reconcile: true,
        reconcile_interval: Duration::from_millis(100),
        pending_timeout: Duration::from_secs(1),
        ..Options::default()
    }
}

/// Polls the recharge until `done` holds; panics with its last state at the deadline.
async fn wait_until(app: &TestApp, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let recharge = app.recharge(id).await;
        if done(&recharge) {
            return recharge;
        }
        assert!(
            Instant::now() < deadline,
            "recharge {id} never {what} within {DEADLINE:?}; last seen: {recharge:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_status(app: &TestApp, id: &str, status: &str) -> Value {
    wait_until(app, id, &format!("became {status}"), |r| {
        r["status"] == status
    })
    .await
}

/// Who took the last state change named `name` (`"confirming -> confirmed"`).
fn actor_of(recharge: &Value, name: &str) -> String {
    recharge["events"]
        .as_array()
        .expect("events")
        .iter()
        .rev()
        .find(|e| e["kind"] == "state_change" && e["name"] == name)
        .and_then(|e| e["actor"].as_str())
        .unwrap_or_else(|| panic!("no {name:?} in {:?}", event_names(recharge)))
        .to_owned()
}

#[track_caller]
fn assert_by_reconciler(recharge: &Value, names: &[&str]) {
    for name in names {
        let actor = actor_of(recharge, name);
        assert!(actor.starts_with("reconciler:"), "{name} by {actor}");
    }
}

fn carat(app: &TestApp, nit: &str) -> SandboxTransaction {
    app.sandbox.transaction(nit).expect("Carat knows the NIT")
}

/// Carat's status and how many effectuations, confirmations/undos and queries it received.
fn counters(app: &TestApp, nit: &str) -> (String, u32, u32, u32) {
    let tx = carat(app, nit);
    (
        tx.status,
        tx.effectuation_requests,
        tx.confirmation_requests,
        tx.query_requests,
    )
}

fn expected(
    status: &str,
    effectuations: u32,
    decisions: u32,
    queries: u32,
) -> (String, u32, u32, u32) {
    (status.to_owned(), effectuations, decisions, queries)
}

/// A recharge that started, and its NIT.
async fn started(app: &TestApp) -> (String, String) {
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap().to_owned();
    let nit = created["nit"].as_str().unwrap().to_owned();
    (id, nit)
}

/// A recharge effectuated (PPC), and its NIT. The policy ends it after `pending_timeout`:
/// the caller acts at once.
async fn pending(app: &TestApp) -> (String, String) {
    let (id, nit) = started(app).await;
    let (status, body) = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation");
    (id, nit)
}

/// The storefront's error for a call whose outcome is unknown: 502 when Carat answered 500,
/// 504 when it did not answer in time.
#[track_caller]
fn assert_outcome_unknown(
    (status, body): &(StatusCode, Value),
    fault: Fault,
    recharge_status: &str,
) {
    let expected = match fault {
        Fault::Slow => StatusCode::GATEWAY_TIMEOUT,
        Fault::Error500 | Fault::AppliedThen500 => StatusCode::BAD_GATEWAY,
    };
    assert_eq!(*status, expected, "{body}");
    assert_eq!(body["error"]["code"], "carat_outcome_unknown", "{body}");
    assert_eq!(body["error"]["recharge_status"], recharge_status, "{body}");
    if fault != Fault::Slow {
        assert_eq!(body["error"]["carat"]["http_status"], 500, "{body}");
        assert_eq!(body["error"]["carat"]["code"], "99", "{body}");
    }
}

// ---------------------------------------------------------------------------------------------
// Create

#[tokio::test]
async fn a_create_answered_500_fails_unless_its_nit_arrived() {
    let app = spawn().await;

    // Nothing opened at Carat: the recharge fails.
    app.sandbox.inject(Operation::Create, Fault::Error500, 1);
    let order = json!({"recharge_type": "normal", "order_id": "OUTF500A"});
    let (status, body) = app.post_json("/api/v1/recharges", order.clone()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["carat"]["http_status"], 500, "{body}");
    assert_eq!(body["error"]["recharge_status"], "failed", "{body}");
    assert!(app.sandbox.find_by_order_id("OUTF500A").is_none());
    // The order id now names the failed recharge.
    let (status, body) = app.post_json("/api/v1/recharges", order).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let failed = app
        .recharge(body["error"]["recharge_id"].as_str().unwrap())
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");

    // Opened, its NIT posted, then a 500: the NIT is Carat's, and the recharge starts.
    app.sandbox
        .inject(Operation::Create, Fault::AppliedThen500, 1);
    let (status, body) = app
        .post_json(
            "/api/v1/recharges",
            json!({"recharge_type": "normal", "order_id": "OUTF500B"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "started", "{body}");
    let tx = app.sandbox.find_by_order_id("OUTF500B").unwrap();
    assert_eq!(body["nit"], tx.nit.as_str());
    assert_eq!(tx.status, "NOV");
}

#[tokio::test]
async fn a_create_that_times_out_after_its_nit_arrived_starts_the_recharge() {
    let app = spawn().await;
    app.sandbox.inject(Operation::Create, Fault::Slow, 1);
    let (status, body) = app
        .post_json(
            "/api/v1/recharges",
            json!({"recharge_type": "normal", "order_id": "OUTFSLOW"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "started", "{body}");
    let id = body["id"].as_str().unwrap();
    let nit = body["nit"].as_str().unwrap();
    assert_eq!(app.sandbox.find_by_order_id("OUTFSLOW").unwrap().nit, nit);

    // The NIT is good for the rest of the flow.
    let (status, body) = app.effectuate(id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.confirm(id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed");
    assert_eq!(counters(&app, nit), expected("CON", 1, 1, 0));
}

// ---------------------------------------------------------------------------------------------
// Listings: nothing moves; the storefront may simply ask again.

async fn a_listing_fails_then_works(operation: Operation, path: &str) {
    let app = spawn().await;
    let (id, nit) = started(&app).await;
    let path = format!("/api/v1/recharges/{id}/{path}");
    app.sandbox.inject(operation, Fault::Error500, 1);
    app.sandbox.inject(operation, Fault::Slow, 1);

    // docs/api-guide.md's error table: a 5xx on a read-only call is Carat being unavailable, not a refusal.
    let (status, body) = app.get_json(&path).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "carat_unavailable", "{body}");
    assert_eq!(body["error"]["carat"]["http_status"], 500, "{body}");
    assert_eq!(body["error"]["recharge_status"], "started", "{body}");

    let (status, body) = app.get_json(&path).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "carat_unavailable", "{body}");
    assert_eq!(body["error"]["recharge_status"], "started", "{body}");

    let (status, body) = app.get_json(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recharge = app.recharge(&id).await;
    assert_eq!(
        (recharge["status"].as_str(), recharge["in_doubt"].as_bool()),
        (Some("started"), Some(false)),
        "{recharge}"
    );
    assert_eq!(carat(&app, &nit).status, "NOV");
}

#[tokio::test]
async fn listing_dealers_that_fails_or_times_out_leaves_the_recharge_started() {
    a_listing_fails_then_works(Operation::ListDealers, "dealers").await;
}

#[tokio::test]
async fn listing_branches_that_fails_or_times_out_leaves_the_recharge_started() {
    a_listing_fails_then_works(Operation::ListBranches, "branches?dealer_code=001&ddd=11").await;
}

// ---------------------------------------------------------------------------------------------
// Effectuation

#[tokio::test]
async fn an_effectuation_answered_500_goes_back_to_started_by_query_and_is_not_resent() {
    let app = spawn().await;
    let (id, nit) = started(&app).await;
    app.sandbox
        .inject(Operation::Effectuate, Fault::Error500, 1);

    let answer = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_outcome_unknown(&answer, Fault::Error500, "effectuating");

    // Carat says NOV: it never happened, and the reconciler does not send it again.
    let recharge = wait_for_status(&app, &id, "started").await;
    assert_by_reconciler(&recharge, &["effectuating -> started"]);
    assert_eq!(recharge["in_doubt"], false);
    assert_eq!(counters(&app, &nit), expected("NOV", 1, 0, 1));

    // The storefront may try again.
    let (status, body) = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["attempt"], 2);
    let (status, body) = app.confirm(&id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(counters(&app, &nit), expected("CON", 2, 1, 1));
}

/// An effectuation Carat applied but whose answer was lost: the reconciler finds it PPC and,
/// nobody confirming it within `pending_timeout`, undoes it.
async fn an_applied_effectuation_in_doubt_is_undone_by_policy(fault: Fault) {
    let app = spawn().await;
    let (id, nit) = started(&app).await;
    app.sandbox.inject(Operation::Effectuate, fault, 1);

    let answer = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_outcome_unknown(&answer, fault, "effectuating");
    assert_eq!(carat(&app, &nit).status, "PPC");

    let recharge = wait_for_status(&app, &id, "undone").await;
    assert_by_reconciler(
        &recharge,
        &[
            "effectuating -> pending_confirmation",
            "pending_confirmation -> undoing",
            "undoing -> undone",
        ],
    );
    assert_eq!(recharge["carat_status"], "PPN");
    assert_eq!(counters(&app, &nit), expected("PPN", 1, 1, 1));
}

#[tokio::test]
async fn an_effectuation_applied_then_answered_500_is_found_pending_and_undone() {
    an_applied_effectuation_in_doubt_is_undone_by_policy(Fault::AppliedThen500).await;
}

#[tokio::test]
async fn an_effectuation_that_times_out_is_found_pending_and_undone() {
    an_applied_effectuation_in_doubt_is_undone_by_policy(Fault::Slow).await;
}

#[tokio::test]
async fn an_effectuation_in_doubt_whose_nit_expired_ends_expired() {
    let app = spawn_app_with(Options {
        nit_lifetime: Duration::from_secs(1),
        ..options()
    })
    .await;
    let (id, nit) = started(&app).await;
    app.sandbox
        .inject(Operation::Effectuate, Fault::Error500, 1);

    let answer = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_outcome_unknown(&answer, Fault::Error500, "effectuating");
    // Past its lifetime: whether the reconciler first sees it NOV (back to started, looked at
    // again a NIT lifetime later) or EXP at once, it must end expired.
    assert!(app.sandbox.backdate(&nit, Duration::from_secs(3600)));

    let recharge = wait_for_status(&app, &id, "expired").await;
    assert_eq!(recharge["carat_status"], "EXP");
    let tx = carat(&app, &nit);
    assert_eq!((tx.status.as_str(), tx.effectuation_requests), ("EXP", 1));
}

// ---------------------------------------------------------------------------------------------
// Confirmation and undo

/// A confirmation (`confirm`) or undo whose call fails with `fault` ends as the storefront
/// decided, Carat having received the decision `decisions` times.
async fn a_decision_in_doubt_ends_as_decided(confirm: bool, fault: Fault, decisions: u32) {
    let (operation, in_flight, done, carat_status) = if confirm {
        (Operation::Confirm, "confirming", "confirmed", "CON")
    } else {
        (Operation::Undo, "undoing", "undone", "PPN")
    };
    let app = spawn().await;
    let (id, nit) = pending(&app).await;
    app.sandbox.inject(operation, fault, 1);

    let answer = app.confirm(&id, confirm).await;
    assert_outcome_unknown(&answer, fault, in_flight);

    let recharge = wait_for_status(&app, &id, done).await;
    assert_by_reconciler(&recharge, &[&format!("{in_flight} -> {done}")]);
    assert_eq!(recharge["carat_status"], carat_status);
    assert_eq!(
        counters(&app, &nit),
        expected(carat_status, 1, decisions, 1)
    );
}

#[tokio::test]
async fn a_confirmation_answered_500_is_sent_again_until_confirmed() {
    // Carat still says PPC: the decision never arrived, so it is sent again.
    a_decision_in_doubt_ends_as_decided(true, Fault::Error500, 2).await;
}

#[tokio::test]
async fn a_confirmation_applied_then_answered_500_is_found_confirmed() {
    a_decision_in_doubt_ends_as_decided(true, Fault::AppliedThen500, 1).await;
}

#[tokio::test]
async fn a_confirmation_that_times_out_is_found_confirmed() {
    a_decision_in_doubt_ends_as_decided(true, Fault::Slow, 1).await;
}

#[tokio::test]
async fn an_undo_answered_500_is_sent_again_until_undone() {
    a_decision_in_doubt_ends_as_decided(false, Fault::Error500, 2).await;
}

#[tokio::test]
async fn an_undo_applied_then_answered_500_is_found_undone() {
    a_decision_in_doubt_ends_as_decided(false, Fault::AppliedThen500, 1).await;
}

#[tokio::test]
async fn an_undo_that_times_out_is_found_undone() {
    a_decision_in_doubt_ends_as_decided(false, Fault::Slow, 1).await;
}

// ---------------------------------------------------------------------------------------------
// Query

/// While the queries that would resolve a confirmation in doubt fail (one per fault of
/// `faults`, in order), the reconciler backs off and says why; the first query answered ends it.
async fn failing_queries_back_off_until_one_answers(faults: &[Fault]) {
    let app = spawn().await;
    let (id, nit) = pending(&app).await;
    for fault in faults {
        app.sandbox.inject(Operation::Query, *fault, 1);
    }
    app.sandbox
        .inject(Operation::Confirm, Fault::AppliedThen500, 1);

    let answer = app.confirm(&id, true).await;
    assert_outcome_unknown(&answer, Fault::AppliedThen500, "confirming");

    let backing_off = wait_until(&app, &id, "backed off twice", |r| {
        r["status"] != "confirming" || r["reconciliation"]["attempts"].as_i64() >= Some(2)
    })
    .await;
    assert_eq!(backing_off["status"], "confirming", "{backing_off}");
    assert_eq!(backing_off["in_doubt"], true);
    let reconciliation = &backing_off["reconciliation"];
    assert!(
        reconciliation["next_attempt_at"].is_string(),
        "{reconciliation}"
    );
    // The reason is the last failed query's.
    let attempts = reconciliation["attempts"].as_u64().unwrap() as usize;
    let why = match faults[attempts - 1] {
        Fault::Slow => "did not answer the query within",
        Fault::Error500 | Fault::AppliedThen500 => "HTTP 500",
    };
    let last_error = reconciliation["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains(why), "{last_error:?} lacks {why:?}");

    let recharge = wait_for_status(&app, &id, "confirmed").await;
    assert_by_reconciler(&recharge, &["confirming -> confirmed"]);
    assert!(recharge["reconciliation"].is_null(), "{recharge}");
    let queries = faults.len() as u32 + 1;
    assert_eq!(counters(&app, &nit), expected("CON", 1, 1, queries));
    // Every query is in the history, the reconciler's; the failed ones as outcome unknown.
    let history: Vec<_> = recharge["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "outbound_call" && e["name"] == "query")
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["detail"]["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let mut outcomes = vec!["unknown"; faults.len()];
    outcomes.push("ok");
    assert_eq!(
        history
            .iter()
            .map(|(_, outcome)| *outcome)
            .collect::<Vec<_>>(),
        outcomes
    );
    assert!(
        history
            .iter()
            .all(|(actor, _)| actor.starts_with("reconciler:")),
        "{history:?}"
    );
}

#[tokio::test]
async fn queries_answered_500_are_retried_with_backoff_until_one_answers() {
    failing_queries_back_off_until_one_answers(&[Fault::Error500; 3]).await;
}

#[tokio::test]
async fn queries_that_time_out_are_retried_with_backoff_until_one_answers() {
    // A 500 last: the backoff after the second timeout is long enough to be seen.
    failing_queries_back_off_until_one_answers(&[Fault::Slow, Fault::Slow, Fault::Error500]).await;
}

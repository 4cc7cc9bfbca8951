//! The console's operator actions (`RechargeService`'s "Operator actions") against real
//! PostgreSQL and the sandbox, on recharges made through the storefront API: each is kept in
//! the history with its reason before it acts, its steps name `operator:<token id>`, it is
//! refused where the storefront is, and racing a reconciler pass it asks and calls Carat once.
//! The console's pages over them are tests/console's.

use std::path::Path;
use std::time::Duration;

use carat_core::recharge::{FlowError, RechargeService};
use carat_domain::{Actor, RechargeStatus};
use carat_merchant::config::Settings;
use carat_sandbox::{Fault, Operation};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Options, PHONE_OK, TestApp, actors_of, spawn_app, spawn_app_with};

/// The API token an operator signs in to the console with.
const OPERATOR_TOKEN: &str = "console-operator-token";

fn operator() -> Actor {
    Actor::Operator(carat_domain::token_id(OPERATOR_TOKEN))
}

/// The test service's own settings, as its environment gives them.
pub fn settings(app: &TestApp) -> Settings {
    let env = app.env_with(&[]);
    let config_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    Settings::load_from(&config_dir, |name| env.get(name).cloned()).unwrap()
}

/// The use cases as the service wires them (the console's door holds the same), on the test
/// service's database and sandbox.
fn recharges(app: &TestApp) -> RechargeService {
    let base_url = url::Url::parse(&app.env_with(&[])["CARAT_BASE_URL"]).unwrap();
    carat_merchant::startup::recharge_service(&settings(app), app.pool.clone(), base_url).unwrap()
}

/// A top-up created and effectuated through the API (Carat: PPC): its id and NIT.
pub async fn effectuated(app: &TestApp) -> (Uuid, String) {
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, body) = app.effectuate(&id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    (
        id.parse().unwrap(),
        created["nit"].as_str().unwrap().to_owned(),
    )
}

/// Rewrites a recharge as a lost answer leaves it: in `status`, a new attempt whose outcome is
/// unknown, due for the reconciler now.
pub async fn as_if_its_answer_was_lost(app: &TestApp, id: Uuid, status: &str) {
    sqlx::query(
        "UPDATE recharges SET status = $2, attempt = attempt + 1, outcome_unknown = true, \
            call_deadline = now() - interval '1 second', \
            next_attempt_at = now() - interval '1 second' \
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// The history entries of `kind`.
fn events_of<'a>(recharge: &'a Value, kind: &str) -> Vec<&'a Value> {
    let events = recharge["events"].as_array().expect("events");
    events.iter().filter(|e| e["kind"] == kind).collect()
}

/// Where the first entry named `name` is in the history.
fn position_of(recharge: &Value, name: &str) -> usize {
    let events = recharge["events"].as_array().expect("events");
    events
        .iter()
        .position(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {recharge}"))
}

/// The actors of the state changes a query's answer made.
fn settled_by_query(recharge: &Value) -> Vec<String> {
    events_of(recharge, "state_change")
        .into_iter()
        .filter(|e| e["detail"]["resolved_by"] == "query")
        .map(|e| e["actor"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Carat's (queries, effectuations, confirmations) for a NIT.
fn carat_calls(app: &TestApp, nit: &str) -> (u32, u32, u32) {
    let t = app.sandbox.transaction(nit).unwrap();
    (
        t.query_requests,
        t.effectuation_requests,
        t.confirmation_requests,
    )
}

#[tokio::test]
async fn an_operators_undo_is_kept_with_its_reason_and_its_steps_name_the_operator() {
    let app = spawn_app().await;
    let service = recharges(&app);
    let (id, nit) = effectuated(&app).await;
    let op = operator();

    let undone = service
        .undo_now(id, &op, "  customer called to cancel  ")
        .await
        .unwrap();
    assert_eq!(undone.status, RechargeStatus::Undone);

    let recharge = app.recharge(&id.to_string()).await;
    let actions = events_of(&recharge, "operator_action");
    assert_eq!(actions.len(), 1, "{recharge}");
    assert_eq!(actions[0]["name"], "undo_now");
    assert_eq!(actions[0]["actor"], op.to_string());
    assert_eq!(
        actions[0]["detail"],
        json!({"action": "undo_now", "reason": "customer called to cancel"})
    );
    assert!(op.to_string().starts_with("operator:"));
    // Kept before what it did.
    assert!(
        position_of(&recharge, "undo_now")
            < position_of(&recharge, "pending_confirmation -> undoing")
    );
    for step in ["pending_confirmation -> undoing", "undoing -> undone"] {
        assert_eq!(actors_of(&recharge, step), [op.to_string()], "{step}");
    }
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "PPN");
    assert_eq!(carat_calls(&app, &nit).2, 1);

    // A second click answers as the first did, without another call.
    let again = service.undo_now(id, &op, "double click").await.unwrap();
    assert_eq!(again.status, RechargeStatus::Undone);
    assert_eq!(carat_calls(&app, &nit).2, 1);
    let recharge = app.recharge(&id.to_string()).await;
    assert_eq!(events_of(&recharge, "operator_action").len(), 2);
}

#[tokio::test]
async fn an_action_without_a_reason_or_not_by_an_operator_writes_and_sends_nothing() {
    let app = spawn_app().await;
    let service = recharges(&app);
    let (id, nit) = effectuated(&app).await;
    let before = app.event_count().await;
    let long = "x".repeat(501);
    for (actor, reason, field) in [
        (operator(), "", "reason"),
        (operator(), " \n ", "reason"),
        (operator(), long.as_str(), "reason"),
        (operator(), "paid with 4111 1111 1111 1111", "reason"),
        (Actor::Storefront, "a reason", "actor"),
        (Actor::Reconciler("r1".into()), "a reason", "actor"),
    ] {
        let outcomes = [
            service.ask_carat_now(id, &actor, reason).await.err(),
            service.undo_now(id, &actor, reason).await.err(),
            service.confirm_now(id, &actor, reason).await.err(),
            service.reveal_pin(id, &actor, reason).await.err(),
        ];
        for outcome in outcomes {
            match outcome {
                Some(FlowError::Invalid(e)) => assert_eq!(e.field, field, "{reason:?}"),
                other => panic!("{actor} {reason:?}: {other:?}"),
            }
        }
    }
    assert_eq!(app.event_count().await, before);
    assert_eq!(carat_calls(&app, &nit), (0, 1, 0));
    let recharge = app.recharge(&id.to_string()).await;
    assert_eq!(recharge["status"], "pending_confirmation");

    let nobody = Uuid::new_v4();
    assert!(matches!(
        service.undo_now(nobody, &operator(), "why").await,
        Err(FlowError::NotFound)
    ));
}

/// An `others` (PIN) sale through the API, up to its effectuation's answer.
async fn sell_a_pin(app: &TestApp) -> (Uuid, String, StatusCode, Value) {
    let (status, created) = app
        .post_json("/api/v1/recharges", json!({"recharge_type": "others"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/recharges/{id}");
    let (status, dealers) = app.get_json(&format!("{path}/dealers")).await;
    assert_eq!(status, StatusCode::OK, "{dealers}");
    let (status, branches) = app
        .get_json(&format!(
            "{path}/branches?dealer_code=905&branch_code=97200000000"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{branches}");
    let sale = json!({
        "dealer": {"code": "905", "type_code": "02", "branch": {"code": "97200000000"}},
        "amount": 1000,
        "amount_key": "1",
    });
    let (status, answer) = app.post_json(&format!("{path}/effectuate"), sale).await;
    let nit = created["nit"].as_str().unwrap().to_owned();
    (id.parse().unwrap(), nit, status, answer)
}

#[tokio::test]
async fn confirm_now_is_refused_where_the_storefronts_confirmation_is() {
    let app = spawn_app().await;
    let service = recharges(&app);
    let op = operator();

    // A PIN sale whose effectuation's answer (its PIN) was lost: Carat holds it PPC.
    app.sandbox
        .inject(Operation::Effectuate, Fault::AppliedThen500, 1);
    let (id, nit, status, answer) = sell_a_pin(&app).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    match service.confirm_now(id, &op, "the customer paid").await {
        Err(FlowError::OutOfOrder { status, reason }) => {
            assert_eq!(status, RechargeStatus::PendingConfirmation);
            assert!(reason.contains("receipt was not kept"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(carat_calls(&app, &nit).2, 0, "no confirmation was sent");
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "PPC");
    let recharge = app.recharge(&id.to_string()).await;
    let actions = events_of(&recharge, "operator_action");
    assert_eq!(actions.len(), 1, "the attempt is kept: {recharge}");
    assert_eq!(actions[0]["detail"]["action"], "confirm_now");
    // The storefront is refused the same way.
    let (status, body) = app.confirm(&id.to_string(), true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Undoing it is what is left, and what the operator may do.
    let undone = service.undo_now(id, &op, "PIN lost").await.unwrap();
    assert_eq!(undone.status, RechargeStatus::Undone);
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "PPN");

    // A top-up pending confirmation is confirmed, under the operator's name.
    let (id, nit) = effectuated(&app).await;
    let confirmed = service
        .confirm_now(id, &op, "storefront lost its answer")
        .await
        .unwrap();
    assert_eq!(confirmed.status, RechargeStatus::Confirmed);
    let recharge = app.recharge(&id.to_string()).await;
    assert_eq!(
        actors_of(&recharge, "confirming -> confirmed"),
        [op.to_string()]
    );
    assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "CON");
    // Undoing a confirmed recharge is refused, as the storefront's is, and sends nothing.
    assert!(matches!(
        service.undo_now(id, &op, "too late").await,
        Err(FlowError::OutOfOrder { .. })
    ));
    assert_eq!(carat_calls(&app, &nit).2, 1);
}

#[tokio::test]
async fn revealing_a_pin_is_kept_in_the_history_and_the_pin_only_in_the_answer() {
    let app = spawn_app().await;
    let service = recharges(&app);
    let op = operator();
    let (id, _, status, answer) = sell_a_pin(&app).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let receipts = service
        .reveal_pin(id, &op, "customer lost the receipt")
        .await
        .unwrap();
    let customer = receipts.customer.expect("a customer receipt");
    let pin = customer
        .lines()
        .find_map(|l| l.strip_prefix("PIN: "))
        .unwrap_or_else(|| panic!("no PIN line: {customer}"))
        .to_owned();
    let recharge = app.recharge(&id.to_string()).await;
    let actions = events_of(&recharge, "operator_action");
    assert_eq!(actions.len(), 1, "{recharge}");
    assert_eq!(actions[0]["name"], "reveal_pin");
    assert_eq!(actions[0]["actor"], op.to_string());
    assert_eq!(
        actions[0]["detail"],
        json!({"action": "reveal_pin", "reason": "customer lost the receipt"})
    );
    assert!(!recharge["events"].to_string().contains(&pin), "{recharge}");

    // A top-up has no PIN: refused, and nothing is kept.
    let (top_up, _) = effectuated(&app).await;
    let before = app.event_count().await;
    assert!(matches!(
        service.reveal_pin(top_up, &op, "curious").await,
        Err(FlowError::OutOfOrder { .. })
    ));
    assert_eq!(app.event_count().await, before);
}

#[tokio::test]
async fn ask_carat_now_settles_a_recharge_in_doubt_by_carats_answer() {
    let app = spawn_app().await;
    let service = recharges(&app);
    let op = operator();

    // The effectuation went through; its answer was lost.
    let (id, nit) = effectuated(&app).await;
    as_if_its_answer_was_lost(&app, id, "effectuating").await;
    let asked = service
        .ask_carat_now(id, &op, "storefront says it was charged")
        .await
        .unwrap();
    assert_eq!(asked.status, RechargeStatus::PendingConfirmation);
    assert!(!asked.outcome_unknown);
    let recharge = app.recharge(&id.to_string()).await;
    assert_eq!(settled_by_query(&recharge), [op.to_string()]);
    let queries = events_of(&recharge, "outbound_call");
    assert_eq!(queries.last().unwrap()["actor"], op.to_string());

    // Pending and still PPC at Carat: asked, nothing moves.
    let asked = service.ask_carat_now(id, &op, "again").await.unwrap();
    assert_eq!(asked.status, RechargeStatus::PendingConfirmation);
    assert_eq!(carat_calls(&app, &nit), (2, 1, 0));

    // Confirmed at Carat while its answer was lost: settled as confirmed, nothing resent.
    let (id, nit) = effectuated(&app).await;
    let (status, body) = app.confirm(&id.to_string(), true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    as_if_its_answer_was_lost(&app, id, "confirming").await;
    let asked = service.ask_carat_now(id, &op, "reconcile").await.unwrap();
    assert_eq!(asked.status, RechargeStatus::Confirmed);
    assert_eq!(carat_calls(&app, &nit), (1, 1, 1));
}

/// Races one `ask_carat_now` with one reconciler pass started `head_start` later, on a
/// recharge whose answer was lost, and answers the recharge as the operator was told.
async fn race(
    app: &TestApp,
    service: &RechargeService,
    reconciler: &carat_core::recharge::Reconciler,
    id: Uuid,
    head_start: Duration,
) -> carat_store::Recharge {
    let op = operator();
    let ask = service.ask_carat_now(id, &op, "the customer is on the phone");
    let pass = async {
        tokio::time::sleep(head_start).await;
        reconciler.run_pass().await
    };
    let (asked, pass) = tokio::join!(ask, pass);
    pass.unwrap();
    let asked = asked.unwrap();
    let stored = carat_store::recharges::find(&app.pool, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (asked.status, asked.attempt),
        (stored.status, stored.attempt),
        "the operator is answered what happened"
    );
    asked
}

#[tokio::test]
async fn ask_carat_now_racing_a_reconciler_pass_asks_and_calls_carat_once() {
    let app = spawn_app().await;
    let service = recharges(&app);
    let reconciler = carat_merchant::startup::reconciler(&settings(&app), service.clone());
    // From the reconciler well ahead to the operator well ahead: each may win.
    for (round, head_start_ms) in [0, 0, 5, 10, 20, 40, 80].into_iter().enumerate() {
        let head_start = Duration::from_millis(head_start_ms);

        // An effectuation whose answer was lost: one query settles it.
        let (id, nit) = effectuated(&app).await;
        as_if_its_answer_was_lost(&app, id, "effectuating").await;
        let asked = race(&app, &service, &reconciler, id, head_start).await;
        assert_eq!(asked.status, RechargeStatus::PendingConfirmation, "{round}");
        assert_eq!(carat_calls(&app, &nit), (1, 1, 0), "round {round}");
        let recharge = app.recharge(&id.to_string()).await;
        let settled = settled_by_query(&recharge);
        assert_eq!(settled.len(), 1, "round {round}: {recharge}");

        // A confirmation that never reached Carat (still PPC): sent again once.
        let (id, nit) = effectuated(&app).await;
        as_if_its_answer_was_lost(&app, id, "confirming").await;
        let asked = race(&app, &service, &reconciler, id, head_start).await;
        assert_eq!(asked.status, RechargeStatus::Confirmed, "{round}");
        assert_eq!(carat_calls(&app, &nit), (1, 1, 1), "round {round}");
        assert_eq!(app.sandbox.transaction(&nit).unwrap().status, "CON");
    }
    // Which one won each round is the scheduler's; the next test runs each order for sure.
}

#[tokio::test]
async fn whoever_asks_carat_first_the_other_waits_and_is_answered_what_it_did() {
    let app = spawn_app_with(Options {
        slow_answer_delay: Duration::from_millis(800),
        ..Options::default()
    })
    .await;
    let service = recharges(&app);
    let reconciler = carat_merchant::startup::reconciler(&settings(&app), service.clone());
    let op = operator();

    // The reconciler first, its query slow: the operator waits for it, asks nothing.
    let (id, nit) = effectuated(&app).await;
    as_if_its_answer_was_lost(&app, id, "effectuating").await;
    app.sandbox.inject(Operation::Query, Fault::Slow, 1);
    let pass = tokio::spawn({
        let reconciler = reconciler.clone();
        async move { reconciler.run_pass().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = service.ask_carat_now(id, &op, "customer waiting").await;
    assert_eq!(asked.unwrap().status, RechargeStatus::PendingConfirmation);
    assert_eq!(pass.await.unwrap().unwrap().claimed, 1);
    assert_eq!(carat_calls(&app, &nit), (1, 1, 0));
    let settled = settled_by_query(&app.recharge(&id.to_string()).await);
    assert!(
        settled.len() == 1 && settled[0].starts_with("reconciler:"),
        "{settled:?}"
    );

    // The operator first, its query slow: the reconciler's pass leaves the recharge to it.
    let (id, nit) = effectuated(&app).await;
    as_if_its_answer_was_lost(&app, id, "effectuating").await;
    app.sandbox.inject(Operation::Query, Fault::Slow, 1);
    let ask = tokio::spawn({
        let (service, op) = (service.clone(), op.clone());
        async move { service.ask_carat_now(id, &op, "customer waiting").await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(reconciler.run_pass().await.unwrap().claimed, 0);
    let asked = ask.await.unwrap().unwrap();
    assert_eq!(asked.status, RechargeStatus::PendingConfirmation);
    assert_eq!(carat_calls(&app, &nit), (1, 1, 0));
    let settled = settled_by_query(&app.recharge(&id.to_string()).await);
    assert_eq!(settled, [op.to_string()]);
}

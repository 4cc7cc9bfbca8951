//! Two instances of the service on one database: a console session opened on one works on the
//! other (sessions live in the database), and signing out on one ends it on both; an
//! operator's undo racing the reconciler of another instance calls Carat once.

use std::time::Duration;

use carat_sandbox::{Fault, Operation};
use serde_json::Value;

use crate::console::{Console, token_id};
use crate::helpers::{Options, TOKEN, actors_of, event_names};

#[tokio::test]
async fn a_session_opened_on_one_instance_works_on_the_other() {
    let console = Console::start().await;
    let sale = console.pending_top_up("912340021").await;
    let id = sale["id"].as_str().unwrap();
    let other = console.app.spawn_second_instance().await;
    console.sign_in(TOKEN).await;

    // The browser sends the cookie to the other instance too (cookies ignore the port).
    console
        .browser
        .goto(&format!("{other}/console/recharges/{id}"))
        .await;
    console.wait_for("#timeline").await;
    console.check_page().await;
    let whoami = console.text("#whoami").await;
    assert!(whoami.contains(&token_id(TOKEN)), "{whoami}");
    console.wait_for("#action-undo").await;

    // Outside the browser: the cookie alone opens a page on either instance.
    let cookie = console.session_cookie().await;
    for base in [&console.base, &other] {
        let response = console
            .http
            .get(format!("{base}/console"))
            .header("Cookie", format!("carat_console={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{base}");
        assert!(
            response.text().await.unwrap().contains("id=\"whoami\""),
            "{base}"
        );
    }

    // Signed out on the other instance: signed out on this one too.
    console.click("#logout button[type=submit]").await;
    console.wait_for("#login").await;
    let response = console.get_with("/console", &cookie).await;
    assert_ne!(response.status(), 200, "the session outlived its sign-out");
}

#[tokio::test]
async fn an_undo_racing_the_reconciler_calls_carat_once() {
    // Carat answers this test's undos late, so that whoever calls first is still waiting for
    // Carat when the other comes.
    let console = Console::start_with(Options {
        slow_answer_delay: Duration::from_millis(400),
        ..Options::default()
    })
    .await;
    // A third instance that reconciles often (the default policy undoes an overdue pending
    // confirmation).
    let _reconciler = console
        .app
        .spawn_instance_with(&[
            ("RECONCILE_ENABLED", "true"),
            ("RECONCILE_INTERVAL_MS", "20"),
        ])
        .await;
    console.sign_in(TOKEN).await;
    // First: the click comes while the reconciler's undo is out. Then: the sale falls due as
    // the click goes, or a moment after (whoever claims it first calls Carat, the other finds
    // it taken).
    for (n, due_in_ms) in [None, Some(0), Some(150)].into_iter().enumerate() {
        race_an_undo_against_the_reconciler(&console, n, due_in_ms).await;
    }
}

/// The `n`th race: a pending sale falls due in `due_in_ms` (`None`: now, and the click waits
/// until the reconciler's undo is out) and the operator clicks undo; it ends undone, by one
/// undo at Carat.
async fn race_an_undo_against_the_reconciler(console: &Console, n: usize, due_in_ms: Option<u32>) {
    let click_while_out = due_in_ms.is_none();
    let sale = console.pending_top_up(&format!("91234003{n}")).await;
    let (id, nit) = (sale["id"].as_str().unwrap(), sale["nit"].as_str().unwrap());
    console.open_recharge(id).await;
    console
        .type_into(
            "#action-undo textarea[name=reason]",
            "racing the reconciler",
        )
        .await;
    console.app.sandbox.inject(Operation::Undo, Fault::Slow, 1);
    falls_due_in(console, id, due_in_ms.unwrap_or(0)).await;
    if click_while_out {
        console.until(id, |r| r["status"] == "undoing").await;
    }
    let answered = click_undo_and_read_the_answer(console).await;
    let ended = console
        .until(id, |r| r["status"] == "undone" && r["in_doubt"] == false)
        .await;
    let winner = actors_of(&ended, "pending_confirmation -> undoing");
    assert_eq!(winner.len(), 1, "{ended}");
    if click_while_out {
        assert!(winner[0].starts_with("reconciler:"), "{ended}");
    }
    eprintln!(
        "race {n}: undone by {}; the operator read {answered:?}",
        winner[0]
    );
    carat_was_called_once(console, &ended, nit);
    // The operator's try is in the history all the same.
    let operator = format!("operator:{}", token_id(TOKEN));
    assert!(
        ended["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "operator_action" && e["actor"] == operator.as_str()),
        "{ended}"
    );
}

/// Overdue now or in a moment: the reconciler takes the sale `id` at its next pass after that.
async fn falls_due_in(console: &Console, id: &str, due_in_ms: u32) {
    sqlx::query(
        "UPDATE recharges SET next_attempt_at = now() + $2 * interval '1 millisecond' \
         WHERE id = $1::uuid",
    )
    .bind(id)
    .bind(f64::from(due_in_ms))
    .execute(&console.app.pool)
    .await
    .unwrap();
}

/// Clicks undo on the open sale's page. The operator is told it is done, or why it cannot be
/// done now: never a failure page. Answers what the operator read.
async fn click_undo_and_read_the_answer(console: &Console) -> String {
    console.click("#action-undo button[name=go]").await;
    if console.browser.find("#flash").await.is_some() {
        console.text("#flash").await
    } else {
        console.text("#error").await
    }
}

/// One undo went out, for the `ended` sale (its history) and at Carat (the transaction `nit`,
/// undone, one confirmation request).
fn carat_was_called_once(console: &Console, ended: &Value, nit: &str) {
    let undos = event_names(ended)
        .iter()
        .filter(|e| *e == "outbound_call:undo")
        .count();
    assert_eq!(undos, 1, "{ended}");
    let tx = console.app.sandbox.transaction(nit).unwrap();
    assert_eq!(
        (tx.status.as_str(), tx.confirmation_requests),
        ("PPN", 1),
        "{ended}"
    );
}

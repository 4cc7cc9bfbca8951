//! The real binary killed with SIGKILL while a money-moving call is out: after a restart, its
//! reconciler ends every recharge as Carat holds it, and the sandbox's ledger shows each
//! effectuated at most once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Options, PHONE_OK, PHONE_SLOW, TOKEN, TestApp, actors_of, effectuation, get_from,
    poll_recharge, post_to, spawn_app_with,
};
use crate::process::ServiceProcess;

const RECHARGES: usize = 5;

/// The sandbox answers late, so that the calls are still out when the binary is killed.
fn options() -> Options {
    Options {
        slow_answer_delay: Duration::from_secs(4),
        ..Options::default()
    }
}

/// The binary, configured as the test app, with `overrides`, Carat's authenticity POST
/// pointed at it.
async fn start(app: &TestApp, overrides: &[(&'static str, &str)]) -> ServiceProcess {
    let service = ServiceProcess::start(app.env_with(overrides)).await;
    app.sandbox.set_authenticity_url(
        service
            .url("/callbacks/authenticity")
            .parse()
            .expect("a URL"),
    );
    service
}

/// Creates `RECHARGES` recharges through `service`: their ids and NITs.
async fn create_all(app: &TestApp, service: &ServiceProcess) -> Vec<(String, String)> {
    let mut created = Vec::new();
    for _ in 0..RECHARGES {
        let (status, body) = post_to(
            &app.client,
            service.url("/api/v1/recharges"),
            &json!({"recharge_type": "normal"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        created.push((
            body["id"].as_str().unwrap().to_owned(),
            body["nit"].as_str().unwrap().to_owned(),
        ));
    }
    created
}

/// Sends `body` to `path` of every recharge from tasks of their own, which die with the
/// process.
fn send_all(
    app: &TestApp,
    service: &ServiceProcess,
    created: &[(String, String)],
    path: &str,
    body: Value,
) {
    for (id, _) in created {
        let (client, url, body) = (
            app.client.clone(),
            service.url(&format!("/api/v1/recharges/{id}/{path}")),
            body.clone(),
        );
        tokio::spawn(async move {
            let _ = client.post(url).bearer_auth(TOKEN).json(&body).send().await;
        });
    }
}

/// Waits until the sandbox has received `count` requests for every NIT, as `counter` reads them.
async fn until_carat_received(
    app: &TestApp,
    created: &[(String, String)],
    counter: impl Fn(&carat_sandbox::SandboxTransaction) -> u32,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !created.iter().all(|(_, nit)| {
        app.sandbox
            .transaction(nit)
            .is_some_and(|tx| counter(&tx) == 1)
    }) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the calls never reached Carat"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every recharge is `status` through `service`, and checks that Carat holds each
/// as `carat_status` after one effectuation and one confirmation or undo. The recharges' views.
async fn all_end(
    app: &TestApp,
    service: &ServiceProcess,
    created: &[(String, String)],
    status: &str,
    carat_status: &str,
) -> Vec<Value> {
    let mut ended = Vec::new();
    for (id, nit) in created {
        let recharge = poll_recharge(
            &app.client,
            &service.address,
            id,
            Duration::from_secs(15),
            |r| r["status"] == status,
        )
        .await;
        let tx = app.sandbox.transaction(nit).unwrap();
        assert_eq!(
            (
                tx.status.as_str(),
                tx.effectuation_requests,
                tx.confirmation_requests
            ),
            (carat_status, 1, 1),
            "{recharge}"
        );
        ended.push(recharge);
    }
    ended
}

#[tokio::test]
async fn killed_during_effectuations_every_recharge_ends_undone_effectuated_once() {
    let app = spawn_app_with(options()).await;
    // A call counts as over 2.2 s after it went out; the pending timeout is short, so that
    // the restarted instance's reconciler ends what it finds PPC by the (undo) policy.
    let config = [
        ("CARAT_TIMEOUT_MS", "2000"),
        ("RECONCILE_ENABLED", "true"),
        ("PENDING_CONFIRMATION_TIMEOUT_SECS", "1"),
    ];
    let first = start(&app, &config).await;
    let created = create_all(&app, &first).await;
    send_all(
        &app,
        &first,
        &created,
        "effectuate",
        effectuation(PHONE_SLOW, 1000),
    );
    until_carat_received(&app, &created, |tx| tx.effectuation_requests).await;
    first.kill();

    let second = start(&app, &config).await;
    // Straight after the restart each one shows in doubt: a call is out.
    for (id, _) in &created {
        let (_, body) = get_from(&app.client, second.url(&format!("/api/v1/recharges/{id}"))).await;
        assert!(
            body["status"] == "undone" || body["in_doubt"] == true,
            "{body}"
        );
    }
    for ended in all_end(&app, &second, &created, "undone", "PPN").await {
        for step in [
            "effectuating -> pending_confirmation",
            "pending_confirmation -> undoing",
            "undoing -> undone",
        ] {
            let actors = actors_of(&ended, step);
            assert_eq!(actors.len(), 1, "{step}: {ended}");
            assert!(actors[0].starts_with("reconciler:"), "{step}: {ended}");
        }
    }
}

#[tokio::test]
async fn killed_during_confirmations_every_recharge_ends_confirmed_once() {
    let app = spawn_app_with(options()).await;
    let config = [("CARAT_TIMEOUT_MS", "2000"), ("RECONCILE_ENABLED", "true")];
    let first = start(&app, &config).await;
    let created = create_all(&app, &first).await;
    for (id, _) in &created {
        // 1414 cents: the sandbox applies the confirmation at once and answers it late.
        let (status, body) = post_to(
            &app.client,
            first.url(&format!("/api/v1/recharges/{id}/effectuate")),
            &effectuation(PHONE_OK, 1414),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    send_all(&app, &first, &created, "confirm", json!({"confirm": true}));
    until_carat_received(&app, &created, |tx| tx.confirmation_requests).await;
    first.kill();

    let second = start(&app, &config).await;
    for ended in all_end(&app, &second, &created, "confirmed", "CON").await {
        let actors = actors_of(&ended, "confirming -> confirmed");
        assert!(
            actors.len() == 1 && actors[0].starts_with("reconciler:"),
            "{ended}"
        );
    }
}

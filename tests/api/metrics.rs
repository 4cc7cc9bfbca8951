//! `GET /metrics`: the series move by exactly what the service did (a top-up, a refused
//! callback, a Carat 500, an unknown path), read from the Prometheus text format line by line.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use carat_merchant::config::Settings;
use carat_merchant::startup::Application;
use carat_sandbox::{Fault, Operation};
use reqwest::StatusCode;
use tokio::net::TcpListener;

use crate::helpers::{Options, PHONE_OK, TOKEN, TestApp, poll_recharge, spawn_app, spawn_app_with};

/// Every sample of a text-format exposition, keyed by its series as written
/// (`name{label="value",...}`). Comments skipped; a malformed line fails the test.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a sample value: {line}"));
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "series twice: {line}"
        );
    }
    samples
}

/// A series' key as the exposition writes it.
fn series(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return format!("carat_merchant_{name}");
    }
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("carat_merchant_{name}{{{}}}", labels.join(","))
}

async fn scrape_at(client: &reqwest::Client, url: String, token: Option<&str>) -> String {
    let mut req = client.get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let response = req.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    parse(&scrape_at(&app.client, app.url("/metrics"), Some(TOKEN)).await)
}

/// The value of a series, 0 when absent (a counter never moved).
fn value(samples: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .get(&series(name, labels))
        .copied()
        .unwrap_or_default()
}

#[tokio::test]
async fn on_the_main_listener_metrics_ask_for_an_api_token() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let samples = scrape(&app).await;
    // The refusals were counted, on /metrics' own route.
    assert_eq!(
        value(
            &samples,
            "http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ),
        2.0
    );
}

/// What the service is made to do: a top-up confirmed (its NIT through the authenticity
/// callback), a second one in doubt after Carat's 500, a callback refused and a path no route
/// matches.
async fn do_what_the_series_count(app: &TestApp) {
    // A top-up, confirmed: create, dealers, branches, effectuate, confirm; its NIT arrives
    // through the authenticity callback.
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    app.list_catalogue(id, "001", "11").await;
    let (status, body) = app.effectuate(id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.confirm(id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A second one whose effectuation Carat answers with a 500: in doubt.
    let created = app.create_recharge().await;
    let doubtful = created["id"].as_str().unwrap();
    app.list_catalogue(doubtful, "001", "11").await;
    app.sandbox
        .inject(Operation::Effectuate, Fault::Error500, 1);
    let (status, body) = app.effectuate(doubtful, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(app.recharge(doubtful).await["in_doubt"], true);

    // A callback refused (it names nothing valid), and a path no route matches.
    let (status, text) = app.post_authenticity("nit=short&merchantUSN=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let response = app
        .client
        .get(app.url("/no/such/path/4711"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// Carat's calls by operation and outcome, and the callbacks by outcome.
fn assert_the_calls_and_callbacks(samples: &BTreeMap<String, f64>) {
    let calls = |operation, outcome| {
        value(
            samples,
            "carat_calls_total",
            &[("operation", operation), ("outcome", outcome)],
        )
    };
    assert_eq!(calls("create", "ok"), 2.0);
    assert_eq!(calls("dealers", "ok"), 2.0);
    assert_eq!(calls("branches", "ok"), 2.0);
    assert_eq!(calls("effectuate", "ok"), 1.0);
    assert_eq!(calls("effectuate", "http_5xx"), 1.0);
    assert_eq!(calls("confirm", "ok"), 1.0);
    assert_eq!(calls("undo", "ok"), 0.0);
    assert_eq!(
        value(
            samples,
            "carat_call_duration_seconds_count",
            &[("operation", "effectuate"), ("outcome", "http_5xx")]
        ),
        1.0
    );

    let callbacks = |outcome| {
        value(
            samples,
            "callbacks_total",
            &[("kind", "authenticity"), ("outcome", outcome)],
        )
    };
    assert_eq!(callbacks("accepted"), 2.0);
    assert_eq!(callbacks("refused"), 1.0);
    assert_eq!(callbacks("unavailable"), 0.0);
}

/// The HTTP requests by route (a template, or `unmatched`: the path itself is never a label
/// value in `text`) and status.
fn assert_the_requests(samples: &BTreeMap<String, f64>, text: &str) {
    let requests = |route, status| {
        value(
            samples,
            "http_requests_total",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("/api/v1/recharges", "201"), 2.0);
    assert_eq!(requests("/api/v1/recharges/{id}/effectuate", "200"), 1.0);
    assert_eq!(requests("/api/v1/recharges/{id}/effectuate", "502"), 1.0);
    assert_eq!(requests("/api/v1/recharges/{id}/confirm", "200"), 1.0);
    assert_eq!(requests("/callbacks/authenticity", "200"), 2.0);
    assert_eq!(requests("/callbacks/authenticity", "400"), 1.0);
    assert_eq!(requests("unmatched", "404"), 1.0);
    assert_eq!(
        value(
            samples,
            "http_request_duration_seconds_count",
            &[("route", "/api/v1/recharges")]
        ),
        2.0
    );
    // The path itself is never a label value.
    assert!(!text.contains("4711"), "{text}");
}

/// The series read from the database at scrape time, and the pools'.
fn assert_the_database_series(samples: &BTreeMap<String, f64>) {
    let recharges = |status| value(samples, "recharges", &[("status", status)]);
    assert_eq!(recharges("confirmed"), 1.0);
    assert_eq!(recharges("effectuating"), 1.0);
    assert_eq!(recharges("started"), 0.0);
    assert_eq!(value(samples, "recharges_in_doubt", &[]), 1.0);
    assert_eq!(value(samples, "database_up", &[]), 1.0);
    assert_eq!(value(samples, "db_pool_max_connections", &[]), 5.0);
    assert!(samples.contains_key(&series("db_pool_connections", &[("state", "in_use")])));
    assert!(samples.contains_key(&series("db_pool_connections", &[("state", "idle")])));
    assert!(samples.contains_key(&series("db_pool_acquire_seconds", &[])));
    // The authenticity POSTs' own connections: each create's POST used one and gave it back.
    assert_eq!(value(samples, "db_lane_max_connections", &[]), 8.0);
    assert_eq!(
        value(samples, "db_lane_connections", &[("state", "in_use")]),
        0.0
    );
    assert!(value(samples, "db_lane_connections", &[("state", "idle")]) >= 1.0);
}

#[tokio::test]
async fn the_series_move_by_what_the_service_did() {
    let app = spawn_app().await;
    do_what_the_series_count(&app).await;

    let text = scrape_at(&app.client, app.url("/metrics"), Some(TOKEN)).await;
    let samples = parse(&text);
    assert_the_calls_and_callbacks(&samples);
    assert_the_requests(&samples, &text);
    // Read from the database at scrape time.
    assert_the_database_series(&samples);
}

#[tokio::test]
async fn the_reconciler_counts_its_passes_and_what_it_ended() {
    let app = spawn_app_with(Options {
        reconcile: true,
        ..Options::default()
    })
    .await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    app.list_catalogue(id, "001", "11").await;
    app.sandbox
        .inject(Operation::Effectuate, Fault::Error500, 1);
    let (status, body) = app.effectuate(id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    // Nothing applied at Carat: the reconciler's query finds it NOV and puts it back.
    poll_recharge(
        &app.client,
        &app.address,
        id,
        Duration::from_secs(20),
        |r| r["status"] == "started",
    )
    .await;

    // The pass that moved it is counted when it ends, maybe after this answer: wait for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let samples = loop {
        let samples = scrape(&app).await;
        if value(&samples, "reconciler_passes_total", &[("result", "ok")]) >= 1.0 {
            break samples;
        }
        assert!(tokio::time::Instant::now() < deadline, "no pass counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        value(
            &samples,
            "reconciler_actions_total",
            &[("action", "claimed")]
        ) >= 1.0
    );
    assert!(
        value(
            &samples,
            "carat_calls_total",
            &[("operation", "query"), ("outcome", "ok")]
        ) >= 1.0
    );
    assert_eq!(value(&samples, "recharges_in_doubt", &[]), 0.0);
}

#[tokio::test]
async fn with_metrics_addr_they_are_served_there_alone_without_a_token() {
    let app = spawn_app().await;
    let env = app.env_with(&[("METRICS_ADDR", "127.0.0.1:0")]);
    let config_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Settings::load_from(&config_dir, |name| env.get(name).cloned()).unwrap();
    settings.reconcile.enabled = false;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let main = format!("http://{}", listener.local_addr().unwrap());
    let instance = Application::build_on(settings, listener).await.unwrap();
    let metrics_addr = instance.metrics_addr().expect("METRICS_ADDR bound");
    tokio::spawn(instance.run_until(std::future::pending()));

    let samples =
        parse(&scrape_at(&app.client, format!("http://{metrics_addr}/metrics"), None).await);
    assert_eq!(value(&samples, "database_up", &[]), 1.0);
    // Not on the main listener any more, token or not.
    let response = app
        .client
        .get(format!("{main}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_callback_path_secret_is_never_a_label() {
    const SECRET: &str = "metrics-path-secret-0123456789";
    let app = spawn_app().await;
    let other = app
        .spawn_instance_with(&[("CALLBACK_PATH_SECRET", SECRET)])
        .await;
    let post = |path: String| {
        let client = app.client.clone();
        async move {
            client
                .post(path)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("nit=short")
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Through the secret: refused as malformed. With a wrong one: 404, no callback at all.
    let status = post(format!("{other}/callbacks/{SECRET}/authenticity")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let status = post(format!(
        "{other}/callbacks/wrong-secret-0123456789/authenticity"
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let text = scrape_at(&app.client, format!("{other}/metrics"), Some(TOKEN)).await;
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.contains("wrong-secret"), "{text}");
    let samples = parse(&text);
    let route = "/callbacks/{secret}/authenticity";
    assert_eq!(
        value(
            &samples,
            "http_requests_total",
            &[("route", route), ("status", "400")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "http_requests_total",
            &[("route", route), ("status", "404")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "callbacks_total",
            &[("kind", "authenticity"), ("outcome", "refused")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "callbacks_total",
            &[("kind", "authenticity"), ("outcome", "unmatched")]
        ),
        0.0
    );
}

//! `GET /metrics`: the series move by exactly what the service did (a top-up, a refused
//! callback, a Carat 500, an unknown path), read from the Prometheus text format line by line;
//! each format served is the one its content type names, as Prometheus's parsers and
//! `promtool check metrics` read it; and the process's own series.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    assert_eq!(content_type, CLASSIC);
    response.text().await.unwrap()
}

/// The classic text format's content type, served unless the scraper prefers OpenMetrics.
const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics` with `accept` (none: reqwest's `*/*`): its content type and body.
async fn scrape_accepting(app: &TestApp, accept: Option<&str>) -> (String, String) {
    let mut req = app.client.get(app.url("/metrics")).bearer_auth(TOKEN);
    if let Some(accept) = accept {
        req = req.header("Accept", accept);
    }
    let response = req.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    (content_type.to_owned(), response.text().await.unwrap())
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Classic,
    OpenMetrics,
}

/// The names a sample of a family of type `kind` may have, after the family's name, as the
/// format's parser reads them (in the classic format a counter's family is `x_total` itself).
fn sample_suffixes(format: Format, kind: &str) -> &'static [&'static str] {
    match (format, kind) {
        (Format::Classic, "histogram") => &["_bucket", "_sum", "_count"],
        (Format::OpenMetrics, "histogram") => &["_bucket", "_sum", "_count", "_created"],
        (Format::OpenMetrics, "counter") => &["_total", "_created"],
        (_, "counter" | "gauge") => &[""],
        _ => panic!("a family of an unexpected type: {kind}"),
    }
}

/// Reads an exposition the way Prometheus's parser for `format` does, strictly: every sample
/// belongs to the family the last `# TYPE` declared (else the parser would take it as
/// untyped), every family has its HELP and at least one sample, the classic format's counters
/// end in `_total` and only OpenMetrics ends with `# EOF`. Each family's type, by name.
fn families(text: &str, format: Format) -> BTreeMap<String, String> {
    let body = match format {
        Format::OpenMetrics => text.strip_suffix("# EOF\n").expect("no final # EOF"),
        Format::Classic => text,
    };
    let mut types = BTreeMap::new();
    let mut helped = BTreeSet::new();
    let mut current: Option<(String, String, usize)> = None;
    let close = |current: &Option<(String, String, usize)>| {
        if let Some((name, _, samples)) = current {
            assert!(*samples > 0, "{name} has no sample\n{text}");
        }
    };
    for line in body.lines() {
        if let Some(help) = line.strip_prefix("# HELP ") {
            helped.insert(help.split(' ').next().unwrap().to_owned());
        } else if let Some(declared) = line.strip_prefix("# TYPE ") {
            close(&current);
            let (name, kind) = declared.split_once(' ').unwrap();
            assert!(helped.contains(name), "{name} has no HELP");
            if format == Format::Classic && kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} without _total");
            }
            let again = types.insert(name.to_owned(), kind.to_owned());
            assert!(again.is_none(), "{name} declared twice");
            current = Some((name.to_owned(), kind.to_owned(), 0));
        } else {
            assert!(!line.starts_with('#'), "an unexpected comment: {line}");
            let sample = line.split(['{', ' ']).next().unwrap();
            let (family, kind, samples) = current
                .as_mut()
                .unwrap_or_else(|| panic!("{sample} before any TYPE: untyped"));
            let of_family = sample_suffixes(format, kind)
                .iter()
                .any(|suffix| sample.strip_suffix(suffix) == Some(family.as_str()));
            assert!(of_family, "{sample} is not a sample of {kind} {family}");
            *samples += 1;
        }
    }
    close(&current);
    types
}

/// `promtool check metrics` on `text`: its exit code and what it printed. No promtool fails
/// the test: CI installs it (Debian's `prometheus` package, see .ci/run).
fn promtool_check(text: &str) -> (Option<i32>, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool could not be run ({e}): install Debian's prometheus package (.ci/run does)")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    (out.status.code(), printed.into_owned())
}

/// The counter families every scrape after [`do_what_the_series_count`] holds, by their name
/// in OpenMetrics (the classic format's is the same with `_total`).
const COUNTERS: [&str; 6] = [
    "carat_merchant_http_requests",
    "carat_merchant_carat_calls",
    "carat_merchant_callbacks",
    "carat_merchant_console_sign_in_failures",
    "carat_merchant_console_forbidden_actions",
    "process_cpu_seconds",
];

/// Prometheus 2's Accept (it prefers OpenMetrics) and Prometheus 3's default one.
const PROMETHEUS_2: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const PROMETHEUS_3: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";

#[tokio::test]
async fn the_classic_format_is_what_promtool_and_the_classic_parser_read() {
    let app = spawn_app().await;
    do_what_the_series_count(&app).await;
    for accept in [None, Some("text/plain;version=0.0.4"), Some("*/*")] {
        let (content_type, text) = scrape_accepting(&app, accept).await;
        assert_eq!(content_type, CLASSIC, "{accept:?}");
        let types = families(&text, Format::Classic);
        for counter in COUNTERS {
            let name = format!("{counter}_total");
            assert_eq!(
                types.get(&name).map(String::as_str),
                Some("counter"),
                "{name}"
            );
        }
        let (code, printed) = promtool_check(&text);
        assert_eq!((code, printed.as_str()), (Some(0), ""), "{text}");
    }
}

#[tokio::test]
async fn openmetrics_is_served_to_a_scraper_that_prefers_it() {
    let app = spawn_app().await;
    do_what_the_series_count(&app).await;
    for accept in [
        PROMETHEUS_2,
        PROMETHEUS_3,
        "application/openmetrics-text",
        "application/openmetrics-text; version=1.0.0, text/plain; q=0.9",
    ] {
        let (content_type, text) = scrape_accepting(&app, Some(accept)).await;
        assert_eq!(content_type, OPENMETRICS, "{accept}");
        let types = families(&text, Format::OpenMetrics);
        for name in COUNTERS {
            assert_eq!(
                types.get(name).map(String::as_str),
                Some("counter"),
                "{name}"
            );
        }
    }
    // Preferred less than the classic format, or in a version not served: the classic one.
    for accept in [
        "application/openmetrics-text;version=1.0.0;q=0.2,text/plain;version=0.0.4;q=0.5",
        "application/openmetrics-text;version=0.0.1,text/plain;q=0.5",
        "application/openmetrics-text;q=0",
    ] {
        let (content_type, text) = scrape_accepting(&app, Some(accept)).await;
        assert_eq!(content_type, CLASSIC, "{accept}");
        families(&text, Format::Classic);
    }
}

/// Burns some CPU time on this thread, so the process's CPU seconds (counted in hundredths)
/// cannot read 0.
fn spin(how_long: Duration) {
    let started = Instant::now();
    let mut x = 0u64;
    while started.elapsed() < how_long {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
}

#[tokio::test]
async fn the_process_series_are_read_at_scrape_time() {
    let app = spawn_app().await;
    spin(Duration::from_millis(50));
    let samples = scrape(&app).await;
    let process: BTreeMap<&str, f64> = samples
        .iter()
        .filter_map(|(series, v)| series.strip_prefix("process_").map(|name| (name, *v)))
        .collect();
    if !cfg!(target_os = "linux") {
        // Read from /proc: elsewhere they are not served.
        assert!(process.is_empty(), "{process:?}");
        return;
    }
    let get = |name: &str| {
        *process
            .get(name)
            .unwrap_or_else(|| panic!("no process_{name}"))
    };
    assert!(get("cpu_seconds_total") >= 0.01);
    assert!(get("resident_memory_bytes") > 1_048_576.0);
    assert!(get("virtual_memory_bytes") >= get("resident_memory_bytes"));
    assert!(get("open_fds") > 0.0);
    assert!(get("max_fds") >= get("open_fds"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = get("start_time_seconds");
    assert!(
        started <= now + 1.0 && started > now - 86_400.0,
        "{started} at {now}"
    );
    // The scrape reads them again: the CPU time moves.
    spin(Duration::from_millis(50));
    let again = scrape(&app).await;
    assert!(again["process_cpu_seconds_total"] > get("cpu_seconds_total"));
}

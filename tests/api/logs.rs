//! The real binary's log lines, as a collector reads them from a pipe: no colour codes, each
//! field once in a line, `latency_ms` a number, and Carat's stated refusal a warning, not an
//! error (the access line and the client's line alike).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::helpers::{PHONE_ESITEF_ERROR, TestApp, effectuation, post_to, spawn_app};

/// `carat-merchant serve` with its stdout and stderr a pipe, in either log format
/// (`process::ServiceProcess` finds its address in a JSON line; this one is told its port).
struct Binary {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    async fn start(app: &TestApp, format: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let env = app.env_with(&[
            ("LOG_FORMAT", format),
            ("LOG_FILTER", "info,carat_merchant=debug,sqlx=warn"),
        ]);
        let mut child = crate::process::binary("serve")
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let streams: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while app
            .client
            .get(format!("{base}/health/live"))
            .send()
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "not up: {:?}",
                lines.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, base, lines }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The lines so far, once one holds `needle` (at most 5 s).
    async fn lines_once(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let lines = self.lines.lock().unwrap().clone();
            if lines.iter().any(|l| l.contains(needle)) {
                return lines;
            }
            assert!(Instant::now() < deadline, "no {needle}: {lines:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines a top-up refused by Carat (esitef code 55, a 502 `carat_refused`) makes the real
/// binary write in `format`, its stdout a pipe.
async fn lines_of_a_refused_top_up(format: &str) -> Vec<String> {
    let app = spawn_app().await;
    let service = Binary::start(&app, format).await;
    app.sandbox
        .set_authenticity_url(service.url("/callbacks/authenticity").parse().unwrap());
    let (status, created) = post_to(
        &app.client,
        service.url("/api/v1/recharges"),
        &json!({"recharge_type": "normal"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, body) = post_to(
        &app.client,
        service.url(&format!("/api/v1/recharges/{id}/effectuate")),
        &effectuation(PHONE_ESITEF_ERROR, 1000),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "carat_refused", "{body}");
    // The access line is written once the answer has gone: wait for the 502's.
    let needle = if format == "json" {
        "\"status\":502"
    } else {
        "status=502"
    };
    let lines = service.lines_once(needle).await;
    assert!(lines.len() > 5, "{lines:?}");
    assert!(
        lines.iter().all(|l| !l.contains('\x1b')),
        "colour codes: {lines:?}"
    );
    lines
}

/// The names in a human line's `name=value` pairs (span fields and event fields alike).
fn human_field_names(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut names = Vec::new();
    let mut in_quotes = false;
    let mut start = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' if i > 0 && bytes[i - 1] != b'\\' => in_quotes = !in_quotes,
            _ if in_quotes => {}
            b' ' | b'{' => start = Some(i + 1),
            b'=' => {
                if let Some(s) = start.take() {
                    let name = &line[s..i];
                    if !name.is_empty() && name.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')
                    {
                        names.push(name);
                    }
                }
            }
            b'a'..=b'z' | b'_' => {}
            _ => start = None,
        }
    }
    names
}

#[tokio::test]
async fn human_lines_have_no_colour_codes_and_each_field_once() {
    let lines = lines_of_a_refused_top_up("human").await;
    for line in &lines {
        let mut seen = BTreeMap::new();
        for name in human_field_names(line) {
            *seen.entry(name).or_insert(0) += 1;
        }
        let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(repeated.is_empty(), "{repeated:?} in {line}");
    }
    // The effectuation's line carries the recharge and its NIT, once each.
    let effectuated = lines
        .iter()
        .find(|l| l.contains("/effectuate") && l.contains("finished processing request"))
        .expect("the effectuation's access line");
    assert!(effectuated.contains(" WARN "), "{effectuated}");
    assert!(effectuated.contains("status=502"), "{effectuated}");
    assert!(effectuated.contains("recharge_id=") && effectuated.contains("nit="));
    assert!(
        lines.iter().all(|l| !l.contains(" ERROR ")),
        "a refusal Carat states is no error: {lines:?}"
    );
}

/// A JSON line's object, and its keys as written (a repeated key would be lost by parsing).
fn parsed(line: &str) -> Map<String, Value> {
    let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let Value::Object(entry) = entry else {
        panic!("not an object: {line}")
    };
    for key in entry.keys() {
        let written = line
            .matches(&format!("{}:", Value::String(key.clone())))
            .count();
        let in_span = entry.get("span").and_then(|s| s.get(key)).is_some() as usize;
        assert_eq!(written, 1 + in_span, "{key} in {line}");
    }
    entry
}

#[tokio::test]
async fn json_lines_have_latency_ms_as_a_number_and_each_field_once() {
    let lines = lines_of_a_refused_top_up("json").await;
    let entries: Vec<_> = lines.iter().map(|l| parsed(l)).collect();
    for entry in &entries {
        if let Some(Value::Object(span)) = entry.get("span") {
            let both: Vec<_> = span.keys().filter(|k| entry.contains_key(*k)).collect();
            assert!(
                both.is_empty(),
                "{both:?} in the event and its span: {entry:?}"
            );
        }
        assert_ne!(entry["level"], "ERROR", "{entry:?}");
    }
    let access: Vec<_> = entries
        .iter()
        .filter(|e| e["message"] == "finished processing request")
        .collect();
    assert!(access.len() >= 3, "{lines:?}");
    for entry in &access {
        assert!(entry["latency_ms"].is_number(), "{entry:?}");
        assert!(entry["status"].is_u64(), "{entry:?}");
        assert!(entry.get("latency").is_none(), "{entry:?}");
    }
    let refused = access
        .iter()
        .find(|e| e["status"] == 502)
        .expect("the 502's access line");
    assert_eq!(refused["level"], "WARN");
    assert!(refused["span"]["recharge_id"].is_string(), "{refused:?}");
    // The client's own line says what Carat stated, at WARN.
    let stated = entries
        .iter()
        .find(|e| e["message"] == "carat call refused")
        .expect("the Carat client's line");
    assert_eq!(stated["level"], "WARN");
    assert!(
        stated["error"].as_str().unwrap().contains("55"),
        "{stated:?}"
    );
}

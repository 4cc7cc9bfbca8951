//! The real binary started before its database server (issue 17): it waits, trying again with
//! a growing pause up to `DATABASE_STARTUP_WAIT_SECS`, each try logged once at WARN, and is
//! ready once the server is; past the setting it exits non-zero, naming it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::process;

/// What the service logs on each try that fails.
const RETRY: &str = "the database server does not answer yet";

/// `carat-merchant serve` in the `local` profile, its JSON log lines read as they come.
struct Serve {
    child: Child,
    lines: Receiver<Value>,
    seen: Vec<Value>,
}

impl Serve {
    fn spawn(env: &[(&str, String)]) -> Self {
        let mut child = crate::process::binary("serve")
            .env("LOG_FORMAT", "json")
            .env("LOG_FILTER", "info,sqlx=warn")
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the carat-merchant binary starts");
        let (send, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Ok(entry) = serde_json::from_str(&line)
                    && send.send(entry).is_err()
                {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits at most `within` for the `times`-th log entry whose message holds `needle`.
    async fn until(mut self, needle: &'static str, times: usize, within: Duration) -> Self {
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + within;
            while self.count(needle) < times {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.lines.recv_timeout(left) {
                    Ok(entry) => self.seen.push(entry),
                    Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                        panic!(
                            "{needle:?} logged {} times, not {times}, within {within:?}: {:#?}",
                            self.count(needle),
                            self.seen
                        )
                    }
                }
            }
            self
        })
        .await
        .unwrap()
    }

    fn count(&self, needle: &str) -> usize {
        self.with(needle).count()
    }

    fn with<'a>(&'a self, needle: &'a str) -> impl Iterator<Item = &'a Value> {
        self.seen
            .iter()
            .filter(move |e| e["message"].as_str().is_some_and(|m| m.contains(needle)))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_waits_for_a_database_server_that_is_not_up_yet() {
    let cluster = Cluster::start_new();
    cluster.stop().await;
    let wait = Duration::from_secs(30);
    let service = Serve::spawn(&[
        (
            "DATABASE_URL",
            format!("{}/carat_startup", cluster.server_url()),
        ),
        ("DATABASE_STARTUP_WAIT_SECS", wait.as_secs().to_string()),
    ]);
    // Two tries failed: it waits rather than exits.
    let service = service.until(RETRY, 2, wait).await;
    cluster.start().await;
    let service = service.until("carat-merchant ready", 1, wait).await;

    let ready = service.with("carat-merchant ready").next().unwrap();
    let address = ready["local_addr"].as_str().unwrap();
    // The one TLS stack, as every test client has it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Ready also waits for the reconciler's first pass, which may come a moment after the
    // listener: asked until it answers 200, within the same bound.
    let deadline = Instant::now() + wait;
    loop {
        let response = reqwest::get(format!("http://{address}/health/ready"))
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            response.text().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Each try once, at WARN, numbered.
    let tries: Vec<&Value> = service.with(RETRY).collect();
    for (i, entry) in tries.iter().enumerate() {
        assert_eq!(entry["level"], "WARN", "{entry}");
        assert_eq!(entry["attempt"], i + 1, "{entry}");
        assert!(!entry.to_string().contains("postgres://"), "{entry}");
    }
    eprintln!("ready after {} failed tries", tries.len());
}

#[tokio::test]
async fn serve_exits_naming_the_setting_when_the_database_never_answers() {
    // A port nothing listens on: every connect is refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let wait = Duration::from_secs(1);
    let env = BTreeMap::from([
        (
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{port}/carat_never"),
        ),
        ("DATABASE_STARTUP_WAIT_SECS", wait.as_secs().to_string()),
        ("LISTEN_ADDR", "127.0.0.1:0".to_owned()),
    ]);
    let began = Instant::now();
    let output = process::run("serve", env).await;
    let took = began.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("DATABASE_STARTUP_WAIT_SECS") && stderr.contains(&format!(":{port}")),
        "{stderr}"
    );
    let tries = stdout.lines().filter(|l| l.contains(RETRY)).count();
    assert!(tries >= 2, "{stdout}");
    assert!(took >= wait, "exited after {took:?}");
    eprintln!(
        "exited {} after {took:?} and {tries} logged tries: {}",
        output.status,
        stderr.trim()
    );
}

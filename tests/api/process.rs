//! The real binary, `carat-merchant`, as a child process: started on port 0 with a test's
//! configuration, killed with SIGKILL when a crash is the point.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_carat-merchant");

fn command(env: &BTreeMap<&'static str, String>, subcommand: &str) -> Command {
    let mut command = Command::new(BINARY);
    command
        .arg(subcommand)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "APP_CONFIG_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        )
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .env("LOG_FORMAT", "json")
        .env("LOG_FILTER", "info,sqlx=warn");
    command
}

/// A running `carat-merchant serve`.
pub struct ServiceProcess {
    child: Child,
    pub address: String,
}

impl ServiceProcess {
    /// Starts `serve` on a port of its own and waits until it says it is ready.
    pub async fn start(env: BTreeMap<&'static str, String>) -> Self {
        tokio::task::spawn_blocking(move || Self::start_blocking(env))
            .await
            .unwrap()
    }

    fn start_blocking(mut env: BTreeMap<&'static str, String>) -> Self {
        env.insert("LISTEN_ADDR", "127.0.0.1:0".to_owned());
        let mut child = command(&env, "serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the carat-merchant binary starts");
        let stdout = child.stdout.take().unwrap();
        let (ready, address) = std::sync::mpsc::channel();
        // Reads the log for the ready line, then keeps draining it so the child never blocks.
        std::thread::spawn(move || {
            let echo = std::env::var_os("TEST_LOG").is_some();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if echo {
                    eprintln!("[service] {line}");
                }
                let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if entry["message"] == "carat-merchant ready" {
                    let _ = ready.send(entry["local_addr"].as_str().unwrap_or_default().to_owned());
                }
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(30))
            .expect("the service logs `carat-merchant ready` within 30 s");
        Self {
            child,
            address: format!("http://{address}"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// SIGKILL: no shutdown, no last write; whatever was in flight is cut.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("the killed child is reaped");
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `carat-merchant reconcile` to its end, checks that it succeeded, and returns the pass
/// report it prints.
pub async fn reconcile_once(env: BTreeMap<&'static str, String>) -> serde_json::Value {
    let output = tokio::task::spawn_blocking(move || command(&env, "reconcile").output())
        .await
        .unwrap()
        .expect("the carat-merchant binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "reconcile failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // The report is the one line that is not a log entry.
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("claimed").is_some())
        .unwrap_or_else(|| panic!("no pass report in {stdout}"))
}

//! The real binary, `carat-merchant`, as a child process: started on port 0 with a test's
//! configuration, killed with SIGKILL when a crash is the point.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_carat-merchant");

/// The binary with `subcommand`, an environment of its own (only `PATH` is kept, so nothing of
/// the developer's shell leaks in) and the repository's `config/`.
pub fn binary(subcommand: &str) -> Command {
    let mut command = Command::new(BINARY);
    command
        .arg(subcommand)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "APP_CONFIG_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        );
    command
}

fn command(env: &BTreeMap<&'static str, String>, subcommand: &str) -> Command {
    let mut command = binary(subcommand);
    command
        .env("LOG_FORMAT", "json")
        .env("LOG_FILTER", "info,sqlx=warn")
        // A test may ask for another filter (the secrets test logs everything).
        .envs(env.iter().map(|(k, v)| (*k, v)));
    command
}

/// A running `carat-merchant serve`.
pub struct ServiceProcess {
    child: Child,
    pub address: String,
    log: Arc<Log>,
}

/// Every line the process wrote, stdout and stderr, as it writes them.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

impl Log {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.grew.notify_all();
    }

    /// Reads the lines, after waiting at most `within` for `times` of them to hold `needle`.
    fn until(&self, needle: &str, times: usize, within: Duration) -> Vec<String> {
        let lines = self.lines.lock().unwrap();
        let (lines, _) = self
            .grew
            .wait_timeout_while(lines, within, |lines| {
                lines.iter().filter(|l| l.contains(needle)).count() < times
            })
            .unwrap();
        lines.clone()
    }
}

/// Copies `stream` line by line into `log`, and the stdout's ready line's address into `ready`.
fn drain(
    stream: impl std::io::Read + Send + 'static,
    log: Arc<Log>,
    ready: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        let echo = std::env::var_os("TEST_LOG").is_some();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if echo {
                eprintln!("[service] {line}");
            }
            if let (Some(ready), Ok(entry)) =
                (&ready, serde_json::from_str::<serde_json::Value>(&line))
                && entry["message"] == "carat-merchant ready"
            {
                let _ = ready.send(entry["local_addr"].as_str().unwrap_or_default().to_owned());
            }
            log.push(line);
        }
    });
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
            .stderr(Stdio::piped())
            .spawn()
            .expect("the carat-merchant binary starts");
        let log = Arc::new(Log::default());
        let (ready, address) = std::sync::mpsc::channel();
        // Both streams are drained for as long as the child lives, so it never blocks.
        drain(child.stdout.take().unwrap(), log.clone(), Some(ready));
        drain(child.stderr.take().unwrap(), log.clone(), None);
        let address = address
            .recv_timeout(Duration::from_secs(30))
            .expect("the service logs `carat-merchant ready` within 30 s");
        Self {
            child,
            address: format!("http://{address}"),
            log,
        }
    }

    /// Every line it wrote so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.until("", 0, Duration::ZERO)
    }

    /// Waits until a line holding `needle` is written; panics after `within`.
    pub async fn until_logged(&self, needle: &'static str, within: Duration) {
        self.until_logged_times(needle, 1, within).await;
    }

    /// Waits until `times` lines holding `needle` are written (the same event again: a line
    /// logged earlier must not answer for a later one); panics after `within`.
    pub async fn until_logged_times(&self, needle: &'static str, times: usize, within: Duration) {
        let log = self.log.clone();
        let lines = tokio::task::spawn_blocking(move || log.until(needle, times, within))
            .await
            .unwrap();
        let seen = lines.iter().filter(|l| l.contains(needle)).count();
        assert!(
            seen >= times,
            "the service logged {needle:?} {seen} times, not {times}, within {within:?}"
        );
    }

    /// Sends `signal` (`-TERM`, as an orchestrator stops it; `-INT`, as Ctrl-C does).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal}: {status}");
    }

    /// Waits at most `within` for the process to exit on its own.
    pub async fn exit_status(mut self, within: Duration) -> ExitStatus {
        let deadline = std::time::Instant::now() + within;
        tokio::task::spawn_blocking(move || {
            loop {
                if let Some(status) = self.child.try_wait().expect("the child can be waited on") {
                    return status;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the service did not exit within {within:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .unwrap()
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

/// Runs `carat-merchant <subcommand>` to its end.
pub async fn run(subcommand: &'static str, env: BTreeMap<&'static str, String>) -> Output {
    tokio::task::spawn_blocking(move || command(&env, subcommand).output())
        .await
        .unwrap()
        .expect("the carat-merchant binary runs")
}

/// Runs `carat-merchant reconcile` to its end, checks that it succeeded, and returns the pass
/// report it prints.
pub async fn reconcile_once(env: BTreeMap<&'static str, String>) -> serde_json::Value {
    let output = run("reconcile", env).await;
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

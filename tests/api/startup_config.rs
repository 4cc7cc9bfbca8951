//! Start-up with a bad configuration, as an operator meets it: the real binary's exit code and
//! what it prints on stderr. A bare copy of the binary, with no config/ beside it, starts on the
//! compiled-in files and the environment; a config/ beside it overrides them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use carat_merchant::config::SETTINGS;
use reqwest::StatusCode;

use crate::helpers::spawn_app;
use crate::process::ServiceProcess;

const BINARY: &str = env!("CARGO_BIN_EXE_carat-merchant");

/// What the operator sees.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// Runs the binary with only `env` (and `PATH`) in its environment, in `cwd`.
fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(BINARY)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("the carat-merchant binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `serve` with the repository's `config/` and `env`.
fn serve(env: &[(&str, &str)]) -> Run {
    let dir = config_dir();
    let mut env = env.to_vec();
    env.push(("APP_CONFIG_DIR", dir.to_str().unwrap()));
    run_in(Path::new(env!("CARGO_MANIFEST_DIR")), &["serve"], &env)
}

#[test]
fn an_unknown_profile_stops_start_up_naming_it_and_the_known_ones() {
    for profile in ["prod", "Production"] {
        let run = serve(&[("APP_PROFILE", profile)]);
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("APP_PROFILE `{profile}` is not a known profile")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("local, production"), "{}", run.stderr);
    }
}

#[test]
fn production_lists_every_missing_setting_in_one_message() {
    let run = serve(&[("APP_PROFILE", "production")]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    for env in [
        "DATABASE_URL",
        "API_TOKENS",
        "CARAT_BASE_URL",
        "CARAT_MERCHANT_ID",
        "CARAT_MERCHANT_KEY",
        "PIN_ENCRYPTION_KEYS",
    ] {
        let line = format!("  setting {env} is missing");
        assert!(run.stderr.contains(&line), "{env}: {}", run.stderr);
    }
}

#[test]
fn production_refuses_the_local_secrets_bad_urls_and_bad_filters_without_quoting_them() {
    let run = serve(&[
        ("APP_PROFILE", "production"),
        ("DATABASE_URL", "mysql://shop:hunter2@127.0.0.1:3306/shop"),
        ("API_TOKENS", "local-dev-token"),
        ("CARAT_BASE_URL", "https://example.test/e-sitef"),
        ("CARAT_MERCHANT_ID", "LOJAREAL"),
        ("CARAT_MERCHANT_KEY", "LOCALSANDBOXMERCHANTKEY0001"),
        (
            "PIN_ENCRYPTION_KEYS",
            "local:bG9jYWwtZGV2ZWxvcG1lbnQtcGluLWtleS1vbmx5ISE=",
        ),
        ("LOG_FILTER", "info,carat_merchant=loud"),
    ]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    for env in [
        "DATABASE_URL",
        "API_TOKENS",
        "CARAT_MERCHANT_KEY",
        "PIN_ENCRYPTION_KEYS",
        "LOG_FILTER",
    ] {
        let line = format!("  setting {env} is invalid");
        assert!(run.stderr.contains(&line), "{env}: {}", run.stderr);
    }
    for secret in [
        "hunter2",
        "mysql://",
        "local-dev-token",
        "LOCALSANDBOX",
        "bG9jYWwt",
    ] {
        assert!(!run.stderr.contains(secret), "{secret}: {}", run.stderr);
    }
}

#[test]
fn without_carat_base_url_production_stops_unless_the_sandbox_is_asked_for() {
    let run = serve(&[
        ("APP_PROFILE", "production"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused"),
        ("API_TOKENS", "a-real-token"),
        ("CARAT_MERCHANT_ID", "LOJAREAL"),
        ("CARAT_MERCHANT_KEY", "A-REAL-MERCHANT-KEY"),
    ]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("setting CARAT_BASE_URL is missing"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("SANDBOX=embedded"), "{}", run.stderr);
}

#[tokio::test]
async fn production_runs_the_embedded_sandbox_when_asked_explicitly() {
    // The test app's database, token and merchant, none of them local.toml's.
    let app = spawn_app().await;
    let env = app.env_with(&[
        ("APP_PROFILE", "production"),
        ("SANDBOX", "embedded"),
        ("CARAT_BASE_URL", ""),
    ]);
    let service = ServiceProcess::start(env).await;
    // The sandbox's routes are on the service's own listener.
    let status = app
        .client
        .get(service.url("/e-sitef/v3/rechargedealers"))
        .send()
        .await
        .unwrap()
        .status();
    assert_ne!(status, StatusCode::NOT_FOUND);
}

#[test]
fn an_unreachable_database_is_named_once_without_its_url() {
    // A port nothing listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres:hunter2@127.0.0.1:{port}/carat_merchant");
    let run = serve(&[("DATABASE_URL", &url), ("LISTEN_ADDR", "127.0.0.1:0")]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("DATABASE_URL").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}

#[test]
fn an_app_config_dir_that_is_not_there_stops_start_up_naming_it() {
    let dir = std::env::temp_dir().join(format!("carat-merchant-{}", uuid::Uuid::new_v4()));
    let run = run_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["serve"],
        &[("APP_CONFIG_DIR", dir.to_str().unwrap())],
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("APP_CONFIG_DIR names {}", dir.display())),
        "{}",
        run.stderr
    );
}

/// A directory holding a copy of the binary and nothing else; removed with the test.
struct BareDir(PathBuf);

impl BareDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("carat-bare-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(BINARY, dir.join("carat-merchant")).unwrap();
        Self(dir)
    }

    /// Starts the copy in its directory with only `env` (and `PATH`), and waits for its ready
    /// line (JSON: the production profile's log format): the process and its address.
    fn serve(&self, env: &BTreeMap<&'static str, String>) -> (KillOnDrop, String) {
        let mut child = Command::new(self.0.join("carat-merchant"))
            .arg("serve")
            .current_dir(&self.0)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if entry["message"] == "carat-merchant ready" {
                    let _ = sender.send(entry["local_addr"].as_str().unwrap().to_owned());
                }
            }
        });
        let child = KillOnDrop(child);
        let address = ready
            .recv_timeout(Duration::from_secs(30))
            .expect("the bare binary is ready within 30 s");
        (child, address)
    }
}

impl Drop for BareDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_bare_binary_starts_on_the_environment_alone_and_a_config_directory_beside_it_overrides()
{
    let app = spawn_app().await;
    let bare = BareDir::new();
    // The production profile from the compiled-in files, with the six settings it needs.
    let mut env = app.env_with(&[("APP_PROFILE", "production")]);
    env.insert("LISTEN_ADDR", "127.0.0.1:0".to_owned());
    let (service, address) = bare.serve(&env);
    let ready = app
        .client
        .get(format!("http://{address}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    drop(service);

    // config/ beside it overrides the compiled-in production.toml's listen_addr
    // (0.0.0.0:8080) with a port of the test's, LISTEN_ADDR being unset.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir(bare.0.join("config")).unwrap();
    let overriding = format!("listen_addr = \"127.0.0.1:{port}\"\n");
    std::fs::write(bare.0.join("config/production.toml"), overriding).unwrap();
    env.remove("LISTEN_ADDR");
    let (_service, address) = bare.serve(&env);
    assert_eq!(address, format!("127.0.0.1:{port}"));
}

#[test]
fn help_lists_every_setting() {
    for args in [&["--help"][..], &["serve", "--help"]] {
        let run = run_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, &[]);
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
        for setting in SETTINGS {
            let env = setting.key.to_uppercase();
            assert!(
                run.stdout.contains(&format!("  {env} [default: ")),
                "{args:?} misses {env}:\n{}",
                run.stdout
            );
        }
    }
}

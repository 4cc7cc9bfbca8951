//! Start-up with a bad configuration, as an operator meets it: the real binary's exit code and
//! what it prints on stderr.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

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
fn outside_the_repository_the_message_names_app_config_dir_and_where_it_looked() {
    let dir = std::env::temp_dir().join(format!("carat-merchant-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).unwrap();
    let run = run_in(&dir, &["serve"], &[]);
    std::fs::remove_dir(&dir).unwrap();
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("APP_CONFIG_DIR"), "{}", run.stderr);
    let looked = dir.join("config").join("default.toml");
    assert!(
        run.stderr.contains(looked.to_str().unwrap()),
        "{}",
        run.stderr
    );
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

//! `carat-merchant homologate`, the real binary: every case against the sandbox, a case made
//! to fail by a sandbox fault, the production refusal, and reports searched for secrets.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use url::Url;

use crate::helpers::{
    MERCHANT_KEY, Options, PIN_KEYS, TOKEN, TestApp, fixture, spawn_app, spawn_app_with,
};
use crate::process;
use carat_sandbox::{Fault, Operation, payments};

/// Runs `homologate` with `args` and `env` to its end; `stdin` is written to it.
async fn homologate(args: &[&str], env: BTreeMap<&'static str, String>, stdin: &str) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = process::binary("homologate");
        command
            .args(&args)
            .env("LOG_FORMAT", "json")
            .env("LOG_FILTER", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the binary starts");
        if let Some(mut input) = child.stdin.take() {
            use std::io::Write;
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("the binary ends")
    })
    .await
    .unwrap()
}

/// The test app's environment with the embedded sandbox playing Carat on a port of its own.
fn embedded(app: &TestApp) -> BTreeMap<&'static str, String> {
    let mut env = app.env_with(&[("SANDBOX", "embedded"), ("LISTEN_ADDR", "127.0.0.1:0")]);
    env.remove("CARAT_BASE_URL");
    env
}

/// A directory of its own for a report, removed when dropped.
struct ReportDir(PathBuf);

impl ReportDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("hml-report-{}", uuid::Uuid::new_v4()));
        Self(dir)
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }

    fn json(&self) -> Value {
        let text = std::fs::read_to_string(self.0.join("report.json")).expect("report.json");
        serde_json::from_str(&text).unwrap()
    }

    /// The three files' text, each by name.
    fn texts(&self) -> Vec<(String, String)> {
        ["report.json", "report.md", "report.html"]
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.0.join(name)).expect(name);
                ((*name).to_owned(), text)
            })
            .collect()
    }
}

impl Drop for ReportDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn outcomes(report: &Value) -> BTreeMap<String, String> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn every_case_passes_against_the_sandbox_and_the_report_holds_no_secret() {
    let app = spawn_app().await;
    let dir = ReportDir::new();
    let output = homologate(&["--report", dir.arg()], embedded(&app), "").await;
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    let report = dir.json();
    let outcomes = outcomes(&report);
    assert_eq!(outcomes.len(), 14, "{outcomes:?}");
    for (name, outcome) in &outcomes {
        // Signature mode has its own test, configured for it.
        let expected = if name == "signature_mode" {
            "skipped"
        } else {
            "pass"
        };
        assert_eq!(outcome, expected, "{name}: {printed}");
    }
    // A progress line per case, and the URLs to register.
    assert!(
        printed.contains("[14/14] lost_effectuation_answer PASS ("),
        "{printed}"
    );
    assert!(printed.contains("/callbacks/authenticity"), "{printed}");
    // Every sale ended: none left open.
    for case in report["cases"].as_array().unwrap() {
        for sale in case["sales"].as_array().unwrap() {
            let status = sale["status"].as_str().unwrap();
            assert!(
                ["confirmed", "undone", "failed"].contains(&status),
                "{sale}"
            );
            assert!(
                sale["nit"].is_string() && sale["merchant_usn"].is_string(),
                "{sale}"
            );
        }
    }
    let lost = &report["cases"].as_array().unwrap()[13];
    assert!(
        lost["simulated"].as_str().unwrap().contains("simulated"),
        "{lost}"
    );
    assert_no_secret(&app, &dir).await;
}

/// Searches the three files for every secret the run had: the merchant key, the API token and
/// the PIN key, the card numbers, the stored card's token and the PIN sold.
async fn assert_no_secret(app: &TestApp, dir: &ReportDir) {
    let tokens: Vec<String> = sqlx::query_scalar("SELECT token FROM cards WHERE token IS NOT NULL")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(!tokens.is_empty(), "the stored card case kept a token");
    let pins = sold_pins(app).await;
    assert!(!pins.is_empty(), "the PIN case sold a PIN");
    let pin_key = PIN_KEYS.split_once(':').unwrap().1;
    let mut secrets = vec![
        MERCHANT_KEY,
        TOKEN,
        pin_key,
        "4111111111111111",
        payments::DENIED_CARD,
    ];
    secrets.extend(tokens.iter().map(String::as_str));
    secrets.extend(pins.iter().map(String::as_str));
    for (name, text) in dir.texts() {
        for secret in &secrets {
            assert!(!text.contains(secret), "{name} holds a secret");
        }
        // A security code appears only redacted.
        for (i, _) in text.match_indices("security_code") {
            let after = &text[i..(i + 40).min(text.len())];
            assert!(after.contains("redacted"), "{name}: {after}");
        }
    }
    let report = dir.json();
    let pin_case = &report["cases"].as_array().unwrap()[5];
    assert!(
        pin_case["sales"][0]["pin"]
            .as_str()
            .unwrap()
            .starts_with("****"),
        "{pin_case}"
    );
}

/// The PINs the run sold, read as the storefront reads them (its `GET` opens the receipt).
async fn sold_pins(app: &TestApp) -> Vec<String> {
    let ids: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM recharges WHERE recharge_type = 'others'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let mut pins = Vec::new();
    for id in ids {
        let recharge = app.recharge(&id.to_string()).await;
        let receipt = recharge["receipts"]["customer"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        pins.extend(
            receipt
                .lines()
                .filter_map(|l| l.strip_prefix("PIN: "))
                .map(|p| p.trim().to_owned()),
        );
    }
    pins
}

#[tokio::test]
async fn the_signature_mode_case_passes_when_configured() {
    let key = fixture("jwt-test.key");
    let app = spawn_app_with(Options {
        auth_mode: "signature",
        jwt_private_key: Some(key),
        ..Options::default()
    })
    .await;
    let dir = ReportDir::new();
    let only = ["--only", "signature_mode", "--report", dir.arg()];
    let output = homologate(&only, embedded(&app), "").await;
    assert!(output.status.success(), "{}", text(&output));
    let report = dir.json();
    assert_eq!(outcomes(&report)["signature_mode"], "pass");
    assert_eq!(report["cases"][0]["sales"][0]["auth_mode"], "signature");
}

/// A free port on loopback for the runner's listener (the sandbox must know it beforehand).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_sandbox_fault_fails_its_case_names_the_step_and_the_sale_still_ends() {
    let app = spawn_app().await;
    // The test's sandbox plays Carat at CARAT_BASE_URL; its callbacks go to the runner.
    let listen = format!("127.0.0.1:{}", free_port());
    let callback = |name: &str| Url::parse(&format!("http://{listen}/callbacks/{name}")).unwrap();
    app.sandbox.set_authenticity_url(callback("authenticity"));
    app.sandbox.set_status_url(callback("status"));
    app.sandbox.set_hash_url(callback("hash"));
    // The confirmation is lost once: the case fails there, and the reconciler ends the sale.
    app.sandbox.inject(Operation::Confirm, Fault::Error500, 1);
    let dir = ReportDir::new();
    let env = app.env_with(&[("LISTEN_ADDR", listen.as_str())]);
    let only = "top_up_confirmed,card_denied,lost_effectuation_answer";
    let args = ["--only", only, "--report", dir.arg()];
    let output = homologate(&args, env, "").await;
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains("top_up_confirmed FAIL"), "{printed}");
    let report = dir.json();
    let case = &report["cases"][0];
    assert_eq!(case["outcome"], "fail");
    assert!(
        case["reason"]
            .as_str()
            .unwrap()
            .contains("step `confirm` failed"),
        "{case}"
    );
    let failed: Vec<_> = case["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{case}");
    assert_eq!(failed[0]["name"], "confirm");
    // Ended all the same: Carat was asked, and the confirmation went through.
    let sale = &case["sales"][0];
    assert_eq!(sale["status"], "confirmed", "{sale}");
    assert!(
        sale["ended"].as_str().unwrap().contains("reconciler"),
        "{sale}"
    );
    // Against a Carat that is not the embedded sandbox, a test card must be configured, and
    // the simulated case cannot run: both are skipped, each with its reason.
    let denied = &report["cases"][1];
    assert_eq!(denied["outcome"], "skipped", "{denied}");
    let reason = denied["reason"].as_str().unwrap();
    assert!(
        reason.contains("HOMOLOGATION_DENIED_CARD_NUMBER is not set"),
        "{reason}"
    );
    let simulated = &report["cases"][2];
    assert_eq!(simulated["outcome"], "skipped", "{simulated}");
    assert!(
        simulated["reason"]
            .as_str()
            .unwrap()
            .contains("embedded sandbox")
    );
    // Markdown escapes the backticks; HTML may escape nothing else here.
    for (name, text) in dir.texts() {
        let text = text.replace('\\', "");
        assert!(text.contains("step `confirm` failed"), "{name}");
    }
}

#[tokio::test]
async fn production_is_refused_without_its_confirmation() {
    let app = spawn_app().await;
    let production = "https://esitef-ec.softwareexpress.com.br/e-sitef";
    let env = app.env_with(&[("CARAT_BASE_URL", production)]);
    let dir = ReportDir::new();
    let refused = homologate(&["--report", dir.arg()], env.clone(), "").await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused).contains("production"), "{}", text(&refused));
    // Given, but not confirmed: the merchant id is not typed back.
    let args = ["--production", "--report", dir.arg()];
    let unconfirmed = homologate(&args, env, "yes\n").await;
    assert_eq!(unconfirmed.status.code(), Some(2));
    assert!(
        text(&unconfirmed).contains("not confirmed"),
        "{}",
        text(&unconfirmed)
    );
    assert!(!Path::new(dir.arg()).exists(), "nothing was written");
    // A host the runner does not know may be production too.
    let unknown = app.env_with(&[("CARAT_BASE_URL", "https://carat.example.com/e-sitef")]);
    let refused = homologate(&["--report", dir.arg()], unknown, "").await;
    assert_eq!(refused.status.code(), Some(2));
}

#[tokio::test]
async fn list_prints_every_case_with_its_source_and_only_refuses_an_unknown_name() {
    let listed = homologate(&["--list"], BTreeMap::new(), "").await;
    assert!(listed.status.success());
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert_eq!(listed.matches("source: ").count(), 14, "{listed}");
    assert!(
        listed.contains("tv_package") && listed.contains("seed 004"),
        "{listed}"
    );
    let app = spawn_app().await;
    let dir = ReportDir::new();
    let args = ["--only", "top_up", "--report", dir.arg()];
    let refused = homologate(&args, embedded(&app), "").await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused).contains("top_up_confirmed"),
        "{}",
        text(&refused)
    );
}

#[tokio::test]
async fn an_interrupted_run_ends_the_case_under_way_and_skips_the_rest() {
    let app = spawn_app().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let callback = |name: &str| Url::parse(&format!("http://{listen}/callbacks/{name}")).unwrap();
    app.sandbox.set_authenticity_url(callback("authenticity"));
    // The first effectuation is answered after the sandbox's slow delay: the signal comes
    // while it is out.
    app.sandbox.inject(Operation::Effectuate, Fault::Slow, 1);
    let dir = ReportDir::new();
    let env = app.env_with(&[("LISTEN_ADDR", listen.as_str())]);
    let report_dir = dir.arg().to_owned();
    let (code, printed) = tokio::task::spawn_blocking(move || {
        use std::io::{BufRead, BufReader};
        let mut child = process::binary("homologate")
            .args(["--only", "top_up_confirmed,top_up_undone,status_query"])
            .args(["--report", &report_dir])
            .env("LOG_FILTER", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let first_case_began = line.starts_with("[ 1/3] top_up_confirmed ...");
            printed.push(line);
            if first_case_began {
                let pid = child.id().to_string();
                assert!(
                    Command::new("kill")
                        .args(["-INT", &pid])
                        .status()
                        .unwrap()
                        .success()
                );
                break;
            }
        }
        printed.extend(lines.map_while(Result::ok));
        (child.wait().unwrap().code(), printed.join("\n"))
    })
    .await
    .unwrap();
    assert_eq!(code, Some(130), "{printed}");
    let report = dir.json();
    assert_eq!(report["environment"]["interrupted"], true);
    let cases = report["cases"].as_array().unwrap();
    // The case under way finished, its sale confirmed; the others never began.
    assert_eq!(cases[0]["outcome"], "pass", "{}", cases[0]);
    assert_eq!(cases[0]["sales"][0]["status"], "confirmed");
    for case in &cases[1..] {
        assert_eq!(case["outcome"], "skipped", "{case}");
        assert!(case["reason"].as_str().unwrap().contains("interrupted"));
        assert!(case["sales"].as_array().unwrap().is_empty());
    }
}

//! The report's three forms, written side by side in `--report DIR`.

mod html;
mod markdown;

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use super::evidence::{Outcome, Report, SaleRecord};

/// Where [`write`] put the three files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub json: PathBuf,
    pub markdown: PathBuf,
    pub html: PathBuf,
}

/// Writes `report.json`, `report.md` and `report.html` into `dir`, creating it if need be.
pub fn write(dir: &Path, report: &Report) -> std::io::Result<Written> {
    std::fs::create_dir_all(dir)?;
    let written = Written {
        json: dir.join("report.json"),
        markdown: dir.join("report.md"),
        html: dir.join("report.html"),
    };
    let mut json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    json.push('\n');
    std::fs::write(&written.json, json)?;
    std::fs::write(&written.markdown, markdown(report))?;
    std::fs::write(&written.html, html(report))?;
    Ok(written)
}

/// The report as Markdown (pt-BR first, English second).
pub fn markdown(report: &Report) -> String {
    markdown::render(report)
}

/// The report as one self-contained HTML page: no script, no external resource.
pub fn html(report: &Report) -> String {
    html::render(report)
}

// What both forms say the same way, so that they cannot drift apart.

const TITLE: &str = "Roteiro de homologação — Carat Portal / Homologation report";

const SANDBOX_NOTE: &str = "O sandbox embutido fez o papel da Carat: esta evidência é apenas \
     deste serviço, não da Carat. / The embedded sandbox played Carat: this evidence is of this \
     service only, not of Carat.";

const SIMULATED_NOTE: &str = "falha provocada de propósito pelo sandbox / a fault the sandbox \
     made on purpose";

/// The outcome as words: the badge's colour is never the only thing that says it.
fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASSOU / pass",
        Outcome::Fail => "FALHOU / fail",
        Outcome::Skipped => "IGNORADO / skipped",
    }
}

fn ok_label(ok: bool) -> &'static str {
    if ok { "OK / ok" } else { "FALHOU / fail" }
}

fn yes_no(yes: bool) -> &'static str {
    if yes { "sim / yes" } else { "não / no" }
}

/// UTC, RFC 3339, to the millisecond (steps of one case are often milliseconds apart).
fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn elapsed(ms: u64) -> String {
    format!("{ms} ms")
}

/// What stands for a value that is absent.
const NONE: &str = "—";

/// One line of a sale's fields.
struct Field {
    label: &'static str,
    value: Option<String>,
    /// An identifier, code or status, shown as code; otherwise prose.
    literal: bool,
}

impl Field {
    fn literal(label: &'static str, value: Option<&str>) -> Self {
        let value = value.map(str::to_owned);
        Self {
            label,
            value,
            literal: true,
        }
    }

    fn prose(label: &'static str, value: Option<&str>) -> Self {
        let value = value.map(str::to_owned);
        Self {
            label,
            value,
            literal: false,
        }
    }
}

/// A sale's fields as both forms list them, in order.
fn sale_fields(sale: &SaleRecord) -> Vec<Field> {
    let error = sale.last_error.as_ref();
    let mut fields = vec![
        Field::literal("Recarga / Recharge id", Some(&sale.recharge_id)),
        Field::literal("Tipo / Type", Some(&sale.recharge_type)),
        Field::literal("Pedido / Order id", Some(&sale.order_id)),
        Field::literal("NIT", sale.nit.as_deref()),
        Field::literal("USN do lojista / Merchant USN", Some(&sale.merchant_usn)),
        Field::literal(
            "USN da Carat / Carat's USN (esitef_usn)",
            sale.esitef_usn.as_deref(),
        ),
        Field::literal("Status", Some(&sale.status)),
        Field::literal(
            "Status na Carat / Carat status",
            sale.carat_status.as_deref(),
        ),
        Field::literal("Autenticação / Auth mode", Some(&sale.auth_mode)),
        Field::prose("Desfecho / How it ended", Some(&sale.ended)),
        Field::literal(
            "Último erro, código / Last error code",
            error.and_then(|e| e.code.as_deref()),
        ),
        Field::prose(
            "Último erro, mensagem / Last error message",
            error.and_then(|e| e.message.as_deref()),
        ),
    ];
    if let Some(pin) = &sale.pin {
        fields.push(Field::literal("PIN (mascarado / masked)", Some(pin)));
    }
    fields
}

/// The fixture's clock: `ms` milliseconds after 2025-03-14T12:00:00Z.
#[cfg(test)]
fn at(ms: i64) -> DateTime<Utc> {
    use chrono::TimeZone;
    let t0 = Utc
        .with_ymd_and_hms(2025, 3, 14, 12, 0, 0)
        .single()
        .expect("a valid time");
    t0 + chrono::Duration::milliseconds(ms)
}

/// A PIN sale with a history, one entry of which holds a `|` and a newline.
#[cfg(test)]
fn sample_sale() -> SaleRecord {
    use super::evidence::{CaratAnswer, HistoryEntry, mask_pin};
    SaleRecord {
        recharge_id: "rc-0001".into(),
        recharge_type: "pin".into(),
        order_id: "order-42".into(),
        nit: Some("nit-abc".into()),
        merchant_usn: "100200".into(),
        esitef_usn: Some("987654".into()),
        status: "confirmed".into(),
        carat_status: Some("CON".into()),
        auth_mode: "authenticity".into(),
        ended: "confirmed by the merchant".into(),
        last_error: Some(CaratAnswer {
            code: Some("0".into()),
            message: Some("OK".into()),
        }),
        pin: Some(mask_pin("1234567890")),
        history: vec![
            HistoryEntry {
                at: at(10),
                kind: "outbound_call".into(),
                name: "begin_transaction".into(),
                actor: Some("service".into()),
                detail: serde_json::json!({"request": {"amount": 1000}, "answer": {"code": "0"}}),
            },
            HistoryEntry {
                at: at(20),
                kind: "callback".into(),
                name: "status".into(),
                actor: None,
                detail: serde_json::json!({"note": "a|b\nc", "n": 1}),
            },
        ],
    }
}

/// One case of each outcome; the failing one with markup in a step's detail.
#[cfg(test)]
fn sample_cases() -> Vec<super::evidence::CaseReport> {
    use super::evidence::{CardRecord, CaseReport, StepRecord};
    let passed = CaseReport {
        name: "top_up_confirmed".into(),
        title: "Recarga confirmada / Top-up confirmed".into(),
        source: "seed page 3".into(),
        simulated: None,
        outcome: Outcome::Pass,
        reason: None,
        started_at: at(0),
        elapsed_ms: 1234,
        steps: vec![StepRecord {
            at: at(5),
            name: "begin".into(),
            ok: true,
            detail: "status NOV".into(),
        }],
        sales: vec![sample_sale()],
        cards: vec![CardRecord {
            card_id: "card-7".into(),
            nita: Some("nita-1".into()),
            nsua: None,
            status: "active".into(),
            last4: Some("4242".into()),
            hash_notified: true,
        }],
    };
    let failed = CaseReport {
        name: "timeout_undone".into(),
        title: "Tempo esgotado desfeito / Timeout undone".into(),
        source: "digest §4.2".into(),
        simulated: Some("Carat times out on confirm".into()),
        outcome: Outcome::Fail,
        reason: Some("step confirm: expected status undone, got in_doubt".into()),
        started_at: at(2000),
        elapsed_ms: 30_001,
        steps: vec![StepRecord {
            at: at(2001),
            name: "confirm".into(),
            ok: false,
            detail: "<b>not undone</b>".into(),
        }],
        sales: Vec::new(),
        cards: Vec::new(),
    };
    let skipped = CaseReport {
        name: "card_stored".into(),
        title: "Cartão guardado / Card stored".into(),
        source: "seed page 9".into(),
        simulated: None,
        outcome: Outcome::Skipped,
        reason: Some("no card flow configured".into()),
        started_at: at(40_000),
        elapsed_ms: 0,
        steps: Vec::new(),
        sales: Vec::new(),
        cards: Vec::new(),
    };
    vec![passed, failed, skipped]
}

/// A small report of a sandbox run, for the renderers' tests.
#[cfg(test)]
pub(crate) fn sample() -> Report {
    use super::evidence::{CallbackUrl, Check, Environment, Summary};
    let cases = sample_cases();
    Report {
        environment: Environment {
            carat_url: "http://127.0.0.1:8089".into(),
            sandbox: true,
            merchant_id: "MERCHANT01".into(),
            auth_mode: "authenticity".into(),
            version: "0.1.0".into(),
            run_id: "R1N2I3D4".into(),
            interrupted: false,
            callback_urls: vec![CallbackUrl {
                callback: "status".into(),
                url: "https://shop.example/carat/status".into(),
            }],
            started_at: at(0),
            finished_at: at(41_000),
        },
        preflight: vec![
            Check {
                name: "database".into(),
                ok: true,
                detail: "migrations applied".into(),
            },
            Check {
                name: "carat_reachable".into(),
                ok: true,
                detail: "HTTP 200".into(),
            },
        ],
        summary: Summary::of(&cases),
        cases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_puts_the_three_forms_in_the_directory() {
        let dir = std::env::temp_dir().join(format!("carat-report-{}", uuid::Uuid::new_v4()));
        let report = sample();
        let written = write(&dir.join("nested"), &report).expect("written");
        for path in [&written.json, &written.markdown, &written.html] {
            assert!(path.is_file(), "{}", path.display());
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&written.json).expect("read"))
                .expect("json");
        let names: Vec<&str> = json["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["top_up_confirmed", "timeout_undone", "card_stored"]);
        let md = std::fs::read_to_string(&written.markdown).expect("read");
        assert_eq!(md, markdown(&report));
        std::fs::remove_dir_all(&dir).expect("removed");
    }

    #[test]
    fn every_outcome_has_words() {
        for outcome in [Outcome::Pass, Outcome::Fail, Outcome::Skipped] {
            assert!(outcome_label(outcome).ends_with(outcome.as_str()));
        }
    }
}

//! What a homologation run found, as the report holds it: plain data, serialised as
//! `report.json` and rendered as `report.md` and `report.html`. Nothing here may hold a
//! secret: the merchant key, card numbers, security codes and tokens never enter these types,
//! and a PIN enters only masked ([`mask_pin`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub environment: Environment,
    /// The checks made before the first case.
    pub preflight: Vec<Check>,
    pub summary: Summary,
    pub cases: Vec<CaseReport>,
}

/// Where and when the run happened.
#[derive(Clone, Debug, Serialize)]
pub struct Environment {
    /// Carat's base URL (the embedded sandbox's own URL when none is configured).
    pub carat_url: String,
    /// The embedded sandbox played Carat: the evidence is of this service, not of Carat.
    pub sandbox: bool,
    pub merchant_id: String,
    /// `authenticity` or `signature`.
    pub auth_mode: String,
    /// This build's version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// Unique to the run: every order id it makes starts `HML<run_id>` (what to search for in
    /// the console).
    pub run_id: String,
    /// The run was stopped (SIGINT or SIGTERM) before its last case: the cases not begun are
    /// skipped.
    pub interrupted: bool,
    /// The URLs that must be registered with Carat, by callback.
    pub callback_urls: Vec<CallbackUrl>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CallbackUrl {
    /// `authenticity`, `status` or `hash`.
    pub callback: String,
    pub url: String,
}

/// One check before the first case.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn of(cases: &[CaseReport]) -> Self {
        let count = |o: Outcome| cases.iter().filter(|c| c.outcome == o).count();
        Self {
            passed: count(Outcome::Pass),
            failed: count(Outcome::Fail),
            skipped: count(Outcome::Skipped),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skipped => "skipped",
        }
    }
}

/// One case of the script.
#[derive(Clone, Debug, Serialize)]
pub struct CaseReport {
    /// The name `--only` takes, e.g. `top_up_confirmed`.
    pub name: String,
    pub title: String,
    /// Where the flow comes from: the seed page or the digest's section.
    pub source: String,
    /// Set when the case ran against a fault the sandbox made on purpose: what it simulated.
    pub simulated: Option<String>,
    pub outcome: Outcome,
    /// Why it failed (naming the failing step) or was skipped.
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub elapsed_ms: u64,
    pub steps: Vec<StepRecord>,
    /// Every sale the case made, as it ended.
    pub sales: Vec<SaleRecord>,
    /// Every card the case stored.
    pub cards: Vec<CardRecord>,
}

/// One step of a case, in order.
#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    pub at: DateTime<Utc>,
    pub name: String,
    pub ok: bool,
    /// What the step saw (a status, a code), or why it failed.
    pub detail: String,
}

/// A recharge the case made, read back from the history once the case was over.
#[derive(Clone, Debug, Serialize)]
pub struct SaleRecord {
    pub recharge_id: String,
    pub recharge_type: String,
    pub order_id: String,
    pub nit: Option<String>,
    pub merchant_usn: String,
    /// Carat's USN (`esitef_usn`), once Carat gave one.
    pub esitef_usn: Option<String>,
    /// This service's status, and Carat's as last seen.
    pub status: String,
    pub carat_status: Option<String>,
    pub auth_mode: String,
    /// How the sale ended: who confirmed or undid it, or why nothing was charged.
    pub ended: String,
    pub last_error: Option<CaratAnswer>,
    /// A PIN sale's PIN, masked; the PIN itself is only in the database, encrypted.
    pub pin: Option<String>,
    /// The history as stored: every call (its request and answer, redacted), callback and
    /// state change.
    pub history: Vec<HistoryEntry>,
}

/// Carat's code and message.
#[derive(Clone, Debug, Serialize)]
pub struct CaratAnswer {
    pub code: Option<String>,
    pub message: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// `outbound_call`, `callback`, `state_change` or `operator_action`.
    pub kind: String,
    pub name: String,
    pub actor: Option<String>,
    pub detail: serde_json::Value,
}

/// A card the case stored (never its number: its BIN and last four at most).
#[derive(Clone, Debug, Serialize)]
pub struct CardRecord {
    pub card_id: String,
    pub nita: Option<String>,
    pub nsua: Option<String>,
    pub status: String,
    pub last4: Option<String>,
    /// Whether the HASH notification of its storage was received and committed.
    pub hash_notified: bool,
}

/// A PIN as the report shows it: its last two characters, the rest starred; a PIN of four
/// characters or fewer is starred whole (two would be half of it).
pub fn mask_pin(pin: &str) -> String {
    let chars: Vec<char> = pin.chars().collect();
    let hidden = if chars.len() <= 4 {
        chars.len()
    } else {
        chars.len() - 2
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < hidden { '*' } else { *c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_shows_at_most_its_last_two_characters() {
        assert_eq!(mask_pin("1234567890"), "********90");
        assert_eq!(mask_pin("1234"), "****");
        assert_eq!(mask_pin(""), "");
    }
}

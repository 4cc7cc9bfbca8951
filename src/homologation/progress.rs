//! One line per case on the terminal: its place, name, elapsed time and outcome.

use std::time::Duration;

use super::evidence::{Outcome, Summary};

pub fn started(index: usize, total: usize, name: &str) -> String {
    format!("[{index:>2}/{total}] {name} ...")
}

pub fn finished(
    index: usize,
    total: usize,
    name: &str,
    outcome: Outcome,
    elapsed: Duration,
    reason: Option<&str>,
) -> String {
    let word = match outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Skipped => "SKIP",
    };
    let reason = reason.map(|r| format!(": {r}")).unwrap_or_default();
    format!(
        "[{index:>2}/{total}] {name} {word} ({:.1} s){reason}",
        elapsed.as_secs_f64()
    )
}

pub fn summary(summary: Summary) -> String {
    format!(
        "{} passed, {} failed, {} skipped",
        summary.passed, summary.failed, summary.skipped
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_the_case_its_outcome_and_time() {
        let line = finished(
            3,
            14,
            "card_denied",
            Outcome::Fail,
            Duration::from_millis(1234),
            Some("step `create` failed"),
        );
        assert_eq!(
            line,
            "[ 3/14] card_denied FAIL (1.2 s): step `create` failed"
        );
    }
}

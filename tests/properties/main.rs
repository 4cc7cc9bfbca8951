//! Property tests: every format type of `domain` and the authenticity POST's form parser take
//! any input without panicking, and accept it exactly when the documented format holds (the
//! rules are written again, independently, in `oracle.rs`). See `docs/testing.md`.

mod callback_form;
mod codes;
mod formats;
mod hash_form;
mod oracle;
mod payment_methods;
mod status_form;
mod strategies;

use proptest::test_runner::{Config, FileFailurePersistence};

/// A fixed, small case count so that CI stays quick (`PROPTEST_CASES` overrides it), and one
/// regression file at the crate's root: a failing case found once is tried first ever after.
pub fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/properties.txt"
        )))),
        ..Config::default()
    }
}

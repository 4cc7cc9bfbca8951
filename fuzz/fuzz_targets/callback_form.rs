//! The authenticity POST's form parser on any bytes: it must not panic, and must answer as the
//! documented rules say (the property tests' oracle, shared; any disagreement panics).

#![no_main]

use libfuzzer_sys::fuzz_target;

// Shared with tests/properties, which use the rest of the file.
#[allow(dead_code)]
#[path = "../../tests/properties/oracle.rs"]
mod oracle;

fuzz_target!(|body: &[u8]| oracle::assert_parse_post_agrees(body));

//! The operator console (`/console`) in a real browser: headless Chromium driven over WebDriver
//! (`webdriver.rs`), against the real service over HTTP on port 0, the embedded sandbox
//! playing Carat and a fresh PostgreSQL database per test (the api tests' `spawn_app`).

// The api tests' harness, shared as it is (each test binary uses a part of it).
#[allow(dead_code)]
#[path = "../api/database.rs"]
mod database;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod actions;
mod browser;
mod cluster;
mod console;
mod homologation_report;
mod payments;
mod pins;
mod screenshots;
mod search;
mod secrets;
mod sign_in;
mod webdriver;

//! Screenshots of the console for docs/console.md: the overview, a search, a sale's page and a
//! queue, taken by the browser. Written to docs/console/*.png when `UPDATE_SCREENSHOTS=1`
//! (so CI never rewrites tracked files), to a temporary folder otherwise.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::console::{CARD_OK, Console};
use crate::helpers::{Options, PHONE_SLOW, TOKEN};

fn folder() -> PathBuf {
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console")
    } else {
        // One folder, rewritten by each run: nothing piles up.
        std::env::temp_dir().join("carat-console-screenshots")
    }
}

#[tokio::test]
async fn screenshots_of_the_overview_a_search_a_sale_and_a_queue() {
    // A browser in Portuguese, as the operators' are.
    let console = Console::start_in(
        Options {
            // Long enough for a loaded machine, short enough to wait for a late answer.
            carat_timeout: Duration::from_millis(1000),
            slow_answer_delay: Duration::from_millis(1500),
            ..Options::default()
        },
        "pt-BR",
    )
    .await;
    let pending = a_days_worth_of_sales(&console).await;

    console.sign_in(TOKEN).await;
    // Its Accept-Language chose the language.
    assert_eq!(console.lang().await.as_deref(), Some("pt-BR"));
    let taken = screenshot_every_page(&console, pending["id"].as_str().unwrap()).await;
    // The overview counts the sale in doubt.
    console.visit("/console").await;
    assert_eq!(console.text("#count-in-doubt").await.trim(), "1");
    eprintln!("screenshots: {taken:?}");
}

/// A day's worth of sales in a few states: confirmed, undone, pending, failed, in doubt.
/// Answers one of the pending ones (the sale's page shown).
async fn a_days_worth_of_sales(console: &Console) -> Value {
    let app = &console.app;
    let confirmed = app.paid_top_up(CARD_OK).await;
    assert_eq!(app.confirm(&confirmed.id, true).await.0, StatusCode::OK);
    let undone = console.pending_top_up("912340041").await;
    assert_eq!(
        app.confirm(undone["id"].as_str().unwrap(), false).await.0,
        StatusCode::OK
    );
    let pending = console.pending_top_up("912340042").await;
    console.pending_top_up("912340043").await;
    let failed = app.create_recharge().await;
    app.effectuate(
        failed["id"].as_str().unwrap(),
        crate::helpers::PHONE_DENY,
        1000,
    )
    .await;
    let doubtful = app.create_recharge().await;
    let (status, body) = app
        .effectuate(doubtful["id"].as_str().unwrap(), PHONE_SLOW, 1500)
        .await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    pending
}

/// The overview, a search, the sale `pending_id`'s page and a queue, each written whole to
/// [`folder`]; answers the files.
async fn screenshot_every_page(console: &Console, pending_id: &str) -> Vec<PathBuf> {
    let folder = folder();
    std::fs::create_dir_all(&folder).unwrap();
    let mut taken = Vec::new();
    let shots = [
        ("overview.png", "/console".to_owned(), "#chart-24h"),
        (
            "search.png",
            "/console/recharges?q=912340042".to_owned(),
            "#results",
        ),
        (
            "recharge.png",
            format!("/console/recharges/{pending_id}"),
            "#timeline",
        ),
        (
            "queue-in-doubt.png",
            "/console/queues/in-doubt".to_owned(),
            "#queue",
        ),
    ];
    // What the window's height takes beyond the page's (headless Chromium keeps a frame).
    let frame = 900 - png_height(&console.browser.screenshot().await);
    for (name, path, ready) in shots {
        console.visit(&path).await;
        console.wait_for(ready).await;
        let png = screenshot_whole_page(console, frame, name).await;
        let file = folder.join(name);
        std::fs::write(&file, png).unwrap();
        taken.push(file);
    }
    taken
}

/// The whole page: a window as tall as the page (within reason) and its `frame`, put back to
/// 1280x900 after; the PNG is checked to hold the whole page (`name` says which).
async fn screenshot_whole_page(console: &Console, frame: u32, name: &str) -> Vec<u8> {
    let (_, _, _, height) = console.wait_for("html").await.rect().await;
    let height = height.ceil().clamp(400.0, 2400.0) as u32;
    console
        .browser
        .set_window_size(1280, height + frame + 20)
        .await;
    let png = console.browser.screenshot().await;
    console.browser.set_window_size(1280, 900).await;
    assert_eq!(png_height(&png), height + 20, "{name}");
    png
}

/// A PNG's height, from its IHDR chunk.
fn png_height(png: &[u8]) -> u32 {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    u32::from_be_bytes(png[20..24].try_into().unwrap())
}

//! The homologation report (`carat-merchant homologate`) opened in the same headless Chromium
//! as the console: one self-contained file that reads and prints. Its screenshot goes to
//! docs/going-live/report.png when `UPDATE_SCREENSHOTS=1` (a temporary folder otherwise).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::spawn_app;
use crate::webdriver::Browser;

fn folder() -> PathBuf {
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/going-live")
    } else {
        std::env::temp_dir().join("carat-homologation-screenshots")
    }
}

#[tokio::test]
async fn the_html_report_reads_and_prints_in_chromium() {
    let app = spawn_app().await;
    let dir = std::env::temp_dir().join(format!("hml-html-{}", uuid::Uuid::new_v4()));
    let mut env = app.env_with(&[("SANDBOX", "embedded"), ("LISTEN_ADDR", "127.0.0.1:0")]);
    env.remove("CARAT_BASE_URL");
    let report_dir = dir.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_carat-merchant"))
            .arg("homologate")
            .arg("--report")
            .arg(&report_dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "APP_CONFIG_DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
            )
            .env("LOG_FILTER", "error")
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    let browser = Browser::start_in("pt-BR").await;
    browser.set_window_size(1280, 1000).await;
    browser
        .goto(&format!("file://{}", dir.join("report.html").display()))
        .await;
    // The summary links every case to its section.
    let links = browser.find_all("a[href^='#case-']").await;
    assert!(links.len() >= 14, "{} links", links.len());
    let section = browser.wait_for("#case-stored_card").await;
    assert!(section.text().await.contains("NITA"));
    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"));
    let folder = folder();
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("report.png"), png).unwrap();
    // It prints: the browser's own PDF of it has pages.
    let pdf = browser.print_pdf().await;
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    // Not a picture for the docs: always to the temporary folder.
    let pdf_file = std::env::temp_dir().join("carat-homologation-report.pdf");
    std::fs::write(pdf_file, &pdf).unwrap();
    // Each case starts a page of its own.
    assert!(pages(&pdf) >= 14, "{} pages", pages(&pdf));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The page count of Chromium's PDF: its page tree's `/Count`.
fn pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.match_indices("/Count ")
        .filter_map(|(i, m)| {
            let digits: String = text[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

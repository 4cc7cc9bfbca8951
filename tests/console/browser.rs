//! The browser itself, before any console page: Chromium starts from the test, opens a page
//! of the service and reads it.

use crate::helpers::spawn_app;
use crate::webdriver::Browser;

#[tokio::test]
async fn chromium_opens_a_page_of_the_service() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/health/live")).await;
    let source = browser.source().await;
    assert!(source.contains(r#""status":"ok""#), "{source}");
    assert_eq!(browser.current_url().await, app.url("/health/live"));
    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
}

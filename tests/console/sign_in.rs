//! Signing in and out: an operator's full API token opens an operator session on the overview;
//! a wrong token is refused on the login page; the language switch; signing out ends the
//! session.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::console::{COOKIE_NAME, Console, token_id};
use crate::helpers::TOKEN;

#[tokio::test]
async fn an_operator_signs_in_with_an_api_token_and_sees_the_overview() {
    let console = Console::start().await;
    an_unsigned_browser_lands_on_the_login_page(&console).await;
    a_wrong_token_is_slowed_counted_and_refused(&console).await;
    console_answers_forbid_scripts_framing_caching_and_referrers(&console).await;

    console.sign_in(TOKEN).await;
    the_overview_shows_the_operator_and_the_whole_navigation(&console).await;
    the_language_switch_sticks_and_pt_br_is_the_default(&console).await;
    let value = the_session_cookie_is_the_servers_only(&console).await;
    signing_out_ends_the_session_for_every_holder_of_its_cookie(&console, &value).await;
    assert!(console.pages_checked() >= 8);
}

/// Not signed in: the console sends the browser to its login page.
async fn an_unsigned_browser_lands_on_the_login_page(console: &Console) {
    console.visit("/console").await;
    console.wait_for("#login").await;
    assert!(
        console
            .browser
            .current_url()
            .await
            .contains("/console/login"),
        "{}",
        console.browser.current_url().await
    );
}

/// A wrong token: the login page again, with its error, and no session.
async fn a_wrong_token_is_slowed_counted_and_refused(console: &Console) {
    console
        .type_into("#login input[name=token]", "not-a-token")
        .await;
    let tried = Instant::now();
    console.click("#sign-in").await;
    // Slowed down (about 500 ms) and counted.
    assert!(
        tried.elapsed() >= Duration::from_millis(400),
        "{:?}",
        tried.elapsed()
    );
    assert_eq!(console.counter("console_sign_in_failures_total").await, 1.0);
    console.wait_for("#login-error").await;
    console.wait_for("#login").await;
    assert!(console.browser.find("#nav").await.is_none());
    assert_eq!(console.browser.cookie(COOKIE_NAME).await, None);
}

/// Every console answer forbids scripts, framing, caching and referrers (the login page's,
/// read outside the browser, stands for them).
async fn console_answers_forbid_scripts_framing_caching_and_referrers(console: &Console) {
    let login = console
        .http
        .get(console.url("/console/login"))
        .send()
        .await
        .unwrap();
    let headers = login.headers();
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(!login.text().await.unwrap().contains("<script"));
}

/// Signed in: the overview, the operator's name and role, and every link and panel.
async fn the_overview_shows_the_operator_and_the_whole_navigation(console: &Console) {
    let url = console.browser.current_url().await;
    assert_eq!(url.trim_end_matches('/'), console.url("/console"), "{url}");
    let whoami = console.text("#whoami").await;
    assert!(whoami.contains(&token_id(TOKEN)), "{whoami}");
    assert!(
        whoami.to_lowercase().contains("operador") || whoami.to_lowercase().contains("operator"),
        "{whoami}"
    );
    for id in [
        "#nav-overview",
        "#nav-search",
        "#nav-queue-in-doubt",
        "#nav-queue-overdue",
        "#nav-queue-awaiting-choice",
        "#nav-queue-callbacks",
        "#nav-queue-cards",
        "#logout",
        "#lang-en",
        "#lang-pt",
        "#today",
        "#queues",
        "#count-in-doubt",
        "svg#chart-24h",
        "#heartbeat",
        "#database",
    ] {
        console.wait_for(id).await;
    }
}

/// Chromium asks for en-US (Accept-Language): English; the switch changes it, and it sticks.
async fn the_language_switch_sticks_and_pt_br_is_the_default(console: &Console) {
    assert_eq!(console.lang().await.as_deref(), Some("en"));
    console.click("#lang-pt").await;
    assert_eq!(console.lang().await.as_deref(), Some("pt-BR"));
    console.visit("/console/recharges").await;
    assert_eq!(console.lang().await.as_deref(), Some("pt-BR"));
    console.click("#lang-en").await;
    assert_eq!(console.lang().await.as_deref(), Some("en"));
    // Neither a choice nor an Accept-Language: pt-BR.
    let cookie = console.session_cookie().await;
    let page = console
        .get_with("/console", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"pt-BR\""), "{page}");
}

/// The cookie is the server's only: HttpOnly, SameSite=Strict, on /console. Answers its value,
/// which the sign-out then tries again.
async fn the_session_cookie_is_the_servers_only(console: &Console) -> String {
    let cookies = console.browser.cookies().await;
    let session = cookies
        .iter()
        .find(|c| c["name"] == COOKIE_NAME)
        .unwrap_or_else(|| panic!("{cookies:?}"));
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["sameSite"], "Strict", "{session}");
    assert_eq!(session["path"], "/console", "{session}");
    session["value"].as_str().unwrap().to_owned()
}

/// Signing out ends the session, here and for whoever kept its cookie (`value`).
async fn signing_out_ends_the_session_for_every_holder_of_its_cookie(
    console: &Console,
    value: &str,
) {
    console.click("#logout button[type=submit]").await;
    console.wait_for("#login").await;
    let after = console.get_with("/console", value).await;
    assert_ne!(
        after.status(),
        StatusCode::OK,
        "the old cookie still opens the console"
    );
    // The old cookie put back into the browser opens nothing either.
    console
        .browser
        .add_cookie(json!({"name": COOKIE_NAME, "value": value, "path": "/console"}))
        .await;
    assert_eq!(
        console.browser.cookie(COOKIE_NAME).await.as_deref(),
        Some(value)
    );
    console.visit("/console").await;
    console.wait_for("#login").await;
    assert!(console.browser.find("#nav").await.is_none());
}

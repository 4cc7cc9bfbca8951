//! The console tests' harness: the service (the api tests' `spawn_app`, with a support token
//! too), a browser, and sales made through the storefront API. Every page the browser shows is
//! searched for the secrets no page may hold ([`Console::check_page`]): the test card numbers
//! and the sandbox's test card token, their security code, the API and support tokens, the
//! merchant key, and the PINs (and stored card tokens) a test has not revealed.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{MERCHANT_KEY, Options, TOKEN, TestApp, holds_code, spawn_app_with};
use crate::payments::SECURITY_CODE;
use crate::webdriver::{Browser, Element};

/// The support staff's token (`API_READONLY_TOKENS`): a read-only console session.
pub const SUPPORT: &str = "console-support-token";
/// The session cookie.
pub const COOKIE_NAME: &str = "carat_console";

/// The sandbox's test card numbers (crates/sandbox/src/test_values.rs and payments.rs), and
/// other Luhn-valid ones the tests pay with: no page may show one.
pub const CARD_OK: &str = "4111111111111111";
pub const CARD_OTHER: &str = "5555555555554444";
pub const CARD_STORED: &str = "6011111111111117";
pub const CARD_DENIED: &str = carat_sandbox::payments::DENIED_CARD;
pub const CARD_SLOW: &str = carat_sandbox::payments::SLOW_CARD;

/// The console's name for an API token: the first 16 hex digits of its SHA-256 (computed here
/// again, not taken from the service).
pub fn token_id(token: &str) -> String {
    Sha256::digest(token.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct Console {
    pub app: TestApp,
    /// The instance the browser uses: the test's service again on its database, configured
    /// with [`SUPPORT`] as a read-only token too.
    pub base: String,
    pub browser: Browser,
    /// A client that follows no redirect: the tests read a POST's own answer.
    pub http: reqwest::Client,
    secrets: Mutex<Vec<String>>,
    pages: Mutex<usize>,
}

impl Console {
    pub async fn start() -> Console {
        Console::start_with(Options::default()).await
    }

    /// With the browser in en-US (its `Accept-Language`).
    pub async fn start_with(options: Options) -> Console {
        Console::start_in(options, "en-US").await
    }

    /// With the browser in the language `lang`.
    pub async fn start_in(options: Options, lang: &str) -> Console {
        let app = spawn_app_with(options).await;
        let base = app
            .spawn_instance_with(&[("API_READONLY_TOKENS", SUPPORT)])
            .await;
        let browser = Browser::start_in(lang).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let secrets = [
            CARD_OK,
            CARD_OTHER,
            CARD_STORED,
            CARD_DENIED,
            CARD_SLOW,
            carat_sandbox::vault::TEST_TOKEN,
            TOKEN,
            SUPPORT,
            MERCHANT_KEY,
        ]
        .map(str::to_owned)
        .to_vec();
        Console {
            app,
            base,
            browser,
            http,
            secrets: Mutex::new(secrets),
            pages: Mutex::new(0),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A string no page may show from now on (a PIN before its reveal).
    pub fn keep_secret(&self, secret: &str) {
        self.secrets.lock().unwrap().push(secret.to_owned());
    }

    /// A secret a page may show from now on (the PIN on the reveal's page).
    pub fn reveal(&self, secret: &str) {
        self.secrets.lock().unwrap().retain(|s| s != secret);
    }

    /// How many pages were searched for secrets so far.
    pub fn pages_checked(&self) -> usize {
        *self.pages.lock().unwrap()
    }

    /// The page's source, searched for every secret: none may be there.
    pub async fn check_page(&self) -> String {
        let source = self.browser.source().await;
        self.check_text(&self.browser.current_url().await, &source);
        source
    }

    /// `text` (a page or a download at `place`) holds no secret.
    pub fn check_text(&self, place: &str, text: &str) {
        for secret in self.secrets.lock().unwrap().iter() {
            assert!(
                !text.contains(secret.as_str()),
                "{place} shows the secret {secret:?}:\n{text}"
            );
        }
        assert!(
            !holds_code(text, SECURITY_CODE),
            "{place} shows the security code:\n{text}"
        );
        *self.pages.lock().unwrap() += 1;
    }

    /// Opens `path` of the console and checks the page.
    pub async fn visit(&self, path: &str) -> String {
        self.browser.goto(&self.url(path)).await;
        self.check_page().await
    }

    /// Clicks `selector` (waiting for it), which leaves the page; checks the next page.
    pub async fn click(&self, selector: &str) -> String {
        self.browser.wait_for(selector).await.click_to_leave().await;
        self.check_page().await
    }

    /// Waits for `selector` on the page.
    pub async fn wait_for(&self, selector: &str) -> Element<'_> {
        self.browser.wait_for(selector).await
    }

    /// The text of `selector` (waited for).
    pub async fn text(&self, selector: &str) -> String {
        self.browser.wait_for(selector).await.text().await
    }

    /// The page's language: `<html lang>`.
    pub async fn lang(&self) -> Option<String> {
        self.wait_for("html").await.attribute("lang").await
    }

    /// Signs in with `token` through the login form; waits for the signed-in page.
    pub async fn sign_in(&self, token: &str) {
        self.visit("/console/login").await;
        self.type_into("#login input[name=token]", token).await;
        self.click("#sign-in").await;
        self.wait_for("#nav").await;
    }

    /// Types `text` into the field `selector` (cleared first).
    pub async fn type_into(&self, selector: &str, text: &str) {
        let field = self.browser.wait_for(selector).await;
        field.clear().await;
        field.send_keys(text).await;
    }

    /// Searches with the form `#search` for `text`; answers the ids the results link to.
    pub async fn search(&self, text: &str) -> Vec<String> {
        self.visit("/console/recharges").await;
        self.type_into("#search #q", text).await;
        self.submit("#search").await;
        self.wait_for("#results").await;
        self.linked_ids("#results").await
    }

    /// Submits the form `form` by its submit button; checks the page that comes back.
    pub async fn submit(&self, form: &str) -> String {
        self.click(&format!(
            "{form} button[type=submit], {form} input[type=submit]"
        ))
        .await
    }

    /// The recharge ids the `a.recharge-link`s inside `container` link to.
    pub async fn linked_ids(&self, container: &str) -> Vec<String> {
        let mut ids = Vec::new();
        for link in self
            .browser
            .find_all(&format!("{container} a.recharge-link"))
            .await
        {
            let href = link.attribute("href").await.unwrap_or_default();
            ids.push(
                href.rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .split(['?', '#'])
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        ids
    }

    /// Opens a recharge's page and waits for its timeline.
    pub async fn open_recharge(&self, id: &str) -> String {
        self.visit(&format!("/console/recharges/{id}")).await;
        self.wait_for("#timeline").await;
        self.check_page().await
    }

    /// The texts of the timeline's entries.
    pub async fn timeline(&self) -> Vec<String> {
        let timeline = self.wait_for("#timeline").await;
        let mut texts = Vec::new();
        for entry in timeline.find_all("li.event").await {
            texts.push(entry.text().await);
        }
        texts
    }

    /// Fills the action form `#action-{action}` with `reason` and submits it; answers the page
    /// that comes back (checked).
    pub async fn act(&self, action: &str, reason: &str) -> String {
        let form = format!("#action-{action}");
        self.wait_for(&form).await;
        self.type_into(&format!("{form} textarea[name=reason]"), reason)
            .await;
        self.click(&format!("{form} button[name=go]")).await
    }

    /// The session cookie's value, as the browser holds it (on a /console page).
    pub async fn session_cookie(&self) -> String {
        self.browser
            .cookie(COOKIE_NAME)
            .await
            .expect("a session cookie")
    }

    /// The CSRF token of the page's sign-out form (every signed-in page has one).
    pub async fn csrf(&self) -> String {
        self.wait_for("#logout input[name=csrf]")
            .await
            .attribute("value")
            .await
            .expect("a CSRF token in the sign-out form")
    }

    /// POSTs `form` to `path` outside the browser, with the session `cookie` (as a forger who
    /// got hold of it would); answers the status and the body.
    pub async fn post_form(
        &self,
        path: &str,
        cookie: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Option<String>, String) {
        let response = self
            .http
            .post(self.url(path))
            .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
            .header(ORIGIN, &self.base)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location, response.text().await.unwrap())
    }

    /// GETs `path` outside the browser with the session `cookie`.
    pub async fn get_with(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
            .send()
            .await
            .unwrap()
    }

    /// The console instance's counter whose name ends in `name` (`console_..._total`), from
    /// its `/metrics`; 0 when it never moved.
    pub async fn counter(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(self.url("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' '))
            .find(|(series, _)| series.ends_with(name))
            .map(|(_, value)| value.trim().parse().unwrap())
            .unwrap_or_default()
    }

    /// A R$ 10 top-up of `phone` (DDD 11) made through the storefront API, left pending
    /// confirmation: its API view (`id`, `nit`, `order_id`...).
    pub async fn pending_top_up(&self, phone: &str) -> Value {
        let created = self.app.create_recharge().await;
        let id = created["id"].as_str().unwrap();
        let (status, body) = self.app.effectuate(id, phone, 1000).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "pending_confirmation", "{body}");
        self.app.recharge(id).await
    }

    /// A PIN sale paid with a card, pending confirmation, its PIN kept: (its API view, the PIN).
    /// The PIN, with and without its dashes, becomes a secret.
    pub async fn pin_sale(&self) -> (Value, String) {
        let paid = self.app.paid_pin_sale(CARD_OTHER).await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.answer);
        assert_eq!(paid.answer["pin_receipt"], "kept", "{}", paid.answer);
        let recharge = self.app.recharge(&paid.id).await;
        let pin = recharge["receipts"]["customer"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("PIN: "))
            .unwrap_or_else(|| panic!("no PIN line: {recharge}"))
            .to_owned();
        self.keep_secret(&pin);
        self.keep_secret(&pin.replace('-', ""));
        (recharge, pin)
    }

    /// Polls the API until `done` holds for the recharge.
    pub async fn until(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        crate::helpers::poll_recharge(
            &self.app.client,
            &self.app.address,
            id,
            Duration::from_secs(10),
            done,
        )
        .await
    }
}

/// A form's fields as the browser would send an action: `csrf`, `reason`, `go`.
pub fn action_form<'a>(csrf: &'a str, reason: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("csrf", csrf), ("reason", reason), ("go", "")]
}

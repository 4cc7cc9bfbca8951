//! A small W3C WebDriver client over `reqwest` (the protocol is JSON over HTTP), and the
//! chromedriver it talks to: started by the test on a free port as a child process, with a
//! headless Chromium of its own (a fresh profile in a temporary folder). Dropping the
//! [`Browser`] ends the session (Chromium quits), kills chromedriver and removes the profile.
//!
//! Waiting is polling with a deadline ([`Browser::wait_for`]), never a fixed sleep.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Debian's packages (`chromium`, `chromium-driver`); `.ci/run` installs them when missing.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// The key of a web element reference in WebDriver's answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long an element may take to show up, a page to load, chromedriver to start.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How Chromium must start on this machine's closed network: headless, no sandbox (root),
/// nothing fetched from outside (no updates, no sync, no QUIC probes).
const CHROMIUM_ARGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

/// A WebDriver command refused: the protocol's error code (`no such element`, ...) and message.
#[derive(Debug)]
pub struct WebDriverError {
    pub status: reqwest::StatusCode,
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.error, self.status, self.message)
    }
}

/// chromedriver, a child of the test; killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it says it is ready.
    async fn start(client: &reqwest::Client) -> Driver {
        let mut last = String::new();
        // A port found free may be taken before chromedriver binds it: try again then.
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {CHROMEDRIVER} ({e}): install Debian's chromium and \
                         chromium-driver (apt-get install -y chromium chromium-driver; .ci/run does)"
                    )
                });
            let mut driver = Driver {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + PATIENCE;
            loop {
                if let Ok(Some(status)) = driver.child.try_wait() {
                    last = format!("chromedriver exited: {status}");
                    break;
                }
                match client.get(format!("{}/status", driver.url)).send().await {
                    Ok(response) => {
                        let body: Value = response.json().await.unwrap_or_default();
                        if body["value"]["ready"] == true {
                            return driver;
                        }
                        last = body.to_string();
                    }
                    Err(e) => last = e.to_string(),
                }
                if Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            drop(driver);
        }
        panic!("chromedriver did not become ready: {last}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One WebDriver session: a headless Chromium with a profile of its own.
pub struct Browser {
    client: reqwest::Client,
    session: String,
    profile: PathBuf,
    /// Last: killed once the session is deleted.
    driver: Driver,
}

impl Browser {
    /// A browser whose language is en-US (what it asks for in `Accept-Language`, and how it
    /// shows dates in forms), whatever the machine's locale.
    pub async fn start() -> Browser {
        Browser::start_in("en-US").await
    }

    /// A browser in the language `lang` (`pt-BR`, `en-US`).
    pub async fn start_in(lang: &str) -> Browser {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let driver = Driver::start(&client).await;
        let profile = std::env::temp_dir().join(format!(
            "carat-console-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--lang={lang}"));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": args,
                        "prefs": {"intl.accept_languages": lang},
                    },
                }
            }
        });
        let answer = command(
            &client,
            reqwest::Method::POST,
            format!("{}/session", driver.url),
            Some(capabilities),
        )
        .await
        .unwrap_or_else(|e| panic!("no Chromium session: {e}"));
        let session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {answer}"))
            .to_owned();
        Browser {
            client,
            session,
            profile,
            driver,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.driver.url, self.session)
    }

    async fn get(&self, path: &str) -> Result<Value, WebDriverError> {
        command(&self.client, reqwest::Method::GET, self.url(path), None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WebDriverError> {
        command(
            &self.client,
            reqwest::Method::POST,
            self.url(path),
            Some(body),
        )
        .await
    }

    async fn delete(&self, path: &str) -> Result<Value, WebDriverError> {
        command(&self.client, reqwest::Method::DELETE, self.url(path), None).await
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url}))
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        value_string(self.get("/url").await.unwrap())
    }

    /// The page's source as the browser serialises its DOM.
    pub async fn source(&self) -> String {
        value_string(self.get("/source").await.unwrap())
    }

    /// The first element matching the CSS `selector`, if any (now, without waiting).
    pub async fn find(&self, selector: &str) -> Option<Element<'_>> {
        self.try_find(selector)
            .await
            .unwrap_or_else(|e| panic!("find {selector}: {e}"))
    }

    async fn try_find(&self, selector: &str) -> Result<Option<Element<'_>>, WebDriverError> {
        let found = self
            .post(
                "/element",
                json!({"using": "css selector", "value": selector}),
            )
            .await;
        match found {
            Ok(value) => Ok(Some(self.element(&value))),
            Err(e) if e.error == "no such element" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every element matching the CSS `selector` (now, without waiting).
    pub async fn find_all(&self, selector: &str) -> Vec<Element<'_>> {
        let found = self
            .post(
                "/elements",
                json!({"using": "css selector", "value": selector}),
            )
            .await
            .unwrap_or_else(|e| panic!("find all {selector}: {e}"));
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|v| self.element(v))
            .collect()
    }

    /// The element matching `selector`, polled for until [`PATIENCE`] is over; panics with the
    /// page's URL and source then.
    pub async fn wait_for(&self, selector: &str) -> Element<'_> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // While a page is replaced, a search may fail outright: try again.
            let last = match self.try_find(selector).await {
                Ok(Some(element)) => return element,
                Ok(None) => None,
                Err(e) => Some(e),
            };
            if Instant::now() > deadline {
                if let Some(e) = last {
                    panic!("find {selector}: {e}");
                }
                panic!(
                    "no {selector} within {PATIENCE:?} at {}:\n{}",
                    self.current_url().await,
                    self.source().await
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn element(&self, value: &Value) -> Element<'_> {
        let id = value[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("not an element: {value}"))
            .to_owned();
        Element { browser: self, id }
    }

    /// Every cookie the page's URL sees, as WebDriver's cookie objects.
    pub async fn cookies(&self) -> Vec<Value> {
        let value = self.get("/cookie").await.unwrap();
        value.as_array().cloned().unwrap_or_default()
    }

    /// The value of the cookie `name` the current page sees, if any.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        match self.get(&format!("/cookie/{name}")).await {
            Ok(cookie) => cookie["value"].as_str().map(str::to_owned),
            Err(e) if e.error == "no such cookie" => None,
            Err(e) => panic!("cookie {name}: {e}"),
        }
    }

    /// Sets a cookie for the current page's domain (`cookie`: name, value, path, ...).
    pub async fn add_cookie(&self, cookie: Value) {
        self.post("/cookie", json!({"cookie": cookie}))
            .await
            .unwrap_or_else(|e| panic!("add cookie: {e}"));
    }

    pub async fn delete_cookies(&self) {
        self.delete("/cookie").await.unwrap();
    }

    /// Resizes the window (the viewport, headless).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await
            .unwrap_or_else(|e| panic!("set window rect: {e}"));
    }

    /// The page printed to PDF, as the browser's own "print to PDF" makes it (A4).
    pub async fn print_pdf(&self) -> Vec<u8> {
        let page = json!({"page": {"width": 21.0, "height": 29.7}, "background": false});
        let encoded = value_string(self.post("/print", page).await.unwrap());
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("a base64 PDF")
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = value_string(self.get("/screenshot").await.unwrap());
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("a base64 PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Deleting the session makes Chromium quit (killing chromedriver alone may leave it).
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own.
        let url = self.url("");
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let _ = client.delete(url).send().await;
            })
        })
        .join();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// An element of the page, by its WebDriver reference.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl<'a> Element<'a> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    pub async fn click(&self) {
        self.browser
            .post(&self.path("/click"), json!({}))
            .await
            .unwrap_or_else(|e| panic!("click: {e}"));
    }

    /// Clicks an element that leaves the page (a link, a form's button) and waits until the
    /// page is another one: the old page's root element is gone (stale).
    pub async fn click_to_leave(&self) {
        let root = self.browser.find("html").await.expect("a page");
        self.click().await;
        let deadline = Instant::now() + PATIENCE;
        while !root.is_stale().await {
            if Instant::now() > deadline {
                panic!(
                    "the click did not leave {} within {PATIENCE:?}",
                    self.browser.current_url().await
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the element's page was left (or the element removed).
    pub async fn is_stale(&self) -> bool {
        match self.browser.get(&self.path("/name")).await {
            Ok(_) => false,
            Err(e) if e.error == "stale element reference" || e.error == "no such element" => true,
            // Chromium's word for a node of a document that was replaced.
            Err(e) if e.message.contains("does not belong to the document") => true,
            Err(e) => panic!("element name: {e}"),
        }
    }

    /// Types `text` into the element (appending to what is there).
    pub async fn send_keys(&self, text: &str) {
        self.browser
            .post(&self.path("/value"), json!({"text": text}))
            .await
            .unwrap_or_else(|e| panic!("send keys: {e}"));
    }

    pub async fn clear(&self) {
        self.browser
            .post(&self.path("/clear"), json!({}))
            .await
            .unwrap_or_else(|e| panic!("clear: {e}"));
    }

    /// Where the element is drawn: (x, y, width, height) in CSS pixels.
    pub async fn rect(&self) -> (f64, f64, f64, f64) {
        let rect = self.browser.get(&self.path("/rect")).await.unwrap();
        let at = |k: &str| rect[k].as_f64().unwrap_or_else(|| panic!("{rect}"));
        (at("x"), at("y"), at("width"), at("height"))
    }

    /// The element's rendered text.
    pub async fn text(&self) -> String {
        value_string(self.browser.get(&self.path("/text")).await.unwrap())
    }

    /// An attribute as written in the markup (`href`, `value`, `name`...), if present.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        let value = self
            .browser
            .get(&self.path(&format!("/attribute/{name}")))
            .await
            .unwrap();
        value.as_str().map(str::to_owned)
    }

    /// Every descendant matching the CSS `selector`.
    pub async fn find_all(&self, selector: &str) -> Vec<Element<'a>> {
        let found = self
            .browser
            .post(
                &self.path("/elements"),
                json!({"using": "css selector", "value": selector}),
            )
            .await
            .unwrap_or_else(|e| panic!("find all {selector}: {e}"));
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|v| self.browser.element(v))
            .collect()
    }
}

/// Sends one WebDriver command and answers its `value`, or the protocol's error.
async fn command(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let mut request = client.request(method.clone(), &url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let answer: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("WebDriver {method} {url} answered {status} {text:?}: {e}"));
    let value = answer["value"].clone();
    if status.is_success() {
        Ok(value)
    } else {
        Err(WebDriverError {
            status,
            error: value["error"].as_str().unwrap_or_default().to_owned(),
            message: value["message"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

fn value_string(value: Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

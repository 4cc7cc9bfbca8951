//! The real binary's security edges: who may post callbacks (source networks, trusted proxies,
//! the path secret), secrets absent from every log line and answer, a shutdown that drains
//! requests in flight, and a plain-http Carat refused off loopback.

use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    MERCHANT_KEY, Options, PHONE_ESITEF_ERROR, PHONE_OK, PHONE_SLOW, TOKEN, TestApp, effectuation,
    read, spawn_app_with,
};
use crate::process::ServiceProcess;

const PATH_SECRET: &str = "cbSecret-Hq4tZ9xW2mLp";
const CURRENT_TOKEN: &str = "tok-Rv7Kd2Wq9Ls4-current";
const NEXT_TOKEN: &str = "tok-Rv7Kd2Wq9Ls4-next";
const DB_PASSWORD: &str = "dbpw-N3vrLogg3d-Yx5";
/// Everything the service logs, dependencies' internals included.
const VERBOSE: &str = "debug,carat_merchant=trace,tower_http=trace,reqwest=trace,hyper=trace,\
                       hyper_util=trace,sqlx=trace,h2=debug,rustls=debug";

/// The binary, configured as `app` with `overrides`, the sandbox's authenticity POST pointed
/// at `callback_path` of it.
async fn start(
    app: &TestApp,
    overrides: &[(&'static str, &str)],
    callback_path: &str,
) -> ServiceProcess {
    let service = ServiceProcess::start(app.env_with(overrides)).await;
    app.sandbox
        .set_authenticity_url(service.url(callback_path).parse().unwrap());
    service
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    read(request.send().await.unwrap()).await
}

async fn create(app: &TestApp, service: &ServiceProcess, token: &str) -> (StatusCode, Value) {
    send(
        app.client
            .post(service.url("/api/v1/recharges"))
            .bearer_auth(token)
            .json(&json!({"recharge_type": "normal"})),
    )
    .await
}

async fn post_callback(
    app: &TestApp,
    service: &ServiceProcess,
    path: &str,
    forwarded_for: Option<&str>,
) -> (StatusCode, String) {
    let mut request = app
        .client
        .post(service.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("nit=not-a-nit");
    if let Some(xff) = forwarded_for {
        request = request.header("X-Forwarded-For", xff);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn inbox_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM callbacks")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn callbacks_from_outside_the_allowed_networks_are_refused_and_not_kept() {
    let app = spawn_app_with(Options::default()).await;
    let service = start(
        &app,
        &[("CALLBACK_ALLOWED_NETWORKS", "203.0.113.0/24, 2001:db8::/32")],
        "/callbacks/authenticity",
    )
    .await;

    // The test runs on 127.0.0.1, and no proxy is trusted: a forged header changes nothing.
    for xff in [None, Some("203.0.113.5")] {
        let (status, text) = post_callback(&app, &service, "/callbacks/authenticity", xff).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        assert!(text.contains("not allowed"), "{text}");
    }
    // Carat's own POST (from the sandbox, on loopback) is refused too, so the create fails.
    let (status, body) = create(&app, &service, TOKEN).await;
    assert!(status.is_server_error(), "{status} {body}");
    assert_eq!(inbox_rows(&app).await, 0, "refused sources are not kept");
    let log = service.log_lines().join("\n");
    assert!(
        log.contains("callback refused") && log.contains("127.0.0.1"),
        "the refusal is logged with its source"
    );
}

#[tokio::test]
async fn a_trusted_proxy_names_the_source() {
    let app = spawn_app_with(Options::default()).await;
    let service = start(
        &app,
        &[
            ("CALLBACK_ALLOWED_NETWORKS", "203.0.113.0/24"),
            ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ],
        "/callbacks/authenticity",
    )
    .await;

    // Admitted: it reaches the handler, which refuses the form itself (400), and keeps it.
    let (status, text) = post_callback(
        &app,
        &service,
        "/callbacks/authenticity",
        Some("198.51.100.9, 203.0.113.5"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(inbox_rows(&app).await, 1);
    // The rightmost untrusted hop is the source; what the sender wrote left of it is not.
    let (status, _) = post_callback(
        &app,
        &service,
        "/callbacks/authenticity",
        Some("203.0.113.5, 198.51.100.9"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Without a header, the proxy itself is the source.
    let (status, _) = post_callback(&app, &service, "/callbacks/authenticity", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(inbox_rows(&app).await, 1);
}

#[tokio::test]
async fn allowed_sources_complete_a_create() {
    let app = spawn_app_with(Options::default()).await;
    let service = start(
        &app,
        &[("CALLBACK_ALLOWED_NETWORKS", "127.0.0.0/8, ::1")],
        "/callbacks/authenticity",
    )
    .await;
    let (status, body) = create(&app, &service, TOKEN).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn with_a_path_secret_only_the_secret_path_serves_callbacks() {
    let app = spawn_app_with(Options::default()).await;
    let secret_path = format!("/callbacks/{PATH_SECRET}/authenticity");
    let service = start(
        &app,
        &[
            ("CALLBACK_PATH_SECRET", PATH_SECRET),
            ("LOG_FILTER", VERBOSE),
        ],
        &secret_path,
    )
    .await;

    for path in [
        "/callbacks/authenticity",
        "/callbacks/cbSecret-Hq4tZ9xW2mLq/authenticity",
        "/callbacks/authenticity/authenticity",
    ] {
        let (status, _) = post_callback(&app, &service, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, body) = create(&app, &service, TOKEN).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A near miss is unmatched: its raw path would hold the secret.
    let (status, _) = post_callback(&app, &service, &format!("{secret_path}/"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Carat's report of a refused POST to a URL holding the secret does not repeat the URL.
    app.sandbox
        .set_authenticity_url(service.url(&format!("{secret_path}/")).parse().unwrap());
    let (status, refused) = create(&app, &service, TOKEN).await;
    assert!(status.is_server_error(), "{status} {refused}");
    assert!(refused.to_string().contains("404"), "{refused}");

    let lines = service.log_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/callbacks/{secret}/authenticity")),
        "the span records the route template"
    );
    assert_no_secret(&lines, &[PATH_SECRET]);
    assert_no_secret(&[refused.to_string()], &[PATH_SECRET]);
}

#[tokio::test]
async fn the_embedded_sandbox_posts_under_the_path_secret() {
    let app = spawn_app_with(Options::default()).await;
    let service = ServiceProcess::start(app.env_with(&[
        ("CARAT_BASE_URL", ""),
        ("CALLBACK_PATH_SECRET", PATH_SECRET),
    ]))
    .await;
    let (status, body) = create(&app, &service, TOKEN).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The binary with every secret set (a database password, two API tokens, the path secret),
/// a short Carat timeout, the reconciler on, and everything logged.
async fn start_with_every_secret(app: &TestApp) -> ServiceProcess {
    let database_url = app.env_with(&[])["DATABASE_URL"].replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{DB_PASSWORD}@"),
        1,
    );
    assert!(database_url.contains(DB_PASSWORD), "{database_url}");
    let tokens = format!("{CURRENT_TOKEN},{NEXT_TOKEN}");
    start(
        app,
        &[
            ("DATABASE_URL", &database_url),
            ("API_TOKENS", &tokens),
            ("CALLBACK_PATH_SECRET", PATH_SECRET),
            ("CARAT_TIMEOUT_MS", "500"),
            ("RECONCILE_ENABLED", "true"),
            ("RECONCILE_INTERVAL_MS", "100"),
            ("LOG_FILTER", VERBOSE),
        ],
        &format!("/callbacks/{PATH_SECRET}/authenticity"),
    )
    .await
}

/// `reply`, its body kept in `answers` for the search.
fn kept(answers: &mut Vec<String>, (status, body): (StatusCode, Value)) -> (StatusCode, Value) {
    answers.push(body.to_string());
    (status, body)
}

/// create → effectuate → confirm, with the rotated token for the last step.
async fn a_top_up_with_a_rotated_token(
    app: &TestApp,
    service: &ServiceProcess,
    answers: &mut Vec<String>,
) {
    let (status, body) = kept(answers, create(app, service, CURRENT_TOKEN).await);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let post = |path: String, token: &str, body: Value| {
        app.client
            .post(service.url(&format!("/api/v1/recharges/{id}/{path}")))
            .bearer_auth(token)
            .json(&body)
    };
    let (status, body) = kept(
        answers,
        send(post(
            "effectuate".into(),
            CURRENT_TOKEN,
            effectuation(PHONE_OK, 1000),
        ))
        .await,
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = kept(
        answers,
        send(post("confirm".into(), NEXT_TOKEN, json!({"confirm": true}))).await,
    );
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A bad token (a near miss of a real one), then a Carat refusal.
async fn a_bad_token_and_a_refusal(
    app: &TestApp,
    service: &ServiceProcess,
    answers: &mut Vec<String>,
) {
    let (status, body) = kept(
        answers,
        create(app, service, "tok-Rv7Kd2Wq9Ls4-curren").await,
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (_, body) = kept(answers, create(app, service, CURRENT_TOKEN).await);
    let refused = body["id"].as_str().unwrap().to_owned();
    let (status, body) = kept(
        answers,
        send(
            app.client
                .post(service.url(&format!("/api/v1/recharges/{refused}/effectuate")))
                .bearer_auth(CURRENT_TOKEN)
                .json(&effectuation(PHONE_ESITEF_ERROR, 1000)),
        )
        .await,
    );
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{body}"
    );
}

/// A timeout, then the reconciler's query (the merchant key travels in its query string).
async fn a_timeout_then_the_reconcilers_query(
    app: &TestApp,
    service: &ServiceProcess,
    answers: &mut Vec<String>,
) {
    let (_, body) = kept(answers, create(app, service, CURRENT_TOKEN).await);
    let slow = body["id"].as_str().unwrap().to_owned();
    let (status, body) = kept(
        answers,
        send(
            app.client
                .post(service.url(&format!("/api/v1/recharges/{slow}/effectuate")))
                .bearer_auth(CURRENT_TOKEN)
                .json(&effectuation(PHONE_SLOW, 1000)),
        )
        .await,
    );
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let body = loop {
        let (_, body) = send(
            app.client
                .get(service.url(&format!("/api/v1/recharges/{slow}")))
                .bearer_auth(NEXT_TOKEN),
        )
        .await;
        if body["status"] != "effectuating" {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never resolved: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    answers.push(body.to_string());
    let nit = body["nit"].as_str().unwrap().to_owned();
    assert!(app.sandbox.transaction(&nit).unwrap().query_requests > 0);
}

/// A whole flow, failures included, logged at trace level: no secret in any line or answer.
#[tokio::test]
async fn secrets_never_reach_logs_or_answers() {
    let app = spawn_app_with(Options {
        slow_answer_delay: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let service = start_with_every_secret(&app).await;
    let mut answers = Vec::new();
    a_top_up_with_a_rotated_token(&app, &service, &mut answers).await;
    a_bad_token_and_a_refusal(&app, &service, &mut answers).await;
    a_timeout_then_the_reconcilers_query(&app, &service, &mut answers).await;

    let lines = service.log_lines();
    // The filter let the dependencies speak: the check below reads something.
    assert!(lines.len() > 100, "only {} lines", lines.len());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("reqwest") || l.contains("hyper"))
    );
    let secrets = [
        MERCHANT_KEY,
        CURRENT_TOKEN,
        NEXT_TOKEN,
        DB_PASSWORD,
        PATH_SECRET,
    ];
    assert_no_secret(&lines, &secrets);
    assert_no_secret(&answers, &secrets);
}

fn assert_no_secret(texts: &[String], secrets: &[&str]) {
    for text in texts {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret leaked: {text}");
        }
    }
}

/// SIGTERM (and SIGINT, Ctrl-C) while an effectuation waits on a slow Carat: the answer is the
/// real one, new connections are refused at once, the reconciler stops, the exit is clean.
#[tokio::test]
async fn sigterm_drains_a_request_in_flight() {
    drains_on("-TERM").await;
}

#[tokio::test]
async fn ctrl_c_drains_a_request_in_flight() {
    drains_on("-INT").await;
}

async fn drains_on(signal: &'static str) {
    let app = spawn_app_with(Options {
        slow_answer_delay: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let service = start(
        &app,
        &[
            ("RECONCILE_ENABLED", "true"),
            ("RECONCILE_INTERVAL_MS", "100"),
        ],
        "/callbacks/authenticity",
    )
    .await;
    let (status, body) = create(&app, &service, TOKEN).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (id, nit) = (body["id"].as_str().unwrap(), body["nit"].as_str().unwrap());
    let in_flight = tokio::spawn(send(
        app.client
            .post(service.url(&format!("/api/v1/recharges/{id}/effectuate")))
            .bearer_auth(TOKEN)
            .json(&effectuation(PHONE_SLOW, 1000)),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app
        .sandbox
        .transaction(nit)
        .is_none_or(|tx| tx.effectuation_requests == 0)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached Carat"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    service.signal(signal);
    service
        .until_logged("draining requests in flight", Duration::from_secs(5))
        .await;
    assert!(!in_flight.is_finished(), "the slow answer is still due");
    let address = service.address.trim_start_matches("http://").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::net::TcpStream::connect(&address).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "new connections are still accepted while draining"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    service
        .until_logged("drained; stopping", Duration::from_secs(10))
        .await;
    let log = service.log_lines().join("\n");
    assert!(
        log.contains("reconciler stopped"),
        "the reconciler stops first"
    );
    let exit = service.exit_status(Duration::from_secs(10)).await;
    assert!(exit.success(), "{exit}");
}

#[tokio::test]
async fn plain_http_to_carat_off_loopback_stops_start_up() {
    let app = spawn_app_with(Options::default()).await;
    // Port 0: the check must be what stops it, not a port some other process holds.
    let env: BTreeMap<_, _> = app.env_with(&[
        ("CARAT_BASE_URL", "http://192.0.2.10/e-sitef"),
        ("LISTEN_ADDR", "127.0.0.1:0"),
    ]);
    let output = crate::process::run("serve", env).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CARAT_BASE_URL"), "{stderr}");
    assert!(stderr.contains("loopback"), "{stderr}");
}

/// A TLS server on loopback presenting a self-signed certificate for `localhost`: how each
/// handshake ended, as the server saw it.
fn untrusted_tls_server() -> (u16, mpsc::Receiver<String>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert =
        CertificateDer::from_pem_slice(include_bytes!("../fixtures/self-signed-localhost.crt"))
            .unwrap();
    let key =
        PrivateKeyDer::from_pem_slice(include_bytes!("../fixtures/self-signed-localhost.key"))
            .unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (handshakes, outcomes) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut tls = rustls::ServerConnection::new(config.clone()).unwrap();
            let outcome = loop {
                match tls.complete_io(&mut stream) {
                    Ok(_) if !tls.is_handshaking() => break "handshake completed".to_owned(),
                    Ok((0, 0)) => break "closed during the handshake".to_owned(),
                    Ok(_) => {}
                    Err(e) => break e.to_string(),
                }
            };
            if handshakes.send(outcome).is_err() {
                return;
            }
        }
    });
    (port, outcomes)
}

#[tokio::test]
async fn carat_with_an_untrusted_certificate_is_refused() {
    let app = spawn_app_with(Options::default()).await;
    let (port, handshakes) = untrusted_tls_server();
    let base_url = format!("https://localhost:{port}/e-sitef");
    let service = ServiceProcess::start(app.env_with(&[("CARAT_BASE_URL", &base_url)])).await;

    let (status, body) = create(&app, &service, TOKEN).await;
    assert!(status.is_server_error(), "{status} {body}");
    // The storefront is told why, not only "error sending request".
    assert!(body.to_string().contains("certificate"), "{status} {body}");
    let outcome =
        tokio::task::spawn_blocking(move || handshakes.recv_timeout(Duration::from_secs(10)))
            .await
            .unwrap()
            .expect("the service tried to reach Carat");
    // The service's client is the one that gave up, on the certificate: a verifying client
    // whose platform roots do not hold this issuer.
    assert_eq!(outcome, "received fatal alert: CertificateUnknown");
}

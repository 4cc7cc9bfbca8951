//! Signature mode (JWT, digest §4.3): the service signs its calls, the sandbox verifies them,
//! and each recharge keeps the mode it was created in.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Options, PHONE_OK, PHONE_SLOW, TestApp, effectuation, event_names, fixture, get_from,
    poll_recharge, post_to, spawn_app_with,
};

fn signing() -> Options {
    Options {
        auth_mode: "signature",
        jwt_private_key: Some(fixture("jwt-test.key")),
        ..Options::default()
    }
}

async fn inbox_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM callbacks")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Dealers, Vivo's branch data for DDD 11, a R$ 10 top-up and its confirmation, through the
/// service at `base`; the recharge ends confirmed.
async fn finish_top_up(app: &TestApp, base: &str, id: &str) {
    let client = &app.client;
    let (status, body) = get_from(client, format!("{base}/api/v1/recharges/{id}/dealers")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = format!("{base}/api/v1/recharges/{id}/branches?dealer_code=001&ddd=11");
    let (status, body) = get_from(client, url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = format!("{base}/api/v1/recharges/{id}/effectuate");
    let (status, body) = post_to(client, url, &effectuation(PHONE_OK, 1000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    let url = format!("{base}/api/v1/recharges/{id}/confirm");
    let (status, body) = post_to(client, url, &json!({"confirm": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "confirmed", "{body}");
}

async fn create_at(app: &TestApp, base: &str) -> Value {
    let url = format!("{base}/api/v1/recharges");
    let (status, body) = post_to(&app.client, url, &json!({"recharge_type": "normal"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "started", "{body}");
    body
}

#[tokio::test]
async fn a_whole_top_up_in_signature_mode_is_signed_and_needs_no_authenticity_post() {
    let app = spawn_app_with(signing()).await;
    let created = create_at(&app, &app.address).await;
    let nit = created["nit"]
        .as_str()
        .expect("the NIT, from the create's answer");
    assert_eq!(
        inbox_count(&app).await,
        0,
        "no authenticity POST reached the service"
    );
    let id = created["id"].as_str().unwrap();

    finish_top_up(&app, &app.address, id).await;

    let tx = app.sandbox.transaction(nit).unwrap();
    assert!(tx.signature_mode, "the create was signed");
    assert_eq!(tx.status, "CON");
    // Dealers, branch data, effectuation, confirmation: each signed, each verified.
    assert_eq!(tx.signed_calls, 4, "{tx:?}");
    let recharge = app.recharge(id).await;
    let names = event_names(&recharge);
    assert!(
        names.iter().any(|n| n == "state_change:created -> started"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("callback")),
        "{names:?}"
    );
    assert_eq!(inbox_count(&app).await, 0);
}

#[tokio::test]
async fn a_recharge_keeps_the_mode_it_was_created_in_across_a_restart() {
    // Created with the authenticity POST, finished by an instance configured for signatures.
    let app = spawn_app_with(Options::default()).await;
    let created = create_at(&app, &app.address).await;
    let id = created["id"].as_str().unwrap();
    let nit = created["nit"].as_str().unwrap().to_owned();
    let key = fixture("jwt-test.key");
    let signing = app
        .spawn_instance_with(&[
            ("CARAT_AUTH_MODE", "signature"),
            ("CARAT_JWT_PRIVATE_KEY", &key),
        ])
        .await;
    finish_top_up(&app, &signing, id).await;
    let tx = app.sandbox.transaction(&nit).unwrap();
    assert!(!tx.signature_mode);
    assert_eq!(tx.status, "CON");
    assert_eq!(
        tx.signed_calls, 0,
        "an authenticity recharge stays unsigned: {tx:?}"
    );

    // Created signed; an instance back in authenticity mode with no key cannot sign its calls:
    // it says so, and sends nothing.
    let inbox_before = inbox_count(&app).await;
    let signed = create_at(&app, &signing).await;
    assert_eq!(
        inbox_count(&app).await,
        inbox_before,
        "no authenticity POST"
    );
    let signed_id = signed["id"].as_str().unwrap();
    let signed_nit = signed["nit"].as_str().unwrap();
    assert!(app.sandbox.transaction(signed_nit).unwrap().signature_mode);
    let url = format!("{}/api/v1/recharges/{signed_id}/dealers", app.address);
    let (status, body) = get_from(&app.client, url).await;
    assert!(status.is_server_error(), "{status} {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("CARAT_JWT_PRIVATE_KEY"), "{message}");
    assert!(message.contains("signature mode"), "{message}");
    let tx = app.sandbox.transaction(signed_nit).unwrap();
    assert!(
        tx.listing_general_hashes.is_empty(),
        "nothing reached Carat: {tx:?}"
    );

    // The signing instance still finishes it, signed.
    finish_top_up(&app, &signing, signed_id).await;
    assert_eq!(app.sandbox.transaction(signed_nit).unwrap().signed_calls, 4);
}

#[tokio::test]
async fn a_create_signed_with_a_key_carat_does_not_know_fails_clearly_and_leaves_nothing_open() {
    let app = spawn_app_with(Options {
        jwt_private_key: Some(fixture("jwt-test-other.key")),
        ..signing()
    })
    .await;
    let (status, body) = app
        .post_json(
            "/api/v1/recharges",
            json!({"recharge_type": "normal", "order_id": "BADKEY1"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "carat_refused", "{body}");
    assert_eq!(body["error"]["carat"]["code"], "30", "{body}");
    let message = body["error"]["carat"]["message"].as_str().unwrap();
    assert!(message.contains("does not verify"), "{message}");
    let id = body["error"]["recharge_id"]
        .as_str()
        .expect("the recharge it made");
    let recharge = app.recharge(id).await;
    assert_eq!(recharge["status"], "failed", "{recharge}");
    assert_eq!(recharge["nit"], Value::Null, "{recharge}");
    assert!(
        app.sandbox.find_by_order_id("BADKEY1").is_none(),
        "Carat opened nothing"
    );
    assert_eq!(inbox_count(&app).await, 0);
}

#[tokio::test]
async fn the_reconciler_signs_its_queries_and_its_undo() {
    let app = spawn_app_with(Options {
        reconcile: true,
        carat_timeout: Duration::from_secs(1),
        slow_answer_delay: Duration::from_secs(2),
        pending_timeout: Duration::from_secs(1),
        ..signing()
    })
    .await;
    let created = create_at(&app, &app.address).await;
    let id = created["id"].as_str().unwrap();
    let nit = created["nit"].as_str().unwrap();
    app.list_catalogue(id, "001", "11").await;
    // The effectuation's answer comes too late: only a (signed) query can settle it.
    let (status, body) = app.effectuate(id, PHONE_SLOW, 1000).await;
    assert_eq!(
        body["error"]["code"], "carat_outcome_unknown",
        "{status} {body}"
    );
    poll_recharge(
        &app.client,
        &app.address,
        id,
        Duration::from_secs(20),
        |r| r["status"] == "undone",
    )
    .await;
    let tx = app.sandbox.transaction(nit).unwrap();
    assert_eq!(tx.status, "PPN");
    assert!(tx.query_requests >= 1, "{tx:?}");
    // Two listings, then every effectuation, confirmation and query: all signed.
    let calls = 2 + tx.effectuation_requests + tx.confirmation_requests + tx.query_requests;
    assert_eq!(tx.signed_calls, calls, "{tx:?}");
}

// ---------------------------------------------------------------------------------------------
// Start-up: the real binary refuses a signature mode it could not honour.

fn serve(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(env!("CARGO_BIN_EXE_carat-merchant"))
        .arg("serve")
        .current_dir(root)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("APP_CONFIG_DIR", root.join("config"))
        // Unreachable on purpose: the configuration must be refused before any connection.
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .envs(env.iter().copied())
        .output()
        .expect("the carat-merchant binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

#[test]
fn start_up_refuses_signature_mode_without_a_key_or_with_an_unusable_one() {
    let (code, stderr) = serve(&[("CARAT_AUTH_MODE", "signature")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("setting CARAT_JWT_PRIVATE_KEY is missing"),
        "{stderr}"
    );

    let (code, stderr) = serve(&[
        ("CARAT_AUTH_MODE", "signature"),
        ("CARAT_JWT_PRIVATE_KEY", "/nonexistent/jwt.key"),
        ("CARAT_MERCHANT_ID", "NOT A VALID ID!!"),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("setting CARAT_JWT_PRIVATE_KEY is invalid"),
        "{stderr}"
    );
    assert!(stderr.contains("could not be read"), "{stderr}");
    assert!(
        stderr.contains("CARAT_MERCHANT_ID"),
        "collected with the others: {stderr}"
    );

    // A PEM that is not a private key (the public one): refused, and never printed.
    let public = std::fs::read_to_string(fixture("jwt-test.pub")).unwrap();
    let (code, stderr) = serve(&[
        ("CARAT_AUTH_MODE", "signature"),
        ("CARAT_JWT_PRIVATE_KEY", &public),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not an RSA private key"), "{stderr}");
    assert!(
        !stderr.contains("MII"),
        "the key is never printed: {stderr}"
    );

    let (code, stderr) = serve(&[("CARAT_AUTH_MODE", "jwt")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("CARAT_AUTH_MODE"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// From outside: openssl, not our code, checks the tokens the service sends and signs tokens the
// sandbox's verifier must accept.

/// A scratch folder of the test's own, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("carat-jwt-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `openssl dgst -sha256 -verify <public PEM>` over a token's `header.payload`, with its
/// signature: whether openssl finds the RS256 signature good.
fn openssl_verifies(token: &str, public: &str) -> bool {
    let (message, signature) = token.rsplit_once('.').expect("header.payload.signature");
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("a base64url signature");
    let scratch = Scratch::new();
    let (message_path, signature_path) = (scratch.0.join("message"), scratch.0.join("signature"));
    std::fs::write(&message_path, message).unwrap();
    std::fs::write(&signature_path, signature).unwrap();
    let output = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", public, "-signature"])
        .arg(&signature_path)
        .arg(&message_path)
        .output()
        .expect("the openssl command (Debian's openssl package) runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    output.status.success() && stdout.contains("Verified OK")
}

/// A stand-in for Carat that keeps each request's `Authorization` header and answers 503.
async fn spawn_token_catcher() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use axum::http::{HeaderMap, header};
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let router = axum::Router::new().fallback(move |headers: HeaderMap| {
        let sender = sender.clone();
        async move {
            if let Some(value) = headers.get(header::AUTHORIZATION) {
                let _ = sender.send(value.to_str().unwrap_or_default().to_owned());
            }
            StatusCode::SERVICE_UNAVAILABLE
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/e-sitef"), receiver)
}

#[tokio::test]
async fn the_token_the_service_sends_is_rs256_that_openssl_verifies() {
    let app = spawn_app_with(signing()).await;
    let (carat, mut tokens) = spawn_token_catcher().await;
    let instance = app.spawn_instance_with(&[("CARAT_BASE_URL", &carat)]).await;
    let url = format!("{instance}/api/v1/recharges");
    let body = json!({"recharge_type": "normal", "order_id": "OPENSSL1"});
    let (status, body) = post_to(&app.client, url, &body).await;
    assert!(
        status.is_server_error(),
        "the catcher answers 503: {status} {body}"
    );
    let header = tokens
        .try_recv()
        .expect("the create carried an Authorization header");
    let token = header.strip_prefix("Bearer ").expect("Bearer <jwt>");

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    assert_eq!(decode(parts[0]), json!({"alg": "RS256", "typ": "JWT"}));
    let claims = decode(parts[1]);
    assert_eq!(claims["order_id"], "OPENSSL1", "{claims}");
    assert_eq!(
        claims["merchant_id"],
        crate::helpers::MERCHANT_ID,
        "{claims}"
    );

    let public = fixture("jwt-test.pub");
    assert!(openssl_verifies(token, &public), "openssl: {token}");
    // The check can fail: one changed claim and openssl refuses the same signature.
    let forged = claims.to_string().replace("OPENSSL1", "OPENSSL2");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged),
        parts[2]
    );
    assert!(!openssl_verifies(&tampered, &public));
    // And a key that is not the signer's.
    let scratch = Scratch::new();
    let other_public = scratch.0.join("other.pub");
    let status = Command::new("openssl")
        .args([
            "pkey",
            "-pubout",
            "-in",
            &fixture("jwt-test-other.key"),
            "-out",
        ])
        .arg(&other_public)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!openssl_verifies(token, other_public.to_str().unwrap()));
}

#[test]
fn a_pkcs1_key_signs_what_openssl_verifies_and_openssl_signs_what_the_sandbox_accepts() {
    use carat_wire::signature::{JwtKey, JwtPublicKey, NitClaims, verify};
    let claims = json!({
        "merchant_id": "LOJATESTE",
        "merchant_key": "K",
        "nit": "a".repeat(64),
        "timestamp": "1605303580931",
    });
    // The PKCS#1 form of the test key, read by pki-types, signed by ring: openssl agrees.
    let key = JwtKey::load(&fixture("jwt-test-pkcs1.key")).unwrap();
    let token = key.sign(&claims).unwrap();
    assert!(openssl_verifies(&token, &fixture("jwt-test.pub")));

    // openssl signs `header.payload` with the PKCS#8 key; the sandbox's verifier accepts it.
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let scratch = Scratch::new();
    let (message_path, signature_path) = (scratch.0.join("message"), scratch.0.join("signature"));
    std::fs::write(&message_path, &message).unwrap();
    let status = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", &fixture("jwt-test.key"), "-out"])
        .arg(&signature_path)
        .arg(&message_path)
        .status()
        .expect("the openssl command runs");
    assert!(status.success());
    let signature = std::fs::read(&signature_path).unwrap();
    let token = format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature));
    let public = JwtPublicKey::load(&fixture("jwt-test.pub")).unwrap();
    let back: NitClaims = verify(&token, &public).unwrap();
    assert_eq!(back.nit, "a".repeat(64));
    let other = JwtKey::load(&fixture("jwt-test-other.key")).unwrap();
    let err = verify::<NitClaims>(&token, &other.public_key()).unwrap_err();
    assert!(err.contains("does not verify"), "{err}");
}

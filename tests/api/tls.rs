//! The service serving HTTPS itself (TLS_CERT_PATH / TLS_KEY_PATH) with certificates made here
//! (`rcgen`): Carat's callback committed over TLS, an untrusting client refused, and the pair
//! replaced while serving (the reload hook, the file watcher, SIGHUP to the real binary): new
//! handshakes see the new certificate, a connection opened before keeps working. The
//! container's probe (`carat-merchant health`) over TLS, pinning the configured certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use carat_merchant::config::Settings;
use carat_merchant::startup::Application;
use carat_merchant::tls::ReloadingCert;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use reqwest::StatusCode;
use tokio::net::TcpListener;

use crate::helpers::{Options, TestApp, spawn_app_with};
use crate::process::{self, ServiceProcess};

const SEED_NIT: &str = "e009886843920c5173104557c9f6cd66b1481557fb3f4d88daca072eb8a50c97";
/// The seed's (002) authenticity POST.
const SEED_BODY: &str = "merchantUSN=987654321&merchantId=LOJAFATURAT&orderId=123456789&nit=e009886843920c5173104557c9f6cd66b1481557fb3f4d88daca072eb8a50c97&generalHash=85E791AD85E791AD";

/// A CA of the test's own, and a server certificate it signed for `localhost` and 127.0.0.1.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn make_pki(ca_name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// The files the service reads; removed with the test.
struct CertDir(PathBuf);

impl CertDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("carat-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn cert(&self) -> PathBuf {
        self.0.join("cert.pem")
    }
    fn key(&self) -> PathBuf {
        self.0.join("key.pem")
    }
    /// Writes a pair (renamed into place, as a renewal tool should, so no reader sees half).
    fn install(&self, pki: &Pki) {
        write_atomically(&self.key(), &pki.key_pem);
        write_atomically(&self.cert(), &pki.cert_pem);
    }
    fn env(&self) -> [(&'static str, String); 2] {
        [
            ("TLS_CERT_PATH", self.cert().display().to_string()),
            ("TLS_KEY_PATH", self.key().display().to_string()),
        ]
    }
}

impl Drop for CertDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A client trusting only `ca_pem`. It keeps connections alive (reqwest's default).
fn client_trusting(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The test app's configuration with TLS on, served in this process; the reload hook with it.
async fn spawn_tls_instance(app: &TestApp, certs: &CertDir) -> (String, Arc<ReloadingCert>) {
    let [cert, key] = certs.env();
    let env = app.env_with(&[(cert.0, &cert.1), (key.0, &key.1)]);
    let config_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Settings::load_from(&config_dir, |name| env.get(name).cloned()).unwrap();
    settings.reconcile.enabled = false;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let service = Application::build_on(settings, listener).await.unwrap();
    let reload = service.tls().expect("TLS is on");
    tokio::spawn(service.run_until(std::future::pending()));
    (format!("https://localhost:{port}"), reload)
}

/// A create of ours waiting for its NIT, with the seed example's order id and USN.
async fn pending_create(app: &TestApp) -> uuid::Uuid {
    app.pending_create("123456789", 987654321).await
}

async fn post_authenticity(
    client: &reqwest::Client,
    base: &str,
) -> reqwest::Result<(StatusCode, String)> {
    let response = client
        .post(format!("{base}/callbacks/authenticity"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(SEED_BODY)
        .send()
        .await?;
    Ok((response.status(), response.text().await?))
}

/// How many of the process's log lines so far hold `needle`.
fn logged(service: &ServiceProcess, needle: &str) -> usize {
    service
        .log_lines()
        .iter()
        .filter(|l| l.contains(needle))
        .count()
}

async fn live(client: &reqwest::Client, base: &str) -> reqwest::Result<StatusCode> {
    let response = client.get(format!("{base}/health/live")).send().await?;
    let status = response.status();
    // Read to the end, so the connection goes back to the client's pool.
    response.bytes().await?;
    Ok(status)
}

fn seed_merchant() -> Options {
    Options {
        merchant_id: "LOJAFATURAT",
        ..Options::default()
    }
}

#[tokio::test]
async fn the_authenticity_post_commits_over_tls_and_an_untrusting_client_is_refused() {
    let app = spawn_app_with(seed_merchant()).await;
    let certs = CertDir::new();
    let pki = make_pki("carat test CA one");
    certs.install(&pki);
    let (base, _) = spawn_tls_instance(&app, &certs).await;
    let id = pending_create(&app).await;

    // A client that does not trust the test CA (the platform's roots only) is refused.
    let untrusting = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let refused = post_authenticity(&untrusting, &base).await.unwrap_err();
    assert!(refused.is_connect(), "{refused:?}");
    // Plain HTTP on the TLS port gets no answer either.
    let plain = base.replace("https://", "http://");
    assert!(live(&untrusting, &plain).await.is_err());

    let client = client_trusting(&pki.ca_pem);
    let (status, text) = post_authenticity(&client, &base).await.unwrap();
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));
    let (status, nit): (String, Option<String>) =
        sqlx::query_as("SELECT status, nit FROM recharges WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), nit.as_deref()),
        ("started", Some(SEED_NIT))
    );
    // The inbox kept the peer's address: ConnectInfo works through the TLS listener.
    let source: Option<String> =
        sqlx::query_scalar("SELECT source_addr FROM callbacks WHERE kind = 'authenticity'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let source = source.expect("the peer's address is kept");
    assert!(source.starts_with("127.0.0.1:"), "{source}");
}

#[tokio::test]
async fn a_reload_serves_the_new_certificate_to_new_connections_and_keeps_open_ones() {
    let app = spawn_app_with(seed_merchant()).await;
    let certs = CertDir::new();
    let first = make_pki("carat test CA one");
    certs.install(&first);
    let (base, reload) = spawn_tls_instance(&app, &certs).await;

    // Opened before the reload, and kept alive in the client's pool.
    let old_client = client_trusting(&first.ca_pem);
    assert_eq!(live(&old_client, &base).await.unwrap(), StatusCode::OK);
    // One that handshakes anew for every request (keeping the TLS session it was given).
    let resuming = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .tls_certs_only([reqwest::Certificate::from_pem(first.ca_pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    assert_eq!(live(&resuming, &base).await.unwrap(), StatusCode::OK);

    let second = make_pki("carat test CA two");
    certs.install(&second);
    reload.reload().unwrap();
    // No resuming a session made under the replaced certificate: the new one is checked.
    assert!(live(&resuming, &base).await.is_err());

    // A new connection gets the new certificate: trusted by the second CA, not the first.
    let new_client = client_trusting(&second.ca_pem);
    assert_eq!(live(&new_client, &base).await.unwrap(), StatusCode::OK);
    assert!(live(&client_trusting(&first.ca_pem), &base).await.is_err());
    // The connection opened before still answers: it can only be the old one, since a new
    // connection from this client (trusting the first CA only) would now be refused.
    assert_eq!(live(&old_client, &base).await.unwrap(), StatusCode::OK);

    // A bad new pair (a key that is not the certificate's) is refused and the one in use kept.
    let third = make_pki("carat test CA three");
    std::fs::write(certs.cert(), &third.cert_pem).unwrap();
    let refused = reload.reload().unwrap_err();
    assert!(refused.contains("does not go with"), "{refused}");
    assert_eq!(
        live(&client_trusting(&second.ca_pem), &base).await.unwrap(),
        StatusCode::OK
    );

    // The file watcher's check: a change of the files reloads, with no call to the hook.
    certs.install(&first);
    reload.reload_if_changed();
    assert_eq!(
        live(&client_trusting(&first.ca_pem), &base).await.unwrap(),
        StatusCode::OK
    );
    assert!(live(&client_trusting(&second.ca_pem), &base).await.is_err());
}

#[tokio::test]
async fn sighup_and_a_file_change_reload_the_real_binarys_certificate() {
    let app = spawn_app_with(seed_merchant()).await;
    let certs = CertDir::new();
    let first = make_pki("carat test CA one");
    certs.install(&first);
    let [cert, key] = certs.env();
    let service = ServiceProcess::start(app.env_with(&[(cert.0, &cert.1), (key.0, &key.1)])).await;
    let base = service.address.replace("http://", "https://");

    let old_client = client_trusting(&first.ca_pem);
    assert_eq!(live(&old_client, &base).await.unwrap(), StatusCode::OK);

    let second = make_pki("carat test CA two");
    certs.install(&second);
    service.signal("-HUP");
    service
        .until_logged("TLS certificate reloaded", Duration::from_secs(10))
        .await;

    assert_eq!(
        live(&client_trusting(&second.ca_pem), &base).await.unwrap(),
        StatusCode::OK
    );
    assert!(live(&client_trusting(&first.ca_pem), &base).await.is_err());
    assert_eq!(live(&old_client, &base).await.unwrap(), StatusCode::OK);

    // With no signal, the files' watcher (every 5 s) picks the next change up. It may look
    // between the key's write and the certificate's (a pair that does not match is refused,
    // and kept for the next look), and it may also have seen the second pair before the
    // SIGHUP did: so count the watcher's lines from here, and ask until the new pair serves.
    let changes_before = logged(&service, "TLS certificate files changed");
    let third = make_pki("carat test CA three");
    certs.install(&third);
    service
        .until_logged_times(
            "TLS certificate files changed",
            changes_before + 1,
            Duration::from_secs(15),
        )
        .await;
    let third_client = client_trusting(&third.ca_pem);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while live(&third_client, &base).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher did not serve the new pair within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(live(&third_client, &base).await.unwrap(), StatusCode::OK);

    // Graceful shutdown with TLS: the idle keep-alive connection does not hold it up.
    service.signal("-TERM");
    let status = service.exit_status(Duration::from_secs(10)).await;
    assert!(status.success(), "{status}");
}

/// `carat-merchant health` (the image's HEALTHCHECK) with only `env`: its exit code and stdout.
async fn health_probe(env: &[(&'static str, String)]) -> (Option<i32>, String) {
    let output = process::run("health", env.iter().cloned().collect()).await;
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn the_health_probe_speaks_tls_when_the_service_does_and_pins_its_certificate() {
    let app = spawn_app_with(seed_merchant()).await;
    let certs = CertDir::new();
    certs.install(&make_pki("carat test CA probe"));
    let (base, _reload) = spawn_tls_instance(&app, &certs).await;
    // As the image runs it: a wildcard LISTEN_ADDR is probed on loopback, where no name of the
    // certificate applies.
    let port = base.rsplit(':').next().unwrap().to_owned();
    let listen = ("LISTEN_ADDR", format!("0.0.0.0:{port}"));
    let [cert, _] = certs.env();

    let (code, stdout) = health_probe(&[listen.clone(), cert.clone()]).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.starts_with("200 OK"), "{stdout}");

    // Without TLS_CERT_PATH it speaks plain HTTP to a TLS port, and fails (the former probe).
    let (code, _) = health_probe(std::slice::from_ref(&listen)).await;
    assert_eq!(code, Some(1));

    // Another certificate, even one for the same names: refused.
    let other = CertDir::new();
    other.install(&make_pki("carat test CA elsewhere"));
    let [other_cert, _] = other.env();
    let (code, _) = health_probe(&[listen, other_cert]).await;
    assert_eq!(code, Some(1));
}

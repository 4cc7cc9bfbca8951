//! The probes: `/health/live` (the process serves; nothing else is asked) and `/health/ready`
//! (it can do its work: the database answers, every migration this binary embeds is applied,
//! and the reconciler, when it runs here, completes passes). `/health` is kept as an alias of
//! ready. Answers name each check and its state, never a URL, a host or an error's text.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

use carat_core::recharge::Heartbeat;
use carat_store::MIGRATOR;

#[derive(Clone, Debug)]
pub struct HealthState {
    pub pool: PgPool,
    /// The reconciler's, and how old its last pass may be; `None` when it does not run here.
    pub reconciler: Option<(Heartbeat, Duration)>,
}

pub fn router(state: HealthState) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health", get(ready))
        .with_state(state)
}

async fn live() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Check {
    Ok,
    /// Not run here (the reconciler with `RECONCILE_ENABLED=false`).
    Disabled,
    /// The database did not answer.
    Unreachable,
    /// Could not be told (the database is away).
    Unknown,
    /// Migrations this binary embeds that are not applied (or whose run failed).
    Pending {
        versions: Vec<i64>,
    },
    /// The reconciler has not completed a pass yet (it just started) or not for too long.
    Stale {
        last_pass_ms_ago: Option<u64>,
    },
}

impl Check {
    fn is_ready(&self) -> bool {
        matches!(self, Check::Ok | Check::Disabled)
    }
}

/// Which embedded migrations are not applied successfully, given `_sqlx_migrations`'
/// `(version, success)` rows. Rows of versions the binary does not know (a newer instance
/// migrated first) are not its business.
pub fn migrations_check(embedded: &[i64], applied: &[(i64, bool)]) -> Check {
    let pending: Vec<i64> = embedded
        .iter()
        .copied()
        .filter(|v| !applied.contains(&(*v, true)))
        .collect();
    if pending.is_empty() {
        Check::Ok
    } else {
        Check::Pending { versions: pending }
    }
}

/// The reconciler is alive when its last completed pass is at most `max_age` old.
pub fn reconciler_check(age: Option<Duration>, max_age: Duration) -> Check {
    match age {
        Some(age) if age <= max_age => Check::Ok,
        age => Check::Stale {
            last_pass_ms_ago: age.map(|a| a.as_millis() as u64),
        },
    }
}

async fn ready(State(state): State<HealthState>) -> impl IntoResponse {
    let embedded: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    let applied = carat_store::db::applied_migrations(&state.pool).await;
    let (database, migrations) = match applied {
        Ok(applied) => (Check::Ok, migrations_check(&embedded, &applied)),
        Err(e) => {
            tracing::error!(error = %e, "health: the database did not answer");
            (Check::Unreachable, Check::Unknown)
        }
    };
    let reconciler = match &state.reconciler {
        None => Check::Disabled,
        Some((heartbeat, max_age)) => reconciler_check(heartbeat.age(), *max_age),
    };
    let ready = database.is_ready() && migrations.is_ready() && reconciler.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "checks": {"database": database, "migrations": migrations, "reconciler": reconciler},
    });
    (status, Json(body))
}

/// `carat-merchant health`, the container's HEALTHCHECK: what to GET and with which client.
/// It reads the environment only (`LISTEN_ADDR`, `TLS_CERT_PATH`), never the secrets.
pub mod probe {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

    /// The probe's URL: the listen address (a wildcard reached on loopback), over HTTPS when
    /// the service serves TLS itself.
    pub fn url(listen_addr: &str, tls: bool, live: bool) -> String {
        let addr = listen_addr
            .parse::<std::net::SocketAddr>()
            .map(crate::startup::reachable)
            .map_or_else(|_| listen_addr.to_owned(), |a| a.to_string());
        let scheme = if tls { "https" } else { "http" };
        let path = if live {
            "/health/live"
        } else {
            "/health/ready"
        };
        format!("{scheme}://{addr}{path}")
    }

    /// A client for the probe. With `cert_path` (TLS_CERT_PATH), it accepts exactly the leaf
    /// certificate that file holds, under any name: the probe dials an address (loopback),
    /// which a real certificate does not name, and a CA bundle to trust may not exist.
    pub fn client(cert_path: Option<&Path>) -> Result<reqwest::Client, String> {
        let builder = reqwest::Client::builder().timeout(Duration::from_secs(3));
        let Some(path) = cert_path else {
            return builder.build().map_err(|e| e.to_string());
        };
        let leaf = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("TLS_CERT_PATH {}: cannot read: {e}", path.display()))?
            .next()
            .ok_or_else(|| format!("TLS_CERT_PATH {}: holds no certificate", path.display()))?
            .map_err(|e| format!("TLS_CERT_PATH {}: not PEM: {e}", path.display()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(ExactlyThisCertificate {
            leaf,
            provider: provider.clone(),
        });
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        builder
            .tls_backend_preconfigured(config)
            .build()
            .map_err(|e| e.to_string())
    }

    /// Pins the configured certificate: the server must present it, and prove it holds its
    /// key (the handshake's signature is verified as usual).
    #[derive(Debug)]
    struct ExactlyThisCertificate {
        leaf: CertificateDer<'static>,
        provider: Arc<CryptoProvider>,
    }

    impl ServerCertVerifier for ExactlyThisCertificate {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            if end_entity.as_ref() == self.leaf.as_ref() {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(CertificateError::ApplicationVerificationFailure.into())
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algorithms = &self.provider.signature_verification_algorithms;
            verify_tls12_signature(message, cert, dss, algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algorithms = &self.provider.signature_verification_algorithms;
            verify_tls13_signature(message, cert, dss, algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_dials_loopback_for_a_wildcard_and_https_with_tls() {
        assert_eq!(
            probe::url("0.0.0.0:8080", false, false),
            "http://127.0.0.1:8080/health/ready"
        );
        assert_eq!(
            probe::url("[::]:8443", true, true),
            "https://[::1]:8443/health/live"
        );
        assert_eq!(
            probe::url("10.0.0.5:8080", true, false),
            "https://10.0.0.5:8080/health/ready"
        );
    }

    #[test]
    fn every_embedded_migration_must_have_succeeded() {
        assert_eq!(
            migrations_check(&[1, 2], &[(1, true), (2, true)]),
            Check::Ok
        );
        assert_eq!(
            migrations_check(&[1, 2], &[(1, true), (2, true), (3, true)]),
            Check::Ok,
            "a newer instance's migration is not this one's concern"
        );
        assert_eq!(
            migrations_check(&[1, 2], &[(1, true)]),
            Check::Pending { versions: vec![2] }
        );
        assert_eq!(
            migrations_check(&[1, 2], &[(1, true), (2, false)]),
            Check::Pending { versions: vec![2] }
        );
    }

    #[test]
    fn the_reconciler_must_have_passed_recently() {
        let max = Duration::from_secs(10);
        assert_eq!(
            reconciler_check(Some(Duration::from_secs(3)), max),
            Check::Ok
        );
        assert_eq!(
            reconciler_check(Some(Duration::from_secs(11)), max),
            Check::Stale {
                last_pass_ms_ago: Some(11_000)
            }
        );
        assert_eq!(
            reconciler_check(None, max),
            Check::Stale {
                last_pass_ms_ago: None
            }
        );
    }

    #[test]
    fn checks_serialize_with_their_state() {
        assert_eq!(
            serde_json::to_value(Check::Ok).unwrap(),
            json!({"state": "ok"})
        );
        assert_eq!(
            serde_json::to_value(Check::Pending { versions: vec![7] }).unwrap(),
            json!({"state": "pending", "versions": [7]})
        );
    }
}

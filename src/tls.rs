//! Serving TLS ourselves (`TLS_CERT_PATH` / `TLS_KEY_PATH`): Carat calls only HTTPS URLs with a
//! valid certificate, so the service either sits behind a terminating proxy or holds the
//! certificate itself. The certified key sits behind a lock that [`ReloadingCert::reload`]
//! swaps (on SIGHUP and when the files change): new handshakes get the new certificate, open
//! connections keep the one they were made with, and a bad new pair is logged and the old kept.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take over its handshake: a slow or silent one must not hold a slot.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the files' modification times are compared (no inotify: it misses renames
/// through symlinks as Kubernetes secrets do them, and polling two `stat`s costs nothing).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// Where the certificate chain and its private key are (PEM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads the pair and checks the key is the certificate's. The error names the file and the
/// reason, never the key's content.
pub fn load(files: &TlsFiles) -> Result<CertifiedKey, String> {
    let cert_path = files.cert_path.display();
    let key_path = files.key_path.display();
    let certs = CertificateDer::pem_file_iter(&files.cert_path)
        .map_err(|e| format!("TLS_CERT_PATH {cert_path}: cannot read: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("TLS_CERT_PATH {cert_path}: not a PEM certificate chain: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "TLS_CERT_PATH {cert_path}: holds no CERTIFICATE block"
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_path)
        .map_err(|e| format!("TLS_KEY_PATH {key_path}: no readable PEM private key: {e}"))?;
    CertifiedKey::from_der(certs, key, &provider()).map_err(|e| {
        format!("TLS_KEY_PATH {key_path} does not go with TLS_CERT_PATH {cert_path}: {e}")
    })
}

fn modified(files: &TlsFiles) -> Option<(SystemTime, SystemTime)> {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(&files.cert_path)?, m(&files.key_path)?))
}

/// The certificate new handshakes get, replaceable while serving.
#[derive(Debug)]
pub struct ReloadingCert {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when last looked at, so the watcher reloads once per change.
    seen: Mutex<Option<(SystemTime, SystemTime)>>,
}

impl ReloadingCert {
    pub fn new(files: TlsFiles) -> Result<Arc<Self>, String> {
        let seen = modified(&files);
        let key = load(&files)?;
        Ok(Arc::new(Self {
            files,
            current: RwLock::new(Arc::new(key)),
            seen: Mutex::new(seen),
        }))
    }

    /// Reads the files again; on success new handshakes get the new pair. On failure the
    /// pair in use stays (a half-written renewal must not take the service down).
    pub fn reload(&self) -> Result<(), String> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = modified(&self.files);
        match load(&self.files) {
            Ok(key) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
                tracing::info!(cert = %self.files.cert_path.display(), "TLS certificate reloaded");
                Ok(())
            }
            Err(reason) => {
                tracing::error!(%reason, "TLS certificate not reloaded; keeping the one in use");
                Err(reason)
            }
        }
    }

    /// Reloads when either file's modification time differs from the last look.
    pub fn reload_if_changed(&self) {
        let now = modified(&self.files);
        let changed = *self.seen.lock().unwrap_or_else(|e| e.into_inner()) != now;
        if changed {
            tracing::info!(cert = %self.files.cert_path.display(), "TLS certificate files changed");
            let _ = self.reload();
        }
    }

    /// The rustls server configuration resolving to this certificate. HTTP/1.1 only: the
    /// service speaks nothing else.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, String> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // No session resumption: a resumed session skips the certificate, so a client could
        // go on resuming under a replaced (perhaps compromised) certificate after a reload.
        // Every new connection gets the certificate of the moment; keep-alive still spares
        // Carat's few callbacks a handshake per request.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// Polls the files every `interval` until the returned task is aborted.
pub fn watch(cert: Arc<ReloadingCert>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            cert.reload_if_changed();
        }
    })
}

/// An axum [`Listener`](axum::serve::Listener) handing out TLS streams. Handshakes run in
/// tasks of their own, so one slow client never holds up the next connection; dropping the
/// listener (graceful shutdown does) stops accepting.
pub struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    acceptor: AbortHandle,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, accepted) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // As axum's own listener does: out of descriptors is passing.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            accepted,
            local_addr,
            acceptor: task.abort_handle(),
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(accepted) => accepted,
            // The accepting task only ends when aborted by our own drop.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let files = TlsFiles {
            cert_path: "/nonexistent/cert.pem".into(),
            key_path: "/nonexistent/key.pem".into(),
        };
        let e = load(&files).unwrap_err();
        assert!(e.contains("TLS_CERT_PATH /nonexistent/cert.pem"), "{e}");
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = dir.join("empty.pem");
        std::fs::write(&cert, "not pem\n").unwrap();
        let files = TlsFiles {
            cert_path: cert.clone(),
            key_path: cert,
        };
        let e = load(&files).unwrap_err();
        assert!(e.contains("holds no CERTIFICATE"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

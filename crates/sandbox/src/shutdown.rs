//! The process's shutdown wait, shared by both binaries that serve the sandbox
//! (`carat-sandbox`, and `carat-merchant`'s `serve` and `sandbox` commands), so that they stop
//! on the same signals.

/// Returns once the process gets SIGINT (Ctrl-C) or, on Unix, SIGTERM (what `docker stop` and
/// Kubernetes send). Should the SIGTERM handler fail to install, only SIGINT ends the wait.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

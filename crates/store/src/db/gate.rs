//! The gate: while a circuit is open, the pool connects to a Unix socket of the watcher's,
//! which answers each connect as PostgreSQL would refuse it (`08001` while the server is still
//! down, so sqlx gives up at once and the caller answers 503; `57P03` once it is back, so sqlx
//! tries again, by then with the server's address), since sqlx has no hook before a connect
//! and retries a refused one until the acquire timeout. Where no socket can be made, the pool
//! connects to [`NOWHERE`] instead, which fails at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::PgPool;

use super::circuit::{Circuit, SHORT_WINDOW};

/// While a circuit is open and its [`Gate`] could not be made, its pool "connects" here: a path
/// under a device file, which cannot exist, so the connect fails at once with an error sqlx
/// does not retry (it retries a refused connect until `DATABASE_ACQUIRE_TIMEOUT_MS`). The first
/// acquire after the server is back then fails too; the watcher's next probe closes the circuit.
pub(super) const NOWHERE: &str = "/dev/null/carat-merchant-database-down";

/// While the circuit is open, the pool connects here: a Unix socket of the watcher's, in a
/// directory of its own. Each connect is answered as PostgreSQL would refuse it: `08001` while
/// the server is still down (sqlx gives up at once, the caller answers 503), `57P03` ("cannot
/// connect now") once it is back (sqlx tries again, by then with the server's address). sqlx
/// has no hook before a connect, and retries a refused one until the acquire timeout.
#[derive(Debug)]
pub(super) struct Gate {
    pub(super) dir: std::path::PathBuf,
    listener: tokio::net::UnixListener,
}

impl Gate {
    /// `None` where it cannot be made: the pool then connects to [`NOWHERE`] while down.
    pub(super) fn open(port: u16) -> Option<Self> {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "carat-merchant-{}-{}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let made = std::fs::create_dir(&dir)
            .and_then(|()| tokio::net::UnixListener::bind(dir.join(format!(".s.PGSQL.{port}"))));
        match made {
            Ok(listener) => Some(Self { dir, listener }),
            Err(error) => {
                tracing::debug!(%error, "no gate socket; a down database fails connects at once");
                let _ = std::fs::remove_dir_all(&dir);
                None
            }
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(super) async fn accept(gate: &Option<Gate>) -> Option<tokio::net::UnixStream> {
    match gate {
        Some(gate) => gate.listener.accept().await.ok().map(|(stream, _)| stream),
        None => std::future::pending().await,
    }
}

/// Answers one connect at the gate (see [`Gate`]).
pub(super) async fn answer(
    mut stream: tokio::net::UnixStream,
    circuit: Arc<Circuit>,
    pool: PgPool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // sqlx's startup message (no TLS on this socket): read, so that the close is clean.
    let startup = async {
        let length = stream.read_u32().await? as usize;
        let mut rest = vec![0; length.saturating_sub(4).min(64 * 1024)];
        stream.read_exact(&mut rest).await.map(|_| ())
    };
    if tokio::time::timeout(SHORT_WINDOW, startup).await.is_err() {
        return;
    }
    let (code, message) = if circuit.back_now(&pool).await {
        ("57P03", "the database server is back: connect to it again")
    } else {
        (
            "08001",
            "the database server is down: answered at once until it is back",
        )
    };
    let _ = stream.write_all(&error_response(code, message)).await;
    let _ = stream.shutdown().await;
}

/// A PostgreSQL `ErrorResponse` message (FATAL).
fn error_response(code: &str, message: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (tag, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', code),
        (b'M', message),
    ] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut out = vec![b'E'];
    out.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    out.extend(fields);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_gate_refuses_as_postgresql_does() {
        let message = super::error_response("57P03", "back");
        assert_eq!(message[0], b'E');
        let length = u32::from_be_bytes(message[1..5].try_into().unwrap()) as usize;
        assert_eq!(length, message.len() - 1);
        assert_eq!(&message[5..], b"SFATAL\0VFATAL\0C57P03\0Mback\0\0");
    }
}

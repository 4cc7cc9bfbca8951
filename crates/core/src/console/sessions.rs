//! The console's sessions: a random cookie value names one; only its SHA-256 is stored, and
//! its CSRF token is derived from it, so a copy of the table neither signs anybody in nor
//! forges a form. A session idle longer than `idle` is gone.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::ConsoleError;
use carat_domain::{Actor, ConsoleRole, FieldError};
use carat_store::console_sessions as store;

/// Random bytes in a cookie value.
const COOKIE_BYTES: usize = 32;

/// The console's sessions. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sessions {
    pool: PgPool,
    idle: Duration,
}

/// A session just opened: what the browser is given.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedSession {
    /// The cookie's value: 32 random bytes, base64url without padding.
    pub cookie_value: String,
    /// The token every form of this session carries.
    pub csrf: String,
}

/// A signed-in session, as found by its cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub role: ConsoleRole,
    /// The id of the API token it signed in with ([`carat_domain::token_id`]).
    pub token_id: String,
    /// The token its forms must carry.
    pub csrf: String,
}

impl Session {
    /// Who the history names for what this session does: `operator:<token id>`.
    pub fn actor(&self) -> Actor {
        Actor::Operator(self.token_id.clone())
    }
}

impl fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpenedSession([REDACTED])")
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("token_id", &self.token_id)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    pub fn new(pool: PgPool, idle: Duration) -> Self {
        Self { pool, idle }
    }

    /// How long a session may go unused.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Opens a session for a token that signed in as `role`. Sessions idle too long are
    /// deleted first: sign-ins are rare, and this bounds the table without a worker.
    pub async fn open(
        &self,
        role: ConsoleRole,
        token_id: &str,
    ) -> Result<OpenedSession, ConsoleError> {
        if token_id.len() != 16 || !token_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            let error = FieldError::new("token_id", "must be a token id: 16 hex digits");
            return Err(ConsoleError::Invalid(error));
        }
        store::delete_idle(&self.pool, self.idle).await?;
        let mut bytes = [0u8; COOKIE_BYTES];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system's random source works");
        let cookie_value = URL_SAFE_NO_PAD.encode(bytes);
        let id_hash = id_hash(&cookie_value);
        store::insert(&self.pool, &id_hash, role, &token_id.to_ascii_lowercase()).await?;
        Ok(OpenedSession {
            csrf: csrf_for(&cookie_value),
            cookie_value,
        })
    }

    /// The session `cookie_value` names, if it was used within `idle` (it counts as used now);
    /// one idle longer is deleted and answers `None`, as does a value that names none.
    pub async fn find(&self, cookie_value: &str) -> Result<Option<Session>, ConsoleError> {
        if !is_cookie_shaped(cookie_value) {
            return Ok(None);
        }
        let Some(row) = store::touch(&self.pool, &id_hash(cookie_value), self.idle).await? else {
            return Ok(None);
        };
        Ok(Some(Session {
            role: row.role,
            token_id: row.token_id,
            csrf: csrf_for(cookie_value),
        }))
    }

    /// Signs the session out.
    pub async fn close(&self, cookie_value: &str) -> Result<(), ConsoleError> {
        if is_cookie_shaped(cookie_value) {
            store::delete(&self.pool, &id_hash(cookie_value)).await?;
        }
        Ok(())
    }
}

/// What the table keys a session by: the SHA-256 of its cookie's value.
fn id_hash(cookie_value: &str) -> Vec<u8> {
    Sha256::digest(cookie_value.as_bytes()).to_vec()
}

/// The session's CSRF token: derived from the cookie's value (which only its browser holds)
/// under a label of its own, so it is not the table's key.
fn csrf_for(cookie_value: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"carat-console csrf\0");
    digest.update(cookie_value.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// Whether a value could be a cookie value at all (a guess never reaches the database).
fn is_cookie_shaped(value: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(value)
        .is_ok_and(|bytes| bytes.len() == COOKIE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_neither_the_cookie_nor_its_key() {
        let cookie = URL_SAFE_NO_PAD.encode([7u8; COOKIE_BYTES]);
        let csrf = csrf_for(&cookie);
        assert_eq!(csrf, csrf_for(&cookie));
        assert_ne!(csrf, cookie);
        assert_ne!(csrf, URL_SAFE_NO_PAD.encode(id_hash(&cookie)));
        assert_ne!(csrf, csrf_for(&URL_SAFE_NO_PAD.encode([8u8; COOKIE_BYTES])));
    }

    #[test]
    fn only_a_cookie_shaped_value_is_looked_up() {
        assert!(is_cookie_shaped(&URL_SAFE_NO_PAD.encode([0u8; 32])));
        for not in [
            "",
            "abc",
            &URL_SAFE_NO_PAD.encode([0u8; 31]),
            &"A".repeat(44),
        ] {
            assert!(!is_cookie_shaped(not), "{not}");
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let opened = OpenedSession {
            cookie_value: "cookie-value".into(),
            csrf: "csrf-token".into(),
        };
        let session = Session {
            role: ConsoleRole::Operator,
            token_id: "0123456789abcdef".into(),
            csrf: "csrf-token".into(),
        };
        let shown = format!("{opened:?} {session:?}");
        assert!(
            !shown.contains("cookie-value") && !shown.contains("csrf-token"),
            "{shown}"
        );
        assert!(shown.contains("0123456789abcdef"), "{shown}");
        assert_eq!(session.actor().to_string(), "operator:0123456789abcdef");
    }
}

//! Settings, layered: `config/default.toml`, then `config/<APP_PROFILE>.toml`, then the
//! environment. Every key is flat, and its environment variable is the key in upper case
//! (`carat_merchant_id` ↔ `CARAT_MERCHANT_ID`), so one table documents both.
//!
//! A missing or malformed setting stops start-up with an error naming it. Secret values are
//! read into [`Secret`] and never appear in an error or a log.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::domain::{MerchantId, PendingConfirmationPolicy, Secret};

/// Every setting the service reads. Anything else in a config file is an error (a typo there
/// should not silently fall back to a default).
pub const KEYS: &[&str] = &[
    "database_url",
    "database_max_connections",
    "database_acquire_timeout_ms",
    "listen_addr",
    "shutdown_grace_ms",
    "api_tokens",
    "idempotency_ttl_hours",
    "callback_allowed_networks",
    "trusted_proxies",
    "callback_path_secret",
    "carat_base_url",
    "carat_merchant_id",
    "carat_merchant_key",
    "carat_connect_timeout_ms",
    "carat_timeout_ms",
    "carat_call_grace_ms",
    "carat_nit_lifetime_secs",
    "reconcile_enabled",
    "reconcile_interval_ms",
    "reconcile_max_backoff_secs",
    "pending_confirmation_timeout_secs",
    "pending_confirmation_policy",
    "instance_id",
    "log_format",
    "log_filter",
    "sandbox_listen_addr",
    "sandbox_authenticity_url",
    "sandbox_nit_lifetime_secs",
    "sandbox_slow_answer_delay_ms",
    "sandbox_callback_timeout_ms",
];

const SECRET_KEYS: &[&str] = &[
    "database_url",
    "api_tokens",
    "carat_merchant_key",
    "callback_path_secret",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {env} is missing (set it in the environment or in config/*.toml as `{key}`)")]
    Missing { key: &'static str, env: String },
    #[error("setting {env} is invalid: {reason}")]
    Invalid { env: String, reason: String },
    #[error("config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub profile: String,
    pub database_url: Secret,
    pub database_max_connections: u32,
    /// How long a request waits for a database connection before it is answered 503.
    pub database_acquire_timeout: Duration,
    pub listen_addr: SocketAddr,
    /// After SIGTERM or Ctrl-C, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
    /// Every bearer token the storefront may use; several at once so they can rotate.
    pub api_tokens: Vec<Secret>,
    /// How long an `Idempotency-Key` and its stored answer are kept.
    pub idempotency_ttl: Duration,
    pub callbacks: CallbackSettings,
    pub carat: CaratSettings,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub sandbox: SandboxSettings,
    pub reconcile: ReconcileSettings,
}

/// The reconciler: the background worker that ends every recharge nobody else ends.
#[derive(Clone, Debug)]
pub struct ReconcileSettings {
    /// Whether `serve` runs the worker (the `reconcile` command always runs one pass).
    pub enabled: bool,
    /// How often a pass runs; also the first retry delay after a failed attempt.
    pub interval: Duration,
    /// The longest delay between two attempts on one recharge (Carat down for hours).
    pub max_backoff: Duration,
    /// How long a recharge may wait in `pending_confirmation`, counted from its effectuation.
    pub pending_timeout: Duration,
    /// What ends a recharge left pending that long.
    pub pending_policy: PendingConfirmationPolicy,
    /// Names this instance in the history and in leases.
    pub instance_id: String,
}

/// Who may reach the callback routes.
#[derive(Clone, Debug)]
pub struct CallbackSettings {
    /// Source networks Carat posts from; empty means any.
    pub allowed_networks: Vec<ipnet::IpNet>,
    /// Proxies whose `X-Forwarded-For` is believed when finding a callback's source.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// An extra path segment the callback URLs registered with Carat carry, if set.
    pub path_secret: Option<Secret>,
}

#[derive(Clone, Debug)]
pub struct CaratSettings {
    /// `None`: the embedded sandbox plays Carat Portal in this process.
    pub base_url: Option<Url>,
    pub merchant_id: MerchantId,
    pub merchant_key: Secret,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Past the client timeout, how long before a call counts as over for sure (clock skew
    /// between instances, the time to commit its outcome).
    pub call_grace: Duration,
    /// How long a NIT lives at Carat: a `started` recharge older than this is asked about.
    pub nit_lifetime: Duration,
}

#[derive(Clone, Debug)]
pub struct SandboxSettings {
    /// Where `carat-merchant sandbox` listens when run alone.
    pub listen_addr: SocketAddr,
    /// Where the standalone sandbox sends the authenticity POST. The embedded one always
    /// posts to its own service.
    pub authenticity_url: Url,
    pub nit_lifetime: Duration,
    pub slow_answer_delay: Duration,
    pub callback_timeout: Duration,
}

impl Settings {
    /// Loads from `APP_CONFIG_DIR` (default `config`) and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let dir = std::env::var("APP_CONFIG_DIR").unwrap_or_else(|_| "config".to_owned());
        Self::load_from(Path::new(&dir), |name| std::env::var(name).ok())
    }

    /// Loads from `dir`, with `env` standing for the environment (tests pass their own).
    pub fn load_from(
        dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let profile = env("APP_PROFILE").unwrap_or_else(|| "local".to_owned());
        let mut values = BTreeMap::new();
        read_file(&dir.join("default.toml"), true, &mut values)?;
        read_file(&dir.join(format!("{profile}.toml")), false, &mut values)?;
        for key in KEYS {
            if let Some(value) = env(&key.to_uppercase()) {
                values.insert(*key, value);
            }
        }
        let v = Values(values);

        let carat_base_url = v.optional("carat_base_url", parse_url)?;
        if profile == "production" && carat_base_url.is_none() {
            return Err(ConfigError::Invalid {
                env: "CARAT_BASE_URL".into(),
                reason:
                    "required with APP_PROFILE=production (the embedded sandbox is for local runs)"
                        .into(),
            });
        }
        Ok(Self {
            database_url: v.secret("database_url")?,
            database_max_connections: v.required("database_max_connections", parse_positive)?,
            database_acquire_timeout: v.required("database_acquire_timeout_ms", parse_millis)?,
            listen_addr: v.required("listen_addr", parse_addr)?,
            shutdown_grace: v.required("shutdown_grace_ms", parse_millis)?,
            api_tokens: v.required("api_tokens", parse_tokens)?,
            idempotency_ttl: v.required("idempotency_ttl_hours", |s| {
                parse_positive(s).map(|h: u64| Duration::from_secs(h * 3600))
            })?,
            callbacks: CallbackSettings {
                allowed_networks: v
                    .optional("callback_allowed_networks", parse_networks)?
                    .unwrap_or_default(),
                trusted_proxies: v
                    .optional("trusted_proxies", parse_networks)?
                    .unwrap_or_default(),
                path_secret: v.optional("callback_path_secret", |s| Ok(Secret::new(s)))?,
            },
            carat: CaratSettings {
                base_url: carat_base_url,
                merchant_id: v.required("carat_merchant_id", |s| {
                    MerchantId::parse(s).map_err(|e| e.to_string())
                })?,
                merchant_key: v.secret("carat_merchant_key")?,
                connect_timeout: v.required("carat_connect_timeout_ms", parse_millis)?,
                timeout: v.required("carat_timeout_ms", parse_millis)?,
                call_grace: v.required("carat_call_grace_ms", parse_millis)?,
                nit_lifetime: v.required("carat_nit_lifetime_secs", parse_secs)?,
            },
            log_format: v.required("log_format", |s| match s {
                "human" => Ok(LogFormat::Human),
                "json" => Ok(LogFormat::Json),
                _ => Err("must be `human` or `json`".into()),
            })?,
            log_filter: v.required("log_filter", |s| Ok(s.to_owned()))?,
            sandbox: SandboxSettings {
                listen_addr: v.required("sandbox_listen_addr", parse_addr)?,
                authenticity_url: v.required("sandbox_authenticity_url", parse_url)?,
                nit_lifetime: v.required("sandbox_nit_lifetime_secs", parse_secs)?,
                slow_answer_delay: v.required("sandbox_slow_answer_delay_ms", parse_millis)?,
                callback_timeout: v.required("sandbox_callback_timeout_ms", parse_millis)?,
            },
            reconcile: ReconcileSettings {
                enabled: v.required("reconcile_enabled", parse_bool)?,
                interval: v.required("reconcile_interval_ms", parse_millis)?,
                max_backoff: v.required("reconcile_max_backoff_secs", parse_secs)?,
                pending_timeout: v.required("pending_confirmation_timeout_secs", parse_secs)?,
                pending_policy: v.required("pending_confirmation_policy", |s| {
                    PendingConfirmationPolicy::parse(s)
                        .ok_or_else(|| "must be `undo` or `confirm`".to_owned())
                })?,
                instance_id: v
                    .optional("instance_id", |s| Ok(s.to_owned()))?
                    .unwrap_or_else(default_instance_id),
            },
            profile,
        })
    }
}

fn read_file(
    path: &Path,
    must_exist: bool,
    values: &mut BTreeMap<&'static str, String>,
) -> Result<(), ConfigError> {
    let file_error = |reason: String| ConfigError::File {
        path: path.to_owned(),
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => return Ok(()),
        Err(e) => return Err(file_error(e.to_string())),
    };
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_error(e.message().to_owned()))?;
    for (key, value) in table {
        let Some(known) = KEYS.iter().find(|k| **k == key) else {
            return Err(file_error(format!("unknown setting `{key}`")));
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err(file_error(format!("`{key}` must be a string or a number"))),
        };
        values.insert(known, value);
    }
    Ok(())
}

struct Values(BTreeMap<&'static str, String>);

impl Values {
    /// An empty value counts as unset, so `CARAT_BASE_URL=` turns a file's value off.
    fn raw(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    fn optional<T>(
        &self,
        key: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.raw(key)
            .map(|raw| {
                parse(raw).map_err(|reason| ConfigError::Invalid {
                    env: key.to_uppercase(),
                    // The reason never quotes the value: it may be a secret.
                    reason,
                })
            })
            .transpose()
    }

    fn required<T>(
        &self,
        key: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        self.optional(key, parse)?
            .ok_or_else(|| ConfigError::Missing {
                key,
                env: key.to_uppercase(),
            })
    }

    fn secret(&self, key: &'static str) -> Result<Secret, ConfigError> {
        debug_assert!(SECRET_KEYS.contains(&key));
        self.required(key, |s| Ok(Secret::new(s)))
    }
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| "must be an address like 127.0.0.1:8080".to_owned())
}

fn parse_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("must be an absolute URL ({e})"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        _ => Err("must be an http or https URL".into()),
    }
}

/// Comma-separated tokens; blanks around commas ignored. Never quoted in an error.
fn parse_tokens(s: &str) -> Result<Vec<Secret>, String> {
    let tokens: Vec<Secret> = s
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .collect();
    if tokens.is_empty() {
        return Err("must list at least one token".into());
    }
    Ok(tokens)
}

/// Comma-separated CIDR networks (`10.0.0.0/8`) or single addresses (`192.0.2.7`).
fn parse_networks(s: &str) -> Result<Vec<ipnet::IpNet>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            n.parse::<ipnet::IpNet>()
                .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("`{n}` is not a network like 203.0.113.0/24 or an address"))
        })
        .collect()
}

fn parse_positive<T: std::str::FromStr + PartialOrd + Default>(s: &str) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err("must be a positive whole number".into()),
    }
}

fn parse_millis(s: &str) -> Result<Duration, String> {
    parse_positive(s).map(Duration::from_millis)
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    parse_positive(s).map(Duration::from_secs)
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be `true` or `false`".into()),
    }
}

/// `<host>-<pid>-<random>`: unique per process, and says where to look.
fn default_instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let suffix: u16 = rand::random();
    format!("{host}-{}-{suffix:04x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    fn load(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_from(&config_dir(), |name| env.get(name).cloned())
    }

    #[test]
    fn local_profile_runs_with_no_environment() {
        let s = load(&[]).unwrap();
        assert_eq!(s.profile, "local");
        assert!(s.carat.base_url.is_none(), "embedded sandbox by default");
    }

    #[test]
    fn environment_overrides_files() {
        let s = load(&[
            (
                "CARAT_BASE_URL",
                "https://esitef-homologacao.softwareexpress.com.br/e-sitef",
            ),
            ("LISTEN_ADDR", "0.0.0.0:9000"),
        ])
        .unwrap();
        assert_eq!(s.listen_addr.port(), 9000);
        assert!(s.carat.base_url.is_some());
    }

    #[test]
    fn production_needs_its_secrets_and_a_base_url() {
        let err = load(&[("APP_PROFILE", "production")]).unwrap_err();
        assert!(err.to_string().contains("CARAT_BASE_URL"), "{err}");

        let err = load(&[
            ("APP_PROFILE", "production"),
            ("CARAT_BASE_URL", "https://example.test/e-sitef"),
        ])
        .unwrap_err();
        assert!(matches!(err, ConfigError::Missing { .. }), "{err}");
    }

    #[test]
    fn reconciler_settings_have_defaults_and_are_checked() {
        let s = load(&[]).unwrap();
        assert!(s.reconcile.enabled);
        assert_eq!(s.reconcile.interval, Duration::from_secs(1));
        assert_eq!(s.reconcile.pending_timeout, Duration::from_secs(300));
        assert_eq!(s.reconcile.pending_policy, PendingConfirmationPolicy::Undo);
        assert!(!s.reconcile.instance_id.is_empty());
        let err = load(&[("PENDING_CONFIRMATION_POLICY", "maybe")]).unwrap_err();
        assert!(
            err.to_string().contains("PENDING_CONFIRMATION_POLICY"),
            "{err}"
        );
        let err = load(&[("RECONCILE_ENABLED", "yes")]).unwrap_err();
        assert!(err.to_string().contains("RECONCILE_ENABLED"), "{err}");
        let s = load(&[
            ("INSTANCE_ID", "web-1"),
            ("PENDING_CONFIRMATION_POLICY", "confirm"),
        ])
        .unwrap();
        assert_eq!(s.reconcile.instance_id, "web-1");
        assert!(s.reconcile.pending_policy.confirms());
    }

    #[test]
    fn bad_values_are_named_and_secrets_never_quoted() {
        let err = load(&[("CARAT_MERCHANT_ID", "not valid!")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("setting CARAT_MERCHANT_ID is invalid"),
            "{err}"
        );
        let err = load(&[("CARAT_TIMEOUT_MS", "soon")]).unwrap_err();
        assert!(err.to_string().contains("CARAT_TIMEOUT_MS"), "{err}");
        let s = load(&[("CARAT_MERCHANT_KEY", "TOPSECRETKEY")]).unwrap();
        assert!(!format!("{s:?}").contains("TOPSECRETKEY"));
    }

    #[test]
    fn several_tokens_and_networks() {
        let s = load(&[
            ("API_TOKENS", "old-token, new-token"),
            (
                "CALLBACK_ALLOWED_NETWORKS",
                "203.0.113.0/24, 192.0.2.7, ::1",
            ),
        ])
        .unwrap();
        assert_eq!(s.api_tokens.len(), 2);
        assert_eq!(s.api_tokens[1].expose(), "new-token");
        assert_eq!(s.callbacks.allowed_networks.len(), 3);
        assert!(s.callbacks.trusted_proxies.is_empty());
        assert_eq!(s.idempotency_ttl, Duration::from_secs(24 * 3600));
        let err = load(&[("API_TOKENS", " , ")]).unwrap_err();
        assert!(err.to_string().contains("API_TOKENS"), "{err}");
        let err = load(&[("TRUSTED_PROXIES", "10.0.0.0/33")]).unwrap_err();
        assert!(err.to_string().contains("TRUSTED_PROXIES"), "{err}");
    }
}

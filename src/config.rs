//! Settings, layered: `config/default.toml`, then `config/<APP_PROFILE>.toml`, then the
//! environment. Every key is flat, and its environment variable is the key in upper case
//! (`carat_merchant_id` ↔ `CARAT_MERCHANT_ID`), so one table, [`SETTINGS`], documents both: the
//! `--help` text and docs/configuration.md are that table.
//!
//! Loading fails closed: an unknown profile, a missing or malformed setting, or a local-only
//! value outside the `local` profile stops start-up, and every such error is reported at once.
//! Secret values are read into [`Secret`] and never appear in an error or a log.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use carat_domain::receipt_cipher::Keyring;
use carat_domain::{AuthMode, MerchantId, PendingConfirmationPolicy, Secret};
use carat_wire::signature::{JwtKey, JwtPublicKey};

/// One setting: its key (the environment variable in upper case), the default as documented
/// (`local` profile), and what it means. Cells are Markdown, as in docs/configuration.md.
#[derive(Debug)]
pub struct Setting {
    pub key: &'static str,
    pub default: &'static str,
    meaning: &'static str,
    kind: SettingKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingKind {
    /// Read from the process environment only: it says where the files are and which to read.
    Environment,
    /// A value in the files or the environment.
    Value,
    /// Like `Value`, but never printed.
    Secret,
}

const fn setting(
    key: &'static str,
    default: &'static str,
    meaning: &'static str,
    kind: SettingKind,
) -> Setting {
    Setting {
        key,
        default,
        meaning,
        kind,
    }
}

use SettingKind::{Environment as ENV, Secret as SECRET, Value as VALUE};

/// Every setting the service reads. Anything else in a config file is an error (a typo there
/// should not silently fall back to a default).
pub const SETTINGS: &[Setting] = &[
    setting(
        "app_profile",
        "`local`",
        "which `<profile>.toml` to layer over `default.toml`: `local` or `production` (compiled in), or another file of the config directory; anything else stops start-up. Outside `local`, the local token, merchant key and PIN key are refused",
        ENV,
    ),
    setting(
        "app_config_dir",
        "unset: `config` when there is one",
        "a directory whose `default.toml` and `<profile>.toml`, each when present, override the compiled-in files key by key (relative to the working directory). Unset, `./config` does so when it exists, and a bare binary runs on the compiled-in files; set, it must be a directory",
        ENV,
    ),
    setting(
        "database_url",
        "`postgres://postgres@127.0.0.1:5432/carat_merchant`",
        "PostgreSQL, a `postgres://` or `postgresql://` URL; the database is created when missing",
        SECRET,
    ),
    setting("database_max_connections", "`10`", "pool size", VALUE),
    setting(
        "database_callback_connections",
        "`8`",
        "connections kept apart from the pool for the authenticity POST alone (opened on first use), so a busy storefront never makes Carat's POST wait, which would abort a create",
        VALUE,
    ),
    setting(
        "api_max_concurrency",
        "unset: 4 × `DATABASE_MAX_CONNECTIONS`",
        "how many storefront API requests (`/api/v1`) are served at once; one more is refused at once with 503 `overloaded` and `Retry-After` instead of queueing. Carat's callbacks, health and metrics are never refused for it",
        VALUE,
    ),
    setting(
        "listen_addr",
        "`127.0.0.1:8080`",
        "where the service listens",
        VALUE,
    ),
    setting(
        "metrics_addr",
        "empty: on `LISTEN_ADDR`",
        "where Prometheus scrapes `GET /metrics` unauthenticated (e.g. `127.0.0.1:9090`, a network only the scraper reaches); empty: `/metrics` is served on `LISTEN_ADDR` and asks for a bearer token of `API_TOKENS` or `API_READONLY_TOKENS`",
        VALUE,
    ),
    setting(
        "tls_cert_path",
        "unset: plain HTTP (behind a TLS-terminating proxy)",
        "a PEM certificate chain (leaf first): when set, with `TLS_KEY_PATH`, the service serves HTTPS itself, and reloads the pair on SIGHUP or when either file changes",
        VALUE,
    ),
    setting(
        "tls_key_path",
        "unset",
        "the PEM private key of `TLS_CERT_PATH`'s certificate (both or neither; a missing, unreadable or mismatched pair stops start-up)",
        VALUE,
    ),
    setting(
        "shutdown_grace_ms",
        "`35000`",
        "after SIGTERM or Ctrl-C, how long requests in flight may take to finish before the process exits anyway (new connections are refused at once)",
        VALUE,
    ),
    setting(
        "api_tokens",
        "`local-dev-token`",
        "the storefront's bearer tokens, comma-separated, so one can rotate",
        SECRET,
    ),
    setting(
        "api_readonly_tokens",
        "empty: none",
        "support staff's bearer tokens, comma-separated: they may only read what is stored (`GET` a recharge, the recharge listing, the callbacks, the cards); anything else, and the `GET`s that call Carat (dealers, branches), is 403. A token may not be in both lists",
        SECRET,
    ),
    setting(
        "console_session_idle",
        "`30m`",
        "how long an operator console session (`/console`) may go unused before the server ends it: a whole number with its unit, `s`, `m` or `h` (`45m`, `2h`)",
        VALUE,
    ),
    setting(
        "idempotency_ttl_hours",
        "`24`",
        "how long an `Idempotency-Key` and its stored answer are kept",
        VALUE,
    ),
    setting(
        "callback_allowed_networks",
        "empty: any",
        "comma-separated networks (CIDR or addresses, IPv4/IPv6) a callback's source must be in; others get 403 and are logged, not kept (see `docs/operations.md`, \"Securing the callbacks\")",
        VALUE,
    ),
    setting(
        "trusted_proxies",
        "empty: none",
        "comma-separated networks of the proxies in front: from such a peer, `X-Forwarded-For` is walked from the right past trusted hops to find a callback's source; otherwise the peer is the source",
        VALUE,
    ),
    setting(
        "callback_path_secret",
        "unset",
        "when set (16+ characters of `A-Z a-z 0-9 - _ . ~`), callbacks are served only under `/callbacks/<secret>/` and the plain paths are 404",
        SECRET,
    ),
    setting(
        "sandbox",
        "`embedded` in `local`, else `off`",
        "what plays Carat when `CARAT_BASE_URL` is empty: `embedded` (the sandbox, in this process) or `off` (`CARAT_BASE_URL` is then required)",
        VALUE,
    ),
    setting(
        "carat_base_url",
        "empty",
        "up to `/e-sitef`, e.g. `https://esitef-homologacao.softwareexpress.com.br/e-sitef`; `https` (certificate verified) or, with a warning, `http` on loopback only; empty only with `SANDBOX=embedded`",
        VALUE,
    ),
    setting(
        "carat_merchant_id",
        "`LOJATESTE`",
        "`merchantId` (`< 15 AN`); an authenticity POST for another id is refused",
        VALUE,
    ),
    setting(
        "carat_merchant_key",
        "a local key",
        "`merchant_key`",
        SECRET,
    ),
    setting(
        "carat_auth_mode",
        "`authenticity`",
        "how new recharges authenticate to Carat: `authenticity` (Carat POSTs the NIT to the authenticity URL) or `signature` (every call signed with an RS256 JWT; see \"Signature mode (JWT)\"). Each recharge keeps the mode it was created in",
        VALUE,
    ),
    setting(
        "carat_jwt_private_key",
        "unset",
        "the RSA private key (PEM, PKCS#8 or PKCS#1: the PEM itself or a file path) that signs calls; required with `CARAT_AUTH_MODE=signature`, and kept set while recharges created in signature mode are open",
        SECRET,
    ),
    setting(
        "pin_encryption_keys",
        "a local key",
        "the keys that encrypt receipts carrying a PIN (AES-256-GCM), `id:base64,...`, each 32 bytes in standard base64: the first encrypts, every one decrypts, so a key rotates by putting the new one first and dropping the old one once no stored receipt names it (see `docs/operations.md`, \"Rotating the PIN key\"); required, and the local key is refused outside `local`",
        SECRET,
    ),
    setting(
        "carat_card_query_path",
        "`/e-sitef/api/v1/cards/query/{nita}`",
        "the card storage-data query (seed 004: a POST by NITA answered `OK`, then Carat re-sends the HASH notification), appended to `CARAT_BASE_URL`'s host with `{nita}` replaced; the NITA also goes as the form parameter `nita`. Carat's pages do not give its address: the default is the sandbox's, so set it from Carat support's answer",
        VALUE,
    ),
    setting(
        "card_token_visible",
        "`false`",
        "whether the card API shows a stored card's `token` (it pays without the card number; by default only the service reads it)",
        VALUE,
    ),
    setting(
        "carat_connect_timeout_ms",
        "`3000`",
        "connect timeout of every call to Carat",
        VALUE,
    ),
    setting(
        "carat_timeout_ms",
        "`30000`",
        "total timeout of every call to Carat",
        VALUE,
    ),
    setting(
        "carat_call_grace_ms",
        "`5000`",
        "past the timeout, before a call counts as over for sure (its deadline)",
        VALUE,
    ),
    setting(
        "carat_nit_lifetime_secs",
        "`900`",
        "a NIT's lifetime at Carat (not documented; the sandbox's): a `started` recharge older than this is asked about",
        VALUE,
    ),
    setting(
        "database_acquire_timeout_ms",
        "`3000`",
        "a request waits this long for a connection, then gets 503",
        VALUE,
    ),
    setting(
        "database_startup_wait_secs",
        "`10` (`60` in production)",
        "at start-up, how long `serve` waits for a database server that does not answer yet, trying again with a growing pause (each try logged at WARN), before it exits naming this setting",
        VALUE,
    ),
    setting(
        "reconcile_enabled",
        "`true`",
        "whether `serve` runs the reconciler",
        VALUE,
    ),
    setting(
        "reconcile_interval_ms",
        "`1000`",
        "how often a reconcile pass runs; the first retry delay",
        VALUE,
    ),
    setting(
        "reconcile_max_backoff_secs",
        "`300`",
        "the longest delay between two attempts on one recharge",
        VALUE,
    ),
    setting(
        "pending_confirmation_timeout_secs",
        "`300`",
        "how long after its effectuation a recharge may wait to be confirmed or undone",
        VALUE,
    ),
    setting(
        "pending_confirmation_policy",
        "`undo`",
        "what ends it then: `undo` or `confirm`",
        VALUE,
    ),
    setting(
        "instance_id",
        "`<hostname>-<pid>-<random>`",
        "names the instance in leases and the history; must differ between instances",
        VALUE,
    ),
    setting(
        "log_format",
        "`human` (`json` in production)",
        "log lines; one span per request with `recharge_id` and `nit`",
        VALUE,
    ),
    setting(
        "log_filter",
        "`info,carat_merchant=debug,sqlx=warn`",
        "tracing filter (`RUST_LOG` wins when set); a malformed one, either, stops start-up naming it",
        VALUE,
    ),
    setting(
        "sandbox_listen_addr",
        "`127.0.0.1:8090`",
        "`carat-merchant sandbox` alone",
        VALUE,
    ),
    setting(
        "sandbox_authenticity_url",
        "`http://127.0.0.1:8080/callbacks/authenticity`",
        "where the standalone sandbox POSTs the NIT",
        VALUE,
    ),
    setting(
        "sandbox_nit_lifetime_secs",
        "`900`",
        "NOV older than this becomes EXP",
        VALUE,
    ),
    setting(
        "sandbox_slow_answer_delay_ms",
        "`35000`",
        "how late the \"slow\" test values answer",
        VALUE,
    ),
    setting(
        "sandbox_callback_timeout_ms",
        "`5000`",
        "timeout of the sandbox's authenticity POST and of each notification POST",
        VALUE,
    ),
    setting(
        "sandbox_jwt_public_key",
        "unset: the public half of `CARAT_JWT_PRIVATE_KEY`",
        "the RSA public key (PEM, SPKI or PKCS#1: the PEM itself or a file path) the sandbox verifies signed calls with",
        VALUE,
    ),
    setting(
        "sandbox_status_url",
        "`http://127.0.0.1:8080/callbacks/status`",
        "where the standalone sandbox POSTs status notifications",
        VALUE,
    ),
    setting(
        "sandbox_hash_url",
        "`http://127.0.0.1:8080/callbacks/hash`",
        "where the standalone sandbox POSTs HASH notifications",
        VALUE,
    ),
    setting(
        "sandbox_notification_attempts",
        "`3`",
        "POSTs per status or HASH notification at most, until one is answered 200",
        VALUE,
    ),
    setting(
        "sandbox_notification_retry_ms",
        "`2000`",
        "the sandbox's wait between two POSTs of one notification",
        VALUE,
    ),
];

/// The profile that may run with the development values in `config/local.toml`.
const LOCAL_PROFILE: &str = "local";

/// Values from `config/local.toml` that must never reach another profile: anyone who read the
/// repository knows them. (A unit test keeps this list and `local.toml` in step.)
const LOCAL_ONLY_VALUES: &[(&str, &str)] = &[
    ("api_tokens", "local-dev-token"),
    ("carat_merchant_key", "LOCALSANDBOXMERCHANTKEY0001"),
    (
        "pin_encryption_keys",
        "local:bG9jYWwtZGV2ZWxvcG1lbnQtcGluLWtleS1vbmx5ISE=",
    ),
];

/// The settings, for `--help`: each environment variable, its default and its meaning.
pub fn settings_help() -> String {
    let mut help = String::from(
        "Settings (environment variables; the same keys in lower case in config/*.toml):\n",
    );
    for s in SETTINGS {
        let plain = |cell: &str| cell.replace('`', "");
        help.push_str(&format!(
            "  {} [default: {}]\n      {}\n",
            s.key.to_uppercase(),
            plain(s.default),
            plain(&s.meaning())
        ));
    }
    help
}

impl Setting {
    /// The meaning, marked when the value is a secret.
    pub fn meaning(&self) -> String {
        match self.kind {
            SettingKind::Secret => format!("{} (secret)", self.meaning),
            SettingKind::Environment | SettingKind::Value => self.meaning.to_owned(),
        }
    }
}

/// docs/configuration.md: the settings table as Markdown. The file is generated from this
/// (`UPDATE_DOCS=1 cargo test -p carat-merchant --lib configuration_md`) and a unit test holds
/// it equal, so the reference cannot drift from the code.
pub fn settings_markdown() -> String {
    let mut page = String::from(
        "# Configuration reference\n\n\
         Generated from the settings table in `src/config.rs` (the same text as \
         `carat-merchant --help`); do not edit by hand: run \
         `UPDATE_DOCS=1 cargo test -p carat-merchant --lib configuration_md`. How the values \
         are layered (files, profiles, the environment) and checked at start-up: \
         [configuration-guide.md](configuration-guide.md).\n\n\
         | variable | default (`local`) | meaning |\n|---|---|---|\n",
    );
    for s in SETTINGS {
        page.push_str(&format!(
            "| `{}` | {} | {} |\n",
            s.key.to_uppercase(),
            s.default,
            s.meaning()
        ));
    }
    page
}

fn find_setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {env} is missing (`{key}` in a config file): {meaning}")]
    Missing {
        key: &'static str,
        env: String,
        meaning: String,
    },
    #[error("setting {env} is invalid: {reason}")]
    Invalid { env: String, reason: String },
    #[error("config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error(
        "APP_CONFIG_DIR names {path}, which is not a directory: unset it to run on the compiled-in settings (and ./config when present), or name the directory whose TOML files override them"
    )]
    NoConfigDir { path: PathBuf },
    #[error("APP_PROFILE `{profile}` is not a known profile: the profiles are {} (compiled in, and the files of the config directory)", known.join(", "))]
    UnknownProfile { profile: String, known: Vec<String> },
}

/// Everything wrong with the configuration, so one restart finds it all.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for error in &self.0 {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
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
    pub database_callback_connections: u32,
    /// How long a request waits for a database connection before it is answered 503.
    pub database_acquire_timeout: Duration,
    /// How long start-up waits for a database server that does not answer yet.
    pub database_startup_wait: Duration,
    pub listen_addr: SocketAddr,
    /// Where `/metrics` is served unauthenticated; `None`: on `listen_addr`, behind a token.
    pub metrics_addr: Option<SocketAddr>,
    /// Serve HTTPS with this pair; `None`: plain HTTP behind a terminating proxy.
    pub tls: Option<crate::tls::TlsFiles>,
    /// After SIGTERM or Ctrl-C, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
    /// Every bearer token the storefront may use; several at once so they can rotate.
    pub api_tokens: Vec<Secret>,
    /// Bearer tokens that may only read what is stored (support staff).
    pub api_readonly_tokens: Vec<Secret>,
    /// How long an operator console session may go unused (`CONSOLE_SESSION_IDLE`).
    pub console_session_idle: Duration,
    /// How long an `Idempotency-Key` and its stored answer are kept.
    pub idempotency_ttl: Duration,
    /// Storefront API requests served at once; past it they are refused (`admission.rs`).
    pub api_max_concurrency: usize,
    pub callbacks: CallbackSettings,
    pub carat: CaratSettings,
    pub cards: CardSettings,
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
    /// `None`: the embedded sandbox plays Carat Portal in this process (only with
    /// `SANDBOX=embedded`: loading refuses an empty `CARAT_BASE_URL` otherwise).
    pub base_url: Option<Url>,
    pub merchant_id: MerchantId,
    pub merchant_key: Secret,
    /// How new recharges authenticate (each keeps the mode it was created in).
    pub auth_mode: AuthMode,
    /// Signs the calls of signature-mode recharges; always set in signature mode.
    pub jwt_key: Option<JwtKey>,
    /// Encrypts and decrypts the receipts that carry a PIN.
    pub pin_keys: Arc<Keyring>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Past the client timeout, how long before a call counts as over for sure (clock skew
    /// between instances, the time to commit its outcome).
    pub call_grace: Duration,
    /// How long a NIT lives at Carat: a `started` recharge older than this is asked about.
    pub nit_lifetime: Duration,
}

/// Card storage (`/api/v1/cards`).
#[derive(Clone, Debug)]
pub struct CardSettings {
    /// `CARAT_CARD_QUERY_PATH`: a path with `{nita}`, appended to Carat's host.
    pub query_path: String,
    /// Whether the API shows a stored card's token.
    pub token_visible: bool,
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
    /// Where the standalone sandbox sends notifications; the embedded one always sends them
    /// to its own service.
    pub status_url: Url,
    pub hash_url: Url,
    pub notification_attempts: u32,
    pub notification_retry_delay: Duration,
    /// What the sandbox verifies signed calls with; `None`: the public half of
    /// `CARAT_JWT_PRIVATE_KEY`, if set.
    pub jwt_public_key: Option<JwtPublicKey>,
}

impl Settings {
    /// Loads the compiled-in files, overridden by `APP_CONFIG_DIR`'s (which must then exist)
    /// or, when it is unset, by `./config`'s if there is one, then by the process environment.
    pub fn load() -> Result<Self, ConfigErrors> {
        let env = |name: &str| std::env::var(name).ok();
        // Empty counts as unset, as for every setting.
        match std::env::var_os("APP_CONFIG_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => Self::load_from(Path::new(&dir), env),
            None => {
                let dir = Path::new(DEFAULT_CONFIG_DIR);
                Self::load_layered(dir.is_dir().then_some(dir), env)
            }
        }
    }

    /// Loads with `dir`'s files over the compiled-in ones, `env` standing for the environment
    /// (tests pass their own). A `dir` that is not a directory is an error: it was named.
    pub fn load_from(
        dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigErrors> {
        if !dir.is_dir() {
            let path = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
            return Err(ConfigError::NoConfigDir { path }.into());
        }
        Self::load_layered(Some(dir), env)
    }

    /// The compiled-in files alone (no directory) or overridden by `dir`'s, then `env`.
    pub fn load_layered(
        dir: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigErrors> {
        let profile = env("APP_PROFILE").unwrap_or_else(|| LOCAL_PROFILE.to_owned());
        let mut v = Values::layered(dir, &profile, &env)?;
        // Every group is read, whatever failed before it, so that every error is listed at
        // once; in this order, which is the errors' order.
        let database = v.database();
        let server = v.server();
        let api = v.api();
        let callbacks = v.callbacks();
        let carat = v.carat(&profile);
        let cards = v.cards();
        let (log_format, log_filter) = v.logging(&env);
        let sandbox = v.sandbox();
        let reconcile = v.reconcile();

        // Every `None` here recorded an error above: with no error, every field is there.
        let settings = (|| {
            let (database, server, api) = (database?, server?, api?);
            Some(Self {
                database_url: database.url,
                database_max_connections: database.max_connections,
                database_callback_connections: database.callback_connections,
                database_acquire_timeout: database.acquire_timeout,
                database_startup_wait: database.startup_wait,
                listen_addr: server.listen_addr,
                metrics_addr: server.metrics_addr,
                tls: server.tls,
                shutdown_grace: server.shutdown_grace,
                api_tokens: api.tokens,
                api_readonly_tokens: api.readonly_tokens,
                console_session_idle: api.console_session_idle,
                idempotency_ttl: api.idempotency_ttl,
                api_max_concurrency: api.max_concurrency.unwrap_or(
                    database.max_connections as usize * crate::admission::REQUESTS_PER_CONNECTION,
                ),
                callbacks: callbacks?,
                carat: carat?,
                cards: cards?,
                log_format: log_format?,
                log_filter: log_filter?,
                sandbox: sandbox?,
                reconcile: reconcile?,
                profile,
            })
        })();
        match settings {
            Some(settings) if v.errors.is_empty() => Ok(settings),
            _ => Err(ConfigErrors(v.errors)),
        }
    }
}

/// The database settings, as [`Settings`] keeps them flat.
struct DatabaseSettings {
    url: Secret,
    max_connections: u32,
    callback_connections: u32,
    acquire_timeout: Duration,
    startup_wait: Duration,
}

/// Where and how the service listens.
struct ServerSettings {
    listen_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    tls: Option<crate::tls::TlsFiles>,
    shutdown_grace: Duration,
}

/// The storefront API's tokens and idempotency.
struct ApiSettings {
    tokens: Vec<Secret>,
    readonly_tokens: Vec<Secret>,
    /// The operator console signs in with the same tokens.
    console_session_idle: Duration,
    idempotency_ttl: Duration,
    /// `None`: derived from the pool size.
    max_concurrency: Option<usize>,
}

/// `CONSOLE_SESSION_IDLE` when unset.
pub const DEFAULT_CONSOLE_SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

/// Each group reads all its settings (recording every error) before it gives up on one.
impl Values {
    /// `default.toml`, then the profile's file, each compiled in and then `dir`'s when it has
    /// one, key by key; then the environment. Fails at once when the profile is unknown.
    fn layered(
        dir: Option<&Path>,
        profile: &str,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigErrors> {
        let known = known_profiles(dir);
        if !known.iter().any(|k| k == profile) {
            let profile = profile.to_owned();
            return Err(ConfigError::UnknownProfile { profile, known }.into());
        }
        let mut v = Values::default();
        for (name, compiled_in) in [
            ("default", Some(DEFAULT_TOML)),
            (profile, embedded(profile)),
        ] {
            let file = format!("{name}.toml");
            if let Some(text) = compiled_in {
                v.read_text(
                    &Path::new(DEFAULT_CONFIG_DIR).join(&file),
                    Ok(text.to_owned()),
                );
            }
            if let Some(path) = dir.map(|d| d.join(&file)).filter(|p| p.is_file()) {
                v.read_file(&path);
            }
        }
        for s in SETTINGS
            .iter()
            .filter(|s| s.kind != SettingKind::Environment)
        {
            if let Some(value) = env(&s.key.to_uppercase()) {
                v.values.insert(s.key, value);
            }
        }
        // The former name: ignoring it would leave the local profile on its dev token.
        if env("API_TOKEN").is_some() {
            v.errors.push(ConfigError::Invalid {
                env: "API_TOKEN".into(),
                reason: "is no longer read: it is now API_TOKENS (a comma-separated list); \
                         move the value to API_TOKENS and unset API_TOKEN"
                    .into(),
            });
        }
        if profile != LOCAL_PROFILE {
            v.refuse_local_values(profile);
        }
        Ok(v)
    }

    fn database(&mut self) -> Option<DatabaseSettings> {
        let url = self.required("database_url", parse_database_url);
        let max_connections = self.required("database_max_connections", parse_positive);
        let callback_connections = self.required("database_callback_connections", parse_positive);
        let acquire_timeout = self.required("database_acquire_timeout_ms", parse_millis);
        let startup_wait = self.required("database_startup_wait_secs", parse_secs);
        Some(DatabaseSettings {
            url: url?,
            max_connections: max_connections?,
            callback_connections: callback_connections?,
            acquire_timeout: acquire_timeout?,
            startup_wait: startup_wait?,
        })
    }

    fn server(&mut self) -> Option<ServerSettings> {
        let listen_addr = self.required("listen_addr", parse_addr);
        let metrics_addr = self.optional("metrics_addr", parse_addr);
        let tls = self.tls();
        let shutdown_grace = self.required("shutdown_grace_ms", parse_millis);
        Some(ServerSettings {
            listen_addr: listen_addr?,
            metrics_addr: metrics_addr?,
            tls: tls?,
            shutdown_grace: shutdown_grace?,
        })
    }

    /// Both TLS files or neither; a pair given is read now, so a bad one is reported with
    /// everything else wrong.
    fn tls(&mut self) -> Option<Option<crate::tls::TlsFiles>> {
        match (
            self.optional("tls_cert_path", |s| Ok(PathBuf::from(s))),
            self.optional("tls_key_path", |s| Ok(PathBuf::from(s))),
        ) {
            (Some(Some(cert_path)), Some(Some(key_path))) => {
                let files = crate::tls::TlsFiles {
                    cert_path,
                    key_path,
                };
                match crate::tls::load(&files) {
                    Ok(_) => Some(Some(files)),
                    Err(reason) => {
                        self.errors.push(ConfigError::Invalid {
                            env: "TLS_CERT_PATH".into(),
                            reason,
                        });
                        None
                    }
                }
            }
            (Some(None), Some(None)) => Some(None),
            (Some(cert), Some(_)) => {
                let (set, unset) = if cert.is_some() {
                    ("TLS_CERT_PATH", "TLS_KEY_PATH")
                } else {
                    ("TLS_KEY_PATH", "TLS_CERT_PATH")
                };
                self.errors.push(ConfigError::Invalid {
                    env: unset.into(),
                    reason: format!("{set} is set: TLS needs both the certificate and its key"),
                });
                None
            }
            _ => None,
        }
    }

    fn api(&mut self) -> Option<ApiSettings> {
        let tokens = self.required("api_tokens", parse_tokens);
        let readonly_tokens = self.optional("api_readonly_tokens", parse_tokens);
        if let (Some(full), Some(Some(readonly))) = (&tokens, &readonly_tokens)
            && readonly
                .iter()
                .any(|r| full.iter().any(|f| f.expose() == r.expose()))
        {
            // Which kind would it be? Refused rather than guessed (the token is not quoted).
            self.errors.push(ConfigError::Invalid {
                env: "API_READONLY_TOKENS".into(),
                reason: "a token is also in API_TOKENS: a token is either full or read-only".into(),
            });
        }
        let console_session_idle = self.optional("console_session_idle", parse_duration);
        let idempotency_ttl = self.required("idempotency_ttl_hours", |s| {
            parse_positive(s).map(|h: u64| Duration::from_secs(h * 3600))
        });
        let max_concurrency = self.optional("api_max_concurrency", parse_positive);
        Some(ApiSettings {
            tokens: tokens?,
            readonly_tokens: readonly_tokens?.unwrap_or_default(),
            console_session_idle: console_session_idle?.unwrap_or(DEFAULT_CONSOLE_SESSION_IDLE),
            idempotency_ttl: idempotency_ttl?,
            max_concurrency: max_concurrency?,
        })
    }

    fn callbacks(&mut self) -> Option<CallbackSettings> {
        let allowed_networks = self.optional("callback_allowed_networks", parse_networks);
        let trusted_proxies = self.optional("trusted_proxies", parse_networks);
        let path_secret = self.optional("callback_path_secret", |s| Ok(Secret::new(s)));
        Some(CallbackSettings {
            allowed_networks: allowed_networks?.unwrap_or_default(),
            trusted_proxies: trusted_proxies?.unwrap_or_default(),
            path_secret: path_secret?,
        })
    }

    /// Carat Portal: where, who we are to it, how calls are signed and timed. `SANDBOX` is
    /// read here because it decides whether Carat's URL may be left unset.
    fn carat(&mut self, profile: &str) -> Option<CaratSettings> {
        let sandbox_mode = self.required("sandbox", |s| match s {
            "embedded" => Ok(true),
            "off" => Ok(false),
            _ => Err("must be `embedded` or `off`".into()),
        });
        let base_url = self.optional("carat_base_url", parse_url);
        // The embedded sandbox plays Carat: outside a trial, every top-up it answered would be fake.
        if sandbox_mode == Some(false) && base_url == Some(None) {
            self.missing(
                "carat_base_url",
                format!(
                    "Carat's base URL, up to /e-sitef; SANDBOX is `off` in profile `{profile}`, \
                     so nothing else plays Carat (SANDBOX=embedded runs the embedded sandbox)"
                ),
            );
        }
        let merchant_id = self.required("carat_merchant_id", |s| {
            MerchantId::parse(s).map_err(|e| e.to_string())
        });
        let merchant_key = self.required("carat_merchant_key", |s| Ok(Secret::new(s)));
        let (auth_mode, jwt_key) = self.carat_signing();
        let pin_keys = self.required("pin_encryption_keys", |s| Keyring::parse(s).map(Arc::new));
        let connect_timeout = self.required("carat_connect_timeout_ms", parse_millis);
        let timeout = self.required("carat_timeout_ms", parse_millis);
        let call_grace = self.required("carat_call_grace_ms", parse_millis);
        let nit_lifetime = self.required("carat_nit_lifetime_secs", parse_secs);
        Some(CaratSettings {
            base_url: base_url?,
            merchant_id: merchant_id?,
            merchant_key: merchant_key?,
            auth_mode: auth_mode?,
            jwt_key: jwt_key?,
            pin_keys: pin_keys?,
            connect_timeout: connect_timeout?,
            timeout: timeout?,
            call_grace: call_grace?,
            nit_lifetime: nit_lifetime?,
        })
    }

    /// The authentication mode, and the key signature mode cannot do without.
    fn carat_signing(&mut self) -> (Option<AuthMode>, Option<Option<JwtKey>>) {
        let auth_mode = self.required("carat_auth_mode", |s| {
            AuthMode::parse(s).ok_or_else(|| "must be `authenticity` or `signature`".to_owned())
        });
        let jwt_key = self.optional("carat_jwt_private_key", |s| {
            JwtKey::load(s).map_err(|e| format!("{e}; it must be an RSA private key in PEM"))
        });
        if auth_mode == Some(AuthMode::Signature) && matches!(jwt_key, Some(None)) {
            self.missing(
                "carat_jwt_private_key",
                "the RSA private key that signs the calls: CARAT_AUTH_MODE is `signature`".into(),
            );
        }
        (auth_mode, jwt_key)
    }

    fn cards(&mut self) -> Option<CardSettings> {
        let query_path = self.required("carat_card_query_path", |s| {
            if s.starts_with('/') && s.contains("{nita}") && !s.contains(char::is_whitespace) {
                Ok(s.to_owned())
            } else {
                Err("must be a path starting with `/` holding `{nita}`".to_owned())
            }
        });
        let token_visible = self.required("card_token_visible", parse_bool);
        Some(CardSettings {
            query_path: query_path?,
            token_visible: token_visible?,
        })
    }

    /// The log's format and filter.
    fn logging(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> (Option<LogFormat>, Option<String>) {
        let log_format = self.required("log_format", |s| match s {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err("must be `human` or `json`".into()),
        });
        let log_filter = self.required("log_filter", parse_log_filter);
        // `RUST_LOG`, tracing's usual variable, wins when set; a malformed one stops start-up
        // as a malformed LOG_FILTER does, instead of being quietly ignored.
        let log_filter = match env("RUST_LOG").filter(|s| !s.trim().is_empty()) {
            None => log_filter,
            Some(raw) => match parse_log_filter(raw.trim()) {
                Ok(filter) => Some(filter),
                Err(reason) => {
                    self.errors.push(ConfigError::Invalid {
                        env: "RUST_LOG".into(),
                        reason,
                    });
                    None
                }
            },
        };
        (log_format, log_filter)
    }

    fn sandbox(&mut self) -> Option<SandboxSettings> {
        let listen_addr = self.required("sandbox_listen_addr", parse_addr);
        let authenticity_url = self.required("sandbox_authenticity_url", parse_url);
        let nit_lifetime = self.required("sandbox_nit_lifetime_secs", parse_secs);
        let slow_answer_delay = self.required("sandbox_slow_answer_delay_ms", parse_millis);
        let callback_timeout = self.required("sandbox_callback_timeout_ms", parse_millis);
        let jwt_public_key = self.optional("sandbox_jwt_public_key", JwtPublicKey::load);
        let status_url = self.required("sandbox_status_url", parse_url);
        let hash_url = self.required("sandbox_hash_url", parse_url);
        let notification_attempts = self.required("sandbox_notification_attempts", parse_positive);
        let notification_retry_delay = self.required("sandbox_notification_retry_ms", parse_millis);
        Some(SandboxSettings {
            listen_addr: listen_addr?,
            authenticity_url: authenticity_url?,
            nit_lifetime: nit_lifetime?,
            slow_answer_delay: slow_answer_delay?,
            callback_timeout: callback_timeout?,
            status_url: status_url?,
            hash_url: hash_url?,
            notification_attempts: notification_attempts?,
            notification_retry_delay: notification_retry_delay?,
            jwt_public_key: jwt_public_key?,
        })
    }

    fn reconcile(&mut self) -> Option<ReconcileSettings> {
        let enabled = self.required("reconcile_enabled", parse_bool);
        let interval = self.required("reconcile_interval_ms", parse_millis);
        let max_backoff = self.required("reconcile_max_backoff_secs", parse_secs);
        let pending_timeout = self.required("pending_confirmation_timeout_secs", parse_secs);
        let pending_policy = self.required("pending_confirmation_policy", |s| {
            PendingConfirmationPolicy::parse(s)
                .ok_or_else(|| "must be `undo` or `confirm`".to_owned())
        });
        let instance_id = self.optional("instance_id", |s| Ok(s.to_owned()));
        Some(ReconcileSettings {
            enabled: enabled?,
            interval: interval?,
            max_backoff: max_backoff?,
            pending_timeout: pending_timeout?,
            pending_policy: pending_policy?,
            instance_id: instance_id?.unwrap_or_else(default_instance_id),
        })
    }
}

impl Settings {
    /// The key the sandbox verifies signed calls with: `SANDBOX_JWT_PUBLIC_KEY`, else the
    /// public half of `CARAT_JWT_PRIVATE_KEY` (ring derives it), so that a local run in
    /// signature mode needs only the private key.
    pub fn sandbox_jwt_public_key(&self) -> Option<JwtPublicKey> {
        self.sandbox
            .jwt_public_key
            .clone()
            .or_else(|| self.carat.jwt_key.as_ref().map(JwtKey::public_key))
    }
}

/// Where the files that override the compiled-in ones are looked for, unless `APP_CONFIG_DIR`.
const DEFAULT_CONFIG_DIR: &str = "config";

/// The repository's files, compiled in: a bare binary runs on them and the environment alone.
const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const PROFILE_TOMLS: &[(&str, &str)] = &[
    (LOCAL_PROFILE, include_str!("../config/local.toml")),
    ("production", include_str!("../config/production.toml")),
];

fn embedded(profile: &str) -> Option<&'static str> {
    PROFILE_TOMLS
        .iter()
        .find(|(name, _)| *name == profile)
        .map(|(_, text)| *text)
}

/// The profiles: the compiled-in ones and the `.toml` files in `dir` besides `default.toml`,
/// sorted.
fn known_profiles(dir: Option<&Path>) -> Vec<String> {
    let on_disk = dir
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".toml")?;
            (stem != "default").then(|| stem.to_owned())
        });
    let mut known: Vec<String> = PROFILE_TOMLS
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .chain(on_disk)
        .collect();
    known.sort();
    known.dedup();
    known
}

/// The values read so far, and every error met reading and parsing them.
#[derive(Default)]
struct Values {
    values: BTreeMap<&'static str, String>,
    errors: Vec<ConfigError>,
}

impl Values {
    fn read_file(&mut self, path: &Path) {
        let text = std::fs::read_to_string(path);
        self.read_text(path, text);
    }

    /// `path` names the text in errors (a compiled-in file by its repository path).
    fn read_text(&mut self, path: &Path, text: std::io::Result<String>) {
        let mut file_error = |reason: String| {
            self.errors.push(ConfigError::File {
                path: path.to_owned(),
                reason,
            })
        };
        let table: toml::Table = match text {
            Ok(text) => match text.parse() {
                Ok(table) => table,
                Err(e) => {
                    let e: toml::de::Error = e;
                    return file_error(e.message().to_owned());
                }
            },
            Err(e) => return file_error(e.to_string()),
        };
        for (key, value) in table {
            let Some(known) = find_setting(&key).filter(|s| s.kind != SettingKind::Environment)
            else {
                file_error(format!("unknown setting `{key}`"));
                continue;
            };
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => {
                    file_error(format!("`{key}` must be a string or a number"));
                    continue;
                }
            };
            self.values.insert(known.key, value);
        }
    }

    /// Anyone who read the repository knows `local.toml`'s secrets.
    fn refuse_local_values(&mut self, profile: &str) {
        for (key, local) in LOCAL_ONLY_VALUES {
            let Some(value) = self.values.get(key) else {
                continue;
            };
            // A keyring's key is refused under any id: the key is what anyone knows.
            let refused = |part: &str| match (*key, part.split_once(':'), local.split_once(':')) {
                ("pin_encryption_keys", Some((_, k)), Some((_, l))) => k.trim() == l,
                _ => part.trim() == *local,
            };
            if value.split(',').any(refused) {
                self.errors.push(ConfigError::Invalid {
                    env: key.to_uppercase(),
                    reason: format!(
                        "holds the value from config/local.toml, refused in profile `{profile}`"
                    ),
                });
            }
        }
    }

    /// An empty value counts as unset, so `CARAT_BASE_URL=` turns a file's value off.
    fn raw(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// `Some(None)` when unset; `None` when malformed (the error is recorded).
    fn optional<T>(
        &mut self,
        key: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        let Some(raw) = self.raw(key) else {
            return Some(None);
        };
        match parse(raw) {
            Ok(value) => Some(Some(value)),
            Err(reason) => {
                self.errors.push(ConfigError::Invalid {
                    env: key.to_uppercase(),
                    // The reason never quotes the value: it may be a secret.
                    reason,
                });
                None
            }
        }
    }

    /// `None` when unset or malformed (the error is recorded).
    fn required<T>(
        &mut self,
        key: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.optional(key, parse)?;
        if value.is_none() {
            let meaning = find_setting(key).map_or(String::new(), |s| s.meaning().replace('`', ""));
            self.missing(key, meaning);
        }
        value
    }

    fn missing(&mut self, key: &'static str, meaning: String) {
        self.errors.push(ConfigError::Missing {
            key,
            env: key.to_uppercase(),
            meaning,
        });
    }
}

/// Only PostgreSQL: sqlx would otherwise take another scheme's URL apart as if it were one.
/// Never quoted: it may hold a password.
fn parse_database_url(s: &str) -> Result<Secret, String> {
    let scheme = s.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some("postgres" | "postgresql") => Ok(Secret::new(s)),
        _ => Err("must be a postgres:// or postgresql:// URL".into()),
    }
}

/// Checked here so a typo stops start-up instead of leaving the service without logs.
fn parse_log_filter(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("not a tracing filter like `info,sqlx=warn` ({e})"))
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

/// A positive whole number with its unit: `90s`, `30m`, `2h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    const WANTED: &str =
        "must be a positive whole number with its unit, `s`, `m` or `h` (e.g. `30m`)";
    let (number, unit) = s.split_at(s.len().saturating_sub(1));
    let seconds_per: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(WANTED.into()),
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 && number.bytes().all(|b| b.is_ascii_digit()) => n
            .checked_mul(seconds_per)
            .map(Duration::from_secs)
            .ok_or_else(|| WANTED.into()),
        _ => Err(WANTED.into()),
    }
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

    fn load(env: &[(&str, &str)]) -> Result<Settings, ConfigErrors> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_from(&config_dir(), |name| env.get(name).cloned())
    }

    #[test]
    fn tls_needs_both_files_and_a_readable_pair() {
        assert!(load(&[]).unwrap().tls.is_none(), "plain HTTP by default");
        let err = load(&[("TLS_CERT_PATH", "/nonexistent/cert.pem")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TLS_KEY_PATH is invalid: TLS_CERT_PATH is set"),
            "{err}"
        );
        let err = load(&[
            ("TLS_CERT_PATH", "/nonexistent/cert.pem"),
            ("TLS_KEY_PATH", "/nonexistent/key.pem"),
            ("CARAT_TIMEOUT_MS", "soon"),
        ])
        .unwrap_err()
        .to_string();
        // Collected with the other errors, naming the file.
        assert!(
            err.contains("TLS_CERT_PATH /nonexistent/cert.pem: cannot read"),
            "{err}"
        );
        assert!(err.contains("CARAT_TIMEOUT_MS"), "{err}");
    }

    #[test]
    fn the_former_api_token_setting_is_an_error_naming_api_tokens() {
        let err = load(&[("API_TOKEN", "a-token")]).unwrap_err().to_string();
        assert!(err.contains("API_TOKEN is invalid"), "{err}");
        assert!(err.contains("API_TOKENS"), "{err}");
        // Listed with the other errors.
        let err = load(&[("API_TOKEN", "a-token"), ("CARAT_TIMEOUT_MS", "soon")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("API_TOKENS"), "{err}");
        assert!(err.contains("CARAT_TIMEOUT_MS"), "{err}");
        // Set alongside API_TOKENS, it is still refused.
        let err = load(&[("API_TOKEN", "a-token"), ("API_TOKENS", "a-token")]).unwrap_err();
        assert!(err.to_string().contains("API_TOKEN is invalid"), "{err}");
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

    /// What production needs from the environment, none of it local.
    const PRODUCTION: &[(&str, &str)] = &[
        ("APP_PROFILE", "production"),
        ("DATABASE_URL", "postgresql://app:pw@db.internal/carat"),
        ("API_TOKENS", "a-real-token"),
        ("CARAT_BASE_URL", "https://example.test/e-sitef"),
        ("CARAT_MERCHANT_ID", "LOJAREAL"),
        ("CARAT_MERCHANT_KEY", "A-REAL-MERCHANT-KEY"),
        (
            "PIN_ENCRYPTION_KEYS",
            "prod1:cmVhbC1wcm9kdWN0aW9uLXBpbi1rZXktMzItYnl0ZSE=",
        ),
    ];

    fn production_with(
        overrides: &[(&'static str, &'static str)],
    ) -> Vec<(&'static str, &'static str)> {
        let mut env: Vec<_> = PRODUCTION
            .iter()
            .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k))
            .copied()
            .collect();
        env.extend_from_slice(overrides);
        env
    }

    #[test]
    fn production_lists_every_missing_setting_at_once() {
        let err = load(&[("APP_PROFILE", "production")]).unwrap_err();
        let named: Vec<String> = err
            .0
            .iter()
            .map(|e| match e {
                ConfigError::Missing { env, .. } => env.clone(),
                other => panic!("only missing settings expected: {other}"),
            })
            .collect();
        assert_eq!(
            named,
            [
                "DATABASE_URL",
                "API_TOKENS",
                "CARAT_BASE_URL",
                "CARAT_MERCHANT_ID",
                "CARAT_MERCHANT_KEY",
                "PIN_ENCRYPTION_KEYS"
            ]
        );
        // One per line, so the operator reads a list.
        assert_eq!(err.to_string().lines().count(), 6, "{err}");

        let s = load(PRODUCTION).unwrap();
        assert_eq!(s.profile, "production");
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn unknown_profiles_are_named_with_the_known_ones() {
        for profile in ["prod", "Production", ""] {
            let err = load(&[("APP_PROFILE", profile)]).unwrap_err();
            let [
                ConfigError::UnknownProfile {
                    profile: named,
                    known,
                    ..
                },
            ] = &err.0[..]
            else {
                panic!("{err}");
            };
            assert_eq!(named, profile);
            assert_eq!(known, &["local", "production"]);
            assert!(err.to_string().contains("local, production"), "{err}");
        }
    }

    #[test]
    fn outside_local_the_local_values_are_refused_unquoted() {
        let err = load(&production_with(&[
            ("API_TOKENS", "a-real-token, local-dev-token"),
            ("CARAT_MERCHANT_KEY", "LOCALSANDBOXMERCHANTKEY0001"),
            // The local PIN key, renamed, behind a real one: still refused.
            (
                "PIN_ENCRYPTION_KEYS",
                "prod1:cmVhbC1wcm9kdWN0aW9uLXBpbi1rZXktMzItYnl0ZSE=,old:bG9jYWwtZGV2ZWxvcG1lbnQtcGluLWtleS1vbmx5ISE=",
            ),
        ]))
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.0.len(), 3, "{text}");
        assert!(
            text.contains("API_TOKENS")
                && text.contains("CARAT_MERCHANT_KEY")
                && text.contains("PIN_ENCRYPTION_KEYS"),
            "{text}"
        );
        assert!(
            !text.contains("local-dev-token")
                && !text.contains("LOCALSANDBOX")
                && !text.contains("bG9jYWwt"),
            "{text}"
        );
        assert!(load(&production_with(&[])).is_ok());
    }

    #[test]
    fn local_only_values_are_local_tomls_secrets() {
        let mut v = Values::default();
        v.read_file(&config_dir().join("local.toml"));
        assert!(v.errors.is_empty());
        for (key, value) in LOCAL_ONLY_VALUES {
            assert_eq!(v.values.get(key).map(String::as_str), Some(*value), "{key}");
        }
        let secrets = SETTINGS.iter().filter(|s| s.kind == SettingKind::Secret);
        for s in secrets.filter(|s| s.key != "database_url") {
            assert_eq!(
                v.values.contains_key(s.key),
                LOCAL_ONLY_VALUES.iter().any(|(k, _)| *k == s.key),
                "{}: a secret in local.toml must be refused elsewhere",
                s.key
            );
        }
    }

    #[test]
    fn the_embedded_sandbox_runs_only_in_local_or_when_asked() {
        let s = load(&production_with(&[
            ("CARAT_BASE_URL", ""),
            ("SANDBOX", "embedded"),
        ]))
        .unwrap();
        assert!(s.carat.base_url.is_none());

        let err = load(&production_with(&[("CARAT_BASE_URL", "")])).unwrap_err();
        let [ConfigError::Missing { env, .. }] = &err.0[..] else {
            panic!("{err}");
        };
        assert_eq!(env, "CARAT_BASE_URL");
        assert!(err.to_string().contains("SANDBOX=embedded"), "{err}");

        let err = load(&[("SANDBOX", "off")]).unwrap_err();
        assert!(err.to_string().contains("CARAT_BASE_URL"), "{err}");
        let err = load(&[("SANDBOX", "yes")]).unwrap_err();
        assert!(
            err.to_string().starts_with("setting SANDBOX is invalid"),
            "{err}"
        );
    }

    #[test]
    fn database_url_must_be_postgresql_and_is_never_quoted() {
        let err = load(&[("DATABASE_URL", "mysql://root:hunter2@127.0.0.1/shop")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("setting DATABASE_URL is invalid"),
            "{text}"
        );
        assert!(
            !text.contains("hunter2") && !text.contains("mysql://"),
            "{text}"
        );
        for url in ["postgres://u@h/db", "postgresql://u:p@h:5433/db"] {
            assert_eq!(
                load(&[("DATABASE_URL", url)])
                    .unwrap()
                    .database_url
                    .expose(),
                url
            );
        }
    }

    #[test]
    fn a_malformed_log_filter_stops_start_up() {
        for filter in ["info,carat_merchant=loud", "[{"] {
            let err = load(&[("LOG_FILTER", filter)]).unwrap_err();
            assert!(
                err.to_string().starts_with("setting LOG_FILTER is invalid"),
                "{err}"
            );
        }
        assert_eq!(
            load(&[("LOG_FILTER", "warn,sqlx=off")]).unwrap().log_filter,
            "warn,sqlx=off"
        );
    }

    #[test]
    fn a_named_config_directory_that_is_not_there_names_app_config_dir_and_the_path() {
        let dir = Path::new("/nonexistent-carat-merchant/config");
        let err = Settings::load_from(dir, |_| None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("APP_CONFIG_DIR"), "{text}");
        assert!(
            text.contains("/nonexistent-carat-merchant/config"),
            "{text}"
        );
    }

    #[test]
    fn the_compiled_in_files_are_the_repositorys_and_a_directory_overrides_them_key_by_key() {
        let env = |name: &str| (name == "APP_PROFILE").then(|| "production".to_owned());
        let bare = Settings::load_layered(None, |_| None).unwrap();
        let from_repo = load(&[]).unwrap();
        assert_eq!(bare.profile, "local");
        assert_eq!(bare.listen_addr, from_repo.listen_addr);
        assert_eq!(bare.carat.merchant_id, from_repo.carat.merchant_id);
        let err = Settings::load_layered(None, env).unwrap_err().to_string();
        assert!(err.contains("setting API_TOKENS is missing"), "{err}");

        let dir = std::env::temp_dir().join(format!("carat-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("local.toml"), "reconcile_interval_ms = 4321\n").unwrap();
        std::fs::write(dir.join("staging.toml"), "").unwrap();
        let s = Settings::load_from(&dir, |_| None);
        let known = Settings::load_from(&dir, |n| (n == "APP_PROFILE").then(|| "qa".into()));
        std::fs::remove_dir_all(&dir).unwrap();
        let s = s.unwrap();
        assert_eq!(s.reconcile.interval, Duration::from_millis(4321));
        // Everything else still comes from the compiled-in local profile.
        assert_eq!(s.carat.merchant_id, from_repo.carat.merchant_id);
        let known = known.unwrap_err().to_string();
        assert!(known.contains("local, production, staging"), "{known}");
    }

    #[test]
    fn every_error_is_listed_not_just_the_first() {
        let err = load(&[
            ("CARAT_TIMEOUT_MS", "soon"),
            ("LISTEN_ADDR", "anywhere"),
            ("RECONCILE_ENABLED", "yes"),
        ])
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.0.len(), 3, "{text}");
        for env in ["CARAT_TIMEOUT_MS", "LISTEN_ADDR", "RECONCILE_ENABLED"] {
            assert!(text.contains(env), "{text}");
        }
    }

    #[test]
    fn documented_defaults_are_the_local_profiles_values() {
        let mut v = Values::default();
        v.read_file(&config_dir().join("default.toml"));
        v.read_file(&config_dir().join("local.toml"));
        assert!(v.errors.is_empty());
        for s in SETTINGS.iter().filter(|s| s.kind == SettingKind::Value) {
            if let Some(value) = v.raw(s.key) {
                assert!(
                    s.default.contains(&format!("`{value}`")),
                    "{}: documented `{}`, config/ says `{value}`",
                    s.key,
                    s.default
                );
            }
        }
    }

    #[test]
    fn configuration_md_is_the_settings_table() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
        let expected = settings_markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let documented = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            documented == expected,
            "docs/configuration.md is not the settings table: run \
             `UPDATE_DOCS=1 cargo test -p carat-merchant --lib configuration_md`"
        );
    }

    #[test]
    fn help_lists_every_setting() {
        let help = settings_help();
        for s in SETTINGS {
            assert!(
                help.contains(&format!("  {} [default: ", s.key.to_uppercase())),
                "{}",
                s.key
            );
        }
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
    fn rust_log_wins_and_a_malformed_one_stops_start_up() {
        let s = load(&[("RUST_LOG", "warn,carat_merchant=trace")]).unwrap();
        assert_eq!(s.log_filter, "warn,carat_merchant=trace");
        let err = load(&[("RUST_LOG", "carat_merchant=loud")]).unwrap_err();
        assert!(err.to_string().contains("RUST_LOG"), "{err}");
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

    #[test]
    fn read_only_tokens_are_their_own_kind() {
        let s = load(&[]).unwrap();
        assert!(s.api_readonly_tokens.is_empty());
        let s = load(&[
            ("API_TOKENS", "full-token"),
            ("API_READONLY_TOKENS", "support-a, support-b"),
        ])
        .unwrap();
        assert_eq!(s.api_readonly_tokens.len(), 2);
        assert_eq!(s.api_readonly_tokens[1].expose(), "support-b");
        // One token in both lists: which kind would it be? Refused, and never quoted.
        let err = load(&[
            ("API_TOKENS", "shared-token, full-token"),
            ("API_READONLY_TOKENS", "shared-token"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("API_READONLY_TOKENS"), "{err}");
        assert!(!err.contains("shared-token"), "{err}");
    }

    #[test]
    fn console_sessions_idle_thirty_minutes_unless_told() {
        let s = load(&[]).unwrap();
        assert_eq!(s.console_session_idle, Duration::from_secs(1800));
        for (value, secs) in [("45m", 2700), ("90s", 90), ("2h", 7200)] {
            let s = load(&[("CONSOLE_SESSION_IDLE", value)]).unwrap();
            assert_eq!(s.console_session_idle, Duration::from_secs(secs), "{value}");
        }
        for bad in [
            "30",
            "0m",
            "-5m",
            "1.5h",
            "m",
            "30 m",
            "3d",
            "99999999999999999999h",
        ] {
            let err = load(&[("CONSOLE_SESSION_IDLE", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("CONSOLE_SESSION_IDLE"), "{bad}: {err}");
        }
    }
}

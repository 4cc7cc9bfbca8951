//! The checks before the first case: the settings, the database, Carat's reachability and
//! TLS, and the callback URLs. A failed check stops the run before any sale.

use std::time::Duration;

use url::Url;

use super::evidence::{CallbackUrl, Check};
use crate::config::Settings;
use carat_core::carat::client::is_loopback;

/// How long a reachability probe waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings, as far as they matter to Carat (never the key).
pub fn settings(settings: &Settings, listening: std::net::SocketAddr) -> Check {
    let signature_ready = match settings.carat.auth_mode {
        carat_domain::AuthMode::Signature => settings.carat.jwt_key.is_some(),
        carat_domain::AuthMode::Authenticity => true,
    };
    Check {
        name: "configuração / settings".into(),
        ok: signature_ready,
        detail: format!(
            "merchant id {}, auth mode {}, callbacks served on {}{}",
            settings.carat.merchant_id.as_str(),
            settings.carat.auth_mode.as_str(),
            listening,
            if signature_ready {
                ""
            } else {
                "; signature mode without CARAT_JWT_PRIVATE_KEY"
            },
        ),
    }
}

/// The callback URLs to register with Carat; a path secret is shown as its variable's name.
pub fn callback_urls(public_url: &Url, settings: &Settings) -> Vec<CallbackUrl> {
    let base = public_url.as_str().trim_end_matches('/');
    let path = match settings.callbacks.path_secret {
        Some(_) => "/callbacks/<CALLBACK_PATH_SECRET>",
        None => "/callbacks",
    };
    ["authenticity", "status", "hash"]
        .into_iter()
        .map(|callback| CallbackUrl {
            callback: callback.to_owned(),
            url: format!("{base}{path}/{callback}"),
        })
        .collect()
}

/// Whether `url` answers over HTTP at all (any status): the host resolves, the connection
/// opens and, for `https`, its certificate is valid for it.
pub async fn reachable(name: &str, url: &Url) -> Check {
    let client = reqwest::Client::builder().timeout(PROBE_TIMEOUT).build();
    let answer = match client {
        Ok(client) => client.get(url.clone()).send().await.map(|r| r.status()),
        Err(e) => Err(e),
    };
    let tls = if url.scheme() == "https" {
        ", TLS verified"
    } else {
        ""
    };
    match answer {
        Ok(status) => Check {
            name: name.to_owned(),
            ok: true,
            detail: format!("{} answered HTTP {}{tls}", redacted(url), status.as_u16()),
        },
        Err(e) => Check {
            name: name.to_owned(),
            ok: false,
            detail: format!("{}: {}", redacted(url), error_chain(&e)),
        },
    }
}

/// This service's own liveness at the public URL: what Carat would reach is this process. A
/// remote Carat (`carat_is_local` false) cannot reach a loopback URL.
pub async fn callbacks_reach_us(public_url: &Url, carat_is_local: bool) -> Check {
    if !carat_is_local && is_loopback(public_url) {
        return Check {
            name: "URLs de callback / callback URLs".into(),
            ok: false,
            detail: format!(
                "{} is loopback: Carat cannot reach it; give --public-url (the HTTPS URL Carat \
                 reaches this host at)",
                redacted(public_url)
            ),
        };
    }
    let Ok(url) = public_url.join("health/live") else {
        return Check {
            name: "URLs de callback / callback URLs".into(),
            ok: false,
            detail: "the public URL cannot take a path".into(),
        };
    };
    let mut check = reachable("URLs de callback / callback URLs", &url).await;
    if check.ok {
        check.detail = format!(
            "{check_detail}: the callbacks are served here",
            check_detail = check.detail
        );
    }
    check
}

/// A URL as the report prints it: without user, password or query (a key could ride there).
pub fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.to_string()
}

fn url_text(e: &reqwest::Error) -> String {
    e.url()
        .map(|u| format!(" for url ({u})"))
        .unwrap_or_default()
}

fn error_chain(e: &reqwest::Error) -> String {
    // The URL is in the report already; the error's own text repeats it.
    let mut text = e.to_string().replace(url_text(e).as_str(), "");
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    text
}

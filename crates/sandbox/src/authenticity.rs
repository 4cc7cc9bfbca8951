//! The authenticity POST: Carat's synchronous, form-encoded call to the merchant's registered
//! URL during the create. Only an HTTP 200 answer counts as accepted.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use reqwest::redirect::Policy;
use url::Url;

use carat_wire::AuthenticityForm;

pub(crate) struct AuthenticityPoster {
    url: Mutex<Option<Url>>,
    /// The client, or why it could not be built (then every POST counts as refused).
    client: Result<reqwest::Client, String>,
    timeout: Duration,
}

impl AuthenticityPoster {
    pub fn new(url: Option<Url>, timeout: Duration) -> Self {
        // reqwest is built without a TLS crypto provider and the crate standardises on ring;
        // installing it is a no-op when the process (main, a test) already did.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // A redirect is not a 200: the merchant's URL is registered as it is.
            .redirect(Policy::none())
            .build()
            .map_err(|e| format!("the sandbox could not build its HTTP client: {e}"));
        Self {
            url: Mutex::new(url),
            client,
            timeout,
        }
    }

    pub fn set_url(&self, url: Url) {
        *self.url.lock().unwrap_or_else(PoisonError::into_inner) = Some(url);
    }

    /// Sends `form`; `Err` says, for the create's code 115, why the merchant did not accept it.
    pub async fn post(&self, form: &AuthenticityForm) -> Result<(), String> {
        let url = self
            .url
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or("no authenticity URL is configured")?;
        let client = self.client.as_ref().map_err(Clone::clone)?;
        // Messages name the merchant's host only: the URL's path may hold its callback path
        // secret, and these messages travel back in Carat's error answers.
        let host = url.origin().ascii_serialization();
        let answer = client.post(url).form(form).send().await;
        match answer {
            Ok(response) if response.status() == reqwest::StatusCode::OK => Ok(()),
            Ok(response) => Err(format!(
                "the merchant answered HTTP {} to the POST to {host}",
                response.status()
            )),
            Err(e) if e.is_timeout() => Err(format!(
                "the merchant did not answer the POST to {host} within {} ms",
                self.timeout.as_millis()
            )),
            Err(e) => Err(format!(
                "the POST to {host} failed: {}",
                error_chain(&e.without_url())
            )),
        }
    }
}

/// reqwest's top-level message is generic ("error sending request"); the cause says what failed.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

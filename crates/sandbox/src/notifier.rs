//! Carat's asynchronous notifications to the merchant: the status notification (digest §6.2)
//! and the HASH notification of a stored card (§6.3, seed 004). Each is a form-urlencoded POST
//! to the URL the merchant registered; only HTTP 200 counts, and anything else (another status,
//! a timeout, a refused connection) is retried after `retry_delay`, up to `attempts` POSTs in
//! all, "before giving up and leaving the transaction as pending notification" (seed 004).
//!
//! Deliveries run in their own task, after the call that caused them has been answered, as
//! Carat's do; every one is recorded for tests ([`super::Sandbox::notifications`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::redirect::Policy;
use url::Url;

/// Which registered URL a notification goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// Payment status changes: the "status notification URL".
    Status,
    /// Card storage results: the "HASH submission URL".
    Hash,
}

/// One notification as the sandbox sent it, for test inspection.
#[derive(Clone, Debug)]
pub struct Notification {
    pub channel: Channel,
    /// The form's parameters, in the order sent.
    pub form: Vec<(String, String)>,
    /// POSTs made so far.
    pub attempts: u32,
    /// What each POST got: an HTTP status, or why there was none.
    pub answers: Vec<String>,
    /// Answered 200.
    pub delivered: bool,
    /// No more POSTs will be made (delivered, or attempts used up, or no URL configured).
    pub finished: bool,
}

#[derive(Clone, Debug)]
pub struct NotifierConfig {
    pub status_url: Option<Url>,
    pub hash_url: Option<Url>,
    /// POSTs per notification at most, the first included (at least 1).
    pub attempts: u32,
    pub retry_delay: Duration,
    pub timeout: Duration,
}

pub(crate) struct Notifier {
    status_url: Mutex<Option<Url>>,
    hash_url: Mutex<Option<Url>>,
    attempts: u32,
    retry_delay: Duration,
    client: Option<reqwest::Client>,
    sent: Mutex<Vec<Notification>>,
}

impl Notifier {
    pub fn new(config: NotifierConfig) -> Arc<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(Policy::none())
            .build()
            .ok();
        Arc::new(Self {
            status_url: Mutex::new(config.status_url),
            hash_url: Mutex::new(config.hash_url),
            attempts: config.attempts.max(1),
            retry_delay: config.retry_delay,
            client,
            sent: Mutex::new(Vec::new()),
        })
    }

    pub fn set_url(&self, channel: Channel, url: Url) {
        *self
            .slot(channel)
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(url);
    }

    fn slot(&self, channel: Channel) -> &Mutex<Option<Url>> {
        match channel {
            Channel::Status => &self.status_url,
            Channel::Hash => &self.hash_url,
        }
    }

    /// Every notification so far, oldest first.
    pub fn snapshot(&self) -> Vec<Notification> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Queues `form` for `channel` and delivers it in the background.
    pub fn send(self: &Arc<Self>, channel: Channel, form: Vec<(String, String)>) {
        let index = {
            let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
            sent.push(Notification {
                channel,
                form: form.clone(),
                attempts: 0,
                answers: Vec::new(),
                delivered: false,
                finished: false,
            });
            sent.len() - 1
        };
        let this = Arc::clone(self);
        tokio::spawn(async move { this.deliver(index, channel, form).await });
    }

    async fn deliver(&self, index: usize, channel: Channel, form: Vec<(String, String)>) {
        for attempt in 1..=self.attempts {
            if attempt > 1 {
                tokio::time::sleep(self.retry_delay).await;
            }
            // Read at each attempt: a test may register the URL after the fact.
            let url = self
                .slot(channel)
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let answer = match (&self.client, url) {
                (None, _) => "the sandbox could not build its HTTP client".to_owned(),
                (_, None) => "no URL is registered for this notification".to_owned(),
                (Some(client), Some(url)) => match client.post(url).form(&form).send().await {
                    Ok(response) => response.status().as_u16().to_string(),
                    Err(e) if e.is_timeout() => "timeout".to_owned(),
                    Err(e) => format!("failed: {}", e.without_url()),
                },
            };
            let delivered = answer == "200";
            let finished = delivered || attempt == self.attempts;
            {
                let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
                let record = &mut sent[index];
                record.attempts = attempt;
                record.answers.push(answer);
                record.delivered = delivered;
                record.finished = finished;
            }
            if finished {
                return;
            }
        }
    }
}

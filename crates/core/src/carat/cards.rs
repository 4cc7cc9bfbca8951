//! Carat Portal's card storage calls (seed 004, digest §6.3), beside the recharge ones: the
//! tokenization `POST /e-sitef/api/v1/cards` and the storage-data query by NITA. Both carry the
//! `merchant_id` and `merchant_key` headers, go through the client's timeouts, and report an
//! [`Exchange`] whose kept request has the card data and the key redacted.

use std::time::Instant;

use reqwest::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::CaratCall;
use super::client::{CaratClient, Exchange};
use super::error::{CaratError, Refusal};
use carat_domain::{CardExpiry, CardNumber, MerchantId, MerchantUsn, Nita};
use carat_wire::redact::redact;

const MERCHANT_ID: HeaderName = HeaderName::from_static("merchant_id");
const MERCHANT_KEY: HeaderName = HeaderName::from_static("merchant_key");

/// What the storage request carries. The card number travels here once and nowhere else.
pub struct StoreCard<'a> {
    pub number: &'a CardNumber,
    pub expiry: &'a CardExpiry,
    pub authorizer_id: &'a str,
    pub merchant_usn: MerchantUsn,
    pub customer_id: &'a str,
}

/// The JSON body, digest §6.3: `{card{number, expiry_date}, authorizer_id, merchant_usn,
/// customer_id}` (no envelope, as the `api/v1` resources have it).
#[derive(Serialize)]
struct StoreCardBody<'a> {
    card: CardBody<'a>,
    authorizer_id: &'a str,
    merchant_usn: String,
    customer_id: &'a str,
}

#[derive(Serialize)]
struct CardBody<'a> {
    number: &'a str,
    expiry_date: &'a str,
}

/// Carat's answer to a storage. [UNKNOWN] its exact envelope: the digest gives its parts,
/// `card{token,suffix}` and `store{status,nsua,nita,merchant_usn,customer_id}`, with a
/// verdict `code`/`message` as the `api/v1` resources answer. So every field is optional,
/// unknown ones are ignored, and the parts are read at the top level or inside a single
/// envelope object of any name ([`parse_answer`]).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct StoreCardAnswer {
    pub code: Option<String>,
    pub message: Option<String>,
    pub card: Option<StoredCardPart>,
    pub store: Option<StorePart>,
}

#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
pub struct StoredCardPart {
    /// The token (88 characters): read once, kept in the database, never logged.
    pub token: Option<String>,
    pub suffix: Option<String>,
}

impl std::fmt::Debug for StoredCardPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCardPart")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("suffix", &self.suffix)
            .finish()
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct StorePart {
    pub status: Option<String>,
    pub nsua: Option<String>,
    pub nita: Option<String>,
    pub merchant_usn: Option<String>,
    pub customer_id: Option<String>,
}

/// Reads a storage answer: the object itself when it carries `code`, `card` or `store`,
/// else the value of its only key. `None` when neither reads.
pub fn parse_answer(bytes: &[u8]) -> Option<StoreCardAnswer> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let object = value.as_object()?;
    let carries = |o: &serde_json::Map<String, serde_json::Value>| {
        ["code", "card", "store"].iter().any(|k| o.contains_key(*k))
    };
    let inner = if carries(object) {
        &value
    } else if object.len() == 1 {
        let inner = object.values().next()?;
        if !inner.as_object().is_some_and(carries) {
            return None;
        }
        inner
    } else {
        return None;
    };
    serde_json::from_value(inner.clone()).ok()
}

impl CaratClient {
    /// `POST /e-sitef/api/v1/cards`: stores a card. Not safe to repeat blindly (a second
    /// storage of the card is a DUP at best): a lost answer is settled by the HASH
    /// notification or a storage-data query.
    pub async fn store_card(
        &self,
        merchant_id: &MerchantId,
        card: StoreCard<'_>,
    ) -> Exchange<StoreCardAnswer> {
        let body = StoreCardBody {
            card: CardBody {
                number: card.number.expose(),
                expiry_date: card.expiry.as_str(),
            },
            authorizer_id: card.authorizer_id,
            merchant_usn: card.merchant_usn.to_string(),
            customer_id: card.customer_id,
        };
        let request = redact(serde_json::to_value(&body).unwrap_or_default());
        let req = self
            .http
            .post(format!("{}/api/v1/cards", self.base))
            .headers(self.card_headers(merchant_id))
            .json(&body);
        let started = Instant::now();
        let result = match req.send().await {
            Err(e) => Err(self.transport_error(CaratCall::StoreCard, e)),
            Ok(response) => {
                let http_status = response.status().as_u16();
                match response.bytes().await {
                    Err(e) => Err(self.transport_error(CaratCall::StoreCard, e)),
                    Ok(bytes) => judge(http_status, &bytes),
                }
            }
        };
        self.observe(CaratCall::StoreCard, started, &result);
        log(CaratCall::StoreCard, started, &result);
        Exchange {
            call: CaratCall::StoreCard,
            request,
            result,
            elapsed: Some(started.elapsed()),
        }
    }

    /// The storage-data query (seed 004): a POST naming the NITA, answered `OK`; Carat then
    /// sends the HASH notification again, asynchronously. `path` is `CARAT_CARD_QUERY_PATH`
    /// with `{nita}` replaced, appended to the Carat host (its address is not in Carat's
    /// pages). The NITA also travels as a form parameter `nita`, so either way of reading it
    /// finds it. Read-only at Carat, safe to repeat.
    pub async fn query_card(
        &self,
        merchant_id: &MerchantId,
        path_template: &str,
        nita: &Nita,
    ) -> Exchange<()> {
        let path = path_template.replace("{nita}", nita.as_str());
        let origin = url::Url::parse(&self.base)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let req = self
            .http
            .post(format!("{origin}{path}"))
            .headers(self.card_headers(merchant_id))
            .form(&[("nita", nita.as_str())]);
        let started = Instant::now();
        let result = match req.send().await {
            Err(e) => Err(self.transport_error(CaratCall::QueryCard, e)),
            Ok(response) => {
                let http_status = response.status().as_u16();
                match response.bytes().await {
                    Err(e) => Err(self.transport_error(CaratCall::QueryCard, e)),
                    Ok(bytes) if http_status == 200 && bytes.trim_ascii() == b"OK" => Ok(()),
                    Ok(bytes) => Err(CaratError::Answered(refusal_of(http_status, &bytes))),
                }
            }
        };
        self.observe(CaratCall::QueryCard, started, &result);
        log(CaratCall::QueryCard, started, &result);
        Exchange {
            call: CaratCall::QueryCard,
            request: serde_json::json!({ "nita": nita.as_str(), "path": path }),
            result,
            elapsed: Some(started.elapsed()),
        }
    }

    fn card_headers(&self, merchant_id: &MerchantId) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(merchant_id.as_str()) {
            headers.insert(MERCHANT_ID, v);
        }
        if let Ok(mut v) = HeaderValue::from_str(self.merchant_key.expose()) {
            v.set_sensitive(true);
            headers.insert(MERCHANT_KEY, v);
        }
        headers
    }
}

fn log<T>(call: CaratCall, started: Instant, result: &Result<T, CaratError>) {
    let call = call.as_str();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(_) => tracing::info!(call, elapsed_ms, "carat call answered"),
        Err(error) => tracing::warn!(call, elapsed_ms, %error, "carat call failed"),
    }
}

/// A storage answer is a success when HTTP 2xx, `code` "0" (or none) and a `store` part;
/// a readable refusal otherwise. A body that does not read is unreadable, so not definite.
pub fn judge(http_status: u16, bytes: &[u8]) -> Result<StoreCardAnswer, CaratError> {
    let Some(answer) = parse_answer(bytes) else {
        return Err(CaratError::Answered(Refusal {
            http_status,
            code: None,
            message: Some(super::client::excerpt(bytes)),
            carat_status: None,
            unreadable: true,
        }));
    };
    let code_ok = answer.code.as_deref().is_none_or(|c| c == "0");
    if (200..300).contains(&http_status) && code_ok && answer.store.is_some() {
        return Ok(answer);
    }
    Err(CaratError::Answered(Refusal {
        http_status,
        code: answer.code.clone(),
        message: answer.message.clone(),
        carat_status: answer.store.and_then(|s| s.status),
        // A 2xx saying "0" without what was stored: nothing to rely on.
        unreadable: (200..300).contains(&http_status) && code_ok,
    }))
}

/// A query answer other than `OK`: the sandbox's JSON error, or any text.
fn refusal_of(http_status: u16, bytes: &[u8]) -> Refusal {
    match parse_answer(bytes) {
        Some(a) => Refusal {
            http_status,
            code: a.code,
            message: a.message,
            carat_status: None,
            unreadable: false,
        },
        None => Refusal {
            http_status,
            code: None,
            message: Some(super::client::excerpt(bytes)),
            carat_status: None,
            unreadable: http_status < 300,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reads_at_the_top_or_in_one_envelope_and_ignores_the_unknown() {
        let top = br#"{"code":"0","message":"OK","card":{"token":"T","suffix":"1111"},
                      "store":{"status":"CON","nita":"N","nsua":"1","extra":1},"more":true}"#;
        let a = judge(201, top).unwrap();
        assert_eq!(a.store.as_ref().unwrap().status.as_deref(), Some("CON"));
        assert_eq!(a.card.unwrap().suffix.as_deref(), Some("1111"));
        let wrapped = br#"{"store_response":{"code":"0","store":{"status":"NEG"}}}"#;
        assert_eq!(
            judge(200, wrapped)
                .unwrap()
                .store
                .unwrap()
                .status
                .as_deref(),
            Some("NEG")
        );
    }

    #[test]
    fn refusals_are_definite_only_when_readable_and_not_5xx() {
        let refused = judge(
            401,
            br#"{"code":"4","message":"merchant_key: not accepted"}"#,
        )
        .unwrap_err();
        assert!(refused.certainly_not_applied(), "{refused}");
        let html = judge(502, b"<html>bad gateway</html>").unwrap_err();
        assert!(!html.certainly_not_applied());
        let empty_ok = judge(200, br#"{"code":"0"}"#).unwrap_err();
        assert!(!empty_ok.certainly_not_applied(), "a 200 without store");
        let server = judge(500, br#"{"code":"99","message":"boom"}"#).unwrap_err();
        assert!(!server.certainly_not_applied());
    }

    #[test]
    fn the_token_is_not_debug_printed() {
        let part = StoredCardPart {
            token: Some("SECRET-TOKEN".into()),
            suffix: None,
        };
        assert!(!format!("{part:?}").contains("SECRET"));
    }
}

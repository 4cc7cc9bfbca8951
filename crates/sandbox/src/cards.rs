//! Card storage as Carat does it (seed 004, digest §6.3): `POST /e-sitef/api/v1/cards` stores
//! a card and answers at once with its NITA, NSUA, status (and, stored, its token and suffix),
//! then sends the HASH notification; `POST /e-sitef/api/v1/cards/query/{nita}` (the
//! storage-data query, whose real address is not published) answers `OK` and sends the HASH
//! notification again.
//!
//! Both take the `merchant_id` and `merchant_key` headers. The answers are JSON at the top
//! level, `{code, message, card{token,suffix}, store{status,nsua,nita,merchant_usn,
//! customer_id}}` (the real envelope is not published); errors are `{code, message}` with
//! the codes and HTTP statuses of the sandbox's table (`2` format, `3` missing, `4` key, `5`
//! not found, `99` injected).
//!
//! | card number | status |
//! |---|---|
//! | `4000000000000002` | NEG: judged invalid; notified without a token |
//! | any other Luhn-valid 13–19 digits (`4111111111111111`...) | CON: stored, with a token |
//! | a number already stored (CON) for the same `customer_id` | DUP; notified without a token |

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::errors::CaratError;
use super::faults::{Fault, Operation};
use super::notifier::Channel;
use super::validate;
use super::vault::VaultCard;
use carat_domain::card::luhn_holds;
use carat_domain::{Charset, Format, MerchantUsn};

/// The card number the sandbox judges invalid (NEG).
pub const DENIED_CARD: &str = "4000000000000002";

/// Counts, for tests: storages and queries received (valid or not).
#[derive(Debug, Default)]
pub(crate) struct CardDesk {
    pub storage_requests: AtomicU32,
    pub query_requests: AtomicU32,
}

/// NSUAs (`= 15 N`) and NITAs are unique in the process.
static SEQUENCE: AtomicU64 = AtomicU64::new(1);

fn error(e: CaratError) -> Response {
    (e.http, Json(json!({"code": e.code, "message": e.message}))).into_response()
}

fn check_headers(sandbox: &Shared, headers: &HeaderMap) -> Result<(), CaratError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let id = text("merchant_id").ok_or_else(|| CaratError::missing("merchant_id"))?;
    if id != sandbox.merchant_id.as_str() {
        return Err(CaratError::new(
            StatusCode::UNAUTHORIZED,
            "4",
            "merchant_id: not the merchant this key belongs to",
        ));
    }
    let key = text("merchant_key").ok_or_else(|| CaratError::missing("merchant_key"))?;
    validate::merchant_key("merchant_key", key, &sandbox.merchant_key)
}

/// A string field of `value` at `path`, checked against `format`.
fn field<'a>(value: &'a Value, path: &'static str, format: Format) -> Result<&'a str, CaratError> {
    let mut at = value;
    for part in path.split('.') {
        at = at.get(part).unwrap_or(&Value::Null);
    }
    match at {
        Value::Null => Err(CaratError::missing(path)),
        Value::String(s) if s.is_empty() => Err(CaratError::missing(path)),
        Value::String(s) => {
            format
                .check(s)
                .map_err(|e| CaratError::malformed(format!("{path}: {e}")))?;
            Ok(s)
        }
        _ => Err(CaratError::malformed(format!(
            "{path}: must be a JSON string"
        ))),
    }
}

struct Storage {
    number: String,
    expiry: String,
    authorizer_id: String,
    merchant_usn: String,
    customer_id: String,
}

fn read_storage(body: &[u8]) -> Result<Storage, CaratError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| CaratError::malformed(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(CaratError::malformed("the body must be a JSON object"));
    }
    let number = field(&value, "card.number", Format::at_most(19, Charset::Numeric))?;
    if !luhn_holds(number) || number.len() < 13 {
        return Err(CaratError::malformed(
            "card.number: not a card number (13 to 19 digits whose Luhn check digit holds)",
        ));
    }
    let expiry = field(
        &value,
        "card.expiry_date",
        Format::exactly(4, Charset::Numeric),
    )?;
    if !matches!(
        &expiry[..2],
        "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
    ) {
        return Err(CaratError::malformed("card.expiry_date: must be MMYY"));
    }
    let authorizer_id = field(
        &value,
        "authorizer_id",
        Format::at_most(5, Charset::Numeric),
    )?;
    let merchant_usn = field(&value, "merchant_usn", MerchantUsn::FORMAT)?;
    let customer_id = field(
        &value,
        "customer_id",
        Format::at_most(20, Charset::Alphanumeric),
    )?;
    Ok(Storage {
        number: number.to_owned(),
        expiry: expiry.to_owned(),
        authorizer_id: authorizer_id.to_owned(),
        merchant_usn: merchant_usn.to_owned(),
        customer_id: customer_id.to_owned(),
    })
}

fn generated(prefix: &str, len: usize, n: u64) -> String {
    let mut s = format!("{prefix}{n:0>12}");
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string().to_uppercase());
    }
    s.truncate(len);
    s
}

/// The HASH notification of `card` (seed 004's parameters); no token unless stored.
pub(crate) fn hash_form(card: &VaultCard) -> Vec<(String, String)> {
    let stored = card.status == "CON";
    let n = &card.number;
    vec![
        ("nita".into(), card.nita.clone()),
        ("nsua".into(), card.nsua.clone()),
        ("nsu".into(), card.merchant_usn.clone()),
        ("status".into(), card.status.clone()),
        (
            "hash".into(),
            if stored {
                card.token.clone()
            } else {
                String::new()
            },
        ),
        ("bin".into(), n[..6].to_owned()),
        ("final".into(), n[n.len() - 4..].to_owned()),
        ("autorizadora".into(), card.authorizer_id.clone()),
    ]
}

pub(super) async fn store(
    State(sandbox): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sandbox
        .cards
        .storage_requests
        .fetch_add(1, Ordering::SeqCst);
    if let Err(e) = check_headers(&sandbox, &headers) {
        return error(e);
    }
    let storage = match read_storage(&body) {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    let fault = sandbox.injector.take(Operation::StoreCard);
    if fault == Some(Fault::Error500) {
        return error(super::faults::injected_error());
    }
    let card = new_card(&storage, storage_status(&sandbox, &storage));
    // Kept whatever the status, so that the storage query finds its NITA; only a CON's token
    // is ever given out (and only a CON pays).
    sandbox.vault.put(card.clone());
    let answer = stored_answer(&card, &storage);
    answer_and_notify(&sandbox, fault, card, answer).await
}

/// NEG for the denied test card, DUP for a card this customer already stored, else CON.
fn storage_status(sandbox: &Shared, storage: &Storage) -> &'static str {
    let duplicate = sandbox.vault.all().into_iter().any(|c| {
        c.status == "CON"
            && c.number == storage.number
            && c.customer_id.as_deref() == Some(&storage.customer_id)
    });
    if storage.number == DENIED_CARD {
        "NEG"
    } else if duplicate {
        "DUP"
    } else {
        "CON"
    }
}

/// The vault's new card, with its generated token, NITA and NSUA.
fn new_card(storage: &Storage, status: &str) -> VaultCard {
    let n = SEQUENCE.fetch_add(1, Ordering::SeqCst);
    VaultCard {
        token: generated("SBXTOKEN", 88, n),
        nita: generated("SBXNITA", 65, n),
        nsua: format!("{:015}", 100_000_000_000_000 + n),
        merchant_usn: storage.merchant_usn.clone(),
        customer_id: Some(storage.customer_id.clone()),
        authorizer_id: storage.authorizer_id.clone(),
        number: storage.number.clone(),
        expiry_date: storage.expiry.clone(),
        status: status.to_owned(),
    }
}

/// The storage answer: the token and suffix only for a CON.
fn stored_answer(card: &VaultCard, storage: &Storage) -> Value {
    let mut answer = json!({
        "code": "0",
        "message": "OK. Transaction successful.",
        "store": {
            "status": card.status,
            "nsua": card.nsua,
            "nita": card.nita,
            "merchant_usn": card.merchant_usn,
            "customer_id": storage.customer_id,
        },
    });
    if card.status == "CON" {
        answer["card"] =
            json!({"token": card.token, "suffix": &storage.number[storage.number.len() - 4..]});
    }
    answer
}

/// Answers and sends the HASH notification, as the injected fault (if any) has them go.
async fn answer_and_notify(
    sandbox: &Arc<Shared>,
    fault: Option<Fault>,
    card: VaultCard,
    answer: Value,
) -> Response {
    match fault {
        Some(Fault::AppliedThen500) => {
            sandbox.notifier.send(Channel::Hash, hash_form(&card));
            return error(super::faults::injected_error());
        }
        Some(Fault::Slow) => {
            // Carat's notification follows its (late) answer, whether or not the merchant
            // still waits for it: a task of its own, which the dropped request cannot cancel.
            let (shared, delay) = (Arc::clone(sandbox), sandbox.slow_answer_delay);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                shared.notifier.send(Channel::Hash, hash_form(&card));
            });
            tokio::time::sleep(delay).await;
            return (StatusCode::OK, Json(answer)).into_response();
        }
        _ => {}
    }
    sandbox.notifier.send(Channel::Hash, hash_form(&card));
    (StatusCode::OK, Json(answer)).into_response()
}

pub(super) async fn query(
    State(sandbox): State<Arc<Shared>>,
    Path(nita): Path<String>,
    headers: HeaderMap,
) -> Response {
    sandbox.cards.query_requests.fetch_add(1, Ordering::SeqCst);
    if let Err(e) = check_headers(&sandbox, &headers) {
        return error(e);
    }
    match sandbox.vault.by_nita(&nita) {
        Some(card) => {
            sandbox.notifier.send(Channel::Hash, hash_form(&card));
            (StatusCode::OK, "OK").into_response()
        }
        None => error(CaratError::new(
            StatusCode::NOT_FOUND,
            "5",
            "nita: no stored card has this NITA",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identifiers_have_their_formats() {
        let nita = generated("SBXNITA", 65, 7);
        assert_eq!(nita.len(), 65);
        assert!(nita.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(generated("SBXTOKEN", 88, 7).len(), 88);
        assert_ne!(generated("X", 65, 1), generated("X", 65, 1), "random tail");
    }

    #[test]
    fn the_body_is_checked_field_by_field() {
        let ok = br#"{"card":{"number":"4111111111111111","expiry_date":"1230"},
                      "authorizer_id":"1","merchant_usn":"12","customer_id":"C1"}"#;
        assert!(read_storage(ok).is_ok());
        let bad_luhn = br#"{"card":{"number":"4111111111111112","expiry_date":"1230"},
                      "authorizer_id":"1","merchant_usn":"12","customer_id":"C1"}"#;
        assert!(
            read_storage(bad_luhn)
                .err()
                .unwrap()
                .message
                .starts_with("card.number")
        );
        let missing = br#"{"card":{"number":"4111111111111111"},"authorizer_id":"1",
                      "merchant_usn":"12","customer_id":"C1"}"#;
        let e = read_storage(missing).err().unwrap();
        assert_eq!(
            (e.code, e.message.as_str()),
            ("3", "card.expiry_date: mandatory field missing")
        );
        let number = br#"{"card":{"number":"4111111111111111","expiry_date":"1230"},
                      "authorizer_id":1,"merchant_usn":"12","customer_id":"C1"}"#;
        assert_eq!(read_storage(number).err().unwrap().code, "2");
    }
}

//! Card storage by NITA (seed 004): the storefront stores a customer's card once; Carat keeps
//! it and gives back a token that later pays without the number.
//!
//! The card row is written first (`pending`, with its own `merchant_usn`), then Carat is
//! called. Its answer brings the NITA, NSUA, status and (when it carries them) the token; the
//! HASH notification (`/callbacks/hash`) brings the same and settles a card whose answer was
//! lost (`unknown`), matched by `nsu` = merchant_usn. A storage is never sent again blindly: a
//! lost answer is settled by the notification, or by a storage-data query
//! ([`CardService::refresh`]) once the NITA is known. Statuses only move forward
//! ([`status`]).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::carat::CaratClient;
use crate::carat::cards::{StoreCard, StoreCardAnswer};
use crate::recharge::{CaratFailure, CaratProblem};
use carat_domain::format::FormatError;
pub use carat_domain::{AuthorizerId, CustomerId};
use carat_domain::{
    CardExpiry, CardNumber, CardToken, FieldError, MerchantId, MerchantUsn, Nita, Nsua,
    StorageStatus,
};
use carat_store::StoreError;
use carat_store::cards::{self as rows, CardRow, NewCard, Report};

/// `POST /api/v1/cards`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreCardRequest {
    pub customer_id: CustomerId,
    pub authorizer_id: AuthorizerId,
    pub card: CardInput,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    pub number: CardNumber,
    pub expiry_date: CardExpiry,
}

/// A card as the storefront sees it: never the number; the token only when
/// `CARD_TOKEN_VISIBLE`.
#[derive(Clone, Debug, Serialize)]
pub struct CardView {
    pub id: Uuid,
    pub customer_id: String,
    pub authorizer_id: String,
    /// `pending`, `unknown` (the storage's answer was lost: a HASH notification or a refresh
    /// settles it), or Carat's CON INV NEG DUP CAN DEL BLQ.
    pub status: String,
    /// Whether it can pay (CON).
    pub usable: bool,
    pub bin: Option<String>,
    pub last4: Option<String>,
    pub expiry: Option<String>,
    pub merchant_usn: String,
    pub nita: Option<String>,
    pub nsua: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub last_error: Option<LastError>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LastError {
    pub code: Option<String>,
    pub message: Option<String>,
}

impl CardView {
    pub fn new(row: CardRow, token_visible: bool) -> Self {
        let last_error = (row.last_error_code.is_some() || row.last_error_message.is_some())
            .then_some(LastError {
                code: row.last_error_code,
                message: row.last_error_message,
            });
        Self {
            id: row.id,
            customer_id: row.customer_id,
            authorizer_id: row.authorizer_id,
            usable: row.status == StorageStatus::Stored.code(),
            status: row.status,
            bin: row.bin,
            last4: row.last4,
            expiry: row.expiry,
            merchant_usn: row.merchant_usn.to_string(),
            nita: row.nita,
            nsua: row.nsua,
            token: row.token.filter(|_| token_visible),
            last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("no card with this id")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    Carat(Box<CaratProblem>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a storage ended, for the HTTP status: 201 stored (whatever Carat judged), 202 when
/// the outcome is not known yet.
pub enum Stored {
    Answered(CardRow),
    OutcomeUnknown(CardRow),
}

#[derive(Clone, Debug)]
pub struct CardService {
    pool: sqlx::PgPool,
    carat: CaratClient,
    merchant_id: MerchantId,
    query_path: String,
    token_visible: bool,
}

impl CardService {
    pub fn new(
        pool: sqlx::PgPool,
        carat: CaratClient,
        merchant_id: MerchantId,
        query_path: String,
        token_visible: bool,
    ) -> Self {
        Self {
            pool,
            carat,
            merchant_id,
            query_path,
            token_visible,
        }
    }

    pub fn view(&self, row: CardRow) -> CardView {
        CardView::new(row, self.token_visible)
    }

    /// Writes the card, then asks Carat to store it; see the module docs.
    pub async fn store(&self, request: StoreCardRequest) -> Result<Stored, CardError> {
        let number = &request.card.number;
        let card = rows::insert(
            &self.pool,
            NewCard {
                id: Uuid::new_v4(),
                customer_id: request.customer_id.as_str(),
                authorizer_id: request.authorizer_id.as_str(),
                bin: number.bin().as_str(),
                last4: number.last4().as_str(),
                expiry: request.card.expiry_date.as_str(),
            },
        )
        .await?;
        let merchant_usn = u64::try_from(card.merchant_usn)
            .ok()
            .and_then(|n| MerchantUsn::new(n).ok())
            .ok_or_else(|| StoreError::Other(sqlx::Error::RowNotFound))?;
        tracing::info!(card_id = %card.id, card = %number, "storing a card at Carat");
        let exchange = self
            .carat
            .store_card(
                &self.merchant_id,
                StoreCard {
                    number,
                    expiry: &request.card.expiry_date,
                    authorizer_id: request.authorizer_id.as_str(),
                    merchant_usn,
                    customer_id: request.customer_id.as_str(),
                },
            )
            .await;
        match exchange.result {
            Ok(answer) => {
                let (_, row) =
                    rows::record_answer(&self.pool, card.id, &report_of(&answer)).await?;
                Ok(Stored::Answered(row))
            }
            Err(e) if matches!(e, crate::carat::CaratError::NotSent { .. }) => {
                // Never left: nothing is stored at Carat, so nothing is kept here either.
                rows::forget_unsent(&self.pool, card.id).await?;
                Err(CardError::Carat(Box::new(CaratProblem::new(
                    CaratFailure::Unavailable,
                    &e,
                ))))
            }
            Err(e) if e.certainly_not_applied() => {
                let r = e.refusal();
                let code = r.and_then(|r| r.code.as_deref());
                rows::mark_refused(&self.pool, card.id, code, &e.to_string()).await?;
                let mut problem = CaratProblem::new(CaratFailure::Refused, &e);
                problem.message = format!("{e} (card {} kept as INV)", card.id);
                tracing::warn!(card_id = %card.id, error = %e, "card storage refused");
                Err(CardError::Carat(Box::new(problem)))
            }
            Err(e) => {
                // Carat may have stored it: the HASH notification (matched by nsu) or a
                // refresh settles it. Never sent again.
                let code = e.refusal().and_then(|r| r.code.as_deref());
                let row = rows::mark_unknown(&self.pool, card.id, code, &e.to_string())
                    .await?
                    .ok_or(CardError::NotFound)?;
                tracing::warn!(card_id = %card.id, error = %e, "card storage outcome unknown");
                Ok(Stored::OutcomeUnknown(row))
            }
        }
    }

    pub async fn get(&self, id: Uuid) -> Result<CardRow, CardError> {
        rows::get(&self.pool, id).await?.ok_or(CardError::NotFound)
    }

    pub async fn list(&self, customer_id: &CustomerId) -> Result<Vec<CardRow>, CardError> {
        Ok(rows::list(&self.pool, customer_id.as_str()).await?)
    }

    /// The storage-data query: Carat answers `OK` and sends the HASH notification again.
    pub async fn refresh(&self, id: Uuid) -> Result<CardRow, CardError> {
        let card = self.get(id).await?;
        let Some(nita) = card.nita.as_deref().and_then(|n| Nita::parse(n).ok()) else {
            return Err(CardError::Conflict(
                "this card has no NITA yet (its storage answer was lost and no HASH \
                 notification came): there is nothing to query Carat by"
                    .into(),
            ));
        };
        let exchange = self
            .carat
            .query_card(&self.merchant_id, &self.query_path, &nita)
            .await;
        match exchange.result {
            Ok(()) => Ok(card),
            Err(e) => {
                let failure = if e.refusal().is_some_and(|r| r.is_definite()) {
                    CaratFailure::Refused
                } else {
                    CaratFailure::Unavailable
                };
                Err(CardError::Carat(Box::new(CaratProblem::new(failure, &e))))
            }
        }
    }
}

/// What the answer reported, each field only when of its documented format (anything else
/// is left for the HASH notification to say).
fn report_of(answer: &StoreCardAnswer) -> Report {
    let store = answer.store.clone().unwrap_or_default();
    let card = answer.card.clone().unwrap_or_default();
    let valid = |v: Option<String>, check: fn(&str) -> Result<(), FormatError>| {
        v.filter(|v| check(v).is_ok())
    };
    Report {
        status: store.status.as_deref().and_then(StorageStatus::parse),
        nita: valid(store.nita, |v| Nita::parse(v).map(drop)),
        nsua: valid(store.nsua, |v| Nsua::parse(v).map(drop)),
        token: valid(card.token, |v| CardToken::parse(v).map(drop)),
        bin: None,
        last4: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> CardRow {
        CardRow {
            id: Uuid::nil(),
            customer_id: "C1".into(),
            authorizer_id: "1".into(),
            merchant_usn: 7,
            nita: None,
            nsua: None,
            status: "CON".into(),
            token: Some("T".repeat(88)),
            bin: Some("411111".into()),
            last4: Some("1111".into()),
            expiry: Some("1230".into()),
            last_error_code: None,
            last_error_message: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn the_token_is_shown_only_when_configured() {
        let hidden = serde_json::to_value(CardView::new(row(), false)).unwrap();
        assert!(hidden.get("token").is_none(), "{hidden}");
        assert_eq!(hidden["usable"], true);
        assert!(hidden["last_error"].is_null());
        let shown = serde_json::to_value(CardView::new(row(), true)).unwrap();
        assert_eq!(shown["token"], "T".repeat(88));
    }

    #[test]
    fn an_answer_reports_only_well_formed_fields() {
        let answer: StoreCardAnswer = serde_json::from_value(serde_json::json!({
            "code": "0",
            "card": {"token": "short", "suffix": "1111"},
            "store": {"status": "CON", "nita": "N".repeat(65), "nsua": "12"}
        }))
        .unwrap();
        let report = report_of(&answer);
        assert_eq!(report.status, Some(StorageStatus::Stored));
        assert_eq!(report.nita.as_deref(), Some(&*"N".repeat(65)));
        assert_eq!((report.nsua, report.token), (None, None));
    }
}

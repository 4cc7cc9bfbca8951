//! Card storage by NITA (seed 004): the storefront stores a customer's card once; Carat keeps
//! it and gives back a token that later pays without the number.
//!
//! The card row is written first (`pending`, with its own `merchant_usn`), then Carat is
//! called. Its answer brings the NITA, NSUA, status and (when it carries them) the token; the
//! HASH notification (`/callbacks/hash`) brings the same and settles a card whose answer was
//! lost (`unknown`), matched by `nsu` = merchant_usn. A storage is never sent again blindly: a
//! lost answer is settled by the notification, or by a storage-data query
//! ([`CardService::refresh`]) once the NITA is known. What a report does to its card is
//! [`report`]'s to say (statuses only move forward), applied in one transaction by [`apply`].

pub(crate) mod apply;
pub mod report;
mod view;

use serde::Deserialize;
use uuid::Uuid;

use crate::carat::cards::StoreCard;
use crate::carat::{CaratClient, CaratError};
use crate::recharge::{CaratFailure, CaratProblem};
use carat_domain::card_status::CardStatus;
pub use carat_domain::{AuthorizerId, CustomerId};
use carat_domain::{
    CardExpiry, CardNumber, FieldError, MerchantId, MerchantUsn, Nita, StorageStatus,
};
use carat_store::StoreError;
use carat_store::cards::{self as rows, CardRow, NewCard};
pub use report::Report;
pub use view::{CardView, LastError};

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
                let report = Report::of_answer(&answer);
                let row = apply::answer(&self.pool, card.id, &report).await?;
                Ok(Stored::Answered(row))
            }
            Err(e) => self.failed(card.id, e).await,
        }
    }

    /// The storage call failed: the card is forgotten (never sent), `INV` (refused for
    /// sure) or `unknown` (Carat may have stored it).
    async fn failed(&self, id: Uuid, e: CaratError) -> Result<Stored, CardError> {
        let code = e.refusal().and_then(|r| r.code.as_deref());
        let message = e.to_string();
        match e {
            CaratError::NotSent { .. } => {
                // Never left: nothing is stored at Carat, so nothing is kept here either.
                rows::forget_unsent(&self.pool, id).await?;
                Err(CardError::Carat(Box::new(CaratProblem::new(
                    CaratFailure::Unavailable,
                    &e,
                ))))
            }
            _ if e.certainly_not_applied() => {
                let refused = CardStatus::Carat(StorageStatus::Invalid);
                rows::settle_pending(&self.pool, id, refused, code, &message).await?;
                let mut problem = CaratProblem::new(CaratFailure::Refused, &e);
                problem.message = format!("{e} (card {id} kept as INV)");
                tracing::warn!(card_id = %id, error = %e, "card storage refused");
                Err(CardError::Carat(Box::new(problem)))
            }
            _ => {
                // Carat may have stored it: the HASH notification (matched by nsu) or a
                // refresh settles it. Never sent again.
                let unknown = CardStatus::Unknown;
                let row = rows::settle_pending(&self.pool, id, unknown, code, &message)
                    .await?
                    .ok_or(CardError::NotFound)?;
                tracing::warn!(card_id = %id, error = %e, "card storage outcome unknown");
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

//! A card as the storefront sees it.

use serde::Serialize;
use uuid::Uuid;

use carat_domain::card_status::CardStatus;
use carat_store::cards::CardRow;

/// A card as the storefront sees it: never the number; the token only when
/// `CARD_TOKEN_VISIBLE`.
#[derive(Clone, Debug, Serialize)]
pub struct CardView {
    pub id: Uuid,
    pub customer_id: String,
    pub authorizer_id: String,
    /// `pending`, `unknown` (the storage's answer was lost: a HASH notification or a refresh
    /// settles it), or Carat's CON INV NEG DUP CAN DEL BLQ.
    pub status: CardStatus,
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
            usable: row.status.can_pay(),
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
            status: CardStatus::Carat(carat_domain::StorageStatus::Stored),
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
        assert_eq!(
            (&hidden["status"], &hidden["usable"]),
            (&"CON".into(), &true.into())
        );
        assert!(hidden["last_error"].is_null());
        let shown = serde_json::to_value(CardView::new(row(), true)).unwrap();
        assert_eq!(shown["token"], "T".repeat(88));
    }

    #[test]
    fn a_status_not_known_yet_shows_as_stored_and_cannot_pay() {
        let mut unknown = row();
        unknown.status = CardStatus::Unknown;
        let view = serde_json::to_value(CardView::new(unknown, false)).unwrap();
        assert_eq!(
            (&view["status"], &view["usable"]),
            (&"unknown".into(), &false.into())
        );
    }
}

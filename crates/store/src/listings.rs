//! What Carat listed for a recharge (dealers, branch data), kept so that an effectuation can
//! be checked against it without asking again.

use std::fmt;

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;
use super::recharges::{CallRecord, EventKind};
use carat_domain::effectuation::BarCode;
use carat_domain::{Actor, BranchCode, Ddd};

/// Which listing a row keeps. Its text is the `listing` column of `recharge_listings` and
/// `catalogue_cache`, whose CHECKs spell the same forms: stored text, never to change. Dealer
/// codes are kept as numbers (Carat writes dealer 1 as `1` and as `001`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListingKey {
    /// `dealers`: the recharge's dealers.
    Dealers,
    /// `branches ddd=<ddd> dealer=<n>`: a top-up's branch data for a DDD and a dealer.
    Branches { ddd: Ddd, dealer: u16 },
    /// `branches dealer=<n> branch=<branch>`: an `others` product, a dealer's branch.
    Product { dealer: u16, branch: BranchCode },
    /// `invoice dealer=<n> bar_code=<bar code>`: the bill found for a bar code.
    Bill { dealer: u16, bar_code: BarCode },
}

impl ListingKey {
    /// The `listing` column's text.
    pub fn as_key(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ListingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dealers => f.write_str("dealers"),
            Self::Branches { ddd, dealer } => write!(f, "branches ddd={ddd} dealer={dealer}"),
            Self::Product { dealer, branch } => {
                write!(f, "branches dealer={dealer} branch={branch}")
            }
            Self::Bill { dealer, bar_code } => {
                write!(f, "invoice dealer={dealer} bar_code={bar_code}")
            }
        }
    }
}

/// Keeps `body` as the recharge's latest `listing` (a later listing replaces an earlier one:
/// it is what Carat offers now), with the listing call that brought it recorded in the
/// recharge's history by the same statement.
pub async fn save_with_call(
    pool: &PgPool,
    recharge_id: Uuid,
    listing: &ListingKey,
    body: &Value,
    actor: &Actor,
    call: CallRecord,
) -> Result<(), StoreError> {
    sqlx::query!(
        "WITH noted AS (INSERT INTO recharge_events (recharge_id, kind, name, actor, detail) \
                        VALUES ($1, $4, $5, $6, $7)) \
         INSERT INTO recharge_listings (recharge_id, listing, body) VALUES ($1, $2, $3) \
         ON CONFLICT (recharge_id, listing) DO UPDATE SET body = $3, listed_at = now()",
        recharge_id,
        listing.as_key(),
        body,
        EventKind::OutboundCall.as_str(),
        call.name,
        actor.to_string(),
        call.detail,
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn find(
    pool: &PgPool,
    recharge_id: Uuid,
    listing: &ListingKey,
) -> Result<Option<Value>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT body FROM recharge_listings WHERE recharge_id = $1 AND listing = $2",
        recharge_id,
        listing.as_key(),
    )
    .fetch_optional(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text is stored: it must read as it always did (and as the tables' CHECKs allow).
    #[test]
    fn keys_read_as_stored() {
        let ddd = Ddd::parse("11").unwrap();
        let branch = BranchCode::parse("12345678901").unwrap();
        let bar_code = BarCode::parse("8".repeat(48)).unwrap();
        for (key, text) in [
            (ListingKey::Dealers, "dealers".to_owned()),
            (
                ListingKey::Branches { ddd, dealer: 1 },
                "branches ddd=11 dealer=1".to_owned(),
            ),
            (
                ListingKey::Product {
                    dealer: 905,
                    branch,
                },
                "branches dealer=905 branch=12345678901".to_owned(),
            ),
            (
                ListingKey::Bill {
                    dealer: 0,
                    bar_code,
                },
                format!("invoice dealer=0 bar_code={}", "8".repeat(48)),
            ),
        ] {
            assert_eq!(key.as_key(), text);
        }
    }
}

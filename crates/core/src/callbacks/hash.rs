//! The HASH notification (seed 004, digest §6.3): Carat tells the result of a card storage,
//! with the stored card's token (`hash`). Carat retries it until answered 200, and re-sends it
//! after a storage-data query. Applied and kept in the callback inbox (kind `hash`) in one
//! transaction; the same POST again changes nothing but the inbox's receipt count. A POST
//! naming no card is kept as `unmatched` and answered 200, so Carat stops retrying.

use carat_domain::card_status::Applied;
use carat_store::StoreError;
use carat_store::callbacks::{Outcome, Receipt, Verdict};
use carat_store::cards::HashFinding;
use carat_wire::callbacks::hash::HashNotification;

use super::{CallbackService, replayed};
use crate::cards::{Report, apply};

/// How each finding is answered (a replay is answered as the first POST was).
pub fn verdict(finding: &HashFinding) -> Verdict {
    let (outcome, http_status, reason) = match finding {
        HashFinding::Applied { applied, .. } => match applied {
            Applied::Changed => (Outcome::Accepted, 200, None),
            Applied::Unchanged => (
                Outcome::Accepted,
                200,
                Some("the card already says so; nothing changed"),
            ),
            Applied::Stale => (
                Outcome::Accepted,
                200,
                Some("an older status than the card's (statuses only move forward); ignored"),
            ),
            Applied::Conflict => (
                Outcome::Refused,
                409,
                Some("nita: the card with this nsu holds another NITA"),
            ),
        },
        HashFinding::NoCard => (
            Outcome::Unmatched,
            200,
            Some("no card has this nita nor this nsu"),
        ),
        HashFinding::Replay(stored) => return replayed(stored),
    };
    Verdict {
        outcome,
        http_status,
        reason: reason.map(str::to_owned),
    }
}

impl CallbackService {
    /// Applies `post` to the card it names (by NITA, else by its `nsu`), and keeps it as
    /// `stored_body` (the token blanked), in one transaction.
    pub async fn hash(
        &self,
        post: &HashNotification,
        receipt: &Receipt,
        stored_body: &[u8],
    ) -> Result<HashFinding, StoreError> {
        let report = Report {
            status: Some(post.status),
            nita: post.nita.as_ref().map(|n| n.as_str().to_owned()),
            nsua: post.nsua.as_ref().map(|n| n.as_str().to_owned()),
            token: post.token.as_ref().map(|t| t.expose().to_owned()),
            bin: post.bin.as_ref().map(|b| b.as_str().to_owned()),
            last4: post.last4.as_ref().map(|l| l.as_str().to_owned()),
        };
        let usn = i64::try_from(post.nsu.get()).unwrap_or(i64::MAX);
        apply::notification(&self.pool, receipt, stored_body, usn, &report, verdict).await
    }
}

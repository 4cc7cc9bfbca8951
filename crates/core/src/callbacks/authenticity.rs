//! The authenticity POST: Carat Portal tells us the NIT of a transaction it is creating, and
//! waits for our 200 before answering the create. Answering anything else makes Carat abort the
//! create, so the answer is the authenticity check itself: 200 only for a create this store is
//! making, and only once the NIT is committed.

use carat_store::StoreError;
use carat_store::callbacks::{Outcome, Receipt, Verdict};
use carat_store::{NitCommit, NitFinding, NitPost};
use carat_wire::callbacks::authenticity::Authenticity;

use super::{CallbackService, replayed};

/// What an authenticity POST found, and what Carat is answered.
#[derive(Debug)]
pub enum Received {
    /// Another merchant's POST: refused (403) and kept, without looking at any recharge.
    OtherMerchant(Verdict),
    /// Matched against the creates waiting for a NIT, committed (or found) and kept.
    Matched(NitCommit),
}

impl Received {
    pub fn verdict(&self) -> Verdict {
        match self {
            Self::OtherMerchant(verdict) => verdict.clone(),
            Self::Matched(NitCommit::Found(finding, _)) => verdict(*finding),
            Self::Matched(NitCommit::Replay(stored)) => replayed(stored),
        }
    }
}

/// How each finding is answered (a replay is answered as the first POST was).
pub fn verdict(finding: NitFinding) -> Verdict {
    let (outcome, http_status, reason) = match finding {
        NitFinding::Committed | NitFinding::AlreadyCommitted => (Outcome::Accepted, 200, None),
        NitFinding::NoRecharge => (
            Outcome::Unmatched,
            404,
            Some("no create of this store is waiting for a NIT with this orderId and merchantUSN"),
        ),
        NitFinding::NotWaiting => (
            Outcome::Refused,
            404,
            Some("this create is no longer waiting for a NIT (it failed or was given up)"),
        ),
        NitFinding::Conflict => (
            Outcome::Refused,
            409,
            Some("this order already holds another NIT, or this NIT belongs to another order"),
        ),
    };
    Verdict {
        outcome,
        http_status,
        reason: reason.map(str::to_owned),
    }
}

impl CallbackService {
    /// Commits the NIT `post` brings to the create waiting for it, and keeps the POST, in one
    /// statement; a repeat changes nothing but the inbox's receipt count.
    pub async fn authenticity(
        &self,
        post: &Authenticity,
        receipt: &Receipt,
    ) -> Result<Received, StoreError> {
        if post.merchant_id != self.merchant_id {
            let reason = "merchantId: not this store's merchant id".to_owned();
            let verdict = self.refuse(receipt, &receipt.raw_body, 403, reason).await?;
            return Ok(Received::OtherMerchant(verdict));
        }
        let detail = serde_json::json!({
            "nit": post.nit,
            "merchantId": post.merchant_id.as_str(),
            "orderId": post.order_id,
            "merchantUSN": post.merchant_usn.to_string(),
            "generalHash": post.general_hash,
        });
        let nit = NitPost {
            order_id: &post.order_id,
            merchant_usn: post.merchant_usn,
            nit: &post.nit,
            general_hash: &post.general_hash,
        };
        let found = carat_store::recharges::commit_nit(
            &self.pool,
            &self.lane,
            nit,
            self.nit_lifetime,
            receipt,
            verdict,
            detail,
        )
        .await?;
        Ok(Received::Matched(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_commit_is_answered_200() {
        for finding in [NitFinding::Committed, NitFinding::AlreadyCommitted] {
            assert_eq!(verdict(finding).http_status, 200);
        }
        for finding in [
            NitFinding::NoRecharge,
            NitFinding::NotWaiting,
            NitFinding::Conflict,
        ] {
            let answer = verdict(finding);
            assert_ne!(answer.http_status, 200);
            assert!(answer.reason.is_some(), "{finding:?} says why");
        }
    }
}

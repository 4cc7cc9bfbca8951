//! What a storage report (the storage call's answer, or a HASH notification) does to its card.
//! Pure: decided from the card as locked, so the write that follows is exactly this.
//!
//! * A NITA other than the card's: at odds, nothing applied.
//! * The status moves only forward ([`judge`]). A `CON` without a token (the constraint
//!   `stored_means_token`) waits for the notification that carries it.
//! * Identifiers (NITA, NSUA, token) fill in only while absent: once known they do not change.
//!   A token is kept only on a card that is (or becomes) CON: a NEG or DUP pays with nothing.
//! * BIN and last four are taken only with a new status; a new status clears the last error.

use crate::carat::cards::StoreCardAnswer;
use carat_domain::card_status::{Applied, CardStatus, Move, judge};
use carat_domain::format::FormatError;
use carat_domain::{CardToken, Nita, Nsua, StorageStatus};
use carat_store::cards::{CardRow, CardWrite};

/// What Carat reported of a storage, by its answer or a HASH notification.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub status: Option<StorageStatus>,
    pub nita: Option<String>,
    pub nsua: Option<String>,
    pub token: Option<String>,
    pub bin: Option<String>,
    pub last4: Option<String>,
}

impl Report {
    /// What the storage call's answer reported, each field only when of its documented format
    /// (anything else is left for the HASH notification to say).
    pub fn of_answer(answer: &StoreCardAnswer) -> Self {
        let store = answer.store.clone().unwrap_or_default();
        let card = answer.card.clone().unwrap_or_default();
        let valid = |v: Option<String>, check: fn(&str) -> Result<(), FormatError>| {
            v.filter(|v| check(v).is_ok())
        };
        Self {
            status: store.status.as_deref().and_then(StorageStatus::parse),
            nita: valid(store.nita, |v| Nita::parse(v).map(drop)),
            nsua: valid(store.nsua, |v| Nsua::parse(v).map(drop)),
            token: valid(card.token, |v| CardToken::parse(v).map(drop)),
            bin: None,
            last4: None,
        }
    }
}

/// What a report does: what it is answered, and what to write (`None`: nothing changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision<'r> {
    pub applied: Applied,
    pub write: Option<CardWrite<'r>>,
}

/// See the module docs.
pub fn decide<'r>(card: &CardRow, report: &'r Report) -> Decision<'r> {
    if let (Some(ours), Some(theirs)) = (&card.nita, &report.nita)
        && ours != theirs
    {
        return Decision {
            applied: Applied::Conflict,
            write: None,
        };
    }
    let (status, stale) = match report.status.map(|r| (r, judge(card.status, r))) {
        Some((reported, Move::Forward)) => {
            let has_token = report.token.is_some() || card.token.is_some();
            let waits = reported == StorageStatus::Stored && !has_token;
            ((!waits).then_some(reported), false)
        }
        Some((_, Move::Backward)) => (None, true),
        Some((_, Move::Same)) | None => (None, false),
    };
    let stored_after = status.map_or(card.status, CardStatus::Carat) == stored();
    let fill = |ours: &Option<String>, theirs: &'r Option<String>| {
        theirs.as_deref().filter(|_| ours.is_none())
    };
    let with_status = |v: &'r Option<String>| v.as_deref().filter(|_| status.is_some());
    let write = CardWrite {
        status: status.map(CardStatus::Carat),
        nita: fill(&card.nita, &report.nita),
        nsua: fill(&card.nsua, &report.nsua),
        token: fill(&card.token, &report.token).filter(|_| stored_after),
        bin: with_status(&report.bin),
        last4: with_status(&report.last4),
        clear_last_error: status.is_some(),
    };
    let changes = write.status.is_some()
        || write.nita.is_some()
        || write.nsua.is_some()
        || write.token.is_some();
    let applied = match (stale, changes) {
        (true, _) => Applied::Stale,
        (false, true) => Applied::Changed,
        (false, false) => Applied::Unchanged,
    };
    Decision {
        applied,
        write: changes.then_some(write),
    }
}

fn stored() -> CardStatus {
    CardStatus::Carat(StorageStatus::Stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn card(status: CardStatus, nita: Option<&str>, token: Option<&str>) -> CardRow {
        CardRow {
            id: Uuid::nil(),
            customer_id: "C1".into(),
            authorizer_id: "1".into(),
            merchant_usn: 7,
            nita: nita.map(str::to_owned),
            nsua: None,
            status,
            token: token.map(str::to_owned),
            bin: Some("411111".into()),
            last4: Some("1111".into()),
            expiry: Some("1230".into()),
            last_error_code: None,
            last_error_message: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn report(status: StorageStatus, nita: &str, token: Option<&str>) -> Report {
        Report {
            status: Some(status),
            nita: Some(nita.into()),
            nsua: Some("123456789012345".into()),
            token: token.map(str::to_owned),
            bin: Some("555555".into()),
            last4: Some("4444".into()),
        }
    }

    #[test]
    fn an_answer_reports_only_well_formed_fields() {
        let answer: StoreCardAnswer = serde_json::from_value(serde_json::json!({
            "code": "0",
            "card": {"token": "short", "suffix": "1111"},
            "store": {"status": "CON", "nita": "N".repeat(65), "nsua": "12"}
        }))
        .unwrap();
        let report = Report::of_answer(&answer);
        assert_eq!(report.status, Some(StorageStatus::Stored));
        assert_eq!(report.nita.as_deref(), Some(&*"N".repeat(65)));
        assert_eq!((report.nsua, report.token), (None, None));
    }

    #[test]
    fn a_pending_card_takes_con_with_its_token_and_identifiers() {
        let report = report(StorageStatus::Stored, "N1", Some("T"));
        let decision = decide(&card(CardStatus::Pending, None, None), &report);
        assert_eq!(decision.applied, Applied::Changed);
        let write = decision.write.unwrap();
        assert_eq!(write.status, Some(stored()));
        assert_eq!((write.nita, write.token), (Some("N1"), Some("T")));
        assert_eq!((write.bin, write.last4), (Some("555555"), Some("4444")));
        assert!(write.clear_last_error);
    }

    #[test]
    fn con_without_a_token_waits_but_the_identifiers_fill_in() {
        let report = report(StorageStatus::Stored, "N1", None);
        let decision = decide(&card(CardStatus::Unknown, None, None), &report);
        assert_eq!(decision.applied, Applied::Changed);
        let write = decision.write.unwrap();
        assert_eq!((write.status, write.nita), (None, Some("N1")));
        assert_eq!((write.bin, write.clear_last_error), (None, false));
    }

    #[test]
    fn a_denied_card_keeps_no_token() {
        let report = report(StorageStatus::Denied, "N1", Some("T"));
        let write = decide(&card(CardStatus::Pending, None, None), &report).write;
        let write = write.unwrap();
        assert_eq!(write.status, Some(CardStatus::Carat(StorageStatus::Denied)));
        assert_eq!(write.token, None);
    }

    #[test]
    fn another_nita_is_a_conflict_and_writes_nothing() {
        let report = report(StorageStatus::Stored, "N2", Some("T"));
        let decision = decide(&card(CardStatus::Pending, Some("N1"), None), &report);
        assert_eq!(
            decision,
            Decision {
                applied: Applied::Conflict,
                write: None
            }
        );
    }

    #[test]
    fn the_same_again_is_unchanged_and_an_older_status_stale() {
        let mut con = card(stored(), Some("N1"), Some("T"));
        con.nsua = Some("123456789012345".into());
        let again = report(StorageStatus::Stored, "N1", Some("T"));
        assert_eq!(
            decide(&con, &again),
            Decision {
                applied: Applied::Unchanged,
                write: None
            }
        );
        let mut canceled = con.clone();
        canceled.status = CardStatus::Carat(StorageStatus::CanceledByMerchant);
        assert_eq!(
            decide(&canceled, &again),
            Decision {
                applied: Applied::Stale,
                write: None
            }
        );
    }

    #[test]
    fn a_stale_report_still_fills_a_missing_identifier() {
        let canceled = card(
            CardStatus::Carat(StorageStatus::CanceledByMerchant),
            Some("N1"),
            None,
        );
        let late = report(StorageStatus::Stored, "N1", Some("T"));
        let decision = decide(&canceled, &late);
        assert_eq!(decision.applied, Applied::Stale);
        let write = decision.write.unwrap();
        assert_eq!(write.nsua, Some("123456789012345"));
        assert_eq!((write.status, write.token), (None, None));
    }

    #[test]
    fn a_stored_card_removed_keeps_no_new_token() {
        let con = card(stored(), Some("N1"), None);
        let report = report(StorageStatus::DeletedByCardholder, "N1", Some("T"));
        let write = decide(&con, &report).write.unwrap();
        let deleted = CardStatus::Carat(StorageStatus::DeletedByCardholder);
        assert_eq!((write.status, write.token), (Some(deleted), None));
    }
}

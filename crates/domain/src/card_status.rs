//! Which storage statuses a card may move to. Pure.
//!
//! A card's status comes from three sources that can arrive in any order: the storage call's
//! answer, HASH notifications (repeated, retried, re-sent after a storage-data query) and a
//! timeout ('unknown'). Only forward moves apply, so an older status arriving late never
//! undoes a newer one:
//!
//! * `pending` / `unknown` (we do not know yet) → any §5.2 status;
//! * `CON` (stored) → `CAN`, `DEL`, `BLQ` (removed or blocked later);
//! * `BLQ` → `CAN`, `DEL` (a blocked card removed);
//! * `INV`, `NEG`, `DUP`, `CAN`, `DEL`: final; nothing leaves them.
//!
//! The same status again is no change.

use crate::StorageStatus;

/// A card's status as stored (the `cards.status` column): not known yet, or Carat's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardStatus {
    Pending,
    Unknown,
    Carat(StorageStatus),
}

impl CardStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Unknown => "unknown",
            Self::Carat(s) => s.code(),
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(Self::Pending),
            "unknown" => Some(Self::Unknown),
            other => StorageStatus::parse(other).map(Self::Carat),
        }
    }

    /// Only a stored card (CON) can pay.
    pub fn can_pay(self) -> bool {
        matches!(self, Self::Carat(s) if s.can_pay())
    }
}

impl TryFrom<String> for CardStatus {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("unknown card status {text:?}"))
    }
}

/// As its text: answers show a card's status as it is stored.
impl serde::Serialize for CardStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What a reported status does to a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// Take the new status.
    Forward,
    /// Already there: nothing changes.
    Same,
    /// Older than what is stored (or out of a final status): ignored.
    Backward,
}

/// What a report did to its card: how a HASH notification is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Changed,
    Unchanged,
    /// An older status than the stored one: ignored.
    Stale,
    /// The report's NITA is another than the card's: at odds, nothing applied.
    Conflict,
}

pub fn judge(current: CardStatus, reported: StorageStatus) -> Move {
    use StorageStatus::*;
    match current {
        CardStatus::Pending | CardStatus::Unknown => Move::Forward,
        CardStatus::Carat(now) if now == reported => Move::Same,
        CardStatus::Carat(Stored)
            if matches!(reported, CanceledByMerchant | DeletedByCardholder | Blocked) =>
        {
            Move::Forward
        }
        CardStatus::Carat(Blocked)
            if matches!(reported, CanceledByMerchant | DeletedByCardholder) =>
        {
            Move::Forward
        }
        CardStatus::Carat(_) => Move::Backward,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StorageStatus::*;

    #[test]
    fn not_knowing_yet_moves_to_anything() {
        for s in StorageStatus::ALL {
            assert_eq!(judge(CardStatus::Pending, s), Move::Forward);
            assert_eq!(judge(CardStatus::Unknown, s), Move::Forward);
        }
    }

    #[test]
    fn a_stored_card_is_only_removed_or_blocked() {
        let con = CardStatus::Carat(Stored);
        assert_eq!(judge(con, Stored), Move::Same);
        for s in [CanceledByMerchant, DeletedByCardholder, Blocked] {
            assert_eq!(judge(con, s), Move::Forward, "{s:?}");
        }
        for s in [Invalid, Denied, Duplicate] {
            assert_eq!(judge(con, s), Move::Backward, "{s:?}");
        }
        assert_eq!(
            judge(CardStatus::Carat(Blocked), DeletedByCardholder),
            Move::Forward
        );
        assert_eq!(judge(CardStatus::Carat(Blocked), Stored), Move::Backward);
    }

    #[test]
    fn final_statuses_never_move() {
        for end in [
            Invalid,
            Denied,
            Duplicate,
            CanceledByMerchant,
            DeletedByCardholder,
        ] {
            for s in StorageStatus::ALL {
                let expected = if s == end { Move::Same } else { Move::Backward };
                assert_eq!(judge(CardStatus::Carat(end), s), expected, "{end:?} {s:?}");
            }
        }
    }

    #[test]
    fn statuses_round_trip() {
        for s in ["pending", "unknown", "CON", "NEG", "DEL"] {
            assert_eq!(CardStatus::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(CardStatus::parse("XYZ"), None);
        assert!(CardStatus::try_from("XYZ".to_owned()).is_err());
        assert_eq!(
            serde_json::to_string(&CardStatus::Carat(Blocked)).unwrap(),
            "\"BLQ\""
        );
    }

    #[test]
    fn only_con_pays() {
        assert!(CardStatus::Carat(Stored).can_pay());
        for s in [
            CardStatus::Pending,
            CardStatus::Unknown,
            CardStatus::Carat(Blocked),
        ] {
            assert!(!s.can_pay(), "{s:?}");
        }
    }
}

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

/// A card's status as stored: not known yet, or Carat's.
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
    }
}

//! The reconciler's rules, without I/O: how long to wait after a failed attempt, and what a
//! query's answer means for a recharge nobody else is going to end.

use std::time::Duration;

use super::{CaratStatus, RechargeStatus};

/// What ends a recharge left in `pending_confirmation` past its timeout. The seed says the
/// store must always confirm or undo; undoing is the safe default (nobody saw the sale end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingConfirmationPolicy {
    Undo,
    Confirm,
}

impl PendingConfirmationPolicy {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "undo" => Some(Self::Undo),
            "confirm" => Some(Self::Confirm),
            _ => None,
        }
    }

    /// The `confirm` flag this policy sends.
    pub fn confirms(self) -> bool {
        self == Self::Confirm
    }
}

/// The delay before the next attempt after `failures` failed ones in a row: `base * 2^failures`,
/// never more than `cap`. Retries never stop; they only grow sparse.
pub fn backoff(base: Duration, failures: u32, cap: Duration) -> Duration {
    let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(cap).min(cap)
}

/// What a query's answer means for a recharge the reconciler is ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterQuery {
    /// Carat's record settles it: move to this status.
    Move(RechargeStatus),
    /// A confirmation or undo is decided and Carat still holds the recharge pending: send the
    /// same decision again (the earlier one never arrived, or was refused).
    Resend,
    /// Nothing to act on yet (a NIT still NOV, ERR, PEN, an unknown code): ask again later.
    AskLater,
}

pub fn after_query(status: RechargeStatus, carat: &CaratStatus) -> AfterQuery {
    use RechargeStatus::*;
    if matches!(status, Confirming | Undoing) && *carat == CaratStatus::Ppc {
        return AfterQuery::Resend;
    }
    match status.after_carat_reports(carat) {
        Some(next) => AfterQuery::Move(next),
        None => AfterQuery::AskLater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RechargeStatus::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_overflows() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(300);
        assert_eq!(backoff(base, 0, cap), Duration::from_secs(1));
        assert_eq!(backoff(base, 3, cap), Duration::from_secs(8));
        assert_eq!(backoff(base, 9, cap), cap);
        assert_eq!(backoff(base, u32::MAX, cap), cap);
        assert_eq!(backoff(Duration::MAX, 2, cap), cap);
    }

    #[test]
    fn a_query_ends_or_continues_each_state_in_doubt() {
        let q = |s, c: &str| after_query(s, &CaratStatus::parse(c));
        assert_eq!(
            q(Effectuating, "PPC"),
            AfterQuery::Move(PendingConfirmation)
        );
        assert_eq!(q(Effectuating, "NOV"), AfterQuery::Move(Started));
        assert_eq!(q(Effectuating, "NEG"), AfterQuery::Move(Failed));
        assert_eq!(q(Effectuating, "INV"), AfterQuery::Move(Failed));
        assert_eq!(q(Effectuating, "EXP"), AfterQuery::Move(Expired));
        assert_eq!(q(Effectuating, "CON"), AfterQuery::Move(Confirmed));
        assert_eq!(q(Effectuating, "PPN"), AfterQuery::Move(Undone));
        assert_eq!(q(Effectuating, "ERR"), AfterQuery::AskLater);
        assert_eq!(q(Confirming, "PPC"), AfterQuery::Resend);
        assert_eq!(q(Undoing, "PPC"), AfterQuery::Resend);
        assert_eq!(q(Confirming, "CON"), AfterQuery::Move(Confirmed));
        assert_eq!(q(Undoing, "PPN"), AfterQuery::Move(Undone));
        assert_eq!(q(Confirming, "PEN"), AfterQuery::AskLater);
        assert_eq!(q(Started, "NOV"), AfterQuery::AskLater);
        assert_eq!(q(Started, "EXP"), AfterQuery::Move(Expired));
        assert_eq!(q(Started, "XYZ"), AfterQuery::AskLater);
    }

    #[test]
    fn policies_parse() {
        assert_eq!(
            PendingConfirmationPolicy::parse("undo"),
            Some(PendingConfirmationPolicy::Undo)
        );
        assert!(
            PendingConfirmationPolicy::parse("confirm")
                .unwrap()
                .confirms()
        );
        assert_eq!(PendingConfirmationPolicy::parse("Undo"), None);
    }
}

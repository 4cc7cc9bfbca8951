//! What a payment status notification (digest §6.2) may change. Pure: no I/O.
//!
//! Notifications arrive asynchronously, may be retried, and may overtake one another, so each
//! one is applied only if it moves the payment's status forward ([`advance`]). And a
//! notification never ends a recharge by itself: where it disagrees with what the recharge's
//! own state implies, Carat is queried (or, for a recharge that can no longer move, operators
//! are told): [`follow_up`].

use super::{CaratStatus, RechargeStatus};

/// How far along a payment status is. Statuses of one rank are alternatives, not steps.
fn rank(status: &CaratStatus) -> u8 {
    use CaratStatus::*;
    match status {
        Nov => 0,
        // Waiting on someone (the user, the institution, a retry): nothing settled yet. An
        // unknown code is taken as one of these: it settles nothing we know of.
        Agu | Pen | Err | Ret | Other(_) => 1,
        Ppc => 2,
        Con | Neg | Ppn | Est | Exp | Inv | Aba | Can | Blq => 3,
    }
}

/// Whether `status` ends the payment (digest §5.1's final states).
pub fn is_final(status: &CaratStatus) -> bool {
    rank(status) == 3
}

/// What a notified status does to the payment's stored one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advance {
    /// It moves the payment forward: stored.
    Forward,
    /// It is the status already stored: nothing changes.
    Same,
    /// It is behind the stored one (a notification that arrived late): nothing changes.
    Stale,
}

impl Advance {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::Same => "same",
            Self::Stale => "stale",
        }
    }
}

/// Whether `notified` moves a payment whose stored status is `stored` forward.
///
/// NOV < AGU/PEN/ERR/RET < PPC < the finals. Between the waiting statuses the newest wins
/// (they are transient and say nothing about order). A final is followed only by what can
/// happen to a confirmed payment later: CON → EST (reversed) or CAN (cancelled); every other
/// final is the end, so EST → CON, NEG → CON and the like are stale.
pub fn advance(stored: Option<&CaratStatus>, notified: &CaratStatus) -> Advance {
    let Some(stored) = stored else {
        return Advance::Forward;
    };
    if stored == notified {
        return Advance::Same;
    }
    let (from, to) = (rank(stored), rank(notified));
    let forward = match (from, to) {
        (3, 3) => {
            *stored == CaratStatus::Con && matches!(notified, CaratStatus::Est | CaratStatus::Can)
        }
        (1, 1) => true,
        (from, to) => to > from,
    };
    if forward {
        Advance::Forward
    } else {
        Advance::Stale
    }
}

/// The payment statuses a recharge in `status` implies: a notification of any other
/// contradicts it.
fn implied(status: RechargeStatus) -> &'static [&'static str] {
    use RechargeStatus::*;
    match status {
        Created | Started => &["NOV"],
        // The call's outcome is not known here yet: any word from Carat is worth a query.
        Effectuating => &[],
        AwaitingChoice => &["NOV", "AGU"],
        // A decision is due: only PPC agrees until it is settled.
        PendingConfirmation => &["PPC"],
        // A decision is out: PPC, or the decision's own outcome. Carat notifies as it settles,
        // so that notification may land before the call's answer is committed; the answer (or,
        // if it is lost, the in-doubt query) settles the recharge, a query would add nothing.
        Confirming => &["PPC", "CON"],
        Undoing => &["PPC", "PPN"],
        Confirmed => &["CON"],
        Undone => &["PPN", "EST", "CAN"],
        Failed => &["NEG", "INV", "BLQ", "ABA", "CAN", "ERR", "RET"],
        Expired => &["EXP", "NOV"],
    }
}

/// What else a notification that moved the payment forward calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowUp {
    /// It agrees with the recharge's state.
    None,
    /// It disagrees, and a query can settle the recharge: the reconciler queries Carat now
    /// (an in-doubt call, or a recharge pending confirmation).
    Query,
    /// It disagrees, and no query would move the recharge (it has ended, or has not reached
    /// a payment yet): kept for operators.
    Discrepancy,
}

impl FollowUp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Query => "query",
            Self::Discrepancy => "discrepancy",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::None, Self::Query, Self::Discrepancy]
            .into_iter()
            .find(|f| f.as_str() == value)
    }
}

/// What a notified payment status calls for, given the recharge's state. Only a notification
/// that moved the payment forward is asked: a stale or repeated one calls for nothing.
pub fn follow_up(recharge: RechargeStatus, notified: &CaratStatus) -> FollowUp {
    use RechargeStatus::*;
    if implied(recharge).contains(&notified.as_str()) {
        return FollowUp::None;
    }
    match recharge {
        Effectuating | PendingConfirmation | Confirming | Undoing => FollowUp::Query,
        _ => FollowUp::Discrepancy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaratStatus::*;

    const ALL: [CaratStatus; 15] = [
        Nov, Inv, Ppc, Ppn, Pen, Con, Neg, Err, Blq, Exp, Est, Agu, Aba, Can, Ret,
    ];

    #[test]
    fn the_first_status_is_always_forward() {
        for s in ALL {
            assert_eq!(advance(None, &s), Advance::Forward, "{s}");
        }
    }

    #[test]
    fn a_payment_moves_up_the_ranks() {
        assert_eq!(advance(Some(&Nov), &Ppc), Advance::Forward);
        assert_eq!(advance(Some(&Pen), &Ppc), Advance::Forward);
        assert_eq!(advance(Some(&Ppc), &Con), Advance::Forward);
        assert_eq!(advance(Some(&Ppc), &Neg), Advance::Forward);
        assert_eq!(advance(Some(&Agu), &Pen), Advance::Forward);
        assert_eq!(advance(Some(&Con), &Est), Advance::Forward);
        assert_eq!(advance(Some(&Con), &Can), Advance::Forward);
    }

    #[test]
    fn a_late_notification_changes_nothing() {
        assert_eq!(advance(Some(&Con), &Ppc), Advance::Stale);
        assert_eq!(advance(Some(&Ppc), &Nov), Advance::Stale);
        assert_eq!(advance(Some(&Ppc), &Pen), Advance::Stale);
        assert_eq!(advance(Some(&Est), &Con), Advance::Stale);
        assert_eq!(advance(Some(&Neg), &Con), Advance::Stale);
        assert_eq!(advance(Some(&Con), &Neg), Advance::Stale);
        assert_eq!(advance(Some(&Con), &Con), Advance::Same);
    }

    #[test]
    fn forward_is_never_both_ways() {
        for a in ALL {
            for b in ALL {
                if a != b && advance(Some(&a), &b) == Advance::Forward {
                    let back = advance(Some(&b), &a);
                    // Only the waiting statuses replace one another freely.
                    assert!(
                        back == Advance::Stale || (rank(&a) == 1 && rank(&b) == 1),
                        "{a} -> {b} and back"
                    );
                }
            }
        }
    }

    #[test]
    fn finals_end_but_a_confirmed_payment_can_be_reversed() {
        for a in ALL.iter().filter(|s| is_final(s)) {
            for b in ALL.iter().filter(|s| !is_final(s)) {
                assert_eq!(advance(Some(a), b), Advance::Stale, "{a} -> {b}");
            }
        }
    }

    #[test]
    fn a_notification_that_contradicts_an_open_recharge_asks_carat() {
        use RechargeStatus::*;
        assert_eq!(follow_up(PendingConfirmation, &Con), FollowUp::Query);
        assert_eq!(follow_up(PendingConfirmation, &Neg), FollowUp::Query);
        assert_eq!(follow_up(PendingConfirmation, &Ppc), FollowUp::None);
        assert_eq!(follow_up(Effectuating, &Ppc), FollowUp::Query);
        assert_eq!(follow_up(Confirming, &Neg), FollowUp::Query);
        assert_eq!(follow_up(Undoing, &Con), FollowUp::Query);
    }

    #[test]
    fn the_outcome_of_a_decision_still_out_agrees_with_it() {
        use RechargeStatus::*;
        assert_eq!(follow_up(Confirming, &Con), FollowUp::None);
        assert_eq!(follow_up(Undoing, &Ppn), FollowUp::None);
    }

    #[test]
    fn a_notification_that_contradicts_an_ended_recharge_is_for_operators() {
        use RechargeStatus::*;
        assert_eq!(follow_up(Confirmed, &Con), FollowUp::None);
        assert_eq!(follow_up(Confirmed, &Est), FollowUp::Discrepancy);
        assert_eq!(follow_up(Undone, &Con), FollowUp::Discrepancy);
        assert_eq!(follow_up(Undone, &Ppn), FollowUp::None);
        assert_eq!(follow_up(Failed, &Con), FollowUp::Discrepancy);
        assert_eq!(follow_up(Started, &Con), FollowUp::Discrepancy);
    }

    #[test]
    fn follow_ups_round_trip() {
        for f in [FollowUp::None, FollowUp::Query, FollowUp::Discrepancy] {
            assert_eq!(FollowUp::parse(f.as_str()), Some(f));
        }
    }
}

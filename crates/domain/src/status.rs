//! The recharge's life as the merchant sees it, and Carat's own status codes. Pure.

use std::fmt;

/// Where a recharge is in the merchant's flow.
///
/// `effectuating`, `confirming` and `undoing` mean "a call that changes money is out, or its
/// outcome is unknown": such a recharge is never sent the same call again until a query to
/// Carat has said what happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RechargeStatus {
    /// Row written, create call sent, NIT not yet known.
    Created,
    /// NIT known (committed by the authenticity POST), Carat status NOV.
    Started,
    Effectuating,
    /// Carat status AGU: a TV effectuation answered `resubmit_transaction` with package codes;
    /// nothing is charged until the storefront chooses one and the effectuation is sent again.
    AwaitingChoice,
    /// Carat status PPC: must be confirmed or undone.
    PendingConfirmation,
    Confirming,
    Undoing,
    Confirmed,
    Undone,
    Failed,
    Expired,
}

use RechargeStatus::*;

impl RechargeStatus {
    pub const ALL: [RechargeStatus; 11] = [
        Created,
        Started,
        Effectuating,
        AwaitingChoice,
        PendingConfirmation,
        Confirming,
        Undoing,
        Confirmed,
        Undone,
        Failed,
        Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Created => "created",
            Started => "started",
            Effectuating => "effectuating",
            AwaitingChoice => "awaiting_choice",
            PendingConfirmation => "pending_confirmation",
            Confirming => "confirming",
            Undoing => "undoing",
            Confirmed => "confirmed",
            Undone => "undone",
            Failed => "failed",
            Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Confirmed | Undone | Failed | Expired)
    }

    /// A money-moving call is out or its outcome is unknown.
    pub fn is_in_doubt(self) -> bool {
        matches!(self, Effectuating | Confirming | Undoing)
    }

    /// The legal transitions. Anything else is a bug or a step out of order.
    pub fn can_become(self, next: RechargeStatus) -> bool {
        match (self, next) {
            (Created, Started | Failed | Expired) => true,
            (Started, Effectuating | Failed | Expired) => true,
            // Resolved by the answer or by a query: NOV again means it never happened.
            (Effectuating, Started | PendingConfirmation | Failed | Expired) => true,
            (Effectuating, Confirmed | Undone) => true,
            // AGU: Carat offers TV packages; the choice sends the effectuation again.
            (Effectuating, AwaitingChoice) => true,
            (AwaitingChoice, Effectuating | Failed | Expired | Undone) => true,
            (PendingConfirmation, Confirming | Undoing | Confirmed | Undone | Expired) => true,
            (Confirming | Undoing, PendingConfirmation | Confirmed | Undone | Expired) => true,
            _ => false,
        }
    }

    /// What a Carat status observed by a query means for a recharge in `self`.
    /// `None`: it tells nothing new (or nothing we can act on); keep the current status.
    pub fn after_carat_reports(self, carat: &CaratStatus) -> Option<RechargeStatus> {
        let next = match carat {
            CaratStatus::Nov => Started,
            CaratStatus::Ppc => PendingConfirmation,
            CaratStatus::Con => Confirmed,
            CaratStatus::Ppn | CaratStatus::Est | CaratStatus::Can => Undone,
            CaratStatus::Neg | CaratStatus::Inv | CaratStatus::Blq | CaratStatus::Aba => Failed,
            CaratStatus::Exp => Expired,
            CaratStatus::Agu => AwaitingChoice,
            // ERR, PEN, RET and unknown codes: not settled yet.
            _ => return None,
        };
        (next != self && self.can_become(next)).then_some(next)
    }
}

impl fmt::Display for RechargeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Carat's 3-letter transaction status. New codes have appeared over time (RET), so an unknown
/// one is kept, not rejected.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CaratStatus {
    Nov,
    Inv,
    Ppc,
    Ppn,
    Pen,
    Con,
    Neg,
    Err,
    Blq,
    Exp,
    Est,
    Agu,
    Aba,
    Can,
    Ret,
    Other(String),
}

impl CaratStatus {
    pub fn parse(code: &str) -> Self {
        match code {
            "NOV" => Self::Nov,
            "INV" => Self::Inv,
            "PPC" => Self::Ppc,
            "PPN" => Self::Ppn,
            "PEN" => Self::Pen,
            "CON" => Self::Con,
            "NEG" => Self::Neg,
            "ERR" => Self::Err,
            "BLQ" => Self::Blq,
            "EXP" => Self::Exp,
            "EST" => Self::Est,
            "AGU" => Self::Agu,
            "ABA" => Self::Aba,
            "CAN" => Self::Can,
            "RET" => Self::Ret,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Nov => "NOV",
            Self::Inv => "INV",
            Self::Ppc => "PPC",
            Self::Ppn => "PPN",
            Self::Pen => "PEN",
            Self::Con => "CON",
            Self::Neg => "NEG",
            Self::Err => "ERR",
            Self::Blq => "BLQ",
            Self::Exp => "EXP",
            Self::Est => "EST",
            Self::Agu => "AGU",
            Self::Aba => "ABA",
            Self::Can => "CAN",
            Self::Ret => "RET",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for CaratStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for RechargeStatus {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| format!("unknown recharge status {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in RechargeStatus::ALL {
            assert_eq!(RechargeStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn final_states_go_nowhere() {
        for from in RechargeStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for to in RechargeStatus::ALL {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn happy_path_is_legal() {
        let path = [
            Created,
            Started,
            Effectuating,
            PendingConfirmation,
            Confirming,
            Confirmed,
        ];
        for w in path.windows(2) {
            assert!(w[0].can_become(w[1]), "{} -> {}", w[0], w[1]);
        }
        assert!(PendingConfirmation.can_become(Undoing));
        assert!(Undoing.can_become(Undone));
    }

    #[test]
    fn steps_out_of_order_are_illegal() {
        assert!(!Created.can_become(Effectuating));
        assert!(!Started.can_become(Confirming));
        assert!(!Effectuating.can_become(Confirming));
        assert!(!PendingConfirmation.can_become(Effectuating));
    }

    #[test]
    fn a_query_resolves_an_unknown_effectuation() {
        assert_eq!(
            Effectuating.after_carat_reports(&CaratStatus::Ppc),
            Some(PendingConfirmation)
        );
        assert_eq!(
            Effectuating.after_carat_reports(&CaratStatus::Nov),
            Some(Started)
        );
        assert_eq!(
            Effectuating.after_carat_reports(&CaratStatus::Neg),
            Some(Failed)
        );
        assert_eq!(Effectuating.after_carat_reports(&CaratStatus::Err), None);
        assert_eq!(
            Confirming.after_carat_reports(&CaratStatus::Con),
            Some(Confirmed)
        );
        assert_eq!(Undoing.after_carat_reports(&CaratStatus::Ppn), Some(Undone));
        // A confirmation cannot send a recharge back to NOV.
        assert_eq!(Confirming.after_carat_reports(&CaratStatus::Nov), None);
        assert_eq!(Confirmed.after_carat_reports(&CaratStatus::Ppn), None);
    }

    #[test]
    fn a_tv_choice_sends_the_effectuation_again() {
        assert!(Effectuating.can_become(AwaitingChoice));
        assert!(AwaitingChoice.can_become(Effectuating));
        assert!(AwaitingChoice.can_become(Expired));
        // Nothing is charged while Carat waits for the choice: nothing to confirm or undo.
        assert!(!AwaitingChoice.can_become(PendingConfirmation));
        assert!(!AwaitingChoice.can_become(Confirming));
        assert!(!AwaitingChoice.can_become(Undoing));
        assert!(!Started.can_become(AwaitingChoice));
        assert!(!AwaitingChoice.is_final() && !AwaitingChoice.is_in_doubt());
        // The resend's lost answer, resolved by query: still AGU means it never applied.
        assert_eq!(
            Effectuating.after_carat_reports(&CaratStatus::Agu),
            Some(AwaitingChoice)
        );
        // The reconciler's query of a recharge left waiting: only an end moves it.
        assert_eq!(AwaitingChoice.after_carat_reports(&CaratStatus::Agu), None);
        assert_eq!(
            AwaitingChoice.after_carat_reports(&CaratStatus::Exp),
            Some(Expired)
        );
        assert_eq!(AwaitingChoice.after_carat_reports(&CaratStatus::Ppc), None);
        assert_eq!(AwaitingChoice.after_carat_reports(&CaratStatus::Nov), None);
    }

    #[test]
    fn unknown_carat_codes_are_kept() {
        assert_eq!(CaratStatus::parse("XYZ").as_str(), "XYZ");
        assert_eq!(CaratStatus::parse("RET"), CaratStatus::Ret);
    }
}

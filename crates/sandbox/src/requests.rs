//! The merchant's requests once their fields are valid, as `validate` hands them on: what a
//! create, an effectuation and a confirmation ask for. The ledger (`state`), the authorizer
//! and the answers (`responses`) read them.

use super::catalog::DealerSpec;
use carat_domain::{CaratStatus, RechargeType};
use carat_wire::Phone;

/// What a create asked for, once validated.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub order_id: Option<String>,
    pub merchant_usn: Option<String>,
    pub recharge_type: RechargeType,
    /// The `general_hash` it carried, if any.
    pub general_hash: Option<String>,
    /// Created with a valid signature: signature mode, every later call must be signed.
    pub signed: bool,
}

/// A validated `do_recharge_request`: what is sold, to whom, for how much.
#[derive(Debug)]
pub(crate) struct Purchase {
    pub recharge_type: RechargeType,
    pub dealer: &'static DealerSpec,
    pub phone: Option<Phone>,
    pub amount_cents: u64,
    /// The answers, as sent.
    pub answers: Vec<(String, String)>,
    /// A TV dealer's package chosen by answer 126 (one it offers); `None` before the choice.
    pub tv_package: Option<String>,
    /// `used_payment_methods` as sent, if any.
    pub used_payment_methods: Option<Vec<String>>,
}

/// A validated `confirm_recharge_request`.
#[derive(Debug)]
pub(crate) struct Confirmation {
    pub decision: Decision,
    /// `used_payment_methods` as sent and their amounts' sum, if any.
    pub used_payment_methods: Option<(Vec<String>, u64)>,
}

/// The merchant's verdict on a pending recharge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Confirm,
    Undo,
}

impl Decision {
    /// The status this decision leads to.
    pub fn outcome(self) -> CaratStatus {
        match self {
            Self::Confirm => CaratStatus::Con,
            Self::Undo => CaratStatus::Ppn,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Confirm => "confirmation",
            Self::Undo => "undo",
        }
    }
}

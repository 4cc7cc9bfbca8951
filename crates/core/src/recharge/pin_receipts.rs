//! The receipts of an `others` sale carry its PIN, which Carat returns once and never keeps
//! (seed 001): they are sealed (`domain::receipt_cipher`) in the step that records the
//! effectuation's answer, committed before the storefront hears of the sale, and opened only
//! for the storefront's `GET`. Other kinds' receipts stay in their clear columns.
//!
//! A PIN is kept only from the effectuation's own answer. A query's receipts are not kept for
//! an `others` sale (whether a query carries the PIN is not documented, and the storefront
//! that lost the answer has told its customer nothing): such a sale is undone.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::RechargeService;
use carat_domain::RechargeType;
use carat_domain::receipt_cipher::OpenError;
use carat_store::{Changes, Recharge};

/// A recharge's two receipts, as Carat sent them. Its `Debug` shows neither.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipts {
    pub customer: Option<String>,
    pub merchant: Option<String>,
}

impl fmt::Debug for Receipts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receipts([REDACTED])")
    }
}

/// Where a PIN sale's receipts stand, for the storefront.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinReceipt {
    /// Sealed and stored; `GET /api/v1/recharges/{id}` shows it.
    Kept,
    /// Never kept (the effectuation's answer was lost, or carried none): the sale is undone.
    NotKept,
    /// Stored, but no configured key opens it (its key was rotated out too early).
    Unreadable,
}

impl Receipts {
    fn is_empty(&self) -> bool {
        self.customer.is_none() && self.merchant.is_none()
    }
}

impl RechargeService {
    /// What a step writes for receipts Carat returned with an effectuation: sealed for a PIN
    /// sale, clear otherwise.
    pub(super) fn receipt_changes(&self, recharge: &Recharge, receipts: Receipts) -> Changes {
        match recharge.recharge_type {
            // A PIN sale with no customer receipt has no PIN to keep.
            RechargeType::Others if receipts.customer.is_none() => Changes::default(),
            RechargeType::Others => {
                let text = serde_json::to_string(&receipts).expect("receipts serialize");
                Changes {
                    sealed_receipts: Some(self.pin_keys.seal(&recharge.id.to_string(), &text)),
                    ..Changes::default()
                }
            }
            RechargeType::Normal | RechargeType::Invoice => Changes {
                customer_receipt: receipts.customer,
                merchant_receipt: receipts.merchant,
                ..Changes::default()
            },
        }
    }

    /// The receipts to show the storefront's `GET`: a PIN sale's opened, the others' as
    /// stored. A sealed receipt no key opens is logged (by key id) and shown as unreadable.
    pub(super) fn opened_receipts(
        &self,
        recharge: &Recharge,
    ) -> (Option<Receipts>, Option<PinReceipt>) {
        if recharge.recharge_type != RechargeType::Others {
            let clear = Receipts {
                customer: recharge.customer_receipt.clone(),
                merchant: recharge.merchant_receipt.clone(),
            };
            return ((!clear.is_empty()).then_some(clear), None);
        }
        let Some(sealed) = recharge.sealed_receipts() else {
            return (None, pin_receipt_state(recharge));
        };
        let opened = self
            .pin_keys
            .open(&recharge.id.to_string(), &sealed)
            .and_then(|text| serde_json::from_str(&text).map_err(|_| OpenError::NotText));
        match opened {
            Ok(receipts) => (Some(receipts), Some(PinReceipt::Kept)),
            Err(e) => {
                tracing::error!(recharge_id = %recharge.id, key_id = sealed.key_id.as_str(), error = %e, "a PIN receipt does not open");
                (None, Some(PinReceipt::Unreadable))
            }
        }
    }
}

/// Where a PIN sale's receipt stands without opening it; `None` for other kinds, and for a
/// PIN sale that Carat has not effectuated (yet, or at all).
pub fn pin_receipt_state(recharge: &Recharge) -> Option<PinReceipt> {
    use carat_domain::RechargeStatus::*;
    if recharge.recharge_type != RechargeType::Others {
        return None;
    }
    match (recharge.status, recharge.receipt_ciphertext.is_some()) {
        (_, true) => Some(PinReceipt::Kept),
        (PendingConfirmation | Confirming | Confirmed | Undoing | Undone, false) => {
            Some(PinReceipt::NotKept)
        }
        _ => None,
    }
}

//! The sandbox's stored cards: what Carat keeps when it stores a card (seed 004), and what a
//! payment with `card.token` pays with. In memory, like the rest of the sandbox.
//!
//! [`TEST_TOKEN`] is always there: a stored Visa test card that approves.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// A stored card as the sandbox keeps it. The sandbox is Carat here, so it holds the number.
#[derive(Clone, Debug)]
pub struct VaultCard {
    pub token: String,
    pub nita: String,
    pub nsua: String,
    pub merchant_usn: String,
    pub customer_id: Option<String>,
    pub authorizer_id: String,
    pub number: String,
    pub expiry_date: String,
    /// Storage status, seed 004 / digest §5.2: CON, INV, NEG, DUP, CAN, DEL, BLQ.
    pub status: String,
}

/// The token of the always-present stored test card (88 characters).
pub const TEST_TOKEN: &str =
    "SBXTOKEN4111111111111111APPROVES00000000000000000000000000000000000000000000000000000001";
/// The card number behind [`TEST_TOKEN`].
pub const TEST_TOKEN_NUMBER: &str = "4111111111111111";

#[derive(Default)]
pub(crate) struct Vault {
    by_token: Mutex<HashMap<String, VaultCard>>,
}

impl Vault {
    pub fn with_test_card() -> Self {
        let vault = Self::default();
        vault.put(VaultCard {
            token: TEST_TOKEN.to_owned(),
            nita: format!("SBXNITA{}", "0".repeat(58)),
            nsua: "000000000000001".to_owned(),
            merchant_usn: "1".to_owned(),
            customer_id: None,
            authorizer_id: "1".to_owned(),
            number: TEST_TOKEN_NUMBER.to_owned(),
            expiry_date: "1230".to_owned(),
            status: "CON".to_owned(),
        });
        vault
    }

    pub fn put(&self, card: VaultCard) {
        self.by_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(card.token.clone(), card);
    }

    pub fn by_token(&self, token: &str) -> Option<VaultCard> {
        self.by_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned()
    }

    /// Every stored card (to find a duplicate storage).
    pub fn all(&self) -> Vec<VaultCard> {
        self.by_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    pub fn by_nita(&self, nita: &str) -> Option<VaultCard> {
        self.by_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .find(|c| c.nita == nita)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_card_is_stored_with_well_formed_identifiers() {
        assert_eq!(TEST_TOKEN.len(), 88);
        let vault = Vault::with_test_card();
        let card = vault.by_token(TEST_TOKEN).unwrap();
        assert_eq!(card.nita.len(), 65);
        assert_eq!(card.nsua.len(), 15);
        assert!(vault.by_nita(&card.nita).is_some());
        assert!(carat_domain::card::luhn_holds(&card.number));
    }
}

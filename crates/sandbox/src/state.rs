//! The sandbox's transactions, in memory, and their life:
//! NOV → PPC → CON | PPN, NOV → NEG (denied), NOV → INV (authenticity refused),
//! NOV → EXP (older than the NIT lifetime; applied lazily whenever the transaction is touched).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::RngExt;

use super::SandboxTransaction;
use super::authorizer::Approval;
use super::errors::CaratError;
use super::requests::{Decision, Order};
use carat_domain::CaratStatus;

/// Which kind of request touches a transaction, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Touch {
    Listing,
    Effectuation,
    Confirmation,
    Query,
}

pub(crate) struct Transaction {
    pub nit: String,
    pub status: CaratStatus,
    pub order: Order,
    /// What the authorizer gave on a successful effectuation.
    pub approval: Option<Approval>,
    /// The card payment linked to the recharge, once effectuated with one (`payments.rs`).
    pub payment: Option<super::payments::PaymentRecord>,
    created: Instant,
    /// Added to the age by [`Ledger::backdate`], a test hook.
    backdated: Duration,
    /// Creation order, to pick the latest of several transactions sharing an order id.
    sequence: u64,
    effectuation_requests: u32,
    confirmation_requests: u32,
    query_requests: u32,
    /// The `generalhash` of every listing that reached this transaction, in order.
    listing_hashes: Vec<Option<String>>,
    /// The answers of every valid effectuation, in order.
    effectuation_answers: Vec<Vec<(String, String)>>,
    /// The card of every valid effectuation, in order (`None`: no payment).
    effectuation_cards: Vec<Option<super::payments::SeenCard>>,
    /// The `used_payment_methods` of every valid effectuation, in order.
    effectuation_payment_methods: Vec<Option<Vec<String>>>,
    /// The `used_payment_methods` of every applied confirmation, in order.
    confirmation_payment_methods: Vec<Option<Vec<String>>>,
    /// A TIM top-up (dealer 004): its confirmation without `used_payment_methods` assumes 99.
    tim: bool,
    /// Calls after the create that carried a valid signature.
    signed_calls: u32,
}

impl Transaction {
    /// Fails with code 6 naming the status unless the transaction is in `expected`.
    pub fn require(&self, expected: CaratStatus, operation: &str) -> Result<(), CaratError> {
        if self.status == expected {
            return Ok(());
        }
        Err(CaratError::not_allowed(
            operation,
            format!("the transaction is {} (it must be {expected})", self.status),
        ))
    }

    pub fn approve(&mut self, approval: Approval) {
        self.status = CaratStatus::Ppc;
        self.approval = Some(approval);
    }

    /// Notes a valid effectuation's answers, for tests to see what the merchant sent.
    pub fn note_answers(&mut self, answers: Vec<(String, String)>) {
        self.effectuation_answers.push(answers);
    }

    /// Notes a valid effectuation's card (BIN, last four), for tests to see which card paid.
    pub fn note_card(&mut self, card: Option<super::payments::SeenCard>) {
        self.effectuation_cards.push(card);
    }

    /// Notes a valid effectuation's `used_payment_methods`, and whether it sells TIM.
    pub fn note_payment_methods(&mut self, methods: Option<Vec<String>>, tim: bool) {
        self.effectuation_payment_methods.push(methods);
        self.tim = tim;
    }

    /// Notes an applied confirmation's `used_payment_methods`. A TIM one without them is kept
    /// as Carat assumes it (seed 003): the whole amount paid by type 99, "Other forms".
    pub fn note_confirmation_methods(&mut self, methods: Option<Vec<String>>) {
        let methods = match (methods, self.tim, self.approved_cents()) {
            (None, true, Some(cents)) => Some(vec![format!("99:{cents}")]),
            (methods, ..) => methods,
        };
        self.confirmation_payment_methods.push(methods);
    }

    /// A TV effectuation without a package: Carat waits for the merchant to choose (AGU).
    pub fn await_choice(&mut self) {
        self.status = CaratStatus::Agu;
    }

    pub fn deny(&mut self) {
        self.status = CaratStatus::Neg;
    }

    /// Whether the merchant's decision may be applied. Repeating the decision already taken
    /// is fine (the merchant may not have seen the first answer); anything else outside PPC
    /// is refused.
    pub fn may_settle(&self, decision: Decision) -> Result<(), CaratError> {
        if self.status == decision.outcome() {
            return Ok(());
        }
        self.require(CaratStatus::Ppc, decision.name())
    }

    /// Applies the merchant's decision, if [`Self::may_settle`].
    pub fn settle(&mut self, decision: Decision) -> Result<(), CaratError> {
        self.may_settle(decision)?;
        self.status = decision.outcome();
        Ok(())
    }

    /// Counts a call after the create that carried a valid signature.
    pub fn note_signed_call(&mut self) {
        self.signed_calls = self.signed_calls.saturating_add(1);
    }

    /// Keeps the `generalhash` a listing carried, for tests to see what the merchant sent.
    pub fn note_listing_hash(&mut self, hash: Option<&str>) {
        self.listing_hashes.push(hash.map(str::to_owned));
    }

    /// The effectuated amount, once approved.
    pub fn approved_cents(&self) -> Option<u64> {
        self.approval.as_ref().map(|a| a.amount_cents)
    }

    fn expire_if_due(&mut self, lifetime: Duration) {
        let age = self.created.elapsed().saturating_add(self.backdated);
        // Nothing was charged while NOV, nor while a TV package is awaited (AGU).
        let open = matches!(self.status, CaratStatus::Nov | CaratStatus::Agu);
        if open && age > lifetime {
            self.status = CaratStatus::Exp;
        }
    }

    fn count(&mut self, touch: Touch) {
        let counter = match touch {
            Touch::Listing => return,
            Touch::Effectuation => &mut self.effectuation_requests,
            Touch::Confirmation => &mut self.confirmation_requests,
            Touch::Query => &mut self.query_requests,
        };
        *counter = counter.saturating_add(1);
    }

    fn snapshot(&self) -> SandboxTransaction {
        SandboxTransaction {
            nit: self.nit.clone(),
            status: self.status.as_str().to_owned(),
            order_id: self.order.order_id.clone(),
            merchant_usn: self.order.merchant_usn.clone(),
            recharge_type: self.order.recharge_type.as_str().to_owned(),
            effectuation_requests: self.effectuation_requests,
            confirmation_requests: self.confirmation_requests,
            query_requests: self.query_requests,
            create_general_hash: self.order.general_hash.clone(),
            listing_general_hashes: self.listing_hashes.clone(),
            effectuation_answers: self.effectuation_answers.clone(),
            effectuation_cards: self.effectuation_cards.clone(),
            effectuation_payment_methods: self.effectuation_payment_methods.clone(),
            confirmation_payment_methods: self.confirmation_payment_methods.clone(),
            signature_mode: self.order.signed,
            signed_calls: self.signed_calls,
            payment_card: self.payment.as_ref().map(|r| r.payment.card.clone()),
        }
    }
}

/// Every transaction, by NIT. The lock is only taken by synchronous code, never across an await.
pub(crate) struct Ledger {
    nit_lifetime: Duration,
    book: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    transactions: HashMap<String, Transaction>,
    next_sequence: u64,
}

impl Ledger {
    pub fn new(nit_lifetime: Duration) -> Self {
        Self {
            nit_lifetime,
            book: Mutex::default(),
        }
    }

    /// Opens a NOV transaction and returns its new NIT.
    pub fn open(&self, order: Order) -> String {
        let nit = new_nit();
        let mut book = self.lock();
        let sequence = book.next_sequence;
        book.next_sequence += 1;
        let tx = Transaction {
            nit: nit.clone(),
            status: CaratStatus::Nov,
            order,
            approval: None,
            payment: None,
            created: Instant::now(),
            backdated: Duration::ZERO,
            sequence,
            effectuation_requests: 0,
            confirmation_requests: 0,
            query_requests: 0,
            listing_hashes: Vec::new(),
            effectuation_answers: Vec::new(),
            effectuation_cards: Vec::new(),
            effectuation_payment_methods: Vec::new(),
            confirmation_payment_methods: Vec::new(),
            tim: false,
            signed_calls: 0,
        };
        book.transactions.insert(nit.clone(), tx);
        nit
    }

    /// NOV → INV: the merchant refused the authenticity POST.
    pub fn invalidate(&self, nit: &str) {
        if let Some(tx) = self.lock().transactions.get_mut(nit)
            && tx.status == CaratStatus::Nov
        {
            tx.status = CaratStatus::Inv;
        }
    }

    /// Runs `operation` on a live transaction: unknown NIT is code 5, an expired one code 7
    /// (the request is counted either way). Errors carry the transaction's status.
    pub fn with_live<T>(
        &self,
        nit: &str,
        touch: Touch,
        operation: impl FnOnce(&mut Transaction) -> Result<T, CaratError>,
    ) -> Result<T, CaratError> {
        let mut book = self.lock();
        let tx = book
            .transactions
            .get_mut(nit)
            .ok_or_else(CaratError::not_found)?;
        tx.count(touch);
        tx.expire_if_due(self.nit_lifetime);
        if tx.status == CaratStatus::Exp {
            return Err(CaratError::expired(self.nit_lifetime));
        }
        let result = operation(tx);
        result.map_err(|e| e.or_status(&tx.status))
    }

    /// Makes the transaction `by` older (a test hook: a NOV one passes its NIT lifetime without
    /// the test sleeping). `false` if the NIT is unknown.
    pub fn backdate(&self, nit: &str, by: Duration) -> bool {
        let mut book = self.lock();
        let Some(tx) = book.transactions.get_mut(nit) else {
            return false;
        };
        // An offset, not an earlier Instant: that could fall before the clock's origin.
        tx.backdated = tx.backdated.saturating_add(by);
        true
    }

    pub fn snapshot(&self, nit: &str) -> Option<SandboxTransaction> {
        let mut book = self.lock();
        let tx = book.transactions.get_mut(nit)?;
        tx.expire_if_due(self.nit_lifetime);
        Some(tx.snapshot())
    }

    /// The latest transaction created with `order_id` (Carat accepts a reused order id).
    pub fn find_by_order_id(&self, order_id: &str) -> Option<SandboxTransaction> {
        let mut book = self.lock();
        let tx = book
            .transactions
            .values_mut()
            .filter(|tx| tx.order.order_id.as_deref() == Some(order_id))
            .max_by_key(|tx| tx.sequence)?;
        tx.expire_if_due(self.nit_lifetime);
        Some(tx.snapshot())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        // No code panics while holding the lock; should one ever, the data is still consistent
        // (every update is a single assignment), so a poisoned lock is simply reused.
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// 64 lowercase hex characters from 32 random bytes: `= 64 AN`, unguessable.
fn new_nit() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use carat_domain::RechargeType;

    fn ledger(lifetime: Duration) -> (Ledger, String) {
        let ledger = Ledger::new(lifetime);
        let nit = ledger.open(Order {
            order_id: Some("A1".into()),
            merchant_usn: None,
            recharge_type: RechargeType::Normal,
            general_hash: None,
            signed: false,
        });
        (ledger, nit)
    }

    fn status(ledger: &Ledger, nit: &str) -> String {
        ledger.snapshot(nit).unwrap().status
    }

    #[test]
    fn nits_are_64_lowercase_hex_and_distinct() {
        let (a, b) = (new_nit(), new_nit());
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        assert_ne!(a, b);
    }

    #[test]
    fn settling_is_idempotent_but_not_reversible() {
        let (ledger, nit) = ledger(Duration::from_secs(60));
        let settle = |d| ledger.with_live(&nit, Touch::Confirmation, |tx| tx.settle(d));
        assert_eq!(
            settle(Decision::Confirm).unwrap_err().code,
            "6",
            "NOV cannot be confirmed"
        );
        ledger
            .with_live(&nit, Touch::Effectuation, |tx| {
                tx.status = CaratStatus::Ppc;
                Ok(())
            })
            .unwrap();
        settle(Decision::Undo).unwrap();
        settle(Decision::Undo).unwrap();
        let refused = settle(Decision::Confirm).unwrap_err();
        assert_eq!(refused.status, Some(CaratStatus::Ppn));
        assert!(refused.message.contains("PPN"), "{}", refused.message);
        let snap = ledger.snapshot(&nit).unwrap();
        assert_eq!(
            (snap.status.as_str(), snap.confirmation_requests),
            ("PPN", 4)
        );
        assert_eq!(snap.effectuation_requests, 1);
    }

    #[test]
    fn a_new_transaction_expires_and_still_counts_requests() {
        let (ledger, nit) = ledger(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        let e = ledger
            .with_live(&nit, Touch::Query, |_| Ok(()))
            .unwrap_err();
        assert_eq!((e.code, e.status), ("7", Some(CaratStatus::Exp)));
        assert_eq!(ledger.snapshot(&nit).unwrap().query_requests, 1);
        assert_eq!(status(&ledger, &nit), "EXP");
    }

    #[test]
    fn a_backdated_transaction_expires_without_waiting_if_still_new() {
        let (ledger, nit) = ledger(Duration::from_secs(60));
        let pending = ledger.open(Order {
            order_id: Some("A2".into()),
            merchant_usn: None,
            recharge_type: RechargeType::Normal,
            signed: false,
            general_hash: None,
        });
        ledger
            .with_live(&pending, Touch::Effectuation, |tx| {
                tx.status = CaratStatus::Ppc;
                Ok(())
            })
            .unwrap();
        assert!(ledger.backdate(&nit, Duration::from_secs(30)));
        assert_eq!(
            status(&ledger, &nit),
            "NOV",
            "30 s + 30 s is not past 60 s yet"
        );
        assert!(ledger.backdate(&nit, Duration::from_secs(31)));
        assert!(ledger.backdate(&pending, Duration::from_secs(3600)));
        assert_eq!(status(&ledger, &nit), "EXP");
        assert_eq!(status(&ledger, &pending), "PPC", "only a NOV one expires");
        assert!(!ledger.backdate("unknown", Duration::from_secs(1)));
        // Far past the monotonic clock's origin: no overflow, no panic.
        assert!(ledger.backdate(&nit, Duration::MAX));
    }

    #[test]
    fn may_settle_checks_without_applying() {
        let (ledger, nit) = ledger(Duration::from_secs(60));
        ledger
            .with_live(&nit, Touch::Effectuation, |tx| {
                tx.status = CaratStatus::Ppc;
                tx.may_settle(Decision::Confirm)?;
                tx.may_settle(Decision::Undo)?;
                assert_eq!(tx.status, CaratStatus::Ppc);
                tx.settle(Decision::Confirm)?;
                tx.may_settle(Decision::Confirm)?;
                assert_eq!(tx.may_settle(Decision::Undo).unwrap_err().code, "6");
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn invalidation_only_hits_new_transactions() {
        let (ledger, nit) = ledger(Duration::from_secs(60));
        ledger.invalidate(&nit);
        assert_eq!(status(&ledger, &nit), "INV");
        assert!(
            ledger
                .with_live("nope", Touch::Listing, |_| Ok(()))
                .is_err()
        );
    }

    #[test]
    fn finds_the_latest_transaction_of_an_order() {
        let (ledger, first) = ledger(Duration::from_secs(60));
        let second = ledger.open(Order {
            order_id: Some("A1".into()),
            merchant_usn: Some("7".into()),
            recharge_type: RechargeType::Others,
            signed: false,
            general_hash: None,
        });
        assert_ne!(first, second);
        let found = ledger.find_by_order_id("A1").unwrap();
        assert_eq!(
            (found.nit, found.recharge_type.as_str()),
            (second, "others")
        );
        assert!(ledger.find_by_order_id("B2").is_none());
    }
}

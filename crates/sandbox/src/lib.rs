//! A strict, faithful stand-in for Carat Portal's v3 recharge API, for tests and local runs.
//!
//! Same paths (`/e-sitef/v3/...`), same envelopes and JSON-string scalars as the real gateway
//! ([`carat_wire`]); every field is checked against its documented format; the
//! authenticity POST is sent synchronously during the create, as Carat does. State lives in
//! memory and is lost on restart.
//!
//! | endpoint | answers |
//! |---|---|
//! | `POST /e-sitef/v3/recharge` | `begin_recharge_response`; NIT sent by the authenticity POST, or, for a create signed with a JWT ([`signature`]), in the answer (`nit`, `merchant_id`, `order_id`, `merchant_usn`, `general_hash`) with no POST |
//! | `GET /e-sitef/v3/rechargedealers?nit&generalhash` | `list_dealers_response` |
//! | `GET /e-sitef/v3/rechargebranches?nit&ddd&dealercode&generalhash` | `list_branch_data_response` (normal only) |
//! | `PUT /e-sitef/v3/rechargebranches/{nit}` + `list_branch_data_request` | `list_branch_data_response`, by the transaction's recharge type: `others`, the branch data of `dealer.branch.code` (one of the dealer's branches); `invoice`, the bill for `invoice.bar_code` ([`bills`]) |
//! | `PUT /e-sitef/v3/recharge/{nit}` + `do_recharge_request` | `do_recharge_response`, NOV → PPC |
//! | `PUT /e-sitef/v3/recharge/{nit}` + `confirm_recharge_request` | `confirm_recharge_response`, PPC → CON / PPN |
//! | `GET /e-sitef/v3/recharge/{nit}[/]?merchantkey` | `get_status_recharge_response` |
//! | `POST /e-sitef/api/v1/cards` (headers `merchant_id`, `merchant_key`) | card storage: `{code, message, card{token,suffix}, store{status,nsua,nita,merchant_usn,customer_id}}`, then the HASH notification ([`cards`]) |
//! | `POST /e-sitef/api/v1/cards/query/{nita}` (same headers) | `OK`, then the HASH notification again; an unknown NITA is `404` code `5` |
//!
//! Catalogue: `normal` sells Vivo 001, Claro 002, Oi 003, Tim 004 and Sky TV 005 (`type_code`
//! "03"; Tim asks question 5, an answer of 5 to 30 characters; Sky TV answers an effectuation
//! without answer 126 with AGU, `resubmit_transaction` and the packages SKYPRE30, SKYPRE60 and
//! SKYPRE90, and approves the one resent with one of them as answer 126); `others` sells
//! Vex-PIN 905 (branch 97200000000) and TIM-Leste-PIN 902 (branch 97001000000), `type_code`
//! "02"; `invoice` lists biller ENERGIA SP 910 (`type_code` "04") and pays its bills
//! ([`bills`]: one payable, one expired), whole and exactly as listed. Every other dealer
//! sells, in cents: key 1 = 1000, key 2 = 2000 (+500 bonus), key 3 = 3000..10000
//! (+10 %), key 4 = 1000..2000 (so that the confirmation test amounts below are sellable).
//! An approved `others` sale's customer receipt carries a generated PIN on a line `PIN: ...`,
//! never the same twice in one process.
//!
//! The table's general hash is `09A9681D09A9681D` until a test changes it with
//! [`Sandbox::set_general_hash`]; every answer carries the current one (`hashes.general`, the
//! authenticity POST's `generalHash`). A listing whose `generalhash` is the current one is answered
//! with empty lists (what Carat does then is not documented); any other, with the full list.
//! [`SandboxTransaction`] shows the hash each create and listing carried.
//!
//! A NOV transaction older than `nit_lifetime` becomes EXP when next touched.
//!
//! `used_payment_methods` entries are read with the domain's codec
//! ([`carat_domain::payment_methods`]), at most `payment_methods.max` (2) of them, their sum
//! checked (code 22 below); [`SandboxTransaction`] keeps each valid effectuation's and applied
//! confirmation's list. A TIM top-up (dealer 004) confirmed without them is kept as Carat
//! assumes it (seed 003): `["99:<cents>"]`, "Other forms" for the whole amount.
//!
//! # Errors
//!
//! The sandbox's convention, since Carat's own code table is not published in full. Every
//! error is the operation's response envelope with `esitef{code,message}`; the message names
//! the field and the rule (`phone.ddd: must be = 2 N (found 3 characters)`), and `status`
//! carries the transaction's status whenever one is known. Checks run in this order, the first
//! failure answers: body (content type, JSON, envelope), NIT format, transaction known (then
//! counted), not expired, signature (code 30: required on a transaction created with one),
//! fields in table order (merchant key first), transaction status. A create's signature is
//! checked once its fields are valid.
//!
//! | code | HTTP | meaning |
//! |---|---|---|
//! | `0` | 200 | OK (a denial too: see `host`/`sitef`) |
//! | `1` | 400 | NIT missing (absent or empty) |
//! | `2` | 400 | invalid format; also a wrong Content-Type, unparseable JSON, a JSON number where a string is due |
//! | `3` | 400 | mandatory field missing (conditionally mandatory ones say why) |
//! | `4` | 401 | merchant key not accepted |
//! | `5` | 404 | transaction not found |
//! | `6` | 400 | operation not allowed in the transaction's status (named), or for its recharge type |
//! | `7` | 400 | transaction expired (`status` EXP) |
//! | `8` | 400 | value not offered: unknown dealer, branch, amount_key, amount outside the ranges; a bill not as listed, or not paid whole |
//! | `20` | 400 | no bill has this bar code (`invoice` listing or effectuation) |
//! | `21` | 400 | the bill expired: its due date has passed (`invoice` listing or effectuation) |
//! | `22` | 400 | `used_payment_methods`' amounts do not sum to the transaction's amount (effectuation: the amount sold; confirmation `"true"`: the amount effectuated). Seed 001 leaves that consistency to the store; the sandbox holds the store to it |
//! | `55` | 200 | test value: esitef error on effectuation |
//! | `56` | 200 | test value: esitef error on create |
//! | `99` | 500 | test value: internal error |
//! | `30` | 401 | signature refused ([`signature`]): on a create carrying `Authorization`, or on any call of a transaction created with one: missing, malformed, not RS256, bad signature, expired or future `timestamp`, a claim that is not the request's; the message names it |
//! | `115` | 200 | authenticity error on create: the POST was not answered 200 (transaction INV) |
//!
//! # Test values ([`faults`])
//!
//! | value | where | effect |
//! |---|---|---|
//! | `999990001` | effectuation `phone.number` | denied: NEG, HTTP 200, esitef 0, `host` 05, `sitef` 005 |
//! | `999990002` | effectuation `phone.number` | HTTP 200, esitef 55, transaction stays NOV |
//! | `999990003` | effectuation `phone.number` | HTTP 500, esitef 99, transaction stays NOV |
//! | `999990004` | effectuation `phone.number` | applied (PPC), answered after `slow_answer_delay` |
//! | amount `1313` | effectuated amount, acts on `confirm:"true"` | HTTP 500, esitef 99, stays PPC |
//! | amount `1414` | effectuated amount, acts on `confirm:"true"` | applied (CON), answered after `slow_answer_delay` |
//! | amount `1515` | approved effectuation | answered with `send_payment_methods: "true"` |
//! | `SBX500…` | create `order_id` prefix | HTTP 500, esitef 99, no transaction, no POST |
//! | `SBXERR…` | create `order_id` prefix | HTTP 200, esitef 56, no transaction, no POST |
//! | [`bills::PAYABLE_BAR_CODE`] | `invoice.bar_code` | a bill of 15990 cents, due 30 days from today |
//! | [`bills::EXPIRED_BAR_CODE`] | `invoice.bar_code` | a bill due 10012025: esitef 21 |
//! | any other 48 digits | `invoice.bar_code` | no such bill: esitef 20 |
//! | `4111111111111111`, any other Luhn-valid number, [`vault::TEST_TOKEN`], a CON token in the vault | effectuation `payment.card` | approved: payment PPC, CON on confirm, PPN on undo |
//! | [`payments::DENIED_CARD`] `4000000000000002` | effectuation `payment.card.number` | denied: recharge and payment NEG, `host` 05, `sitef` 005 |
//! | [`payments::SLOW_CARD`] `4000000000000010` | effectuation `payment.card.number` | approved (PPC), answered after `slow_answer_delay` |
//! | a token not in the vault (or not CON) | effectuation `payment.card.token` | esitef 8 naming `payment.card.token` |
//!
//! A payment's amount must equal the recharge's (code 8 otherwise), a sandbox convention. Each
//! change of a payment's status to CON, NEG or PPN sends a status notification (§6.2) with
//! every parameter the sandbox can fill ([`payments`]). [`SandboxTransaction::payment_card`]
//! shows how the payment's card came (the token, or which of number, expiry and security code:
//! never the number), so a test sees that a stored card paid with its token alone.
//! | `4000000000000002` | card storage `card.number` | NEG: judged invalid; notified without a token |
//! | any other Luhn-valid number (`4111111111111111`...) | card storage `card.number` | CON: stored, answered and notified with a token |
//! | a number stored (CON) before for the same `customer_id` | card storage | DUP; notified without a token |
//!
//! The amount faults never hit an undo, so a test can always end such a recharge.
//!
//! # Injected faults
//!
//! A test can make any call fail, whatever it carries, with [`Sandbox::inject`]`(operation,
//! fault, times)`: the next `times` requests of that [`Operation`] that would otherwise succeed
//! get the [`Fault`]. Each operation has its own FIFO queue, so injecting `Error500` twice then
//! `Slow` once makes the next three such requests fail, fail, then answer late.
//!
//! | fault | create | effectuate, confirm, undo | list dealers, list branches, query |
//! |---|---|---|---|
//! | [`Fault::Error500`] | HTTP 500, esitef 99; no transaction, no POST | HTTP 500, esitef 99, status unchanged | HTTP 500, esitef 99 |
//! | [`Fault::AppliedThen500`] | transaction opened and POST sent, then HTTP 500 | applied (PPC, CON, PPN), then HTTP 500 carrying the new status | as `Error500` |
//! | [`Fault::Slow`] | transaction opened and POST sent; answered after `slow_answer_delay` | applied; answered after `slow_answer_delay` | answered after `slow_answer_delay` |
//!
//! [`Operation::Confirm`] is a `confirm_recharge_request` with `confirm` "true",
//! [`Operation::Undo`] one with "false". "Would otherwise succeed": the request passed every
//! check of the error table above (it is still counted in [`SandboxTransaction`] like any
//! other); a repeated confirmation or undo, which succeeds, counts. A request carrying a test
//! value behaves as the test value says and draws no injected fault. A create draws its fault
//! once valid, before its authenticity POST: an `Error500` is spent even on a create whose POST
//! would have been refused, while an `AppliedThen500` or `Slow` whose POST is refused answers
//! 115 as usual and stays first in the queue.
//!
//! [`Sandbox::backdate`]`(nit, by)` is a test hook as well: it makes a transaction `by` older,
//! so that a NOV one passes its NIT lifetime (and reads EXP when next touched) without the test
//! sleeping.

mod authenticity;
mod authorizer;
pub mod bills;
pub mod cards;
mod catalog;
mod decode;
mod errors;
pub mod faults;
mod handlers;
pub mod notifier;
pub mod payments;
mod requests;
mod responses;
mod shutdown;
pub mod signature;
mod state;
pub mod test_values;
mod validate;
pub mod vault;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post, put};
use url::Url;

use authenticity::AuthenticityPoster;
use carat_domain::{GeneralHash, MerchantId, Secret};
use carat_wire::signature::JwtPublicKey;
use catalog::TableVersion;
use faults::Injector;
pub use faults::{Fault, Operation};
pub use notifier::{Channel, Notification};
use notifier::{Notifier, NotifierConfig};
pub use shutdown::shutdown_signal;
use state::Ledger;
use vault::Vault;

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Sent as `merchantId` in the authenticity POST.
    pub merchant_id: MerchantId,
    /// The only `merchant_key` / `merchantkey` the sandbox accepts.
    pub merchant_key: Secret,
    /// Where the authenticity POST goes; may be set later with
    /// [`Sandbox::set_authenticity_url`]. Without it every create gets code 115.
    pub authenticity_url: Option<Url>,
    /// A NOV transaction older than this becomes EXP.
    pub nit_lifetime: Duration,
    /// How long the "slow" test values and [`Fault::Slow`] wait before answering.
    pub slow_answer_delay: Duration,
    /// Timeout of the authenticity POST and of each notification POST.
    pub callback_timeout: Duration,
    /// Where status notifications go (payment status changes); may be set later with
    /// [`Sandbox::set_status_url`]. Without it they are recorded as undeliverable.
    pub status_url: Option<Url>,
    /// Where HASH notifications go (card storage); may be set later with
    /// [`Sandbox::set_hash_url`].
    pub hash_url: Option<Url>,
    /// POSTs per notification at most, the first included: Carat's "configured number of
    /// times" (seed 004).
    pub notification_attempts: u32,
    /// The wait between two POSTs of one notification.
    pub notification_retry_delay: Duration,
    /// The merchant's registered public key, signed calls are verified with; `None` refuses
    /// every signed call.
    pub jwt_public_key: Option<JwtPublicKey>,
    /// How old a token's `timestamp` may be ([`signature::DEFAULT_MAX_AGE`]).
    pub jwt_max_age: Duration,
}

/// The sandbox: cheap to clone, every clone sees the same transactions.
#[derive(Clone)]
pub struct Sandbox {
    shared: Arc<Shared>,
}

/// A transaction as the sandbox sees it, for test inspection.
#[derive(Clone, Debug)]
pub struct SandboxTransaction {
    pub nit: String,
    /// NOV, AGU, PPC, CON, PPN, NEG, INV or EXP.
    pub status: String,
    pub order_id: Option<String>,
    pub merchant_usn: Option<String>,
    pub recharge_type: String,
    /// Every `do_recharge_request` received for this NIT, valid or not.
    pub effectuation_requests: u32,
    /// Every `confirm_recharge_request` received for this NIT, valid or not.
    pub confirmation_requests: u32,
    /// Every query received for this NIT, whatever its merchant key.
    pub query_requests: u32,
    /// The `general_hash` its create carried.
    pub create_general_hash: Option<String>,
    /// The `generalhash` of every valid listing (dealers, branch data) for this NIT, in order.
    pub listing_general_hashes: Vec<Option<String>>,
    /// The `answers` (code, description) of every valid `do_recharge_request`, in order.
    pub effectuation_answers: Vec<Vec<(String, String)>>,
    /// The card of every valid `do_recharge_request`, in order (`None`: no payment): its BIN
    /// and last four, never the number.
    pub effectuation_cards: Vec<Option<payments::SeenCard>>,
    /// The `used_payment_methods` of every valid `do_recharge_request`, in order (`None`: the
    /// request had none).
    pub effectuation_payment_methods: Vec<Option<Vec<String>>>,
    /// The `used_payment_methods` of every applied confirmation (`confirm` "true"), in order. A
    /// TIM top-up's (dealer 004) confirmation without them is recorded as Carat assumes it: the
    /// whole amount as type 99, "Other forms" (`["99:<cents>"]`).
    pub confirmation_payment_methods: Vec<Option<Vec<String>>>,
    /// Created with a valid signature ([`signature`]): its NIT came in the create's answer.
    pub signature_mode: bool,
    /// Calls after the create (listings, effectuations, confirmations, queries) that carried
    /// a valid signature naming this NIT.
    pub signed_calls: u32,
    /// The card of the payment linked to this transaction, as its latest valid effectuation
    /// with a payment gave it: the token, or which of number, expiry and security code came
    /// (never the number itself). A test sees that a stored card paid with its token alone.
    pub payment_card: Option<payments::CardSeen>,
}

/// What the handlers share.
struct Shared {
    merchant_id: MerchantId,
    merchant_key: Secret,
    slow_answer_delay: Duration,
    authenticity: AuthenticityPoster,
    ledger: Ledger,
    injector: Injector,
    table: TableVersion,
    /// Status and HASH notifications ([`notifier`]).
    notifier: Arc<Notifier>,
    /// Stored cards ([`vault`]).
    vault: Vault,
    /// Card storage requests received ([`cards`]).
    cards: cards::CardDesk,
    /// Signature mode ([`signature`]).
    verifier: signature::Verifier,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Self {
        let shared = Shared {
            authenticity: AuthenticityPoster::new(config.authenticity_url, config.callback_timeout),
            ledger: Ledger::new(config.nit_lifetime),
            injector: Injector::default(),
            table: TableVersion::default(),
            notifier: Notifier::new(NotifierConfig {
                status_url: config.status_url,
                hash_url: config.hash_url,
                attempts: config.notification_attempts,
                retry_delay: config.notification_retry_delay,
                timeout: config.callback_timeout,
            }),
            vault: Vault::with_test_card(),
            cards: cards::CardDesk::default(),
            verifier: signature::Verifier {
                key: config.jwt_public_key,
                merchant_id: config.merchant_id.clone(),
                merchant_key: config.merchant_key.clone(),
                max_age: config.jwt_max_age,
            },
            merchant_id: config.merchant_id,
            merchant_key: config.merchant_key,
            slow_answer_delay: config.slow_answer_delay,
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Routes with full paths (`/e-sitef/v3/...`) and no fallback, so that the router can be
    /// merged into another.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/e-sitef/v3/recharge",
                post(handlers::create)
                    .put(handlers::update_without_nit)
                    .get(handlers::query_without_nit),
            )
            .route(
                "/e-sitef/v3/recharge/{nit}",
                put(handlers::update).get(handlers::query),
            )
            // The official query example has a trailing slash.
            .route("/e-sitef/v3/recharge/{nit}/", get(handlers::query))
            .route("/e-sitef/v3/rechargedealers", get(handlers::list_dealers))
            .route(
                "/e-sitef/v3/rechargebranches",
                get(handlers::list_branch_data),
            )
            .route(
                "/e-sitef/v3/rechargebranches/{nit}",
                put(handlers::list_branch_data_by_put),
            )
            .route("/e-sitef/api/v1/cards", post(cards::store))
            .route("/e-sitef/api/v1/cards/query/{nita}", post(cards::query))
            .with_state(Arc::clone(&self.shared))
    }

    pub fn set_authenticity_url(&self, url: Url) {
        self.shared.authenticity.set_url(url);
    }

    pub fn set_status_url(&self, url: Url) {
        self.shared.notifier.set_url(Channel::Status, url);
    }

    pub fn set_hash_url(&self, url: Url) {
        self.shared.notifier.set_url(Channel::Hash, url);
    }

    /// Every status and HASH notification sent so far, oldest first, with its delivery.
    pub fn notifications(&self) -> Vec<Notification> {
        self.shared.notifier.snapshot()
    }

    /// Test hook: sends `form` as a notification on `channel`, delivered and retried like the
    /// sandbox's own (a test can replay one, or send one out of order).
    pub fn send_notification(&self, channel: Channel, form: Vec<(String, String)>) {
        self.shared.notifier.send(channel, form);
    }

    /// The stored card with this token, as the sandbox (playing Carat) keeps it.
    pub fn stored_card(&self, token: &str) -> Option<vault::VaultCard> {
        self.shared.vault.by_token(token)
    }

    /// Card storages received (`POST /e-sitef/api/v1/cards`), valid or not.
    pub fn card_storage_requests(&self) -> u32 {
        self.shared
            .cards
            .storage_requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Storage-data queries received, valid or not.
    pub fn card_query_requests(&self) -> u32 {
        self.shared
            .cards
            .query_requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The stored card with this NITA.
    pub fn stored_card_by_nita(&self, nita: &str) -> Option<vault::VaultCard> {
        self.shared.vault.by_nita(nita)
    }

    /// Makes the next `times` requests of `operation` that would otherwise succeed get
    /// `fault`, after the faults already queued for it (see "Injected faults" above).
    pub fn inject(&self, operation: Operation, fault: Fault, times: u32) {
        self.shared.injector.push(operation, fault, times);
    }

    /// Test hook: makes the transaction `by` older, so that a NOV one passes its NIT lifetime
    /// without waiting. `false` if the NIT is unknown.
    pub fn backdate(&self, nit: &str, by: Duration) -> bool {
        self.shared.ledger.backdate(nit, by)
    }

    /// Test hook: Carat's tables change. Listings, effectuations and authenticity POSTs carry
    /// `hash` from now on, and a listing that sends the old one gets the full list again.
    pub fn set_general_hash(&self, hash: GeneralHash) {
        self.shared.table.set(hash);
    }

    /// The current general hash (`09A9681D09A9681D` until [`Self::set_general_hash`]).
    pub fn general_hash(&self) -> String {
        self.shared.table.current()
    }

    /// A snapshot of the transaction with this NIT.
    pub fn transaction(&self, nit: &str) -> Option<SandboxTransaction> {
        self.shared.ledger.snapshot(nit)
    }

    /// A snapshot of the latest transaction created with this order id.
    pub fn find_by_order_id(&self, order_id: &str) -> Option<SandboxTransaction> {
        self.shared.ledger.find_by_order_id(order_id)
    }
}

/// Serves the sandbox alone on `listener` until the server fails.
pub async fn serve(sandbox: Sandbox, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, sandbox.router()).await
}

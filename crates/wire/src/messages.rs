//! Carat Portal's JSON wire format for the v3 recharge resources.
//!
//! Rules from the documentation that shape these types:
//! * every body is one envelope object (`{"begin_recharge_request": {...}}`);
//! * scalars are JSON strings, leading zeros included (`"001"`); the exception documented is
//!   `total_copies`, a bare number, which is accepted either way here;
//! * Carat adds response fields without notice: no `deny_unknown_fields` anywhere, and every
//!   response field is optional so a missing block never fails a parse.
//!
//! The same types serve both ends: the merchant client serialises requests and deserialises
//! responses; the sandbox does the opposite.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// A request or response body, and the key of the envelope that wraps it.
pub trait Envelope: Serialize + DeserializeOwned {
    const KEY: &'static str;

    /// Wraps `self` in its envelope: `{KEY: self}`.
    fn wrap(&self) -> serde_json::Value {
        let mut map = serde_json::Map::with_capacity(1);
        map.insert(
            Self::KEY.to_owned(),
            serde_json::to_value(self).expect("wire types serialise"),
        );
        serde_json::Value::Object(map)
    }
}

/// A response body that carries Carat's `esitef{code,message}` verdict and a status.
pub trait Verdict {
    fn esitef(&self) -> Option<&Esitef>;
    fn status(&self) -> Option<&str>;
}

macro_rules! verdict {
    ($t:ty) => {
        impl Verdict for $t {
            fn esitef(&self) -> Option<&Esitef> {
                self.esitef.as_ref()
            }
            fn status(&self) -> Option<&str> {
                self.status.as_deref()
            }
        }
    };
}

/// Carat Portal's own answer: `code` `"0"` is success, anything else a failure.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Esitef {
    #[serde(default)]
    pub code: String,
    pub message: Option<String>,
    /// Carat's USN (`= 15 N`), on effectuation.
    pub usn: Option<String>,
}

impl Esitef {
    pub const OK: &'static str = "0";

    pub fn is_ok(&self) -> bool {
        self.code == Self::OK
    }
}

/// `{code, message}` blocks of the sub-systems (`sitef`, `host`, `authorizer`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeMessage {
    pub code: Option<String>,
    pub message: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashes {
    pub general: Option<String>,
    pub wallet: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Create: POST /v3/recharge

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeginRechargeRequest {
    pub merchant_key: String,
    pub merchant_usn: Option<String>,
    pub order_id: Option<String>,
    pub general_hash: Option<String>,
    pub recharge_type: Option<String>,
}

impl Envelope for BeginRechargeRequest {
    const KEY: &'static str = "begin_recharge_request";
}

/// In authenticity-POST mode only `esitef` comes back; in signature mode the transaction's
/// data (`nit` included) comes here instead of through the POST.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeginRechargeResponse {
    pub esitef: Option<Esitef>,
    pub status: Option<String>,
    pub nit: Option<String>,
    pub merchant_id: Option<String>,
    pub order_id: Option<String>,
    pub merchant_usn: Option<String>,
    pub general_hash: Option<String>,
}

impl Envelope for BeginRechargeResponse {
    const KEY: &'static str = "begin_recharge_response";
}
verdict!(BeginRechargeResponse);

// ---------------------------------------------------------------------------------------------
// List dealers: GET /v3/rechargedealers?nit=..&generalhash=..

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDealersQuery {
    pub nit: String,
    pub generalhash: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDealersResponse {
    pub status: Option<String>,
    pub esitef: Option<Esitef>,
    pub authorizer: Option<CodeMessage>,
    pub hashes: Option<Hashes>,
    #[serde(default)]
    pub dealers: Vec<Dealer>,
}

impl Envelope for ListDealersResponse {
    const KEY: &'static str = "list_dealers_response";
}
verdict!(ListDealersResponse);

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dealer {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub code: String,
    pub type_name: Option<String>,
    pub type_code: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Branch>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub code: String,
}

// ---------------------------------------------------------------------------------------------
// List branch data (normal): GET /v3/rechargebranches?nit=..&ddd=..&dealercode=..&generalhash=..

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBranchesQuery {
    pub nit: String,
    pub ddd: String,
    pub dealercode: String,
    pub generalhash: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBranchDataResponse {
    pub status: Option<String>,
    pub esitef: Option<Esitef>,
    pub sitef: Option<CodeMessage>,
    pub hashes: Option<Hashes>,
    #[serde(default)]
    pub questions: Vec<Question>,
    /// Free messages to show (`general[].message`).
    #[serde(default)]
    pub general: Vec<GeneralMessage>,
    #[serde(default)]
    pub categories: Vec<Category>,
    /// `invoice`: the bill found for the bar code asked for.
    pub invoice: Option<ListedInvoice>,
}

impl Envelope for ListBranchDataResponse {
    const KEY: &'static str = "list_branch_data_response";
}
verdict!(ListBranchDataResponse);

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display: String,
    pub rule: Option<String>,
    pub min: Option<String>,
    pub max: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneralMessage {
    #[serde(default)]
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub amount_ranges: Vec<AmountRange>,
}

/// One sellable amount or range, in cents. A fixed value has `min_amount == max_amount`.
/// The meaning of `expiry_date`/`bonus_expiry_date` (days, probably) is not documented.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountRange {
    pub message: Option<String>,
    pub amount_key: Option<String>,
    pub bonus_in_percentage: Option<String>,
    pub bonus: Option<String>,
    pub payment_amount: Option<String>,
    pub bonus_category: Option<String>,
    pub expiry_date: Option<String>,
    pub bonus_expiry_date: Option<String>,
    pub min_amount: Option<String>,
    pub max_amount: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// List branch data (others, invoice): PUT /v3/rechargebranches/{nit}
//
// ASSUMPTION, not in the seeds: this request's body. Carat's pages name the PUT and its answer
// (`list_branch_data_response`, with `invoice{...}` for a bill) but do not show the request;
// the issue fixes it as below. One type for every kind that lists this way: `others` sends
// `dealer.branch` and `hashes`, `invoice` sends `invoice.bar_code`. A correction from
// homologation is a change to these types alone.

/// The body of `PUT /v3/rechargebranches/{nit}`: what to list branch data for.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBranchDataRequest {
    pub merchant_key: String,
    /// `others` or `invoice`.
    pub recharge_type: String,
    pub dealer: BranchDataDealerRef,
    /// `invoice`: the bill's bar code.
    pub invoice: Option<BarCodeRef>,
    /// `others`: the cached general hash.
    pub hashes: Option<Hashes>,
}

impl Envelope for ListBranchDataRequest {
    const KEY: &'static str = "list_branch_data_request";
}

/// The dealer as Carat listed it: its `type_code` when the list gave one; `branch` for an
/// `others` product.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchDataDealerRef {
    pub code: String,
    pub type_code: Option<String>,
    pub branch: Option<BranchRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarCodeRef {
    pub bar_code: String,
}

/// The bill Carat found for a bar code; `expiry_date` is DDMMYYYY, `amount` in cents.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedInvoice {
    pub bar_code: Option<String>,
    pub description: Option<String>,
    pub expiry_date: Option<String>,
    pub reference_data: Option<String>,
    pub echo: Option<String>,
    pub amount: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Effectuate: PUT /v3/recharge/{nit} with do_recharge_request

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoRechargeRequest {
    pub hashes: Option<Hashes>,
    pub dealer: DealerRef,
    /// Mandatory for `normal`.
    pub phone: Option<Phone>,
    /// Cents, `< 12 N`.
    pub amount: String,
    pub amount_key: Option<String>,
    /// Mandatory when the branch data returned questions.
    pub answers: Option<Vec<AnswerWire>>,
    /// Mandatory for `invoice`: the bill as Carat listed it.
    pub invoice: Option<InvoiceWire>,
    pub used_payment_methods: Option<Vec<String>>,
    pub terminal_type: Option<String>,
    pub cpf: Option<String>,
    pub cnpj: Option<String>,
    pub zip_code: Option<String>,
    /// A card payment linked to the recharge (seed 001 `payment`).
    pub payment: Option<PaymentRequest>,
}

/// `payment` of an effectuation. `amount` in cents `< 12 N`, `authorizer_id < 5 N`,
/// `customer_id < 20 AN`, `merchant_key` the recharge's own.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    pub amount: String,
    pub authorizer_id: String,
    pub customer_id: Option<String>,
    pub merchant_key: String,
    pub installment: Option<InstallmentWire>,
    pub card: Option<CardWire>,
    pub extra_param: Option<Vec<ExtraParam>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallmentWire {
    pub number: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `payment.card`: the number and expiry, or a stored card's token (the token wins, seed 001).
/// Its `Debug` shows nothing of the values: this struct is the one place a card number travels.
#[serde_with::skip_serializing_none]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardWire {
    pub number: Option<String>,
    pub token: Option<String>,
    pub security_code: Option<String>,
    pub expiry_date: Option<String>,
}

impl std::fmt::Debug for CardWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| if v.is_some() { "[redacted]" } else { "none" };
        f.debug_struct("CardWire")
            .field("number", &shown(&self.number))
            .field("token", &shown(&self.token))
            .field("security_code", &shown(&self.security_code))
            .field("expiry_date", &shown(&self.expiry_date))
            .finish()
    }
}

/// `extra_param[]`: free key/value pairs, passed through as given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraParam {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Carat's answer about the linked payment (seed 001 response `payment`; seed 003 and the
/// query give at least `status`). Every part optional, unknown ones ignored.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAnswer {
    pub status: Option<String>,
    pub amount: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub authorizer_id: Option<String>,
    /// `< 50 AN` in the table; [UNKNOWN] whether a string or an object like the recharge's
    /// `acquirer`: kept as whatever JSON comes.
    pub acquirer: Option<serde_json::Value>,
    pub esitef: Option<PaymentEsitef>,
    pub sitef: Option<CodeMessage>,
    pub customer: Option<Receipt>,
    pub merchant: Option<Receipt>,
    pub authorization: Option<PaymentAuthorization>,
    pub analysis: Option<PaymentAnalysis>,
    pub extra_param: Option<Vec<ExtraParam>>,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEsitef {
    pub usn: Option<String>,
    /// DD/MM/YYYY hh:mm.
    pub date: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAuthorization {
    pub number: Option<String>,
    pub sitef_usn: Option<String>,
    pub host_usn: Option<String>,
    pub tid: Option<String>,
    pub eci: Option<String>,
    pub sitef_date: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAnalysis {
    pub status: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

impl Envelope for DoRechargeRequest {
    const KEY: &'static str = "do_recharge_request";
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealerRef {
    pub code: String,
    pub type_code: String,
    /// Mandatory for `others`.
    pub branch: Option<BranchRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchRef {
    pub code: String,
}

/// `invoice` of an effectuation: `bar_code` `= 48 N`, `description` `< 64 AN`, `expiry_date`
/// `= 8 N` (DDMMYYYY), `reference_data` `< 32 AN`, `echo` `< 11 N`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceWire {
    pub bar_code: String,
    pub description: String,
    pub expiry_date: String,
    pub reference_data: String,
    pub echo: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    pub ddd: String,
    pub number: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerWire {
    pub code: String,
    pub description: String,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoRechargeResponse {
    pub status: Option<String>,
    pub order_id: Option<String>,
    pub merchant_usn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tv_package_subscription_codes: Vec<String>,
    /// `T/F` in the table; seen neither as a string nor as a boolean, so both are accepted.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub resubmit_transaction: Option<bool>,
    /// `< 5 AN`, "true" when positive; a boolean is tolerated and read as its string.
    #[serde(default, deserialize_with = "lenient_string")]
    pub send_payment_methods: Option<String>,
    pub esitef: Option<Esitef>,
    pub sitef: Option<CodeMessage>,
    pub host: Option<CodeMessage>,
    pub acquirer: Option<Acquirer>,
    pub authorization: Option<Authorization>,
    pub customer: Option<Receipt>,
    pub merchant: Option<Receipt>,
    pub hashes: Option<Hashes>,
    pub payment_methods: Option<PaymentMethods>,
    pub payment: Option<PaymentAnswer>,
}

impl Envelope for DoRechargeResponse {
    const KEY: &'static str = "do_recharge_response";
}
verdict!(DoRechargeResponse);

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acquirer {
    pub branch_code: Option<String>,
    pub merchant_code: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub confirmation_data: Option<String>,
    pub authorizer_date: Option<String>,
    pub authorizer_time: Option<String>,
    pub host_usn: Option<String>,
    pub sitef_usn: Option<String>,
    pub number: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    #[serde(default, deserialize_with = "lenient_u32")]
    pub total_copies: Option<u32>,
    pub receipt: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethods {
    pub max: Option<String>,
    #[serde(default)]
    pub available: Vec<NamedMethod>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedMethod {
    #[serde(default)]
    pub name: String,
}

// ---------------------------------------------------------------------------------------------
// Confirm / undo: PUT /v3/recharge/{nit} with confirm_recharge_request

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmRechargeRequest {
    /// `"true"` confirms the recharge and its payment, `"false"` undoes both.
    pub confirm: String,
    pub merchant_key: String,
    pub used_payment_methods: Option<Vec<String>>,
}

impl Envelope for ConfirmRechargeRequest {
    const KEY: &'static str = "confirm_recharge_request";
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmRechargeResponse {
    pub esitef: Option<Esitef>,
    pub status: Option<String>,
    pub payment: Option<PaymentStatus>,
}

impl Envelope for ConfirmRechargeResponse {
    const KEY: &'static str = "confirm_recharge_response";
}
verdict!(ConfirmRechargeResponse);

/// The payment part of a confirmation's or a query's answer: the same tolerant shape as the
/// effectuation's (`status` at least).
pub type PaymentStatus = PaymentAnswer;

// ---------------------------------------------------------------------------------------------
// Query: GET /v3/recharge/{nit}/?merchantkey=..

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetStatusQuery {
    pub merchantkey: String,
}

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetStatusRechargeResponse {
    pub status: Option<String>,
    pub esitef: Option<Esitef>,
    pub order_id: Option<String>,
    pub merchant_usn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorizers: Vec<NamedCode>,
    pub acquirer: Option<Acquirer>,
    pub authorization: Option<Authorization>,
    pub customer: Option<Receipt>,
    pub merchant: Option<Receipt>,
    pub payment: Option<PaymentStatus>,
}

impl Envelope for GetStatusRechargeResponse {
    const KEY: &'static str = "get_status_recharge_response";
}
verdict!(GetStatusRechargeResponse);

#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCode {
    #[serde(default)]
    pub name: String,
    pub code: Option<String>,
    pub message: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The authenticity POST (form-urlencoded, Carat -> merchant).

/// Parameters of the authenticity POST, as sent. Unknown parameters are ignored by serde's
/// default; every field is optional here so that validation, not parsing, names what is wrong.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticityForm {
    pub nit: Option<String>,
    #[serde(rename = "merchantId")]
    pub merchant_id: Option<String>,
    #[serde(rename = "orderId")]
    pub order_id: Option<String>,
    #[serde(rename = "merchantUSN")]
    pub merchant_usn: Option<String>,
    #[serde(rename = "generalHash")]
    pub general_hash: Option<String>,
}

// ---------------------------------------------------------------------------------------------

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(serde_json::Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "t" => Some(true),
            "false" | "f" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_request_matches_the_seed_example() {
        let req = BeginRechargeRequest {
            merchant_key: "XXXXXXXX".into(),
            merchant_usn: Some("2398".into()),
            order_id: Some("023748".into()),
            general_hash: Some("0000000000000000".into()),
            recharge_type: Some("normal".into()),
        };
        assert_eq!(
            req.wrap(),
            serde_json::json!({"begin_recharge_request":{
                "merchant_key":"XXXXXXXX","merchant_usn":"2398","order_id":"023748",
                "general_hash":"0000000000000000","recharge_type":"normal"}})
        );
    }

    #[test]
    fn query_response_tolerates_numbers_and_unknown_fields() {
        let body = r#"{"status":"CON","esitef":{"message":"OK","code":"0"},
            "authorizers":[{"name":"sitef","message":"x","code":"0"}],
            "customer":{"total_copies":3,"receipt":"COMPROVANTE"},
            "merchant":{"total_copies":"2","receipt":"R"},
            "brand_new_field":{"a":1}}"#;
        let r: GetStatusRechargeResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.status.as_deref(), Some("CON"));
        assert!(r.esitef.as_ref().unwrap().is_ok());
        assert_eq!(r.customer.unwrap().total_copies, Some(3));
        assert_eq!(r.merchant.unwrap().total_copies, Some(2));
    }

    #[test]
    fn a_payment_goes_as_seed_001_has_it_and_its_debug_hides_the_card() {
        let payment = PaymentRequest {
            amount: "1000".into(),
            authorizer_id: "1".into(),
            customer_id: None,
            merchant_key: "K".into(),
            installment: Some(InstallmentWire {
                number: "1".into(),
                kind: "4".into(),
            }),
            card: Some(CardWire {
                number: Some("4111111111111111".into()),
                token: None,
                security_code: Some("123".into()),
                expiry_date: Some("1230".into()),
            }),
            extra_param: None,
        };
        assert_eq!(
            serde_json::to_value(&payment).unwrap(),
            serde_json::json!({"amount": "1000", "authorizer_id": "1", "merchant_key": "K",
                "installment": {"number": "1", "type": "4"},
                "card": {"number": "4111111111111111", "security_code": "123",
                         "expiry_date": "1230"}})
        );
        let shown = format!("{payment:?}");
        assert!(
            !shown.contains("4111111111111111") && !shown.contains("\"123\""),
            "{shown}"
        );
    }

    #[test]
    fn a_payment_answer_is_read_tolerantly() {
        let body = r#"{"status":"PPC","payment":{"status":"PPC","amount":"1000","type":"C",
            "authorizer_id":"1","acquirer":"REDE","esitef":{"usn":"123","date":"21/11/2026 10:00"},
            "sitef":{"code":"000"},"customer":{"receipt":"R"},"authorization":{"number":"123456",
            "tid":"T","eci":"05","new":"x"},"analysis":{"status":"APR","code":"0"},
            "extra_param":[{"key":"k","value":"v"}],"brand_new":1}}"#;
        let r: DoRechargeResponse = serde_json::from_str(body).unwrap();
        let p = r.payment.unwrap();
        assert_eq!(p.status.as_deref(), Some("PPC"));
        assert_eq!(p.kind.as_deref(), Some("C"));
        assert_eq!(p.authorization.unwrap().number.as_deref(), Some("123456"));
        assert_eq!(p.analysis.unwrap().status.as_deref(), Some("APR"));
        let acquirer_as_object: PaymentAnswer =
            serde_json::from_str(r#"{"acquirer":{"name":"REDE"}}"#).unwrap();
        assert!(acquirer_as_object.acquirer.unwrap().is_object());
    }

    #[test]
    fn do_recharge_response_accepts_both_boolean_spellings() {
        let a: DoRechargeResponse =
            serde_json::from_str(r#"{"resubmit_transaction":"true"}"#).unwrap();
        let b: DoRechargeResponse =
            serde_json::from_str(r#"{"resubmit_transaction":false}"#).unwrap();
        assert_eq!(a.resubmit_transaction, Some(true));
        assert_eq!(b.resubmit_transaction, Some(false));
    }

    #[test]
    fn authenticity_form_reads_the_seed_example_and_ignores_extras() {
        let body = "merchantUSN=987654321&merchantId=LOJAFATURAT&orderId=123456789\
            &nit=e009886843920c5173104557c9f6cd66b1481557fb3f4d88daca072eb8a50c97\
            &generalHash=85E791AD85E791AD&somethingNew=1";
        let f: AuthenticityForm = serde_urlencoded::from_str(body).unwrap();
        assert_eq!(f.merchant_usn.as_deref(), Some("987654321"));
        assert_eq!(f.merchant_id.as_deref(), Some("LOJAFATURAT"));
        assert_eq!(f.general_hash.as_deref(), Some("85E791AD85E791AD"));
    }

    #[test]
    fn others_branch_data_request_is_the_assumed_body() {
        let request = ListBranchDataRequest {
            merchant_key: "K".into(),
            recharge_type: "others".into(),
            dealer: BranchDataDealerRef {
                code: "905".into(),
                type_code: Some("02".into()),
                branch: Some(BranchRef {
                    code: "97200000000".into(),
                }),
            },
            invoice: None,
            hashes: Some(Hashes {
                general: Some("0000000000000000".into()),
                wallet: None,
            }),
        };
        assert_eq!(
            request.wrap(),
            serde_json::json!({"list_branch_data_request": {
                "merchant_key": "K", "recharge_type": "others",
                "dealer": {"code": "905", "type_code": "02", "branch": {"code": "97200000000"}},
                "hashes": {"general": "0000000000000000"}}})
        );
    }

    #[test]
    fn dealers_response_reads_the_others_example() {
        let body = r#"{"list_dealers_response":{"status":"NOV","esitef":{"code":"0"},
          "dealers":[{"name":"Vex-PIN","code":"905","type_name":"PIN TELEFONE","type_code":"02",
          "branches":[{"name":"Vex-PIN","code":"97200000000"}]},{"name":"Vivo","code":"001"}]}}"#;
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let r: ListDealersResponse =
            serde_json::from_value(v[ListDealersResponse::KEY].clone()).unwrap();
        assert_eq!(r.dealers.len(), 2);
        assert_eq!(r.dealers[0].branches[0].code, "97200000000");
        assert_eq!(r.dealers[1].type_code, None);
    }
}

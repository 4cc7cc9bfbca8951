//! What the storefront is shown of Carat's listings (dealers, branch data, a bill), in a clean
//! shape: amounts as integer cents, every field named. Kept with the recharge as shown, so an
//! effectuation is checked against exactly what the storefront saw.

use serde::{Deserialize, Serialize};

use carat_domain::effectuation::{
    BarCode, InvoiceDescription, InvoiceEcho, InvoiceExpiryDate, InvoiceReferenceData,
};
use carat_domain::{AmountCents, DealerCode, DealerTypeCode};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dealers {
    pub general_hash: Option<String>,
    pub dealers: Vec<DealerView>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DealerView {
    pub code: String,
    pub name: String,
    pub type_code: Option<String>,
    pub type_name: Option<String>,
    pub branches: Vec<BranchView>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BranchView {
    pub code: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BranchData {
    pub general_hash: Option<String>,
    pub questions: Vec<QuestionView>,
    pub messages: Vec<String>,
    pub categories: Vec<CategoryView>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QuestionView {
    pub id: String,
    pub display: String,
    pub rule: Option<String>,
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    /// Carat's `type` (e.g. `i`); its meaning is not documented.
    pub input_type: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CategoryView {
    pub code: String,
    pub description: String,
    pub amount_ranges: Vec<AmountRangeView>,
}

/// Amounts in integer cents. `expiry_date` and `bonus_expiry_date` are passed on as Carat
/// sends them: their unit (days, probably) is not documented.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AmountRangeView {
    pub amount_key: Option<String>,
    pub message: Option<String>,
    pub min_amount: Option<u64>,
    pub max_amount: Option<u64>,
    pub payment_amount: Option<u64>,
    pub bonus: Option<u64>,
    pub bonus_in_percentage: Option<String>,
    pub bonus_category: Option<String>,
    pub expiry_date: Option<String>,
    pub bonus_expiry_date: Option<String>,
}

/// What the storefront is shown for a bar code, and what is kept with the recharge: the
/// dealer asked, and the bill as Carat listed it (every field in its Carat format).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillListing {
    pub general_hash: Option<String>,
    pub messages: Vec<String>,
    pub dealer: ListedDealer,
    pub invoice: Bill,
}

/// The dealer the bill was asked of, as Carat listed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedDealer {
    pub code: DealerCode,
    /// Absent when Carat's dealer list gave none; the storefront's is sent then.
    pub type_code: Option<DealerTypeCode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    pub bar_code: BarCode,
    pub description: InvoiceDescription,
    pub expiry_date: InvoiceExpiryDate,
    pub reference_data: InvoiceReferenceData,
    pub echo: InvoiceEcho,
    /// Cents.
    pub amount: AmountCents,
}

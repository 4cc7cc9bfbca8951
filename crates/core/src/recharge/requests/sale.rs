//! `sale`, shared by every kind's effectuation body.

use serde::Deserialize;

use carat_domain::{Cnpj, Cpf, OptionalFields, TerminalType, UsedPaymentMethod, ZipCode};

/// `sale`, in every kind's body: the optional facts Carat may record about the sale (where it
/// was made, the customer's CPF or CNPJ and CEP), each checked before Carat is called.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaleChoice {
    #[serde(default)]
    pub terminal_type: Option<TerminalType>,
    #[serde(default)]
    pub cpf: Option<Cpf>,
    #[serde(default)]
    pub cnpj: Option<Cnpj>,
    #[serde(default)]
    pub zip_code: Option<ZipCode>,
    /// How the sale was paid (`recharge/payment_methods.rs` checks the list).
    #[serde(default)]
    pub used_payment_methods: Option<Vec<UsedPaymentMethod>>,
}

impl SaleChoice {
    pub(in crate::recharge) fn optional(&self) -> OptionalFields {
        OptionalFields {
            terminal_type: self.terminal_type.clone(),
            cpf: self.cpf.clone(),
            cnpj: self.cnpj.clone(),
            zip_code: self.zip_code.clone(),
            used_payment_methods: self.used_payment_methods.clone(),
        }
    }
}

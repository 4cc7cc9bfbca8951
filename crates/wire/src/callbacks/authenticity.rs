//! The authenticity POST: Carat Portal tells us the NIT of a transaction it is creating, and
//! waits for our 200 before answering the create. Answering anything else makes Carat abort the
//! create, so the answer is the authenticity check itself: 200 only for a create this store is
//! making, and only once the NIT is committed. Every POST, refused ones included, is kept in
//! the callback inbox with what it was answered; the same POST again is answered the same and
//! changes nothing but the inbox's receipt count.

use crate::AuthenticityForm;
use carat_domain::{FieldError, FormatError, GeneralHash, MerchantId, MerchantUsn, Nit, OrderId};

/// The POST's parameters, each of its documented format.
#[derive(Debug)]
pub struct Authenticity {
    pub nit: Nit,
    pub merchant_id: MerchantId,
    pub order_id: OrderId,
    pub merchant_usn: MerchantUsn,
    pub general_hash: GeneralHash,
}

pub use super::PostError;

/// Reads a raw form body: tolerant parse, strict validation ([`super::read_form`]). Pure, so
/// that the property tests and the fuzz target reach it without a server.
pub fn parse_post(body: &[u8]) -> Result<Authenticity, PostError> {
    let form: AuthenticityForm = super::read_form(body)?;
    Ok(Authenticity::try_from(form)?)
}

impl TryFrom<AuthenticityForm> for Authenticity {
    type Error = FieldError;

    fn try_from(form: AuthenticityForm) -> Result<Self, FieldError> {
        fn field<T>(
            name: &'static str,
            value: Option<String>,
            parse: impl FnOnce(String) -> Result<T, FormatError>,
        ) -> Result<T, FieldError> {
            let value = value.ok_or_else(|| FieldError::new(name, "is missing"))?;
            parse(value).map_err(|e| FieldError::new(name, e))
        }
        Ok(Self {
            nit: field("nit", form.nit, Nit::parse)?,
            merchant_id: field("merchantId", form.merchant_id, MerchantId::parse)?,
            order_id: field("orderId", form.order_id, OrderId::parse)?,
            merchant_usn: field("merchantUSN", form.merchant_usn, |v| MerchantUsn::parse(&v))?,
            general_hash: field("generalHash", form.general_hash, GeneralHash::parse)?,
        })
    }
}

//! `payment`, in every kind's effectuation body: a card payment linked to the recharge. Each
//! value is checked as it is read, and nothing here prints card data.

use serde::Deserialize;
use uuid::Uuid;

use carat_domain::AmountCents;
use carat_domain::card::{CardExpiry, CardNumber, CardToken, SecurityCode};
use carat_domain::payment::{AuthorizerId, CustomerId, ExtraParam, Installment, extra_params};

/// `payment` of the storefront's effectuation body, any kind.
///
/// [UNKNOWN] whether Carat requires `payment.amount` to equal the recharge's `amount` (seed 001
/// does not say; a fee could make them differ): not checked here, Carat's answer decides. The
/// sandbox requires equality (its convention).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentChoice {
    pub amount: AmountCents,
    pub authorizer_id: AuthorizerId,
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    pub installment: Installment,
    pub card: CardChoice,
    /// At most 20, each key and value bounded text (`domain::payment::ExtraParam`).
    #[serde(default, deserialize_with = "extra_params")]
    pub extra_param: Vec<ExtraParam>,
}

/// `payment.card`: exactly one of `number` (with `expiry_date`), `token`, `stored_card_id`.
/// Each value is checked on deserialisation; the types print nothing secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardChoice {
    #[serde(default)]
    pub number: Option<CardNumber>,
    #[serde(default, deserialize_with = "token")]
    pub token: Option<CardToken>,
    #[serde(default)]
    pub stored_card_id: Option<Uuid>,
    #[serde(default)]
    pub security_code: Option<SecurityCode>,
    #[serde(default)]
    pub expiry_date: Option<CardExpiry>,
}

/// A token checked as it is read (`CardToken` has no `Deserialize` of its own; kept here to
/// leave card.rs to card storage). The error never quotes the value.
fn token<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<CardToken>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|t| CardToken::parse(t).map_err(serde::de::Error::custom))
        .transpose()
}

impl std::fmt::Debug for CardChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardChoice")
            .field("number", &self.number)
            .field("token", &self.token)
            .field("stored_card_id", &self.stored_card_id)
            .field("security_code", &self.security_code)
            .field(
                "expiry_date",
                &self.expiry_date.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

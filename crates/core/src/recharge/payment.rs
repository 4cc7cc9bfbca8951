//! A card payment linked to a recharge (seed 001 `payment`): the storefront's `payment` body,
//! the card data that goes to Carat once, and the `recharge_payments` row Carat's answers fill.
//!
//! Where card data goes: the number, security code and expiry (or a token) live in
//! [`CardSecrets`] from the storefront's body to the one request to Carat, in memory only. The
//! stored effectuation keeps [`PaymentInput`] (BIN and last four at most); the history keeps the
//! request redacted (`carat/redact.rs`); `recharge_payments` keeps Carat's answer, which carries
//! no card data (an `others` sale's payment receipt, which may carry the PIN, is sealed).

use uuid::Uuid;

use super::requests::{CardChoice, PaymentChoice};
use super::{FlowError, RechargeService};
use carat_domain::FieldError;
use carat_domain::card::{CardBin, CardExpiry, CardLast4, CardNumber, CardToken, SecurityCode};
use carat_domain::payment::{CardSource, PaymentInput, TokenTail};
use carat_store::cards::PayingCard;
use carat_store::payments::{PaymentAnswered, PaymentWrite};
use carat_wire::{
    CardWire, ExtraParam as WireExtraParam, InstallmentWire, PaymentAnswer, PaymentRequest,
};

/// What of the card goes to Carat and nowhere else. No `Serialize`; `Debug` redacts.
#[derive(Clone)]
pub struct CardSecrets {
    number: Option<CardNumber>,
    expiry: Option<CardExpiry>,
    token: Option<CardToken>,
    security_code: Option<SecurityCode>,
}

impl std::fmt::Debug for CardSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardSecrets([redacted])")
    }
}

/// The card as the storefront gave it, before a stored card's token is looked up.
enum Given {
    Number(CardNumber, CardExpiry),
    Token(CardToken),
    Stored(Uuid),
}

/// The checks on `payment.card` that serde cannot make: one way of giving the card, and what
/// goes with it. Pure.
fn given(card: &CardChoice) -> Result<Given, FieldError> {
    let named = [
        card.number.is_some(),
        card.token.is_some(),
        card.stored_card_id.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if named == 0 {
        return Err(FieldError::new(
            "payment.card",
            "must give the card: one of number (with expiry_date), token or stored_card_id",
        ));
    }
    if named > 1 {
        return Err(FieldError::new(
            "payment.card",
            "must give the card one way only: number, token or stored_card_id, not several",
        ));
    }
    match (&card.number, &card.token, card.stored_card_id) {
        (Some(number), _, _) => match &card.expiry_date {
            Some(expiry) => Ok(Given::Number(number.clone(), expiry.clone())),
            None => Err(FieldError::new(
                "payment.card.expiry_date",
                "is required with a card number (MMYY)",
            )),
        },
        _ if card.expiry_date.is_some() => Err(FieldError::new(
            "payment.card.expiry_date",
            "goes with a card number only; a token or stored card is paid without it",
        )),
        (_, Some(token), _) => Ok(Given::Token(token.clone())),
        (_, _, Some(id)) => Ok(Given::Stored(id)),
        _ => unreachable!("one of the three is named"),
    }
}

/// The payment to send: its kept part and its secrets.
#[derive(Clone, Debug)]
pub struct Payment {
    pub input: PaymentInput,
    pub secrets: CardSecrets,
}

impl RechargeService {
    /// Checks `choice` (a stored card must exist and be usable) and splits it into what may be
    /// kept and what goes to Carat once. A 422 naming the field before anything is written.
    pub(super) async fn payment_of(&self, choice: &PaymentChoice) -> Result<Payment, FlowError> {
        let (source, secrets) = self.card_of(&choice.card).await?;
        Ok(Payment {
            input: PaymentInput {
                amount: choice.amount,
                authorizer_id: choice.authorizer_id.clone(),
                customer_id: choice.customer_id.clone(),
                installment: choice.installment.clone(),
                card: source,
                extra_params: choice.extra_param.clone(),
            },
            secrets,
        })
    }

    /// Checks `card` (a stored card must exist and be usable) and splits it into what may be
    /// kept (its source) and what goes to Carat once. Errors name `payment.card.*`.
    pub(super) async fn card_of(
        &self,
        card: &CardChoice,
    ) -> Result<(CardSource, CardSecrets), FlowError> {
        Ok(match given(card).map_err(FlowError::Invalid)? {
            Given::Number(number, expiry) => (
                CardSource::Number {
                    bin: number.bin(),
                    last4: number.last4(),
                },
                CardSecrets {
                    number: Some(number),
                    expiry: Some(expiry),
                    token: None,
                    security_code: card.security_code.clone(),
                },
            ),
            Given::Token(token) => (
                CardSource::Token {
                    tail: Some(TokenTail::of(&token)),
                },
                CardSecrets {
                    number: None,
                    expiry: None,
                    token: Some(token),
                    security_code: card.security_code.clone(),
                },
            ),
            Given::Stored(id) => {
                let stored = self.stored_card(id).await?;
                (
                    CardSource::StoredCard {
                        stored_card_id: id,
                        bin: stored.bin,
                        last4: stored.last4,
                    },
                    CardSecrets {
                        number: None,
                        expiry: None,
                        token: Some(stored.token),
                        security_code: card.security_code.clone(),
                    },
                )
            }
        })
    }

    /// A stored card that may pay (`cards`, status CON): its token, BIN and last four.
    async fn stored_card(&self, id: Uuid) -> Result<StoredCard, FlowError> {
        let field = "payment.card.stored_card_id";
        let row = carat_store::cards::paying_card(&self.pool, id).await?;
        let Some(PayingCard {
            status,
            token,
            bin,
            last4,
        }) = row
        else {
            return Err(FlowError::Invalid(FieldError::new(
                field,
                "is not a stored card of this service",
            )));
        };
        let usable = status.can_pay();
        match token.map(CardToken::parse) {
            Some(Ok(token)) if usable => Ok(StoredCard {
                token,
                // The columns' CHECKs hold these formats; a value that broke one is left out
                // of the view rather than failing the payment.
                bin: bin.and_then(|b| CardBin::parse(b).ok()),
                last4: last4.and_then(|l| CardLast4::parse(l).ok()),
            }),
            _ => Err(FlowError::Invalid(FieldError::new(
                field,
                format!(
                    "cannot pay: the stored card's status is {} (it must be CON)",
                    status.as_str()
                ),
            ))),
        }
    }
}

/// A stored card's token and what of its number the service keeps.
struct StoredCard {
    token: CardToken,
    bin: Option<CardBin>,
    last4: Option<CardLast4>,
}

/// Carat's `payment` of an effectuation: the kept input and the card data, once. The merchant
/// key is the client's to fill (it is configuration, never the storefront's).
pub(super) fn to_wire(input: &PaymentInput, secrets: Option<&CardSecrets>) -> PaymentRequest {
    let card = secrets.map(|s| match &s.token {
        // Seed 001: with a token the number and expiry are not considered; none is sent.
        Some(token) => CardWire {
            number: None,
            token: Some(token.expose().to_owned()),
            security_code: s.security_code.as_ref().map(|c| c.expose().to_owned()),
            expiry_date: None,
        },
        None => CardWire {
            number: s.number.as_ref().map(|n| n.expose().to_owned()),
            token: None,
            security_code: s.security_code.as_ref().map(|c| c.expose().to_owned()),
            expiry_date: s.expiry.as_ref().map(ToString::to_string),
        },
    });
    PaymentRequest {
        amount: input.amount.to_wire(),
        authorizer_id: input.authorizer_id.to_string(),
        customer_id: input.customer_id.as_ref().map(ToString::to_string),
        merchant_key: String::new(),
        installment: Some(InstallmentWire {
            number: input.installment.number.get().to_string(),
            kind: input.installment.kind.to_string(),
        }),
        card,
        extra_param: (!input.extra_params.is_empty()).then(|| {
            input
                .extra_params
                .iter()
                .map(|p| WireExtraParam {
                    key: p.key.clone(),
                    value: p.value.clone(),
                })
                .collect()
        }),
    }
}

/// What a step writes of Carat's `payment` answer (`source`: which answer it came in). A PIN
/// sale's payment customer receipt may carry the PIN (seed 001 "Important"): it is never
/// written in the clear; the effectuation seals it with the sale's receipts.
pub(super) fn answered(
    source: &'static str,
    answer: Option<&PaymentAnswer>,
    pin_sale: bool,
) -> Option<PaymentWrite> {
    let answer = answer?;
    let mut kept = answer.clone();
    kept.customer = None;
    kept.merchant = None;
    kept.status = None;
    let kept = serde_json::json!(kept);
    let receipt = |r: &Option<carat_wire::Receipt>| r.as_ref().and_then(|r| r.receipt.clone());
    Some(PaymentWrite::Answered(PaymentAnswered {
        status: answer.status.clone(),
        source,
        answer: kept
            .as_object()
            .is_some_and(|m| !m.is_empty())
            .then_some(kept),
        customer_receipt: receipt(&answer.customer).filter(|_| !pin_sale),
        merchant_receipt: receipt(&answer.merchant),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(body: serde_json::Value) -> CardChoice {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn the_card_is_given_one_way_with_what_goes_with_it() {
        let pan = "4111111111111111";
        let token = "T".repeat(88);
        let ok = |b| given(&card(b)).is_ok();
        let field = |b| given(&card(b)).err().unwrap().field.to_string();
        assert!(ok(
            serde_json::json!({"number": pan, "expiry_date": "1230"})
        ));
        assert!(ok(
            serde_json::json!({"token": token, "security_code": "123"})
        ));
        assert!(ok(serde_json::json!({"stored_card_id": Uuid::nil()})));
        assert_eq!(field(serde_json::json!({})), "payment.card");
        assert_eq!(
            field(serde_json::json!({"number": pan, "token": token, "expiry_date": "1230"})),
            "payment.card"
        );
        assert_eq!(
            field(serde_json::json!({"number": pan})),
            "payment.card.expiry_date"
        );
        assert_eq!(
            field(serde_json::json!({"token": token, "expiry_date": "1230"})),
            "payment.card.expiry_date"
        );
    }

    #[test]
    fn debug_shows_no_card_data() {
        let c = card(
            serde_json::json!({"number": "4111111111111111", "expiry_date": "1230",
                                        "security_code": "987"}),
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("4111111111111111")
                && !shown.contains("987")
                && !shown.contains("1230"),
            "{shown}"
        );
    }
}

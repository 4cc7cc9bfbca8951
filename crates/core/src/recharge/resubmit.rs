//! TV resubmission: Carat answers a TV effectuation with `resubmit_transaction` and the
//! packages it offers (status AGU); the recharge waits `awaiting_choice` until the storefront
//! chooses one, then the effectuation is sent again with the choice as answer 126. The resend
//! is a money-moving call like the first: committed with its own attempt before it goes out, a
//! lost answer resolved by a query, never sent blindly twice.
//!
//! A paid recharge's card data was sent once and never kept, so the choice brings the card
//! again (`payment_card`, read and checked as the effectuation's `payment.card`), and it must be
//! the card that paid the first effectuation: a resubmission never changes the payer. A stored
//! card (`stored_card_id`) is read again by its kept id, so there the field may be left out.

use uuid::Uuid;

use super::payment::CardSecrets;
use super::requests::{CardChoice, TvChoice};
use super::steps::Race;
use super::{FlowError, RechargeService, why_not};
use carat_domain::payment::{CardSource, PaymentInput};
use carat_domain::recharge::{AnswerCode, AnswerText};
use carat_domain::{
    Actor, Answer, CaratAnswer, CaratStatus, Effectuation, EffectuationInput, FieldError,
    RechargeStatus,
};
use carat_store::{CallRecord, Changes, Guard, Recharge, Step};
use carat_wire::DoRechargeResponse;

/// The question code under which the chosen TV package goes back to Carat.
const TV_PACKAGE_QUESTION: &str = "126";

/// The field under which the choice gives the card (`payment.card` in an effectuation).
const PAYMENT_CARD: &str = "payment_card";

/// An effectuation's card error, renamed to the field the choice gives the card in.
fn as_choice_field(error: FlowError) -> FlowError {
    match error {
        FlowError::Invalid(mut e) if e.field.starts_with("payment.card") => {
            e.field = e.field.replacen("payment.card", PAYMENT_CARD, 1).into();
            FlowError::Invalid(e)
        }
        other => other,
    }
}

/// What the resend needs of the card, by the kept payment and the card given. Pure.
#[derive(Debug)]
enum ResendCard<'a> {
    /// No payment: the resend carries no card.
    None,
    /// The card given, to be checked as a payment's card and compared with `kept`.
    Given(&'a CardChoice),
    /// The stored card the first effectuation paid with, read again by its id.
    Stored(Uuid),
}

fn resend_card<'a>(
    kept: Option<&PaymentInput>,
    given: Option<&'a CardChoice>,
) -> Result<ResendCard<'a>, FieldError> {
    match (kept, given) {
        (None, None) => Ok(ResendCard::None),
        (None, Some(_)) => Err(FieldError::new(
            PAYMENT_CARD,
            "this recharge's effectuation has no card payment: choose the package without a card",
        )),
        (Some(_), Some(card)) => Ok(ResendCard::Given(card)),
        (Some(kept), None) => match &kept.card {
            CardSource::StoredCard { stored_card_id, .. } => {
                Ok(ResendCard::Stored(*stored_card_id))
            }
            _ => Err(FieldError::new(
                PAYMENT_CARD,
                "is required: this recharge is paid by card and its card data was never kept; \
                 give the card that paid its effectuation again",
            )),
        },
    }
}

/// Whether the card given (`given`, as it would be kept) is the one that paid (`kept`): the
/// same BIN and last four, token tail, or stored card, given the same way. Pure.
fn same_card(kept: &CardSource, given: &CardSource) -> Result<(), FieldError> {
    let same = match (kept, given) {
        (CardSource::Number { .. }, CardSource::Number { .. }) => kept == given,
        // The id names the card; its BIN and last four may be absent from older rows.
        (
            CardSource::StoredCard {
                stored_card_id: a, ..
            },
            CardSource::StoredCard {
                stored_card_id: b, ..
            },
        ) => a == b,
        // A token kept before its tail was cannot be compared: Carat judges it.
        (CardSource::Token { tail: None }, CardSource::Token { .. }) => true,
        (CardSource::Token { tail: a }, CardSource::Token { tail: b }) => a == b,
        _ => {
            return Err(FieldError::new(
                PAYMENT_CARD,
                format!(
                    "must be given as the effectuation gave it ({}): a resubmission cannot \
                     change the paying card",
                    match kept {
                        CardSource::Number { .. } => "number with expiry_date",
                        CardSource::Token { .. } => "token",
                        CardSource::StoredCard { .. } => "stored_card_id",
                    }
                ),
            ));
        }
    };
    if same {
        Ok(())
    } else {
        Err(FieldError::new(
            PAYMENT_CARD,
            "is not the card that paid this recharge's effectuation: a resubmission cannot \
             change the paying card",
        ))
    }
}

/// `effectuation` with `package` as the answer to question 126, replacing an earlier choice
/// and keeping the other answers. `None` for a kind that carries no answers.
fn with_choice(effectuation: &Effectuation, package: &AnswerText) -> Option<Effectuation> {
    let mut chosen = effectuation.clone();
    let answers = match &mut chosen.input {
        EffectuationInput::Normal { answers, .. } | EffectuationInput::Others { answers, .. } => {
            answers
        }
        EffectuationInput::Invoice { .. } => return None,
    };
    let code = AnswerCode::parse(TV_PACKAGE_QUESTION).expect("126 is a valid answer code");
    answers.retain(|a| a.code != code);
    answers.push(Answer {
        code,
        description: package.clone(),
    });
    Some(chosen)
}

/// The package this effectuation chose, if any.
fn chosen(effectuation: &Effectuation) -> Option<&str> {
    let answers = match &effectuation.input {
        EffectuationInput::Normal { answers, .. } | EffectuationInput::Others { answers, .. } => {
            answers
        }
        EffectuationInput::Invoice { .. } => return None,
    };
    answers
        .iter()
        .find(|a| a.code.as_str() == TV_PACKAGE_QUESTION)
        .map(|a| a.description.as_str())
}

/// A package Carat offered, or a 422 naming `tv_package` with the offered ones.
fn offered(package: &AnswerText, offer: &[String]) -> Result<(), FieldError> {
    if offer.iter().any(|code| code == package.as_str()) {
        return Ok(());
    }
    Err(FieldError::new(
        "tv_package",
        format!(
            "{} is not a TV package Carat offered for this recharge ({})",
            package.as_str(),
            offer.join(", ")
        ),
    ))
}

impl RechargeService {
    /// One attempt, as `try_effectuate`: a repeat of the same choice answers as the first did;
    /// a choice while the resend is out waits for it.
    pub(super) async fn try_choose(
        &self,
        mut recharge: Recharge,
        choice: &TvChoice,
        actor: &Actor,
    ) -> Result<Race<Recharge>, FlowError> {
        let package = choice.tv_package.as_str();
        let same_choice = |r: &Recharge| r.effectuation().and_then(chosen) == Some(package);
        if recharge.status == RechargeStatus::Effectuating {
            if !same_choice(&recharge) {
                return Err(FlowError::out_of_order(
                    recharge.status,
                    why_not(recharge.status, "choose a TV package"),
                ));
            }
            recharge = self.wait_for_call(recharge).await?;
            if recharge.status == RechargeStatus::Effectuating {
                recharge = self.resolve_in_doubt(recharge, actor).await?;
            }
        }
        match recharge.status {
            RechargeStatus::AwaitingChoice => {}
            _ if same_choice(&recharge) => {
                let stored = self
                    .step_outcome(recharge, RechargeStatus::Effectuating)
                    .await?;
                return match stored.status {
                    s @ (RechargeStatus::Failed | RechargeStatus::Expired) => Err(
                        FlowError::out_of_order(s, why_not(s, "choose a TV package")),
                    ),
                    _ => Ok(Race::Won(stored)),
                };
            }
            s => {
                return Err(FlowError::out_of_order(
                    s,
                    why_not(s, "choose a TV package"),
                ));
            }
        }
        let offer = recharge
            .carat_answer()
            .and_then(|a| a.tv_package_subscription_codes.clone())
            .unwrap_or_default();
        offered(&choice.tv_package, &offer).map_err(FlowError::Invalid)?;
        let (Some(nit), Some(effectuation)) = (
            recharge.nit.clone(),
            recharge
                .effectuation()
                .and_then(|e| with_choice(e, &choice.tv_package)),
        ) else {
            return Err(FlowError::out_of_order(
                recharge.status,
                "cannot choose a TV package: the recharge has no effectuation to send again",
            ));
        };
        // A new call with its own attempt, guarded as the first; a refusal that leaves Carat
        // waiting (AGU) leaves the choice open.
        let detail = serde_json::json!({"tv_package": package});
        let if_refused = (CaratStatus::Agu, RechargeStatus::AwaitingChoice);
        // The card data goes with the resend as with the first call: once, never kept.
        let card = self
            .resend_card(effectuation.payment.as_ref(), choice.payment_card.as_ref())
            .await?;
        self.send_effectuation(
            &recharge,
            &nit,
            effectuation,
            detail,
            if_refused,
            card.as_ref(),
            actor,
        )
        .await
    }

    /// The card data for the resend of a paid effectuation: the card given, checked as a
    /// payment's and compared with the one that paid, or the stored card read again. A 422
    /// naming `payment_card` before anything is written.
    async fn resend_card(
        &self,
        kept: Option<&PaymentInput>,
        given: Option<&CardChoice>,
    ) -> Result<Option<CardSecrets>, FlowError> {
        let (source, secrets) = match resend_card(kept, given).map_err(FlowError::Invalid)? {
            ResendCard::None => return Ok(None),
            ResendCard::Given(card) => self.card_of(card).await,
            ResendCard::Stored(id) => {
                let card = CardChoice {
                    number: None,
                    token: None,
                    stored_card_id: Some(id),
                    security_code: None,
                    expiry_date: None,
                };
                self.card_of(&card).await
            }
        }
        .map_err(as_choice_field)?;
        if let Some(kept) = kept {
            same_card(&kept.card, &source).map_err(FlowError::Invalid)?;
        }
        Ok(Some(secrets))
    }

    /// Carat answered AGU: the recharge waits for a package, showing the ones offered (an AGU
    /// without packages offers nothing to choose: the reconciler ends it with the NIT).
    pub(super) async fn awaiting_choice(
        &self,
        sent: &Recharge,
        actor: &Actor,
        call: CallRecord,
        carat: &CaratStatus,
        answer: DoRechargeResponse,
    ) -> Result<Recharge, FlowError> {
        let step = Step {
            changes: Changes {
                carat_status: Some(carat.clone()),
                carat_answer: Some(CaratAnswer {
                    esitef_usn: answer.esitef.as_ref().and_then(|e| e.usn.clone()),
                    tv_package_subscription_codes: Some(answer.tv_package_subscription_codes),
                    ..CaratAnswer::default()
                }),
                ..Changes::default()
            },
            call: Some(call),
            detail: serde_json::json!({"carat_status": carat.to_string()}),
            ..self.step(
                sent,
                RechargeStatus::AwaitingChoice,
                Guard::Attempt(sent.attempt),
                actor,
            )
        };
        self.record(step).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tv(answers: serde_json::Value) -> Effectuation {
        serde_json::from_value(json!({
            "kind": "normal",
            "dealer": {"code": "006", "type_code": "03"},
            "phone": {"ddd": "11", "number": "987654321"},
            "amount": 1000,
            "answers": answers,
        }))
        .unwrap()
    }

    fn text(s: &str) -> AnswerText {
        AnswerText::parse(s).unwrap()
    }

    #[test]
    fn the_choice_is_answer_126_replacing_an_earlier_one() {
        let first = tv(json!([{"code": "5", "description": "Joaquim"}]));
        assert_eq!(chosen(&first), None);
        let chose = with_choice(&first, &text("PKG2")).unwrap();
        assert_eq!(chosen(&chose), Some("PKG2"));
        let again = with_choice(&chose, &text("PKG3")).unwrap();
        assert_eq!(
            serde_json::to_value(&again).unwrap()["answers"],
            json!([{"code": "5", "description": "Joaquim"},
                   {"code": "126", "description": "PKG3"}])
        );
    }

    #[test]
    fn only_an_offered_package_may_be_chosen() {
        let offer = ["PKG1".to_owned(), "PKG2".to_owned()];
        assert!(offered(&text("PKG2"), &offer).is_ok());
        let e = offered(&text("PKG9"), &offer).unwrap_err();
        assert_eq!(e.field, "tv_package");
        assert_eq!(
            e.reason,
            "PKG9 is not a TV package Carat offered for this recharge (PKG1, PKG2)"
        );
        assert!(offered(&text("PKG1"), &[]).is_err());
    }

    fn number(bin: &str, last4: &str) -> CardSource {
        serde_json::from_value(json!({"source": "number", "bin": bin, "last4": last4})).unwrap()
    }

    fn token(tail: Option<&str>) -> CardSource {
        serde_json::from_value(json!({"source": "token", "tail": tail})).unwrap()
    }

    fn stored(id: u128) -> CardSource {
        CardSource::StoredCard {
            stored_card_id: Uuid::from_u128(id),
            bin: None,
            last4: None,
        }
    }

    fn paid_with(card: CardSource) -> PaymentInput {
        serde_json::from_value(json!({
            "amount": 1000, "authorizer_id": "1",
            "installment": {"number": 1, "type": "4"}, "card": card,
        }))
        .unwrap()
    }

    #[test]
    fn a_resubmission_is_paid_by_the_same_card_only() {
        assert!(same_card(&number("411111", "1111"), &number("411111", "1111")).is_ok());
        assert!(same_card(&stored(1), &stored(1)).is_ok());
        assert!(same_card(&token(Some("AbC=")), &token(Some("AbC="))).is_ok());
        // A token kept before its tail was: nothing to compare with.
        assert!(same_card(&token(None), &token(Some("AbC="))).is_ok());
        for (kept, given) in [
            (number("411111", "1111"), number("411111", "1112")),
            (number("411111", "1111"), number("555555", "1111")),
            (stored(1), stored(2)),
            (token(Some("AbC=")), token(Some("AbD="))),
        ] {
            let e = same_card(&kept, &given).unwrap_err();
            assert_eq!(e.field, "payment_card");
            assert!(
                e.reason.starts_with("is not the card that paid"),
                "{}",
                e.reason
            );
        }
        let e = same_card(&stored(1), &number("411111", "1111")).unwrap_err();
        assert_eq!(e.field, "payment_card");
        assert!(e.reason.contains("(stored_card_id)"), "{}", e.reason);
        assert!(same_card(&number("411111", "1111"), &token(None)).is_err());
    }

    #[test]
    fn the_card_is_required_when_paid_refused_when_not_and_optional_when_stored() {
        let card: CardChoice =
            serde_json::from_value(json!({"number": "4111111111111111", "expiry_date": "1230"}))
                .unwrap();
        assert!(matches!(resend_card(None, None), Ok(ResendCard::None)));
        let e = resend_card(None, Some(&card)).unwrap_err();
        assert_eq!(e.field, "payment_card");
        let by_number = paid_with(number("411111", "1111"));
        let e = resend_card(Some(&by_number), None).unwrap_err();
        assert_eq!(e.field, "payment_card");
        assert!(e.reason.starts_with("is required"), "{}", e.reason);
        assert!(matches!(
            resend_card(Some(&by_number), Some(&card)),
            Ok(ResendCard::Given(_))
        ));
        assert!(resend_card(Some(&paid_with(token(None))), None).is_err());
        assert!(matches!(
            resend_card(Some(&paid_with(stored(7))), None),
            Ok(ResendCard::Stored(id)) if id == Uuid::from_u128(7)
        ));
    }

    #[test]
    fn a_choice_prints_no_card_data() {
        let choice: TvChoice = serde_json::from_value(json!({
            "tv_package": "SKYPRE60",
            "payment_card": {"number": "5555555555554444", "expiry_date": "1230",
                             "security_code": "7391"},
        }))
        .unwrap();
        let shown = format!("{choice:?}");
        assert!(shown.contains("SKYPRE60"), "{shown}");
        for secret in ["5555555555554444", "7391", "1230"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn a_card_error_is_named_as_the_choice_gives_it() {
        let renamed = as_choice_field(FlowError::Invalid(FieldError::new(
            "payment.card.stored_card_id",
            "is not a stored card of this service",
        )));
        let FlowError::Invalid(e) = renamed else {
            panic!("still a field error");
        };
        assert_eq!(e.field, "payment_card.stored_card_id");
    }
}

//! TV resubmission: Carat answers a TV effectuation with `resubmit_transaction` and the
//! packages it offers (status AGU); the recharge waits `awaiting_choice` until the storefront
//! chooses one, then the effectuation is sent again with the choice as answer 126. The resend
//! is a money-moving call like the first: committed with its own attempt before it goes out, a
//! lost answer resolved by a query, never sent blindly twice.

use serde::Deserialize;
use uuid::Uuid;

use super::{FlowError, Race, RechargeService, detached, why_not};
use crate::carat::wire::DoRechargeResponse;
use crate::domain::recharge::{AnswerCode, AnswerText};
use crate::domain::{
    Actor, Answer, CaratAnswer, CaratStatus, Effectuation, EffectuationInput, FieldError,
    RechargeStatus,
};
use crate::store::{CallRecord, Changes, Guard, Recharge, Step};

/// The question code under which the chosen TV package goes back to Carat.
const TV_PACKAGE_QUESTION: &str = "126";

/// The storefront's choice among the TV packages Carat offered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TvChoice {
    /// Sent as answer 126's description: `< 200 AN`.
    pub tv_package: AnswerText,
}

impl TvChoice {
    /// Whether an effectuation body is a TV package choice: an object with `tv_package`. Any
    /// other body, unreadable ones included, is read (and refused) as an effectuation.
    pub fn is_named_in(body: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|v| v.get("tv_package").is_some())
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
    pub async fn choose_tv_package(
        &self,
        id: Uuid,
        choice: TvChoice,
    ) -> Result<Recharge, FlowError> {
        let this = self.clone();
        detached(async move {
            let actor = Actor::Storefront;
            let choice = &choice;
            this.at_most_twice(id, "choose a TV package", |recharge| {
                Box::pin(this.try_choose(recharge, choice, &actor))
            })
            .await
        })
        .await
    }

    /// One attempt, as `try_effectuate`: a repeat of the same choice answers as the first did;
    /// a choice while the resend is out waits for it.
    async fn try_choose(
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
        // MISSING: a TV recharge paid by card is resubmitted without the card data (never
        // kept), so Carat would refuse its payment; card payments are for the other products.
        self.send_effectuation(
            &recharge,
            &nit,
            effectuation,
            detail,
            if_refused,
            None,
            actor,
        )
        .await
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
                carat_status: Some(carat.to_string()),
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
}

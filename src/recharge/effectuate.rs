//! Effectuation: the call that tops the phone up. Sent at most once per attempt; a lost
//! answer is resolved by querying Carat, never by sending it again.

use serde::Deserialize;
use uuid::Uuid;

use super::{CaratFailure, CaratProblem, FlowError, RechargeService, call_event, why_not};
use crate::carat::CaratError;
use crate::carat::wire::{
    AnswerWire, DealerRef, DoRechargeRequest, DoRechargeResponse, Hashes, Phone,
};
use crate::domain::{
    AmountCents, AmountKey, Answer, CaratStatus, Ddd, DealerCode, DealerTypeCode, GeneralHash,
    PhoneNumber, RechargeStatus,
};
use crate::store::{self, Changes, EffectuationInput, EventKind, Recharge};

/// What the storefront chose. Each field validates its Carat format on deserialisation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectuateRequest {
    pub dealer: DealerChoice,
    pub phone: PhoneChoice,
    pub amount: AmountCents,
    #[serde(default)]
    pub amount_key: Option<AmountKey>,
    #[serde(default)]
    pub answers: Vec<Answer>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealerChoice {
    pub code: DealerCode,
    pub type_code: DealerTypeCode,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneChoice {
    pub ddd: Ddd,
    pub number: PhoneNumber,
}

impl EffectuateRequest {
    fn to_wire(&self, general_hash: &GeneralHash) -> DoRechargeRequest {
        DoRechargeRequest {
            hashes: Some(Hashes {
                general: Some(general_hash.to_string()),
                wallet: None,
            }),
            dealer: DealerRef {
                code: self.dealer.code.to_string(),
                type_code: self.dealer.type_code.to_string(),
                branch: None,
            },
            phone: Some(Phone {
                ddd: self.phone.ddd.to_string(),
                number: self.phone.number.to_string(),
            }),
            amount: self.amount.to_wire(),
            amount_key: self.amount_key.as_ref().map(ToString::to_string),
            answers: (!self.answers.is_empty()).then(|| {
                self.answers
                    .iter()
                    .map(|a| AnswerWire {
                        code: a.code.to_string(),
                        description: a.description.to_string(),
                    })
                    .collect()
            }),
            used_payment_methods: None,
            terminal_type: None,
            cpf: None,
            cnpj: None,
            zip_code: None,
        }
    }

    fn input(&self) -> EffectuationInput {
        EffectuationInput {
            dealer_code: self.dealer.code.to_string(),
            dealer_type_code: self.dealer.type_code.to_string(),
            phone_ddd: self.phone.ddd.to_string(),
            phone_number: self.phone.number.to_string(),
            amount_cents: self.amount.get() as i64,
            amount_key: self.amount_key.as_ref().map(ToString::to_string),
        }
    }

    /// The same effectuation as the one stored: a retry of a request whose answer the
    /// storefront lost.
    fn matches(&self, r: &Recharge) -> bool {
        let i = self.input();
        r.dealer_code.as_deref() == Some(&i.dealer_code)
            && r.dealer_type_code.as_deref() == Some(&i.dealer_type_code)
            && r.phone_ddd.as_deref() == Some(&i.phone_ddd)
            && r.phone_number.as_deref() == Some(&i.phone_number)
            && r.amount_cents == Some(i.amount_cents)
            && r.amount_key == i.amount_key
    }
}

impl RechargeService {
    pub async fn effectuate(
        &self,
        id: Uuid,
        req: EffectuateRequest,
    ) -> Result<Recharge, FlowError> {
        let mut recharge = self.load(id).await?;
        if recharge.status == RechargeStatus::Effectuating {
            recharge = self.resolve_in_doubt(recharge).await?;
        }
        match recharge.status {
            RechargeStatus::Started => {}
            // A repeat of an effectuation that went through answers as the first did.
            s if s != RechargeStatus::Failed
                && s != RechargeStatus::Expired
                && req.matches(&recharge) =>
            {
                return Ok(recharge);
            }
            s => return Err(FlowError::out_of_order(s, why_not(s, "effectuate"))),
        }
        let Some(nit) = recharge.nit.clone() else {
            return Err(FlowError::out_of_order(
                recharge.status,
                why_not(RechargeStatus::Created, "effectuate"),
            ));
        };

        // Committed before the call: from here on, a crash leaves a recharge in doubt that a
        // query resolves, never one that is effectuated twice.
        let changes = Changes {
            effectuation: Some(req.input()),
            call_deadline: Some(self.call_deadline()),
            ..Changes::default()
        };
        let detail = serde_json::json!({
            "dealer": {"code": req.dealer.code, "type_code": req.dealer.type_code},
            "phone": {"ddd": req.phone.ddd, "number": req.phone.number},
            "amount": req.amount.get(),
            "amount_key": req.amount_key,
        });
        let Some(_) = store::recharges::transition(
            &self.pool,
            id,
            RechargeStatus::Started,
            RechargeStatus::Effectuating,
            false,
            changes,
            detail,
        )
        .await?
        else {
            let now = self.load(id).await?;
            return Err(FlowError::out_of_order(
                now.status,
                why_not(now.status, "effectuate"),
            ));
        };

        let result = self
            .carat
            .effectuate(&nit, &req.to_wire(&self.general_hash()))
            .await;
        store::recharges::record_event(
            &self.pool,
            id,
            EventKind::OutboundCall,
            "effectuate",
            call_event(&result),
        )
        .await?;
        match result {
            Ok(answer) => self.effectuation_answered(id, answer).await,
            Err(error) => self.effectuation_failed(id, error).await,
        }
    }

    async fn effectuation_answered(
        &self,
        id: Uuid,
        answer: DoRechargeResponse,
    ) -> Result<Recharge, FlowError> {
        let carat = CaratStatus::parse(answer.status.as_deref().unwrap_or_default());
        let next = RechargeStatus::Effectuating.after_carat_reports(&carat);
        match next {
            Some(RechargeStatus::PendingConfirmation) => {
                let changes = Changes {
                    carat_status: Some(carat.to_string()),
                    esitef_usn: answer.esitef.as_ref().and_then(|e| e.usn.clone()),
                    authorization: answer.authorization.as_ref().map(|a| serde_json::json!(a)),
                    customer_receipt: answer.customer.and_then(|r| r.receipt),
                    merchant_receipt: answer.merchant.and_then(|r| r.receipt),
                    ..Changes::default()
                };
                self.settle(
                    id,
                    RechargeStatus::Effectuating,
                    RechargeStatus::PendingConfirmation,
                    changes,
                )
                .await
            }
            Some(final_status @ (RechargeStatus::Failed | RechargeStatus::Expired)) => {
                // The authorizer's words are the ones that explain a denial.
                let words = answer
                    .host
                    .clone()
                    .filter(|h| h.code.is_some())
                    .or(answer.sitef.clone());
                let code = words.as_ref().and_then(|w| w.code.clone());
                let message = words.and_then(|w| w.message);
                let changes = Changes {
                    carat_status: Some(carat.to_string()),
                    error: Some((code.clone(), message.clone())),
                    ..Changes::default()
                };
                let stored = self
                    .settle(id, RechargeStatus::Effectuating, final_status, changes)
                    .await?;
                let summary = format!(
                    "Carat Portal answered status {carat}{}",
                    message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                );
                let failure = match final_status {
                    RechargeStatus::Failed => CaratFailure::Denied,
                    _ => CaratFailure::Refused,
                };
                let problem =
                    CaratProblem::from_answer(failure, summary, code, message, carat.as_str());
                Err(FlowError::Carat(problem.with_status(stored.status)))
            }
            // A success with a status we cannot act on: find out later by a query.
            _ => {
                let esitef = answer.esitef.unwrap_or_default();
                let problem = CaratProblem::from_answer(
                    CaratFailure::OutcomeUnknown,
                    format!(
                        "Carat Portal answered the effectuation with status {:?}",
                        carat.as_str()
                    ),
                    Some(esitef.code),
                    esitef.message,
                    carat.as_str(),
                );
                Err(self
                    .mark_in_doubt(id, RechargeStatus::Effectuating, problem)
                    .await?)
            }
        }
    }

    async fn effectuation_failed(
        &self,
        id: Uuid,
        error: CaratError,
    ) -> Result<Recharge, FlowError> {
        // A refusal leaves the NIT NOV (unless it says otherwise): the storefront may correct
        // its choice and try again.
        Err(self
            .call_failed(
                id,
                RechargeStatus::Effectuating,
                RechargeStatus::Started,
                error,
            )
            .await?)
    }
}

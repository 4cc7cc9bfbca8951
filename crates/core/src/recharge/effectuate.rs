//! Effectuation: the call that sells (tops the phone up, hands out the PIN...). Sent at most once per attempt; a lost
//! answer is resolved by querying Carat, never by sending it again.

use std::time::Duration;

use super::payment::CardSecrets;
use super::requests::Chosen;
use super::steps::{Race, call_record};
use super::{
    CaratFailure, CaratProblem, FlowError, Opened, Receipts, RechargeService, carat_answer, why_not,
};
use carat_domain::{
    Actor, AmountKey, Answer, CaratAnswer, CaratStatus, DealerCode, DealerTypeCode, Effectuation,
    EffectuationInput, GeneralHash, Nit, RechargeStatus, RechargeType, payment_methods,
};
use carat_store::payments::PaymentWrite;
use carat_store::{self as store, CallRecord, Changes, Guard, NextAttempt, Recharge, Step};
use carat_wire::{
    AnswerWire, BranchRef, DealerRef, DoRechargeRequest, DoRechargeResponse, Hashes, InvoiceWire,
    Phone as WirePhone,
};

/// Carat's `do_recharge_request` for an effectuation of any kind; `card` is the payment's card
/// data, which the stored effectuation never holds.
fn to_wire(
    effectuation: &Effectuation,
    general_hash: &GeneralHash,
    card: Option<&CardSecrets>,
) -> DoRechargeRequest {
    let sold = Sold::of(&effectuation.input);
    let optional = &effectuation.optional;
    DoRechargeRequest {
        hashes: Some(Hashes {
            general: Some(general_hash.to_string()),
            wallet: None,
        }),
        dealer: sold.dealer,
        phone: sold.phone,
        amount: effectuation.input.amount().to_wire(),
        amount_key: sold.amount_key.map(ToString::to_string),
        answers: answers_to_wire(sold.answers),
        invoice: sold.invoice,
        used_payment_methods: optional
            .used_payment_methods
            .as_deref()
            .map(payment_methods::to_wire_list),
        terminal_type: optional.terminal_type.as_ref().map(ToString::to_string),
        cpf: optional.cpf.as_ref().map(ToString::to_string),
        cnpj: optional.cnpj.as_ref().map(ToString::to_string),
        zip_code: optional.zip_code.as_ref().map(ToString::to_string),
        payment: effectuation
            .payment
            .as_ref()
            .map(|p| super::payment::to_wire(p, card)),
    }
}

/// The parts of the request that differ by kind: what is sold, and to whom.
struct Sold<'a> {
    dealer: DealerRef,
    phone: Option<WirePhone>,
    amount_key: Option<&'a AmountKey>,
    answers: &'a [Answer],
    invoice: Option<InvoiceWire>,
}

impl<'a> Sold<'a> {
    fn of(input: &'a EffectuationInput) -> Self {
        match input {
            EffectuationInput::Normal {
                dealer,
                phone,
                amount_key,
                answers,
                ..
            } => Self {
                dealer: dealer_ref(&dealer.code, &dealer.type_code),
                phone: Some(WirePhone {
                    ddd: phone.ddd.to_string(),
                    number: phone.number.to_string(),
                }),
                amount_key: amount_key.as_ref(),
                answers,
                invoice: None,
            },
            EffectuationInput::Others {
                dealer,
                amount_key,
                answers,
                ..
            } => Self {
                dealer: DealerRef {
                    branch: Some(BranchRef {
                        code: dealer.branch.code.to_string(),
                    }),
                    ..dealer_ref(&dealer.code, &dealer.type_code)
                },
                phone: None,
                amount_key: amount_key.as_ref(),
                answers,
                invoice: None,
            },
            EffectuationInput::Invoice {
                dealer, invoice, ..
            } => Self {
                dealer: dealer_ref(&dealer.code, &dealer.type_code),
                phone: None,
                amount_key: None,
                answers: &[],
                invoice: Some(InvoiceWire {
                    bar_code: invoice.bar_code.to_string(),
                    description: invoice.description.to_string(),
                    expiry_date: invoice.expiry_date.to_string(),
                    reference_data: invoice.reference_data.to_string(),
                    echo: invoice.echo.to_string(),
                }),
            },
        }
    }
}

fn dealer_ref(code: &DealerCode, type_code: &DealerTypeCode) -> DealerRef {
    DealerRef {
        code: code.to_string(),
        type_code: type_code.to_string(),
        branch: None,
    }
}

/// The questions' answers, left out when there are none.
fn answers_to_wire(answers: &[Answer]) -> Option<Vec<AnswerWire>> {
    (!answers.is_empty()).then(|| {
        answers
            .iter()
            .map(|a| AnswerWire {
                code: a.code.to_string(),
                description: a.description.to_string(),
            })
            .collect()
    })
}

impl RechargeService {
    pub(super) async fn effectuate_now(
        &self,
        opened: Opened,
        chosen: Chosen,
        actor: &Actor,
    ) -> Result<Recharge, FlowError> {
        let mut effectuation = self.effectuation_of(opened.recharge.id, &chosen).await?;
        // The payment's card data is split off here: only its kept part joins the effectuation.
        let card = match chosen.payment() {
            Some(choice) => {
                let payment = self.payment_of(choice).await?;
                effectuation.payment = Some(payment.input);
                Some(payment.secrets)
            }
            None => None,
        };
        // A request that loses the race to start the call waits for the winner.
        let (chosen, effectuation, card) = (&chosen, &effectuation, card.as_ref());
        self.at_most_twice(opened, "effectuate", |opened| {
            Box::pin(self.try_effectuate(opened, chosen, effectuation, card, actor))
        })
        .await
    }

    /// One attempt: answers a repeat or an identical request in flight, checks the choice
    /// against Carat's listings, then commits the step and sends the call; `Race::Lost` when
    /// another request took the step first.
    async fn try_effectuate(
        &self,
        opened: Opened,
        chosen: &Chosen,
        effectuation: &Effectuation,
        card: Option<&CardSecrets>,
        actor: &Actor,
    ) -> Result<Race<Recharge>, FlowError> {
        // The same effectuation as the one stored: a retry of a request whose answer the
        // storefront lost.
        let matches = |r: &Recharge| r.effectuation() == Some(effectuation);
        let mut recharge = opened.recharge.clone();
        if recharge.status == RechargeStatus::Effectuating {
            if !matches(&recharge) {
                return Err(FlowError::out_of_order(
                    recharge.status,
                    "cannot effectuate: another effectuation of this recharge is in progress \
                     or in doubt; repeat that one, with the same body, to learn its outcome",
                ));
            }
            recharge = self.wait_for_call(recharge).await?;
            if recharge.status == RechargeStatus::Effectuating {
                recharge = self.resolve_in_doubt(recharge, actor).await?;
            }
            // Back where it may be effectuated (the other was refused): once more from a
            // fresh read, whose listings are checked as they are now.
            if recharge.status == RechargeStatus::Started {
                return Ok(Race::Lost);
            }
        }
        match recharge.status {
            RechargeStatus::Started => {}
            // A repeat of an effectuation that went through answers as the first did.
            _ if matches(&recharge) => {
                let stored = self
                    .step_outcome(recharge, RechargeStatus::Effectuating)
                    .await?;
                // Ended in failure by something else than this effectuation: out of order.
                return match stored.status {
                    s @ (RechargeStatus::Failed | RechargeStatus::Expired) => {
                        Err(FlowError::out_of_order(s, why_not(s, "effectuate")))
                    }
                    _ => Ok(Race::Won(stored)),
                };
            }
            s => return Err(FlowError::out_of_order(s, why_not(s, "effectuate"))),
        }
        let Some(nit) = recharge.nit.clone() else {
            return Err(FlowError::out_of_order(
                recharge.status,
                why_not(RechargeStatus::Created, "effectuate"),
            ));
        };
        // The storefront's own mistakes (a dealer, amount or answer Carat did not list for
        // this recharge) are a 422 here, before anything is written or sent.
        self.check_chosen(&opened, &nit, chosen).await?;
        self.check_effectuation_methods(effectuation).await?;
        let detail = serde_json::json!(effectuation);
        // A refusal leaves the NIT NOV (unless it says otherwise): the storefront may correct
        // its choice and try again.
        let if_refused = (CaratStatus::Nov, RechargeStatus::Started);
        self.send_effectuation(
            &recharge,
            &nit,
            effectuation.clone(),
            detail,
            if_refused,
            card,
            actor,
        )
        .await
    }

    /// Commits `effectuation` as the step out of `recharge` into `effectuating` (a new
    /// attempt), then sends it and records Carat's answer; `Race::Lost` when another request
    /// took the step first. A refusal that reports `if_refused.0` (nothing applied) leaves the
    /// recharge in `if_refused.1`.
    #[allow(
        clippy::too_many_arguments,
        reason = "the card data travels beside the step, never in it"
    )]
    pub(super) async fn send_effectuation(
        &self,
        recharge: &Recharge,
        nit: &Nit,
        effectuation: Effectuation,
        detail: serde_json::Value,
        if_refused: (CaratStatus, RechargeStatus),
        card: Option<&CardSecrets>,
        actor: &Actor,
    ) -> Result<Race<Recharge>, FlowError> {
        let general_hash = self.general_hash().await?;
        // Committed before the call: from here on, a crash leaves a recharge in doubt that a
        // query resolves, never one that is effectuated twice.
        // The payment's row is written when there is one to write, or an earlier attempt's to
        // remove: only an effectuation with a payment has one.
        let had_payment = recharge.effectuation().is_some_and(|e| e.payment.is_some());
        let payment = (effectuation.payment.is_some() || had_payment)
            .then(|| PaymentWrite::Sent(effectuation.payment.clone()));
        let step = Step {
            changes: Changes {
                effectuation: Some(effectuation.clone()),
                payment,
                ..Changes::default()
            },
            detail,
            ..self.call_step(recharge, RechargeStatus::Effectuating, Guard::Status, actor)
        };
        let Some(sent) = store::recharges::apply(&self.pool, step).await? else {
            // Someone else started a call first.
            return Ok(Race::Lost);
        };
        self.effectuation_methods_sent(&effectuation).await;
        let exchange = self
            .carat_for(recharge)
            .effectuate(nit, &to_wire(&effectuation, &general_hash, card))
            .await;
        let call = call_record(&exchange);
        match exchange.result {
            Ok(answer) => {
                // The catalogue cache's part (`catalogue_cache.rs`): a new hash replaces it.
                let new_hash = answer.hashes.as_ref().and_then(|h| h.general.clone());
                self.take_payment_methods(&answer).await;
                let outcome = self.effectuation_answered(&sent, actor, call, answer).await;
                self.take_general_hash(new_hash.as_deref()).await;
                outcome.map(Race::Won)
            }
            Err(error) => {
                let (carat, back_to) = if_refused;
                Err(self
                    .call_failed(&sent, actor, &carat, back_to, call, error)
                    .await)
            }
        }
    }

    pub(super) async fn effectuation_answered(
        &self,
        sent: &Recharge,
        actor: &Actor,
        call: CallRecord,
        answer: DoRechargeResponse,
    ) -> Result<Recharge, FlowError> {
        let carat = CaratStatus::parse(answer.status.as_deref().unwrap_or_default());
        let pin_sale = sent.recharge_type == RechargeType::Others;
        let payment = super::payment::answered("effectuation", answer.payment.as_ref(), pin_sale);
        match sent.status.after_carat_reports(&carat) {
            Some(RechargeStatus::PendingConfirmation) => {
                self.sold_pending_confirmation(sent, actor, call, &answer, &carat, payment)
                    .await
            }
            // AGU: Carat offers TV packages (`resubmit.rs`).
            Some(RechargeStatus::AwaitingChoice) => {
                self.awaiting_choice(sent, actor, call, &carat, answer)
                    .await
            }
            Some(end @ (RechargeStatus::Failed | RechargeStatus::Expired)) => {
                let step = Step {
                    changes: Changes {
                        carat_status: Some(carat.clone()),
                        error: Some(denial_words(&answer)),
                        payment,
                        ..Changes::default()
                    },
                    call: Some(call),
                    detail: serde_json::json!({"carat_status": carat.to_string()}),
                    ..self.step(sent, end, guard_of(sent), actor)
                };
                let stored = self.record(step).await?;
                self.step_outcome(stored, sent.status).await
            }
            // A success with a status we cannot act on: find out by a query.
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
                Err(self.mark_in_doubt(sent, actor, call, problem).await)
            }
        }
    }

    /// The sale went through (PPC): its receipts and Carat's answer are recorded, and it
    /// waits for the storefront's confirmation.
    async fn sold_pending_confirmation(
        &self,
        sent: &Recharge,
        actor: &Actor,
        call: CallRecord,
        answer: &DoRechargeResponse,
        carat: &CaratStatus,
        payment: Option<PaymentWrite>,
    ) -> Result<Recharge, FlowError> {
        let (payment_methods_max, send_payment_methods) =
            super::payment_methods::announced_in(answer);
        let pin_sale = sent.recharge_type == RechargeType::Others;
        // A PIN sale's receipts are sealed here and committed with this step, before
        // the storefront hears of the sale.
        let changes = self.receipt_changes(sent, sold_receipts(answer, pin_sale));
        let pin_kept = changes.sealed_receipts.is_some();
        let mut detail = serde_json::json!({"carat_status": carat.to_string()});
        let mut step = Step {
            changes: Changes {
                carat_status: Some(carat.clone()),
                carat_answer: Some(CaratAnswer {
                    payment_methods_max,
                    send_payment_methods: send_payment_methods.then_some(true),
                    ..carat_answer(answer.esitef.as_ref(), answer.authorization.as_ref())
                }),
                payment,
                ..changes
            },
            call: Some(call),
            ..self.step(
                sent,
                RechargeStatus::PendingConfirmation,
                guard_of(sent),
                actor,
            )
        };
        if pin_sale {
            // The history records that the PIN was kept, never its text.
            detail["pin_receipt_kept"] = pin_kept.into();
            if !pin_kept {
                // No PIN to deliver: the reconciler undoes it at once.
                step.next = NextAttempt::In(Duration::ZERO);
            }
        }
        step.detail = detail;
        self.record(step).await
    }
}

/// The effectuation's step is taken only if no other attempt came in between.
fn guard_of(sent: &Recharge) -> Guard {
    Guard::Attempt(sent.attempt)
}

/// The sale's receipts. A PIN sale's PIN may come in the payment's customer receipt: that
/// one is joined to the sale's, to be sealed with it.
fn sold_receipts(answer: &DoRechargeResponse, pin_sale: bool) -> Receipts {
    let receipt = |r: Option<&carat_wire::Receipt>| r.and_then(|r| r.receipt.clone());
    let mut receipts = Receipts {
        customer: receipt(answer.customer.as_ref()),
        merchant: receipt(answer.merchant.as_ref()),
    };
    if pin_sale {
        let paid = receipt(answer.payment.as_ref().and_then(|p| p.customer.as_ref()));
        receipts.customer = match (receipts.customer, paid) {
            (Some(sale), Some(paid)) => Some(format!("{sale}\n{paid}")),
            (sale, paid) => sale.or(paid),
        };
    }
    receipts
}

/// The code and message of a denial: the authorizer's (`host`) when it gave a code, else
/// SiTef's; they are the words that explain it.
fn denial_words(answer: &DoRechargeResponse) -> (Option<String>, Option<String>) {
    let words = answer
        .host
        .clone()
        .filter(|h| h.code.is_some())
        .or(answer.sitef.clone());
    let code = words.as_ref().and_then(|w| w.code.clone());
    (code, words.and_then(|w| w.message))
}

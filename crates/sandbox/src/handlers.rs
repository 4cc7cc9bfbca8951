//! The HTTP endpoints: decode, validate, act on the transaction, answer in the operation's
//! envelope. Every answer, good or bad, is a Carat-style JSON body.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tracing::debug;

use super::errors::{CaratError, Reply};
use super::faults::{self, ConfirmationFault, EffectuationFault, Fault, Operation};
use super::notifier::Channel;
use super::payments::{self, CardPayment, PaymentRecord};
use super::requests::{Confirmation, Decision, Purchase};
use super::state::{Touch, Transaction};
use super::{Shared, authorizer, bills, decode, responses, validate};
use carat_domain::{CaratStatus, RechargeType};
use carat_wire::{
    AuthenticityForm, BeginRechargeResponse, ConfirmRechargeRequest, ConfirmRechargeResponse,
    DoRechargeRequest, DoRechargeResponse, Envelope, GetStatusQuery, GetStatusRechargeResponse,
    ListBranchDataRequest, ListBranchDataResponse, ListBranchesQuery, ListDealersQuery,
    ListDealersResponse,
};

type SharedState = State<Arc<Shared>>;
type NitPath = Result<Path<String>, PathRejection>;

/// When to answer an operation that went through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pace {
    Prompt,
    /// After `slow_answer_delay`: the operation is applied, the answer comes late.
    Slow,
}

/// The answer to a request that went through, as the injected fault it drew wants it.
/// [`Fault::Error500`] is meant to be answered before the request takes effect; here, past
/// that point, it fails like [`Fault::AppliedThen500`] (as it must for read-only operations).
fn after_applying<T>(body: T, pace: Pace, fault: Option<Fault>) -> Result<(T, Pace), CaratError> {
    match fault {
        None => Ok((body, pace)),
        Some(Fault::Slow) => Ok((body, Pace::Slow)),
        Some(Fault::Error500 | Fault::AppliedThen500) => Err(faults::injected_error()),
    }
}

/// Fails a request with an injected [`Fault::Error500`] before it takes effect.
fn unless_error_500(fault: Option<Fault>) -> Result<(), CaratError> {
    match fault {
        Some(Fault::Error500) => Err(faults::injected_error()),
        _ => Ok(()),
    }
}

/// `POST /recharge`.
pub(super) async fn create(
    State(sandbox): SharedState,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = begin(&sandbox, &headers, &body).await;
    answer_at_pace("create", &sandbox, result).await
}

/// `GET /rechargedealers`.
pub(super) async fn list_dealers(
    State(sandbox): SharedState,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let result = dealers(&sandbox, &headers, query.as_deref());
    answer_at_pace("list dealers", &sandbox, result).await
}

/// `GET /rechargebranches`.
pub(super) async fn list_branch_data(
    State(sandbox): SharedState,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let result = branch_data(&sandbox, &headers, query.as_deref());
    answer_at_pace("list branch data", &sandbox, result).await
}

/// `PUT /rechargebranches/{nit}`: branch data of an `others` transaction, or the bill for a
/// bar code of an `invoice` one (by the transaction's recharge type).
pub(super) async fn list_branch_data_by_put(
    State(sandbox): SharedState,
    nit: NitPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Body first, then the NIT, as every check runs (see the module's "Errors").
    let result = decode::json_object(&headers, &body)
        .and_then(decode::envelope::<ListBranchDataRequest>)
        .and_then(|request| path_nit(nit).map(|nit| (nit, request)))
        .and_then(|(nit, request)| branch_data_put(&sandbox, &headers, &nit, &request));
    answer_at_pace("list branch data", &sandbox, result).await
}

/// `PUT /recharge/{nit}`: effectuation or confirmation, by the body's envelope.
pub(super) async fn update(
    State(sandbox): SharedState,
    nit: NitPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match decode::json_object(&headers, &body).and_then(Update::of) {
        Ok(Update::Effectuation(content)) => {
            let result =
                path_nit(nit).and_then(|nit| effectuate(&sandbox, &headers, &nit, content));
            answer_at_pace("effectuation", &sandbox, result).await
        }
        Ok(Update::Confirmation(content)) => {
            let result = path_nit(nit).and_then(|nit| confirm(&sandbox, &headers, &nit, content));
            answer_at_pace("confirmation", &sandbox, result).await
        }
        Err(error) => respond::<DoRechargeResponse>("update", Err(error)),
    }
}

/// `GET /recharge/{nit}` and `GET /recharge/{nit}/`.
pub(super) async fn query(
    State(sandbox): SharedState,
    nit: NitPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let result = status(&sandbox, &headers, nit, query.as_deref());
    answer_at_pace("query", &sandbox, result).await
}

/// `PUT /recharge` without a NIT.
pub(super) async fn update_without_nit() -> Response {
    respond::<DoRechargeResponse>("update", Err(CaratError::nit_missing()))
}

/// `GET /recharge` without a NIT.
pub(super) async fn query_without_nit() -> Response {
    respond::<GetStatusRechargeResponse>("query", Err(CaratError::nit_missing()))
}

/// Creates the transaction, then tells the merchant its NIT by the authenticity POST, before
/// answering: a merchant that does not accept the POST gets code 115 and an INV transaction.
/// An injected fault is drawn once the create is valid; one that lets the POST go out is given
/// back if the POST is refused, since that create would not have succeeded anyway.
async fn begin(
    sandbox: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(BeginRechargeResponse, Pace), CaratError> {
    let request = decode::envelope(decode::json_object(headers, body)?)?;
    let mut order = validate::begin(&request, &sandbox.merchant_key)?;
    order.signed = sandbox.verifier.create(headers, &order)?;
    faults::on_create(order.order_id.as_deref())?;
    let fault = sandbox.injector.take(Operation::Create);
    unless_error_500(fault)?;
    if order.signed {
        // Signature mode: the transaction's data comes back in the answer; no POST.
        let nit = sandbox.ledger.open(order.clone());
        debug!(nit, "sandbox: signed transaction created");
        let answer = responses::begun_signed(
            nit,
            sandbox.merchant_id.to_string(),
            &order,
            sandbox.table.current(),
        );
        return after_applying(answer, Pace::Prompt, fault);
    }
    let mut form = AuthenticityForm {
        nit: None,
        merchant_id: Some(sandbox.merchant_id.to_string()),
        order_id: order.order_id.clone(),
        merchant_usn: order.merchant_usn.clone(),
        general_hash: Some(sandbox.table.current()),
    };
    let nit = sandbox.ledger.open(order);
    debug!(
        nit,
        "sandbox: transaction created, sending the authenticity POST"
    );
    form.nit = Some(nit.clone());
    match sandbox.authenticity.post(&form).await {
        Ok(()) => after_applying(responses::begun(), Pace::Prompt, fault),
        Err(refusal) => {
            sandbox.ledger.invalidate(&nit);
            if let Some(fault) = fault {
                sandbox.injector.give_back(Operation::Create, fault);
            }
            Err(CaratError::authenticity(refusal).with_status(CaratStatus::Inv))
        }
    }
}

fn dealers(
    sandbox: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(ListDealersResponse, Pace), CaratError> {
    let query: ListDealersQuery = decode::query(query)?;
    validate::nit(&query.nit)?;
    validate::general_hash("generalhash", query.generalhash.as_deref())?;
    sandbox.ledger.with_live(&query.nit, Touch::Listing, |tx| {
        signed(sandbox, headers, tx)?;
        tx.require(CaratStatus::Nov, "listing dealers")?;
        tx.note_listing_hash(query.generalhash.as_deref());
        let listed = sandbox.table.listed(query.generalhash.as_deref());
        let fault = sandbox.injector.take(Operation::ListDealers);
        after_applying(responses::dealers(tx, &listed), Pace::Prompt, fault)
    })
}

fn branch_data(
    sandbox: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(ListBranchDataResponse, Pace), CaratError> {
    let query: ListBranchesQuery = decode::query(query)?;
    validate::nit(&query.nit)?;
    sandbox.ledger.with_live(&query.nit, Touch::Listing, |tx| {
        signed(sandbox, headers, tx)?;
        tx.require(CaratStatus::Nov, "listing branch data")?;
        let recharge_type = tx.order.recharge_type;
        if recharge_type != RechargeType::Normal {
            // Carat lists others/invoice branch data with a PUT.
            return Err(CaratError::not_allowed(
                "listing branch data by GET",
                format!("it is for recharge_type normal, this transaction is {recharge_type}"),
            ));
        }
        let dealer = validate::branch_query(&query, recharge_type)?;
        tx.note_listing_hash(query.generalhash.as_deref());
        let listed = sandbox.table.listed(query.generalhash.as_deref());
        let fault = sandbox.injector.take(Operation::ListBranches);
        after_applying(
            responses::branch_data(tx, dealer, &listed),
            Pace::Prompt,
            fault,
        )
    })
}

fn branch_data_put(
    sandbox: &Shared,
    headers: &HeaderMap,
    nit: &str,
    request: &ListBranchDataRequest,
) -> Result<(ListBranchDataResponse, Pace), CaratError> {
    sandbox.ledger.with_live(nit, Touch::Listing, |tx| {
        signed(sandbox, headers, tx)?;
        let recharge_type = tx.order.recharge_type;
        let fault = sandbox.injector.take(Operation::ListBranches);
        match recharge_type {
            RechargeType::Normal => Err(CaratError::not_allowed(
                "listing branch data by PUT",
                "it is for recharge_type others and invoice, this transaction is normal",
            )),
            RechargeType::Invoice => {
                let (_, bar_code) =
                    validate::invoice_listing(request, &sandbox.merchant_key, recharge_type)?;
                tx.require(CaratStatus::Nov, "listing a bill")?;
                let bill = bills::listing(bar_code)?;
                after_applying(
                    responses::bill(tx, bill, &sandbox.table.current()),
                    Pace::Prompt,
                    fault,
                )
            }
            RechargeType::Others => {
                tx.require(CaratStatus::Nov, "listing branch data")?;
                let dealer =
                    validate::branch_data_request(request, &sandbox.merchant_key, recharge_type)?;
                let hash = request.hashes.as_ref().and_then(|h| h.general.as_deref());
                tx.note_listing_hash(hash);
                let listed = sandbox.table.listed(hash);
                after_applying(
                    responses::branch_data(tx, dealer, &listed),
                    Pace::Prompt,
                    fault,
                )
            }
        }
    })
}

/// Counted for any `do_recharge_request` on a known NIT, valid or not. Faults act only on a
/// request that would otherwise succeed; one with a test value draws no injected fault.
fn effectuate(
    sandbox: &Shared,
    headers: &HeaderMap,
    nit: &str,
    content: Value,
) -> Result<(DoRechargeResponse, Pace), CaratError> {
    sandbox.ledger.with_live(nit, Touch::Effectuation, |tx| {
        signed(sandbox, headers, tx)?;
        let request: DoRechargeRequest = decode::content_of(content)?;
        let (purchase, mut payment) = accept_purchase(sandbox, tx, &request)?;
        if purchase.dealer.sells_tv() && purchase.tv_package.is_none() {
            tx.await_choice();
            return Ok((
                responses::awaiting_choice(tx, purchase.dealer, &sandbox.table.current()),
                Pace::Prompt,
            ));
        }
        match course(sandbox, tx, &purchase, &mut payment)? {
            Course::Answered(answer) => Ok((*answer, Pace::Prompt)),
            Course::Sell(pace, fault) => {
                unless_error_500(fault)?;
                sell(tx, &purchase, payment);
                after_applying(
                    responses::approved(tx, &sandbox.table.current()),
                    pace,
                    fault,
                )
            }
        }
    })
}

/// Checks the effectuation (and its payment) against `tx`, and notes what it carried for the
/// tests to see.
fn accept_purchase(
    sandbox: &Shared,
    tx: &mut Transaction,
    request: &DoRechargeRequest,
) -> Result<(Purchase, Option<CardPayment>), CaratError> {
    let purchase = validate::effectuation(request, tx.order.recharge_type)?;
    // A TV recharge waiting for its package takes the effectuation again.
    if !(purchase.dealer.sells_tv() && tx.status == CaratStatus::Agu) {
        tx.require(CaratStatus::Nov, "effectuation")?;
    }
    let payment = request
        .payment
        .as_ref()
        .map(|p| {
            payments::check(
                p,
                &sandbox.merchant_key,
                purchase.amount_cents,
                &sandbox.vault,
            )
        })
        .transpose()?;
    tx.note_answers(purchase.answers.clone());
    tx.note_card(payment.as_ref().map(|p| p.seen.clone()));
    let tim = purchase.recharge_type == RechargeType::Normal && purchase.dealer.code == "004";
    tx.note_payment_methods(purchase.used_payment_methods.clone(), tim);
    Ok((purchase, payment))
}

/// What an effectuation comes to before anything is sold.
enum Course {
    /// Answered now: a denial (by a test value or the issuer). Boxed: the large variant.
    Answered(Box<DoRechargeResponse>),
    /// Sold, at this pace, unless the injected fault says otherwise.
    Sell(Pace, Option<Fault>),
}

/// The test values (by phone number) first, then the card's verdict, then an injected fault.
fn course(
    sandbox: &Shared,
    tx: &mut Transaction,
    purchase: &Purchase,
    payment: &mut Option<CardPayment>,
) -> Result<Course, CaratError> {
    let phone_number = purchase.phone.as_ref().map(|p| p.number.as_str());
    Ok(match faults::on_effectuation(phone_number) {
        Some(EffectuationFault::Denial) => {
            tx.deny();
            Course::Answered(Box::new(responses::denied(tx, &sandbox.table.current())))
        }
        Some(EffectuationFault::EsitefError) => return Err(faults::esitef_error("55")),
        Some(EffectuationFault::InternalError) => return Err(faults::internal_error()),
        Some(EffectuationFault::Slow) => Course::Sell(Pace::Slow, None),
        None => match payment.as_ref().map(|p| p.verdict) {
            // The issuer denied the card: nothing is sold (payment and recharge NEG).
            Some(payments::Verdict::Deny) => {
                tx.deny();
                let record = PaymentRecord::new(payment.take().expect("a verdict has a payment"));
                notify(sandbox, tx, &record);
                let mut answer = responses::denied(tx, &sandbox.table.current());
                answer.payment = Some(record.answer());
                tx.payment = Some(record);
                Course::Answered(Box::new(answer))
            }
            Some(payments::Verdict::ApproveSlowly) => Course::Sell(Pace::Slow, None),
            _ => Course::Sell(Pace::Prompt, sandbox.injector.take(Operation::Effectuate)),
        },
    })
}

/// The authorizer approves the sale: `tx` and its payment move on.
fn sell(tx: &mut Transaction, purchase: &Purchase, payment: Option<CardPayment>) {
    let approval = authorizer::approve(purchase);
    let mut record = payment.map(PaymentRecord::new);
    // Seed 001 "Important": a paid `others` sale's PIN comes in the payment's customer
    // receipt (the sandbox leaves it on the sale's receipt too).
    if let (Some(record), RechargeType::Others) = (record.as_mut(), purchase.recharge_type)
        && let Some(pin) = approval
            .customer_receipt
            .lines()
            .find(|l| l.starts_with("PIN: "))
    {
        record.customer_receipt.push_str(pin);
        record.customer_receipt.push('\n');
    }
    tx.approve(approval);
    tx.payment = record;
}

/// Confirms or undoes a PPC transaction; the confirmation test values hang on the effectuated
/// amount and act only on the PPC → CON step, so an undo always works (unless a fault is
/// injected for it).
fn confirm(
    sandbox: &Shared,
    headers: &HeaderMap,
    nit: &str,
    content: Value,
) -> Result<(ConfirmRechargeResponse, Pace), CaratError> {
    sandbox.ledger.with_live(nit, Touch::Confirmation, |tx| {
        signed(sandbox, headers, tx)?;
        let request: ConfirmRechargeRequest = decode::content_of(content)?;
        let Confirmation {
            decision,
            used_payment_methods,
        } = validate::confirmation(&request, &sandbox.merchant_key)?;
        let (methods, sum) = used_payment_methods.unzip();
        if let (Decision::Confirm, Some(sum), Some(cents)) = (decision, sum, tx.approved_cents()) {
            validate::sums_to(sum, cents)?;
        }
        let test_value = match (decision, &tx.status) {
            (Decision::Confirm, CaratStatus::Ppc) => {
                tx.approved_cents().and_then(faults::on_confirmation)
            }
            _ => None,
        };
        if test_value == Some(ConfirmationFault::InternalError) {
            return Err(faults::internal_error());
        }
        tx.may_settle(decision)?;
        let (pace, fault) = match test_value {
            Some(ConfirmationFault::Slow) => (Pace::Slow, None),
            _ => (Pace::Prompt, sandbox.injector.take(operation(decision))),
        };
        unless_error_500(fault)?;
        let was = tx.status.clone();
        tx.settle(decision)?;
        if decision == Decision::Confirm {
            tx.note_confirmation_methods(methods);
        }
        // Seed 003: the decision acts on the payment too; a change is notified (§6.2).
        let settled = tx.status.clone();
        if was != settled
            && let Some(mut record) = tx.payment.take()
        {
            record.status = settled;
            notify(sandbox, tx, &record);
            tx.payment = Some(record);
        }
        after_applying(responses::settled(tx), pace, fault)
    })
}

/// A status notification (§6.2) of the payment's new status.
fn notify(sandbox: &Shared, tx: &Transaction, record: &PaymentRecord) {
    let form = record.notification(
        &tx.nit,
        tx.order.order_id.as_deref(),
        tx.order.merchant_usn.as_deref(),
    );
    sandbox.notifier.send(Channel::Status, form);
}

fn operation(decision: Decision) -> Operation {
    match decision {
        Decision::Confirm => Operation::Confirm,
        Decision::Undo => Operation::Undo,
    }
}

fn status(
    sandbox: &Shared,
    headers: &HeaderMap,
    nit: NitPath,
    query: Option<&str>,
) -> Result<(GetStatusRechargeResponse, Pace), CaratError> {
    let nit = path_nit(nit)?;
    sandbox.ledger.with_live(&nit, Touch::Query, |tx| {
        signed(sandbox, headers, tx)?;
        let query: GetStatusQuery = decode::query(query)?;
        validate::merchant_key("merchantkey", &query.merchantkey, &sandbox.merchant_key)?;
        let fault = sandbox.injector.take(Operation::Query);
        after_applying(responses::query(tx), Pace::Prompt, fault)
    })
}

/// A call on `tx`: signed as its mode requires ([`super::signature`]), counted when signed.
fn signed(sandbox: &Shared, headers: &HeaderMap, tx: &mut Transaction) -> Result<(), CaratError> {
    if sandbox.verifier.call(headers, &tx.nit, tx.order.signed)? {
        tx.note_signed_call();
    }
    Ok(())
}

/// The two requests that share `PUT /recharge/{nit}`, told apart by their envelope key.
enum Update {
    Effectuation(Value),
    Confirmation(Value),
}

impl Update {
    fn of(mut body: Map<String, Value>) -> Result<Self, CaratError> {
        let effectuation = body.remove(DoRechargeRequest::KEY);
        let confirmation = body.remove(ConfirmRechargeRequest::KEY);
        match (effectuation, confirmation) {
            (Some(content), None) => Ok(Self::Effectuation(content)),
            (None, Some(content)) => Ok(Self::Confirmation(content)),
            (Some(_), Some(_)) => Err(CaratError::malformed(format!(
                "body: holds both {} and {}; send one",
                DoRechargeRequest::KEY,
                ConfirmRechargeRequest::KEY
            ))),
            (None, None) => Err(CaratError::missing(format!(
                "{} or {}",
                DoRechargeRequest::KEY,
                ConfirmRechargeRequest::KEY
            ))),
        }
    }
}

fn path_nit(path: NitPath) -> Result<String, CaratError> {
    let Path(nit) = path.map_err(|e| CaratError::malformed(format!("nit: {}", e.body_text())))?;
    validate::nit(&nit)?;
    Ok(nit)
}

/// Answers, after `slow_answer_delay` when a fault asked for it. The locks are long released.
async fn answer_at_pace<T: Reply>(
    operation: &'static str,
    sandbox: &Shared,
    result: Result<(T, Pace), CaratError>,
) -> Response {
    let result = match result {
        Ok((body, Pace::Slow)) => {
            tokio::time::sleep(sandbox.slow_answer_delay).await;
            Ok(body)
        }
        Ok((body, Pace::Prompt)) => Ok(body),
        Err(error) => Err(error),
    };
    respond(operation, result)
}

fn respond<T: Reply>(operation: &'static str, result: Result<T, CaratError>) -> Response {
    let (http, body) = match result {
        Ok(body) => (StatusCode::OK, body),
        Err(error) => (error.http, error.into_reply::<T>()),
    };
    debug!(
        operation,
        http = http.as_u16(),
        code = body.esitef().map(|e| e.code.as_str()),
        status = body.status(),
        "sandbox answered"
    );
    (http, Json(body.wrap())).into_response()
}

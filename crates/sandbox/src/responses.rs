//! Successful answers, built from a transaction in the shapes of the seed examples.

use super::authorizer::Approval;
use super::catalog::{self, DealerSpec, Listed};
use super::faults;
use super::requests::Order;
use super::state::Transaction;
use super::validate::PAYMENT_METHODS_MAX;
use carat_wire::{
    BeginRechargeResponse, CodeMessage, ConfirmRechargeResponse, DoRechargeResponse, Esitef,
    GetStatusRechargeResponse, Hashes, ListBranchDataResponse, ListDealersResponse, ListedInvoice,
    NamedCode, NamedMethod, PaymentMethods, Receipt,
};

/// The payment methods a store may report in `used_payment_methods`.
const PAYMENT_METHODS: [&str; 2] = ["Dinheiro", "Cartao de Debito"];

// [UNKNOWN] What Carat answers to a listing whose `generalhash` is current is not documented
// (API digest, §3.2). The sandbox leaves the lists out and repeats the hash: the case in which
// a merchant that keeps no cache would have nothing to show, so the service's cache is put to
// the test. (A Carat that sends the full list anyway is a plain listing to the service.)

pub(crate) fn dealers(tx: &Transaction, listed: &Listed) -> ListDealersResponse {
    let dealers = match listed.current {
        true => Vec::new(),
        false => catalog::dealers(tx.order.recharge_type)
            .iter()
            .map(DealerSpec::to_wire)
            .collect(),
    };
    ListDealersResponse {
        status: status(tx),
        esitef: Some(successful()),
        authorizer: Some(code_message("000", "")),
        hashes: Some(hashes(&listed.hash)),
        dealers,
    }
}

pub(crate) fn branch_data(
    tx: &Transaction,
    dealer: &DealerSpec,
    listed: &Listed,
) -> ListBranchDataResponse {
    let answer = ListBranchDataResponse {
        status: status(tx),
        esitef: Some(successful()),
        sitef: Some(CodeMessage {
            code: Some("000".to_owned()),
            message: None,
        }),
        hashes: Some(hashes(&listed.hash)),
        ..Default::default()
    };
    match listed.current {
        true => answer,
        false => ListBranchDataResponse {
            questions: dealer.questions_wire(),
            general: catalog::general_messages(),
            categories: dealer.categories_wire(),
            ..answer
        },
    }
}

/// The bill found for a bar code, in the branch data envelope.
pub(crate) fn bill(
    tx: &Transaction,
    invoice: ListedInvoice,
    general_hash: &str,
) -> ListBranchDataResponse {
    ListBranchDataResponse {
        status: status(tx),
        esitef: Some(successful()),
        hashes: Some(hashes(general_hash)),
        invoice: Some(invoice),
        ..ListBranchDataResponse::default()
    }
}

/// The answer to an approved effectuation.
pub(crate) fn approved(tx: &Transaction, general_hash: &str) -> DoRechargeResponse {
    let approval = tx.approval.as_ref();
    DoRechargeResponse {
        esitef: Some(Esitef {
            usn: approval.map(|a| a.usn.clone()),
            ..successful()
        }),
        sitef: Some(code_message("000", "OK")),
        host: Some(code_message("00", "OK")),
        acquirer: approval.map(|a| a.acquirer.clone()),
        authorization: approval.map(|a| a.authorization.clone()),
        customer: approval.map(customer_receipt),
        merchant: approval.map(merchant_receipt),
        // Test value: Carat asks for the payment methods on the next transaction.
        send_payment_methods: approval
            .is_some_and(|a| a.amount_cents == faults::SEND_PAYMENT_METHODS_AMOUNT)
            .then(|| "true".to_owned()),
        payment: tx.payment.as_ref().map(|p| p.answer()),
        payment_methods: Some(PaymentMethods {
            max: Some(PAYMENT_METHODS_MAX.to_string()),
            available: PAYMENT_METHODS
                .iter()
                .map(|name| NamedMethod {
                    name: (*name).to_owned(),
                })
                .collect(),
        }),
        ..effectuation_base(tx, general_hash)
    }
}

/// A TV effectuation without a package: resend it with one of these as answer 126 (AGU).
pub(crate) fn awaiting_choice(
    tx: &Transaction,
    dealer: &DealerSpec,
    general_hash: &str,
) -> DoRechargeResponse {
    DoRechargeResponse {
        esitef: Some(successful()),
        resubmit_transaction: Some(true),
        tv_package_subscription_codes: dealer.tv_packages.iter().map(|c| (*c).to_owned()).collect(),
        ..effectuation_base(tx, general_hash)
    }
}

/// The answer to an effectuation the authorizer denied: Carat itself worked (code 0).
pub(crate) fn denied(tx: &Transaction, general_hash: &str) -> DoRechargeResponse {
    DoRechargeResponse {
        esitef: Some(successful()),
        sitef: Some(code_message("005", "Transacao negada")),
        host: Some(code_message("05", "TRANSACAO NEGADA")),
        ..effectuation_base(tx, general_hash)
    }
}

pub(crate) fn settled(tx: &Transaction) -> ConfirmRechargeResponse {
    ConfirmRechargeResponse {
        esitef: Some(ok()),
        status: status(tx),
        payment: tx.payment.as_ref().map(|p| p.status_answer()),
    }
}

pub(crate) fn query(tx: &Transaction) -> GetStatusRechargeResponse {
    let approval = tx.approval.as_ref();
    GetStatusRechargeResponse {
        status: status(tx),
        // [INF] The captured query table is cut off after `order_id`, and its example shows
        // `esitef{code,message}` only; the effectuation's answer, which the query's is said to
        // mirror, carries `esitef.usn`. The sandbox answers it once approved, so that a recharge
        // resolved by query is shown with its Carat USN; the service takes it when present.
        esitef: Some(Esitef {
            usn: approval.map(|a| a.usn.clone()),
            ..ok()
        }),
        order_id: tx.order.order_id.clone(),
        merchant_usn: tx.order.merchant_usn.clone(),
        authorizers: vec![NamedCode {
            name: "sitef".to_owned(),
            code: Some("0".to_owned()),
            message: Some("OK".to_owned()),
        }],
        acquirer: approval.map(|a| a.acquirer.clone()),
        authorization: approval.map(|a| a.authorization.clone()),
        customer: approval.map(customer_receipt),
        merchant: approval.map(merchant_receipt),
        payment: tx.payment.as_ref().map(|p| p.answer()),
    }
}

/// The create's answer in authenticity-POST mode: the NIT went by the POST, not here.
pub(crate) fn begun() -> BeginRechargeResponse {
    BeginRechargeResponse {
        esitef: Some(successful()),
        ..Default::default()
    }
}

/// A signed create's answer: the transaction's data, NIT included, since no authenticity POST
/// carries it (seed 002's example).
pub(crate) fn begun_signed(
    nit: String,
    merchant_id: String,
    order: &Order,
    general_hash: String,
) -> BeginRechargeResponse {
    BeginRechargeResponse {
        esitef: Some(successful()),
        nit: Some(nit),
        merchant_id: Some(merchant_id),
        order_id: order.order_id.clone(),
        merchant_usn: order.merchant_usn.clone(),
        general_hash: Some(general_hash),
        ..Default::default()
    }
}

fn effectuation_base(tx: &Transaction, general_hash: &str) -> DoRechargeResponse {
    DoRechargeResponse {
        status: status(tx),
        order_id: tx.order.order_id.clone(),
        merchant_usn: tx.order.merchant_usn.clone(),
        hashes: Some(hashes(general_hash)),
        ..Default::default()
    }
}

fn customer_receipt(approval: &Approval) -> Receipt {
    receipt(&approval.customer_receipt)
}

fn merchant_receipt(approval: &Approval) -> Receipt {
    receipt(&approval.merchant_receipt)
}

fn receipt(text: &str) -> Receipt {
    Receipt {
        total_copies: Some(1),
        receipt: Some(text.to_owned()),
    }
}

fn status(tx: &Transaction) -> Option<String> {
    Some(tx.status.as_str().to_owned())
}

fn hashes(general_hash: &str) -> Hashes {
    Hashes {
        general: Some(general_hash.to_owned()),
        wallet: None,
    }
}

/// `esitef` of create, listings and effectuation, as in the seed examples.
fn successful() -> Esitef {
    esitef("OK. Transaction successful.")
}

/// `esitef` of confirmation and query, as in the seed examples.
fn ok() -> Esitef {
    esitef("OK")
}

fn esitef(message: &str) -> Esitef {
    Esitef {
        code: Esitef::OK.to_owned(),
        message: Some(message.to_owned()),
        usn: None,
    }
}

fn code_message(code: &str, message: &str) -> CodeMessage {
    CodeMessage {
        code: Some(code.to_owned()),
        message: Some(message.to_owned()),
    }
}

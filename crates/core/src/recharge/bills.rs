//! `invoice` (bill payment): the bill is found by its 48-digit bar code, kept as Carat listed
//! it, and effectuated exactly as listed. The storefront names the bill (dealer and bar code)
//! and the amount; the bill's other fields come from the kept listing, never from the
//! storefront.
//!
//! What Carat allows, as this service reads it: a bill is paid whole, for the amount listed
//! (a different amount is the storefront's mistake, a 422 before Carat is called); whether a
//! bill is still payable is Carat's (the biller's) to say when it lists it, so the service
//! checks the due date's format and that it is a real day, not whether it has passed.

use uuid::Uuid;

use super::catalog_check::dealer_number;
use super::requests::InvoiceRequest;
use super::views::{Bill, BillListing, DealerView, ListedDealer};
use super::{CaratFailure, CaratProblem, FlowError, RechargeService};
use carat_domain::effectuation::{
    BarCode, Dealer, Invoice, InvoiceDescription, InvoiceEcho, InvoiceExpiryDate,
    InvoiceReferenceData,
};
use carat_domain::{
    AmountCents, CaratStatus, DealerCode, DealerTypeCode, Effectuation, EffectuationInput,
    FieldError, RechargeStatus,
};
use carat_store as store;
use carat_store::listings::ListingKey;
use carat_wire::{ListBranchDataResponse, ListedInvoice};

/// The stored listing of the bill for `bar_code` from `dealer` (dealer codes compare as
/// numbers, as everywhere).
pub(super) fn bill_listing(dealer: &DealerCode, bar_code: &BarCode) -> ListingKey {
    ListingKey::Bill {
        dealer: dealer_number(dealer.as_str()).unwrap_or_default(),
        bar_code: bar_code.clone(),
    }
}

impl RechargeService {
    /// The effectuation of `req`: the bill kept for its dealer and bar code, for its amount.
    pub(in crate::recharge) async fn invoice_effectuation(
        &self,
        id: Uuid,
        req: &InvoiceRequest,
    ) -> Result<Effectuation, FlowError> {
        let listing = bill_listing(&req.dealer.code, &req.invoice.bar_code);
        let kept = store::listings::find(&self.pool, id, &listing)
            .await?
            .and_then(|body| serde_json::from_value::<BillListing>(body).ok());
        effectuation(req, kept.as_ref()).map_err(FlowError::Invalid)
    }
}

/// The effectuation `req` asks for, against the bill kept for it. Pure.
fn effectuation(
    req: &InvoiceRequest,
    kept: Option<&BillListing>,
) -> Result<Effectuation, FieldError> {
    let bar_code = &req.invoice.bar_code;
    let dealer = req.dealer.code.as_str();
    let Some(kept) = kept else {
        return Err(FieldError::new(
            "invoice.bar_code",
            format!(
                "bar code {bar_code} was not listed for this recharge and dealer {dealer}: list \
                 it first (GET .../branches?dealer_code={dealer}&bar_code={bar_code})"
            ),
        ));
    };
    let type_code = match &kept.dealer.type_code {
        Some(listed)
            if dealer_number(listed.as_str()) != dealer_number(req.dealer.type_code.as_str()) =>
        {
            return Err(FieldError::new(
                "dealer.type_code",
                format!("dealer {dealer} is of type {listed} in Carat's list"),
            ));
        }
        Some(listed) => listed.clone(),
        None => req.dealer.type_code.clone(),
    };
    let bill = &kept.invoice;
    if req.amount != bill.amount {
        return Err(FieldError::new(
            "amount",
            format!(
                "a bill is paid whole: {} cents is not the {} cents Carat listed for bar code \
                 {bar_code}",
                req.amount.get(),
                bill.amount.get()
            ),
        ));
    }
    Ok(Effectuation {
        input: EffectuationInput::Invoice {
            dealer: Dealer {
                code: kept.dealer.code.clone(),
                type_code,
            },
            invoice: Invoice {
                bar_code: bill.bar_code.clone(),
                description: bill.description.clone(),
                expiry_date: bill.expiry_date.clone(),
                reference_data: bill.reference_data.clone(),
                echo: bill.echo.clone(),
            },
            amount: bill.amount,
        },
        optional: req.sale.optional(),
        payment: None,
    })
}

/// Carat's answer as the bill the storefront is shown. A bill missing a field, breaking its
/// format or for another bar code cannot be paid as listed: the field says why.
pub(in crate::recharge) fn bill_view(
    answer: ListBranchDataResponse,
    dealer: &DealerView,
    asked: &BarCode,
) -> Result<BillListing, FieldError> {
    let listed = listed_dealer(dealer)?;
    let bill = bill(answer.invoice.unwrap_or_default())?;
    if &bill.bar_code != asked {
        return Err(FieldError::new(
            "invoice.bar_code",
            format!("is {}, not the bar code asked for", bill.bar_code),
        ));
    }
    Ok(BillListing {
        general_hash: answer.hashes.and_then(|h| h.general),
        messages: answer.general.into_iter().map(|g| g.message).collect(),
        dealer: listed,
        invoice: bill,
    })
}

/// Carat's answer to a bill's listing could not be used (`bill_view`'s reason): nothing is
/// kept, and the storefront hears it as Carat's fault.
pub(in crate::recharge) fn unusable_bill(
    why: FieldError,
    carat_status: &str,
    status: RechargeStatus,
) -> FlowError {
    FlowError::Carat(
        CaratProblem::from_answer(
            CaratFailure::Unavailable,
            format!("Carat Portal listed a bill that cannot be paid as listed: {why}"),
            None,
            None,
            CaratStatus::parse(carat_status).as_str(),
        )
        .with_status(status),
    )
}

fn listed_dealer(dealer: &DealerView) -> Result<ListedDealer, FieldError> {
    let text = |e: carat_domain::FormatError| e.to_string();
    Ok(ListedDealer {
        code: DealerCode::parse(dealer.code.as_str())
            .map_err(|e| FieldError::new("dealers[].code", text(e)))?,
        type_code: dealer
            .type_code
            .as_deref()
            .map(DealerTypeCode::parse)
            .transpose()
            .map_err(|e| FieldError::new("dealers[].type_code", text(e)))?,
    })
}

fn bill(listed: ListedInvoice) -> Result<Bill, FieldError> {
    fn field<T>(
        name: &str,
        value: Option<String>,
        parse: impl FnOnce(String) -> Result<T, String>,
    ) -> Result<T, FieldError> {
        let value =
            value.ok_or_else(|| FieldError::new(format!("invoice.{name}"), "is missing"))?;
        parse(value).map_err(|e| FieldError::new(format!("invoice.{name}"), e))
    }
    let text = |e: carat_domain::FormatError| e.to_string();
    Ok(Bill {
        bar_code: field("bar_code", listed.bar_code, |v| {
            BarCode::parse(v).map_err(text)
        })?,
        description: field("description", listed.description, |v| {
            InvoiceDescription::parse(v).map_err(text)
        })?,
        expiry_date: field("expiry_date", listed.expiry_date, |v| {
            InvoiceExpiryDate::parse(v).map_err(text)
        })?,
        reference_data: field("reference_data", listed.reference_data, |v| {
            InvoiceReferenceData::parse(v).map_err(text)
        })?,
        echo: field("echo", listed.echo, |v| InvoiceEcho::parse(v).map_err(text))?,
        amount: field("amount", listed.amount, |v| {
            AmountCents::from_wire(&v).map_err(|e| e.to_string())
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BAR: &str = "836200000015990000481000000000000000000000012345";

    fn listed() -> ListBranchDataResponse {
        serde_json::from_value(json!({
            "status": "NOV", "esitef": {"code": "0"},
            "invoice": {"bar_code": BAR, "description": "ENERGIA NOV/2026",
                        "expiry_date": "10122026", "reference_data": "UC 4410",
                        "echo": "12345", "amount": "15990"}
        }))
        .unwrap()
    }

    fn dealer() -> DealerView {
        DealerView {
            code: "910".into(),
            name: "ENERGIA SP".into(),
            type_code: Some("04".into()),
            type_name: None,
            branches: vec![],
        }
    }

    fn request(body: serde_json::Value) -> InvoiceRequest {
        serde_json::from_value(body).unwrap()
    }

    fn kept() -> BillListing {
        bill_view(listed(), &dealer(), &BarCode::parse(BAR).unwrap()).unwrap()
    }

    #[test]
    fn the_effectuation_is_the_kept_bill() {
        let req = request(json!({"dealer": {"code": "910", "type_code": "4"},
                                 "invoice": {"bar_code": BAR}, "amount": 15990}));
        let e = effectuation(&req, Some(&kept())).unwrap();
        let stored = serde_json::to_value(&e).unwrap();
        assert_eq!(stored["invoice"]["description"], "ENERGIA NOV/2026");
        assert_eq!(stored["invoice"]["echo"], "12345");
        // The dealer as it was listed, so a repeat with the same choice matches.
        assert_eq!(stored["dealer"], json!({"code": "910", "type_code": "04"}));
    }

    #[test]
    fn a_bill_not_listed_or_another_amount_names_the_field() {
        let req = request(json!({"dealer": {"code": "910", "type_code": "04"},
                                 "invoice": {"bar_code": BAR}, "amount": 15000}));
        assert_eq!(
            effectuation(&req, None).unwrap_err().field,
            "invoice.bar_code"
        );
        assert_eq!(
            effectuation(&req, Some(&kept())).unwrap_err().field,
            "amount"
        );
        let req = request(json!({"dealer": {"code": "910", "type_code": "05"},
                                 "invoice": {"bar_code": BAR}, "amount": 15990}));
        assert_eq!(
            effectuation(&req, Some(&kept())).unwrap_err().field,
            "dealer.type_code"
        );
    }

    #[test]
    fn a_listed_bill_that_breaks_a_format_or_another_bar_code_is_refused() {
        let asked = BarCode::parse(BAR).unwrap();
        let mut bad_date = listed();
        bad_date.invoice.as_mut().unwrap().expiry_date = Some("31022026".into());
        let mut other = listed();
        other.invoice.as_mut().unwrap().bar_code = Some("1".repeat(48));
        let mut none = listed();
        none.invoice = None;
        let fields: Vec<_> = [bad_date, other, none]
            .into_iter()
            .map(|answer| bill_view(answer, &dealer(), &asked).unwrap_err().field)
            .collect();
        assert_eq!(
            fields,
            [
                "invoice.expiry_date",
                "invoice.bar_code",
                "invoice.bar_code"
            ]
        );
    }
}

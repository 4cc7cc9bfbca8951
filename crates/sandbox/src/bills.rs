//! The sandbox's bills (`invoice`), found by their 48-digit bar code: one payable, one
//! expired. Any other well-formed bar code is unknown. The biller is dealer 910, the only
//! `invoice` dealer (listed in `catalog`).
//!
//! Carat, as the sandbox reads it, says whether a bill can be paid when it is looked up: an
//! unknown bar code and an expired bill are refused by the listing (codes 20 and 21), and an
//! effectuation is refused the same way, in case a bill expires between the two. An
//! effectuation pays the bill whole and must carry it exactly as listed (code 8 otherwise).

use chrono::{Days, NaiveDate, Utc};

use super::errors::CaratError;
use carat_domain::effectuation::{
    BarCode, InvoiceDescription, InvoiceEcho, InvoiceExpiryDate, InvoiceReferenceData,
};
use carat_domain::format::check_field;
use carat_wire::{InvoiceWire, ListedInvoice};

/// A payable bill of R$ 159,90, due 30 days after the day it is looked up.
pub const PAYABLE_BAR_CODE: &str = "836900000015990001380000000000000000000000202611";
/// A bill of R$ 45,90 due on 10 January 2025: expired.
pub const EXPIRED_BAR_CODE: &str = "836900000004590001380000000000000000000000202501";

struct Bill {
    bar_code: &'static str,
    description: &'static str,
    /// `None`: 30 days from today.
    due: Option<&'static str>,
    reference_data: &'static str,
    echo: &'static str,
    cents: u64,
}

const BILLS: [Bill; 2] = [
    Bill {
        bar_code: PAYABLE_BAR_CODE,
        description: "ENERGIA SP - CONTA DE CONSUMO",
        due: None,
        reference_data: "UC 4410-7",
        echo: "2026110001",
        cents: 15990,
    },
    Bill {
        bar_code: EXPIRED_BAR_CODE,
        description: "ENERGIA SP - CONTA VENCIDA",
        due: Some("10012025"),
        reference_data: "UC 4410-7",
        echo: "2025010001",
        cents: 4590,
    },
];

impl Bill {
    fn expiry_date(&self, today: NaiveDate) -> String {
        match self.due {
            Some(due) => due.to_owned(),
            None => (today + Days::new(30)).format("%d%m%Y").to_string(),
        }
    }

    fn expired(&self, today: NaiveDate) -> bool {
        NaiveDate::parse_from_str(&self.expiry_date(today), "%d%m%Y").is_ok_and(|d| d < today)
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The payable bill of `bar_code`: code 2 for a bar code that is not `= 48 N`, 20 for an
/// unknown one, 21 for an expired bill.
fn payable(
    field: &'static str,
    bar_code: &str,
    today: NaiveDate,
) -> Result<&'static Bill, CaratError> {
    check_field(field, BarCode::FORMAT, bar_code)?;
    let bill = BILLS
        .iter()
        .find(|b| b.bar_code == bar_code)
        .ok_or_else(|| CaratError::no_bill(field, bar_code))?;
    if bill.expired(today) {
        return Err(CaratError::bill_expired(field, &bill.expiry_date(today)));
    }
    Ok(bill)
}

/// The listing's `invoice`: the bill of `bar_code`, when it can be paid.
pub(crate) fn listing(bar_code: &str) -> Result<ListedInvoice, CaratError> {
    let today = today();
    let bill = payable("invoice.bar_code", bar_code, today)?;
    Ok(ListedInvoice {
        bar_code: Some(bill.bar_code.to_owned()),
        description: Some(bill.description.to_owned()),
        expiry_date: Some(bill.expiry_date(today)),
        reference_data: Some(bill.reference_data.to_owned()),
        echo: Some(bill.echo.to_owned()),
        amount: Some(bill.cents.to_string()),
    })
}

/// An effectuation's `invoice`, which must be a payable bill exactly as listed, for its
/// `amount`: the cents paid.
pub(crate) fn effectuation(invoice: Option<&InvoiceWire>, cents: u64) -> Result<u64, CaratError> {
    let invoice = invoice.ok_or_else(|| {
        CaratError::missing_because("invoice", "mandatory for recharge_type invoice")
    })?;
    check_field(
        "invoice.description",
        InvoiceDescription::FORMAT,
        &invoice.description,
    )?;
    check_field(
        "invoice.expiry_date",
        InvoiceExpiryDate::FORMAT,
        &invoice.expiry_date,
    )?;
    check_field(
        "invoice.reference_data",
        InvoiceReferenceData::FORMAT,
        &invoice.reference_data,
    )?;
    check_field("invoice.echo", InvoiceEcho::FORMAT, &invoice.echo)?;
    let today = today();
    let bill = payable("invoice.bar_code", &invoice.bar_code, today)?;
    let listed = [
        (
            "description",
            bill.description.to_owned(),
            &invoice.description,
        ),
        ("expiry_date", bill.expiry_date(today), &invoice.expiry_date),
        (
            "reference_data",
            bill.reference_data.to_owned(),
            &invoice.reference_data,
        ),
        ("echo", bill.echo.to_owned(), &invoice.echo),
    ];
    for (field, listed, sent) in listed {
        if &listed != sent {
            return Err(CaratError::not_offered(
                &format!("invoice.{field}"),
                format!("is not the bill's as listed ({listed:?})"),
            ));
        }
    }
    if cents != bill.cents {
        return Err(CaratError::not_offered(
            "amount",
            format!("a bill is paid whole: {} cents", bill.cents),
        ));
    }
    Ok(cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bills_by_bar_code() {
        let listed = listing(PAYABLE_BAR_CODE).unwrap();
        assert_eq!(listed.amount.as_deref(), Some("15990"));
        let due = listed.expiry_date.clone().unwrap();
        assert!(InvoiceExpiryDate::parse(due).is_ok());
        assert_eq!(listing(EXPIRED_BAR_CODE).unwrap_err().code, "21");
        assert_eq!(listing(&"1".repeat(48)).unwrap_err().code, "20");
        assert_eq!(listing("123").unwrap_err().code, "2");
    }

    #[test]
    fn an_effectuation_carries_the_bill_as_listed() {
        let listed = listing(PAYABLE_BAR_CODE).unwrap();
        let sent = InvoiceWire {
            bar_code: PAYABLE_BAR_CODE.to_owned(),
            description: listed.description.unwrap(),
            expiry_date: listed.expiry_date.unwrap(),
            reference_data: listed.reference_data.unwrap(),
            echo: listed.echo.unwrap(),
        };
        assert_eq!(effectuation(Some(&sent), 15990), Ok(15990));
        assert_eq!(effectuation(Some(&sent), 15000).unwrap_err().code, "8");
        let changed = InvoiceWire {
            echo: "1".to_owned(),
            ..sent.clone()
        };
        assert_eq!(effectuation(Some(&changed), 15990).unwrap_err().code, "8");
        assert_eq!(effectuation(None, 15990).unwrap_err().code, "3");
    }
}

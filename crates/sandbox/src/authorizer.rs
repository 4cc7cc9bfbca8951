//! The simulated authorizer behind Carat: the numbers and receipts of an approved recharge,
//! in the formats of the effectuation response table (seed 001).

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, FixedOffset, Utc};
use rand::RngExt;

use super::requests::Purchase;
use carat_domain::RechargeType;
use carat_wire::{Acquirer, Authorization};

/// Carat's clock: Brasília, UTC-3 all year since 2019.
const BRASILIA: FixedOffset = match FixedOffset::west_opt(3 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC-3 is a valid offset"),
};

/// `acquirer.branch_code` (`< 5 N`) and `acquirer.merchant_code` (`< 15 N`) of the sandbox.
const ACQUIRER_BRANCH: &str = "00001";
const ACQUIRER_MERCHANT: &str = "000000000012345";

/// What an approved effectuation produced; kept on the transaction for the query.
#[derive(Clone, Debug)]
pub(crate) struct Approval {
    pub amount_cents: u64,
    /// `esitef.usn`, `= 15 N`.
    pub usn: String,
    pub acquirer: Acquirer,
    pub authorization: Authorization,
    pub customer_receipt: String,
    pub merchant_receipt: String,
}

pub(crate) fn approve(purchase: &Purchase) -> Approval {
    approve_at(purchase, Utc::now().with_timezone(&BRASILIA))
}

fn approve_at(purchase: &Purchase, now: DateTime<FixedOffset>) -> Approval {
    let usn = digits(15);
    let authorization = Authorization {
        confirmation_data: Some(digits(12)),
        authorizer_date: Some(now.format("%m%d").to_string()),
        authorizer_time: Some(now.format("%H%M%S").to_string()),
        host_usn: Some(digits(9)),
        sitef_usn: Some(digits(6)),
        number: Some(digits(6)),
    };
    let body = receipt_body(purchase, &usn, &authorization, now);
    // An `others` product is a PIN (or another code) the customer gets on the receipt.
    let pin = match purchase.recharge_type {
        RechargeType::Others => format!("PIN: {}\n", new_pin()),
        RechargeType::Normal | RechargeType::Invoice => String::new(),
    };
    Approval {
        amount_cents: purchase.amount_cents,
        customer_receipt: format!("COMPROVANTE DE RECARGA\nVIA CLIENTE\n{body}{pin}"),
        merchant_receipt: format!("COMPROVANTE DE RECARGA\nVIA ESTABELECIMENTO\n{body}"),
        usn,
        acquirer: Acquirer {
            branch_code: Some(ACQUIRER_BRANCH.to_owned()),
            merchant_code: Some(ACQUIRER_MERCHANT.to_owned()),
        },
        authorization,
    }
}

fn receipt_body(
    purchase: &Purchase,
    usn: &str,
    authorization: &Authorization,
    now: DateTime<FixedOffset>,
) -> String {
    let target = match &purchase.phone {
        Some(phone) => format!("TELEFONE: ({}) {}", phone.ddd, phone.number),
        None => format!("PRODUTO: {}", purchase.dealer.type_name),
    };
    format!(
        "OPERADORA: {}\n{target}\nVALOR: {}\nDATA: {}\nNSU: {usn}\nAUTORIZACAO: {}\n",
        purchase.dealer.name,
        reais(purchase.amount_cents),
        now.format("%d/%m/%Y %H:%M:%S"),
        authorization.number.as_deref().unwrap_or_default(),
    )
}

/// PINs handed out by this process so far: part of every PIN, so none comes twice.
static PINS_ISSUED: AtomicU64 = AtomicU64::new(0);

/// A 16-digit PIN, `dddd-dddd-dddd-dddd`: 8 random digits, then this process's PIN sequence.
fn new_pin() -> String {
    let sequence = PINS_ISSUED.fetch_add(1, Ordering::Relaxed) % 100_000_000;
    let digits = format!("{}{sequence:08}", digits(8));
    let groups: Vec<&str> = (0..4).map(|i| &digits[i * 4..i * 4 + 4]).collect();
    groups.join("-")
}

/// `R$ 30,00` for 3000 cents, as on Brazilian receipts.
fn reais(cents: u64) -> String {
    format!("R$ {},{:02}", cents / 100, cents % 100)
}

fn digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use carat_wire::Phone;
    use std::collections::HashSet;

    #[test]
    fn numbers_and_receipts_follow_the_response_table() {
        let purchase = Purchase {
            recharge_type: RechargeType::Normal,
            dealer: catalog::dealer(RechargeType::Normal, "2").unwrap(),
            phone: Some(Phone {
                ddd: "11".into(),
                number: "987654321".into(),
            }),
            amount_cents: 3000,
            answers: vec![],
            tv_package: None,
            used_payment_methods: None,
        };
        let now = DateTime::parse_from_rfc3339("2025-03-07T09:05:01-03:00").unwrap();
        let a = approve_at(&purchase, now);
        let auth = &a.authorization;
        assert_eq!(a.usn.len(), 15);
        assert_eq!(auth.authorizer_date.as_deref(), Some("0307"));
        assert_eq!(auth.authorizer_time.as_deref(), Some("090501"));
        let number = auth.number.as_deref().unwrap();
        assert!(number.len() == 6 && number.bytes().all(|b| b.is_ascii_digit()));
        for receipt in [&a.customer_receipt, &a.merchant_receipt] {
            assert!(receipt.starts_with("COMPROVANTE DE RECARGA"));
            assert!(receipt.contains("OPERADORA: Claro"), "{receipt}");
            assert!(receipt.contains("(11) 987654321") && receipt.contains("R$ 30,00"));
            assert!(receipt.contains(&a.usn));
            assert!(!receipt.contains("PIN"), "{receipt}");
        }
    }

    #[test]
    fn a_pin_product_receipt_carries_a_new_pin_each_time_for_the_customer_only() {
        let purchase = Purchase {
            recharge_type: RechargeType::Others,
            dealer: catalog::dealer(RechargeType::Others, "905").unwrap(),
            phone: None,
            amount_cents: 1000,
            answers: Vec::new(),
            tv_package: None,
            used_payment_methods: None,
        };
        let pins: HashSet<String> = (0..1000)
            .map(|_| {
                let a = approve(&purchase);
                assert!(
                    !a.merchant_receipt.contains("PIN:"),
                    "{}",
                    a.merchant_receipt
                );
                let line = a.customer_receipt.lines().find(|l| l.starts_with("PIN: "));
                let pin = line.expect("a PIN line").trim_start_matches("PIN: ");
                assert_eq!(pin.len(), 19, "{pin}");
                pin.to_owned()
            })
            .collect();
        assert_eq!(pins.len(), 1000);
    }

    #[test]
    fn formats_reais() {
        assert_eq!(reais(3000), "R$ 30,00");
        assert_eq!(reais(1313), "R$ 13,13");
        assert_eq!(reais(5), "R$ 0,05");
    }
}

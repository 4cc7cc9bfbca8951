//! The test values, as `carat-sandbox --help` prints them: built from the constants the
//! sandbox itself acts on, so the page cannot drift from the behaviour.

use crate::{bills, faults, payments, vault};

/// Every value that makes the sandbox answer other than "approved": (value, where it goes,
/// what it does).
const TEST_VALUES: [(&str, &str, &str); 17] = [
    (
        faults::DENIAL_PHONE,
        "effectuation phone.number",
        "denied: NEG (host 05, sitef 005)",
    ),
    (
        faults::ESITEF_ERROR_PHONE,
        "effectuation phone.number",
        "esitef 55, stays NOV",
    ),
    (
        faults::INTERNAL_ERROR_PHONE,
        "effectuation phone.number",
        "HTTP 500, esitef 99, stays NOV",
    ),
    (
        faults::SLOW_PHONE,
        "effectuation phone.number",
        "applied (PPC), answered after the slow delay",
    ),
    (
        "1313 (cents)",
        "amount, on confirm \"true\"",
        "HTTP 500, esitef 99, stays PPC",
    ),
    (
        "1414 (cents)",
        "amount, on confirm \"true\"",
        "applied (CON), answered after the slow delay",
    ),
    (
        "1515 (cents)",
        "approved effectuation",
        "answered with send_payment_methods \"true\"",
    ),
    (
        "SBX500...",
        "create order_id prefix",
        "HTTP 500, esitef 99, no transaction",
    ),
    (
        "SBXERR...",
        "create order_id prefix",
        "esitef 56, no transaction",
    ),
    (
        bills::PAYABLE_BAR_CODE,
        "invoice.bar_code",
        "a bill of 15990 cents, due in 30 days",
    ),
    (
        bills::EXPIRED_BAR_CODE,
        "invoice.bar_code",
        "an expired bill: esitef 21",
    ),
    (
        "any other 48 digits",
        "invoice.bar_code",
        "no such bill: esitef 20",
    ),
    (
        "4111111111111111",
        "payment.card.number",
        "approved (any Luhn-valid number)",
    ),
    (vault::TEST_TOKEN, "payment.card.token", "approved"),
    (
        payments::DENIED_CARD,
        "payment.card.number / card storage",
        "denied: NEG",
    ),
    (
        payments::SLOW_CARD,
        "payment.card.number",
        "approved, answered after the slow delay",
    ),
    (
        "a number stored before",
        "card storage, same customer_id",
        "DUP",
    ),
];

/// A plain-text table of every value that makes the sandbox answer other than "approved".
pub fn help() -> String {
    let mut out =
        String::from("Test values (docs/sandbox.md has the catalogue and every error code):\n");
    for (value, field, effect) in TEST_VALUES {
        out.push_str(&format!("  {value}\n      {field}: {effect}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_constants_the_sandbox_acts_on() {
        let page = help();
        for value in [
            faults::DENIAL_PHONE,
            bills::PAYABLE_BAR_CODE,
            payments::SLOW_CARD,
        ] {
            assert!(page.contains(value), "{value}");
        }
        assert!(faults::CREATE_INTERNAL_ERROR_PREFIX == "SBX500" && page.contains("SBX500"));
        assert!(faults::CREATE_ESITEF_ERROR_PREFIX == "SBXERR" && page.contains("SBXERR"));
        // The amounts are written out in the table: they must be the ones the sandbox acts on.
        for amount in [
            faults::CONFIRMATION_ERROR_AMOUNT,
            faults::SLOW_CONFIRMATION_AMOUNT,
            faults::SEND_PAYMENT_METHODS_AMOUNT,
        ] {
            assert!(page.contains(&format!("{amount} (cents)")), "{amount}");
        }
    }
}

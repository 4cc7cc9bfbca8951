//! The values a case types in where a storefront's customer would: the phone, the cards, the
//! bar code. Carat gives a merchant its homologation test cards and bills; they come from the
//! environment (`HOMOLOGATION_*`). Against the embedded sandbox each defaults to the sandbox's
//! own test value; against a configured Carat a case whose value is missing is skipped, with
//! the variable to set as its reason. Card values never reach the report or the logs: they go
//! only into the effectuation and storage bodies.

use carat_sandbox::{bills, payments};

/// A card as the runner pays with it. `Debug` prints nothing of it.
#[derive(Clone)]
pub struct TestCard {
    pub number: String,
    /// MMYY.
    pub expiry: String,
    pub security_code: String,
}

impl TestCard {
    /// The card as a payment's `card` body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "number": self.number,
            "expiry_date": self.expiry,
            "security_code": self.security_code,
        })
    }
}

impl std::fmt::Debug for TestCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCard([redacted])")
    }
}

#[derive(Clone, Debug)]
pub struct Inputs {
    pub ddd: String,
    pub phone: String,
    /// Carat's `authorizer_id` for the card payments and the storage (1: Visa, digest §5.4).
    pub authorizer_id: String,
    pub approved_card: Result<TestCard, Missing>,
    pub denied_card: Result<TestCard, Missing>,
    pub bar_code: Result<String, Missing>,
}

/// A value the case needs and the environment does not give: the variable to set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing(pub &'static str);

impl Missing {
    pub fn reason(&self) -> String {
        format!(
            "{} is not set: ask Carat for its homologation test value (docs/going-live.md)",
            self.0
        )
    }
}

impl Inputs {
    /// Reads `HOMOLOGATION_*` through `var`; `sandbox`: the embedded sandbox plays Carat, so
    /// its test values stand in for what is not set.
    pub fn read(var: impl Fn(&str) -> Option<String>, sandbox: bool) -> Self {
        let get = |key: &'static str, sandbox_value: &str| -> Result<String, Missing> {
            match var(key).filter(|v| !v.trim().is_empty()) {
                Some(v) => Ok(v.trim().to_owned()),
                None if sandbox => Ok(sandbox_value.to_owned()),
                None => Err(Missing(key)),
            }
        };
        let card = |number_key: &'static str, sandbox_number: &str| -> Result<TestCard, Missing> {
            Ok(TestCard {
                number: get(number_key, sandbox_number)?,
                expiry: get("HOMOLOGATION_CARD_EXPIRY", "1230")?,
                security_code: get("HOMOLOGATION_CARD_SECURITY_CODE", "123")?,
            })
        };
        let (ddd, phone) = var("HOMOLOGATION_PHONE")
            .map(|p| p.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|p| p.len() >= 10)
            .map(|p| (p[..2].to_owned(), p[2..].to_owned()))
            .unwrap_or_else(|| ("11".to_owned(), "987654321".to_owned()));
        Self {
            ddd,
            phone,
            authorizer_id: var("HOMOLOGATION_AUTHORIZER_ID").unwrap_or_else(|| "1".to_owned()),
            approved_card: card("HOMOLOGATION_CARD_NUMBER", "4111111111111111"),
            denied_card: card("HOMOLOGATION_DENIED_CARD_NUMBER", payments::DENIED_CARD),
            bar_code: get("HOMOLOGATION_BAR_CODE", bills::PAYABLE_BAR_CODE),
        }
    }

    /// Every secret the inputs hold, for the report's own check that it holds none.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        for card in [&self.approved_card, &self.denied_card]
            .into_iter()
            .flatten()
        {
            secrets.push(card.number.clone());
        }
        secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_fills_what_is_not_set_and_a_real_carat_does_not() {
        let none = |_: &str| None;
        let sandbox = Inputs::read(none, true);
        assert_eq!(sandbox.approved_card.unwrap().number, "4111111111111111");
        let real = Inputs::read(none, false);
        assert_eq!(real.bar_code, Err(Missing("HOMOLOGATION_BAR_CODE")));
        assert!(real.approved_card.is_err());
        assert_eq!(
            (real.ddd.as_str(), real.phone.as_str()),
            ("11", "987654321")
        );
    }

    #[test]
    fn a_phone_splits_into_its_area_code_and_number() {
        let phone = |k: &str| (k == "HOMOLOGATION_PHONE").then(|| "(21) 99876-5432".to_owned());
        let inputs = Inputs::read(phone, false);
        assert_eq!(
            (inputs.ddd.as_str(), inputs.phone.as_str()),
            ("21", "998765432")
        );
        assert!(!format!("{:?}", Inputs::read(|_| None, true)).contains("4111"));
    }
}

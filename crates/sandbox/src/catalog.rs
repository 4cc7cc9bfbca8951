//! What the sandbox sells: dealers per recharge type, their branch data (amount ranges, bonus,
//! questions), and the version hash of that table. Static data but the hash, which a test may
//! change; codes compare as numbers (`"1"` is dealer `"001"`), as Carat's own examples mix both
//! spellings.

use std::sync::{Mutex, PoisonError};

use carat_domain::{GeneralHash, RechargeType};
use carat_wire::{self as wire, AmountRange, Category, GeneralMessage, Question};

/// `hashes.general`: the version of this table when the sandbox starts.
pub(crate) const TABLE_HASH: &str = "09A9681D09A9681D";

/// The table's current version (`hashes.general`), which a test may change
/// ([`super::Sandbox::set_general_hash`]) as Carat changes its tables.
#[derive(Debug)]
pub(crate) struct TableVersion(Mutex<String>);

impl Default for TableVersion {
    fn default() -> Self {
        Self(Mutex::new(TABLE_HASH.to_owned()))
    }
}

impl TableVersion {
    pub fn current(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set(&self, hash: GeneralHash) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = hash.as_str().to_owned();
    }

    /// How a listing that carried `sent` is answered.
    pub fn listed(&self, sent: Option<&str>) -> Listed {
        let hash = self.current();
        let current = sent == Some(hash.as_str());
        Listed { hash, current }
    }
}

/// What a listing answers: the table's current hash, and whether the request's hash was that
/// one (then the list is left out, see `responses`).
#[derive(Debug)]
pub(crate) struct Listed {
    pub hash: String,
    pub current: bool,
}

#[derive(Debug)]
pub(crate) struct DealerSpec {
    pub code: &'static str,
    pub name: &'static str,
    pub type_code: &'static str,
    pub type_name: &'static str,
    /// Products of an `others` dealer (`dealer.branch.code`); none for phone top-ups.
    pub branches: &'static [BranchSpec],
    /// Questions whose answers the effectuation must carry.
    pub questions: &'static [QuestionSpec],
    /// A TV dealer's packages: its effectuation without answer 126 is answered AGU with
    /// `resubmit_transaction` and these codes; the one resent with answer 126 is approved.
    pub tv_packages: &'static [&'static str],
}

#[derive(Debug)]
pub(crate) struct BranchSpec {
    pub name: &'static str,
    pub code: &'static str,
}

#[derive(Debug)]
pub(crate) struct QuestionSpec {
    pub id: &'static str,
    pub display: &'static str,
    pub rule: &'static str,
    /// Bounds of the answer's length, in characters.
    pub min: usize,
    pub max: usize,
    pub kind: &'static str,
}

/// One sellable amount (`min == max`) or range, in cents.
#[derive(Debug)]
pub(crate) struct RangeSpec {
    pub key: &'static str,
    pub message: &'static str,
    pub min: u64,
    pub max: u64,
    pub bonus: Option<&'static str>,
    pub bonus_in_percentage: Option<&'static str>,
    pub bonus_expiry_date: Option<&'static str>,
}

const PHONE_TYPE_CODE: &str = "03";
const PHONE_TYPE_NAME: &str = "RECARGA CELULAR";

const fn phone_dealer(code: &'static str, name: &'static str) -> DealerSpec {
    DealerSpec {
        code,
        name,
        type_code: PHONE_TYPE_CODE,
        type_name: PHONE_TYPE_NAME,
        branches: &[],
        questions: &[],
        tv_packages: &[],
    }
}

const FATHERS_NAME: QuestionSpec = QuestionSpec {
    id: "5",
    display: "Qual o nome do seu pai?",
    rule: "3",
    min: 5,
    max: 30,
    kind: "i",
};

/// The TV packages (`< 32 AN`) Sky TV offers.
pub(crate) const TV_PACKAGES: [&str; 3] = ["SKYPRE30", "SKYPRE60", "SKYPRE90"];

/// The seed's normal dealers, and a TV dealer (TV recharges ride the top-up's fields in the
/// sandbox). `type_code` is the sandbox's convention: the real example omits it, but the
/// effectuation requires `dealer.type_code`.
const PHONE_DEALERS: [DealerSpec; 5] = [
    phone_dealer("001", "Vivo"),
    phone_dealer("002", "Claro"),
    phone_dealer("003", "Oi"),
    DealerSpec {
        questions: &[FATHERS_NAME],
        ..phone_dealer("004", "Tim")
    },
    DealerSpec {
        tv_packages: &TV_PACKAGES,
        ..phone_dealer("005", "Sky TV")
    },
];

/// The seed's `others` example.
const PIN_DEALERS: [DealerSpec; 2] = [
    DealerSpec {
        code: "905",
        name: "Vex-PIN",
        type_code: "02",
        type_name: "PIN TELEFONE",
        branches: &[BranchSpec {
            name: "Vex-PIN",
            code: "97200000000",
        }],
        questions: &[],
        tv_packages: &[],
    },
    DealerSpec {
        code: "902",
        name: "TIM-Leste-PIN",
        type_code: "02",
        type_name: "PIN TELEFONE",
        branches: &[BranchSpec {
            name: "TIM-Leste-PIN",
            code: "97001000000",
        }],
        questions: &[],
        tv_packages: &[],
    },
];

/// The billers that `invoice` recharges list; their bills are in `bills`.
const BILLERS: [DealerSpec; 1] = [DealerSpec {
    code: "910",
    name: "ENERGIA SP",
    type_code: "04",
    type_name: "CONTA DE CONSUMO",
    branches: &[],
    questions: &[],
    tv_packages: &[],
}];

/// Every dealer sells the same ranges. Key "4" exists so that the confirmation test amounts
/// (13,13 and 14,14, see `faults`) are sellable.
const RANGES: [RangeSpec; 4] = [
    RangeSpec {
        key: "1",
        message: "RECARGA DE R$ 10,00",
        min: 1000,
        max: 1000,
        bonus: None,
        bonus_in_percentage: None,
        bonus_expiry_date: None,
    },
    RangeSpec {
        key: "2",
        message: "RECARGA DE R$ 20,00 COM BONUS DE R$ 5,00",
        min: 2000,
        max: 2000,
        bonus: Some("500"),
        bonus_in_percentage: None,
        bonus_expiry_date: Some("15"),
    },
    RangeSpec {
        key: "3",
        message: "RECARGA DE R$ 30,00 A R$ 100,00 COM BONUS DE 10%",
        min: 3000,
        max: 10000,
        bonus: None,
        bonus_in_percentage: Some("10"),
        bonus_expiry_date: None,
    },
    RangeSpec {
        key: "4",
        message: "RECARGA DE R$ 10,00 A R$ 20,00",
        min: 1000,
        max: 2000,
        bonus: None,
        bonus_in_percentage: None,
        bonus_expiry_date: None,
    },
];

/// Validity of the credit, in days (probably; the docs do not say).
const EXPIRY_DAYS: &str = "30";

pub(crate) fn dealers(recharge_type: RechargeType) -> &'static [DealerSpec] {
    match recharge_type {
        RechargeType::Normal => &PHONE_DEALERS,
        RechargeType::Others => &PIN_DEALERS,
        RechargeType::Invoice => &BILLERS,
    }
}

/// The dealer of `recharge_type` whose code is numerically `code`.
pub(crate) fn dealer(recharge_type: RechargeType, code: &str) -> Option<&'static DealerSpec> {
    dealers(recharge_type)
        .iter()
        .find(|d| same_number(d.code, code))
}

/// `"1" == "001"`; anything that is not a number matches nothing.
pub(crate) fn same_number(a: &str, b: &str) -> bool {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

impl DealerSpec {
    pub fn ranges(&self) -> &'static [RangeSpec] {
        &RANGES
    }

    pub fn range(&self, key: &str) -> Option<&'static RangeSpec> {
        self.ranges().iter().find(|r| r.key == key)
    }

    pub fn offers(&self, cents: u64) -> bool {
        self.ranges().iter().any(|r| r.contains(cents))
    }

    pub fn sells_tv(&self) -> bool {
        !self.tv_packages.is_empty()
    }

    pub fn has_branch(&self, code: &str) -> bool {
        self.branches.iter().any(|b| b.code == code)
    }

    pub fn to_wire(&self) -> wire::Dealer {
        wire::Dealer {
            name: self.name.to_owned(),
            code: self.code.to_owned(),
            type_name: Some(self.type_name.to_owned()),
            type_code: Some(self.type_code.to_owned()),
            branches: self
                .branches
                .iter()
                .map(|b| wire::Branch {
                    name: b.name.to_owned(),
                    code: b.code.to_owned(),
                })
                .collect(),
        }
    }

    pub fn questions_wire(&self) -> Vec<Question> {
        self.questions.iter().map(QuestionSpec::to_wire).collect()
    }

    pub fn categories_wire(&self) -> Vec<Category> {
        vec![Category {
            code: "01".to_owned(),
            description: "RECARGA".to_owned(),
            amount_ranges: self.ranges().iter().map(RangeSpec::to_wire).collect(),
        }]
    }
}

/// The free message shown with every branch data answer.
pub(crate) fn general_messages() -> Vec<GeneralMessage> {
    vec![GeneralMessage {
        message: "MENSAGEM DE TESTE".to_owned(),
    }]
}

impl QuestionSpec {
    fn to_wire(&self) -> Question {
        Question {
            id: self.id.to_owned(),
            display: self.display.to_owned(),
            rule: Some(self.rule.to_owned()),
            min: Some(self.min.to_string()),
            max: Some(self.max.to_string()),
            kind: Some(self.kind.to_owned()),
        }
    }
}

impl RangeSpec {
    pub fn contains(&self, cents: u64) -> bool {
        (self.min..=self.max).contains(&cents)
    }

    fn to_wire(&self) -> AmountRange {
        AmountRange {
            message: Some(self.message.to_owned()),
            amount_key: Some(self.key.to_owned()),
            bonus_in_percentage: self.bonus_in_percentage.map(str::to_owned),
            bonus: self.bonus.map(str::to_owned),
            payment_amount: Some(self.min.to_string()),
            bonus_category: None,
            expiry_date: Some(EXPIRY_DAYS.to_owned()),
            bonus_expiry_date: self.bonus_expiry_date.map(str::to_owned),
            min_amount: Some(self.min.to_string()),
            max_amount: Some(self.max.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dealer_codes_compare_as_numbers() {
        assert_eq!(
            dealer(RechargeType::Normal, "1").map(|d| d.name),
            Some("Vivo")
        );
        assert_eq!(
            dealer(RechargeType::Normal, "004").map(|d| d.name),
            Some("Tim")
        );
        assert!(dealer(RechargeType::Normal, "905").is_none());
        assert!(dealer(RechargeType::Others, "905").is_some());
        assert!(!same_number("", "0"));
    }

    #[test]
    fn only_tim_asks_questions() {
        for d in dealers(RechargeType::Normal) {
            assert_eq!(d.questions.is_empty(), d.code != "004", "{}", d.name);
        }
    }

    #[test]
    fn only_the_current_hash_is_current() {
        let version = TableVersion::default();
        assert!(version.listed(Some(TABLE_HASH)).current);
        assert!(!version.listed(None).current);
        assert!(!version.listed(Some("0000000000000000")).current);
        version.set(GeneralHash::parse("AF32810AAF32810A").unwrap());
        let listed = version.listed(Some(TABLE_HASH));
        assert_eq!(
            (listed.hash.as_str(), listed.current),
            ("AF32810AAF32810A", false)
        );
    }

    #[test]
    fn the_fault_amounts_are_sellable() {
        let vivo = dealer(RechargeType::Normal, "1").unwrap();
        assert!(vivo.offers(1313) && vivo.offers(1414));
        assert!(!vivo.offers(2500) && !vivo.offers(999) && !vivo.offers(10001));
    }
}

//! An effectuation against what Carat listed for its recharge: the dealer among the dealers
//! (and, for `others`, the branch among that dealer's branches), the amount inside a listed
//! range (the one of its `amount_key`, when given), an answer of the asked length to every
//! question. A mismatch is the storefront's own mistake, named by its field in the
//! effectuation's body. Pure: no I/O.
//!
//! Only what the listing says is held against the request: a range whose bounds Carat did not
//! give as whole cents, or a listing without ranges, leaves the amount for Carat to judge.

use super::views::{AmountRangeView, BranchData, DealerView, Dealers};
use carat_domain::{
    AmountCents, AmountKey, Answer, BranchCode, DealerCode, DealerTypeCode, Effectuation,
    EffectuationInput, FieldError,
};

/// Dealer codes compare as numbers: Carat's examples write dealer 1 as `1` and as `001`.
pub(super) fn dealer_number(code: &str) -> Option<u16> {
    code.trim().parse().ok()
}

fn same_number(a: &str, b: &str) -> bool {
    matches!((dealer_number(a), dealer_number(b)), (Some(a), Some(b)) if a == b)
}

/// What an effectuation of a listed product chose, whatever its kind: the parts held against
/// the listings.
#[derive(Debug)]
pub(super) struct Choice<'a> {
    pub dealer: &'a DealerCode,
    pub type_code: &'a DealerTypeCode,
    /// `others`: the product, one of the dealer's branches.
    pub branch: Option<&'a BranchCode>,
    pub amount: AmountCents,
    pub amount_key: Option<&'a AmountKey>,
    pub answers: &'a [Answer],
    /// The listing the branch data came from, in words: "dealer 1 and DDD 11".
    pub whose: String,
}

impl<'a> Choice<'a> {
    /// `None` for an `invoice`: a bill is not chosen from the dealers' products.
    pub fn of(effectuation: &'a Effectuation) -> Option<Self> {
        match &effectuation.input {
            EffectuationInput::Normal {
                dealer,
                phone,
                amount,
                amount_key,
                answers,
            } => Some(Self {
                dealer: &dealer.code,
                type_code: &dealer.type_code,
                branch: None,
                amount: *amount,
                amount_key: amount_key.as_ref(),
                answers,
                whose: format!(
                    "dealer {} and DDD {}",
                    dealer.code.as_str(),
                    phone.ddd.as_str()
                ),
            }),
            EffectuationInput::Others {
                dealer,
                amount,
                amount_key,
                answers,
            } => Some(Self {
                dealer: &dealer.code,
                type_code: &dealer.type_code,
                branch: Some(&dealer.branch.code),
                amount: *amount,
                amount_key: amount_key.as_ref(),
                answers,
                whose: format!(
                    "dealer {} and branch {}",
                    dealer.code.as_str(),
                    dealer.branch.code.as_str()
                ),
            }),
            EffectuationInput::Invoice { .. } => None,
        }
    }
}

/// `dealer.code` among the listed dealers, `dealer.type_code` that dealer's type when the
/// list gives one, and `dealer.branch.code` one of its branches.
pub(super) fn dealer(req: &Choice<'_>, listed: &Dealers) -> Result<(), FieldError> {
    let dealer = listed_dealer(req.dealer, listed)?;
    if let Some(type_code) = &dealer.type_code
        && !same_number(type_code, req.type_code.as_str())
    {
        return Err(FieldError::new(
            "dealer.type_code",
            format!(
                "dealer {} is of type {type_code} in Carat's list",
                dealer.code
            ),
        ));
    }
    match req.branch {
        Some(branch) => listed_branch(dealer, branch),
        None => Ok(()),
    }
}

/// An `others` product: the listed dealer whose branch `branch` is.
pub(super) fn product(
    code: &DealerCode,
    branch: &BranchCode,
    listed: &Dealers,
) -> Result<DealerView, FieldError> {
    let dealer = listed_dealer(code, listed)?;
    listed_branch(dealer, branch)?;
    Ok(dealer.clone())
}

pub(super) fn listed_dealer<'a>(
    code: &DealerCode,
    listed: &'a Dealers,
) -> Result<&'a DealerView, FieldError> {
    let code = code.as_str();
    listed
        .dealers
        .iter()
        .find(|d| same_number(&d.code, code))
        .ok_or_else(|| {
            let codes: Vec<&str> = listed.dealers.iter().map(|d| d.code.as_str()).collect();
            FieldError::new(
                "dealer.code",
                format!(
                    "dealer {code} is not one Carat listed for this recharge ({})",
                    codes.join(", ")
                ),
            )
        })
}

fn listed_branch(dealer: &DealerView, branch: &BranchCode) -> Result<(), FieldError> {
    if dealer.branches.iter().any(|b| b.code == branch.as_str()) {
        return Ok(());
    }
    let codes: Vec<&str> = dealer.branches.iter().map(|b| b.code.as_str()).collect();
    Err(FieldError::new(
        "dealer.branch.code",
        format!(
            "branch {} is not one Carat listed for dealer {} ({})",
            branch.as_str(),
            dealer.code,
            codes.join(", ")
        ),
    ))
}

/// The amount, its key and the answers against the branch data listed for the request's
/// dealer (and DDD, or branch).
pub(super) fn branch_data(req: &Choice<'_>, listed: &BranchData) -> Result<(), FieldError> {
    amount(req, listed)?;
    answers(req, listed)
}

fn amount(req: &Choice<'_>, listed: &BranchData) -> Result<(), FieldError> {
    let cents = req.amount.get();
    let ranges: Vec<&AmountRangeView> = listed
        .categories
        .iter()
        .flat_map(|c| &c.amount_ranges)
        .collect();
    let whose = &req.whose;
    if let Some(key) = req.amount_key {
        let Some(range) = ranges
            .iter()
            .find(|r| r.amount_key.as_deref() == Some(key.as_str()))
        else {
            let keys: Vec<&str> = ranges
                .iter()
                .filter_map(|r| r.amount_key.as_deref())
                .collect();
            return Err(FieldError::new(
                "amount_key",
                format!(
                    "{key} is not an amount key Carat listed for {whose} ({})",
                    keys.join(", ")
                ),
            ));
        };
        return match contains(range, cents) {
            Some(false) => Err(FieldError::new(
                "amount",
                format!(
                    "{cents} cents is outside amount_key {key}'s range, {}",
                    in_words(range)
                ),
            )),
            _ => Ok(()),
        };
    }
    let verdicts: Vec<Option<bool>> = ranges.iter().map(|r| contains(r, cents)).collect();
    if verdicts.is_empty() || verdicts.iter().any(|v| *v != Some(false)) {
        return Ok(());
    }
    let listed: Vec<String> = ranges.iter().map(|r| in_words(r)).collect();
    Err(FieldError::new(
        "amount",
        format!(
            "{cents} cents is in no amount range Carat listed for {whose} ({})",
            listed.join("; ")
        ),
    ))
}

/// Whether the range holds `cents`; `None` when Carat did not give both bounds.
fn contains(range: &AmountRangeView, cents: u64) -> Option<bool> {
    Some((range.min_amount?..=range.max_amount?).contains(&cents))
}

fn in_words(range: &AmountRangeView) -> String {
    match (range.min_amount, range.max_amount) {
        (Some(min), Some(max)) if min == max => format!("{min} cents"),
        (Some(min), Some(max)) => format!("{min} to {max} cents"),
        _ => "bounds not given".to_owned(),
    }
}

/// An answer to every question, as long as the question allows. The field is named by the
/// question's id (`answers[5]`), which is the answer's `code`: the storefront knows its
/// questions by id, not by where it put their answers. An answer's own format (`code < 20 AN`,
/// `description < 200 AN`) was checked when the body was read.
fn answers(req: &Choice<'_>, listed: &BranchData) -> Result<(), FieldError> {
    for question in &listed.questions {
        let field = format!("answers[{}]", question.id);
        let Some(answer) = req.answers.iter().find(|a| a.code.as_str() == question.id) else {
            return Err(FieldError::new(
                field,
                format!(
                    "Carat asks question {} ({}) for dealer {}: answer it with code {}",
                    question.id,
                    question.display,
                    req.dealer.as_str(),
                    question.id
                ),
            ));
        };
        let length = answer.description.as_str().chars().count();
        let min = question.min_length.map_or(0, |n| n as usize);
        let max = question.max_length.map_or(usize::MAX, |n| n as usize);
        if !(min..=max).contains(&length) {
            let bounds = match (question.min_length, question.max_length) {
                (Some(min), Some(max)) => format!("{min} to {max}"),
                (Some(min), None) => format!("at least {min}"),
                (None, _) => format!("at most {max}"),
            };
            return Err(FieldError::new(
                format!("{field}.description"),
                format!(
                    "must be {bounds} characters for question {} (found {length})",
                    question.id
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recharge::views::{BranchView, CategoryView, DealerView, QuestionView};

    /// An effectuation as stored: `body` is its kind's part.
    fn request(kind: &str, mut body: serde_json::Value) -> Effectuation {
        body["kind"] = kind.into();
        if body.get("amount_key") == Some(&serde_json::Value::Null) {
            body.as_object_mut().unwrap().remove("amount_key");
        }
        serde_json::from_value(body).unwrap()
    }

    fn top_up_of(dealer: &str, type_code: &str, amount: u64, key: Option<&str>) -> Effectuation {
        request(
            "normal",
            serde_json::json!({
                "dealer": {"code": dealer, "type_code": type_code},
                "phone": {"ddd": "11", "number": "987654321"},
                "amount": amount,
                "amount_key": key,
            }),
        )
    }

    fn top_up(dealer: &str, amount: u64, key: Option<&str>) -> Effectuation {
        top_up_of(dealer, "03", amount, key)
    }

    fn pin(dealer: &str, branch: &str) -> Effectuation {
        request(
            "others",
            serde_json::json!({
                "dealer": {"code": dealer, "type_code": "02", "branch": {"code": branch}},
                "amount": 1000,
            }),
        )
    }

    fn choice(e: &Effectuation) -> Choice<'_> {
        Choice::of(e).unwrap()
    }

    fn dealers() -> Dealers {
        let dealer = |code: &str, type_code: Option<&str>| DealerView {
            code: code.into(),
            name: format!("D{code}"),
            type_code: type_code.map(Into::into),
            type_name: None,
            branches: vec![],
        };
        let pins = DealerView {
            type_name: Some("PIN TELEFONE".into()),
            branches: vec![BranchView {
                code: "97200000000".into(),
                name: "Vex-PIN".into(),
            }],
            ..dealer("905", Some("02"))
        };
        Dealers {
            general_hash: None,
            dealers: vec![dealer("001", Some("03")), dealer("2", None), pins],
        }
    }

    fn range(key: &str, min: Option<u64>, max: Option<u64>) -> AmountRangeView {
        AmountRangeView {
            amount_key: Some(key.into()),
            message: None,
            min_amount: min,
            max_amount: max,
            payment_amount: min,
            bonus: None,
            bonus_in_percentage: None,
            bonus_category: None,
            expiry_date: None,
            bonus_expiry_date: None,
        }
    }

    fn listing(ranges: Vec<AmountRangeView>, questions: Vec<QuestionView>) -> BranchData {
        BranchData {
            general_hash: None,
            questions,
            messages: vec![],
            categories: vec![CategoryView {
                code: "01".into(),
                description: "RECARGA".into(),
                amount_ranges: ranges,
            }],
        }
    }

    fn sandbox_like() -> BranchData {
        listing(
            vec![
                range("1", Some(1000), Some(1000)),
                range("3", Some(3000), Some(10000)),
            ],
            vec![],
        )
    }

    fn check_branch(e: &Effectuation, data: &BranchData) -> Result<(), FieldError> {
        branch_data(&choice(e), data)
    }

    fn field(result: Result<(), FieldError>) -> String {
        result.unwrap_err().field.into_owned()
    }

    #[test]
    fn the_dealer_must_be_listed_and_of_its_type() {
        let check = |e: Effectuation| dealer(&choice(&e), &dealers());
        assert!(check(top_up("1", 1000, None)).is_ok());
        assert!(check(top_up("002", 1000, None)).is_ok());
        let unknown = check(top_up("009", 1000, None)).unwrap_err();
        assert_eq!(unknown.field, "dealer.code");
        assert_eq!(
            unknown.reason,
            "dealer 009 is not one Carat listed for this recharge (001, 2, 905)"
        );
        assert_eq!(
            field(check(top_up_of("001", "02", 1000, None))),
            "dealer.type_code"
        );
        // Dealer 2 is listed without a type: any type passes, Carat judges it.
        assert!(check(top_up_of("2", "02", 1000, None)).is_ok());
    }

    #[test]
    fn a_pin_product_must_be_one_of_its_dealers_branches() {
        let check = |e: Effectuation| dealer(&choice(&e), &dealers());
        assert!(check(pin("905", "97200000000")).is_ok());
        let e = check(pin("905", "97001000000")).unwrap_err();
        assert_eq!(e.field, "dealer.branch.code");
        assert_eq!(
            e.reason,
            "branch 97001000000 is not one Carat listed for dealer 905 (97200000000)"
        );
        let data = sandbox_like();
        let e = branch_data(&choice(&pin("905", "97200000000")), &data);
        assert!(e.is_ok(), "{e:?}");
        let mut other_amount = pin("905", "97200000000");
        if let EffectuationInput::Others { amount, .. } = &mut other_amount.input {
            *amount = AmountCents::new(2500).unwrap();
        }
        let e = branch_data(&choice(&other_amount), &data).unwrap_err();
        assert!(
            e.reason.contains("dealer 905 and branch 97200000000"),
            "{}",
            e.reason
        );
    }

    #[test]
    fn the_amount_key_must_be_listed_and_hold_the_amount() {
        let data = sandbox_like();
        assert!(check_branch(&top_up("1", 3000, Some("3")), &data).is_ok());
        let e = check_branch(&top_up("1", 3000, Some("7")), &data).unwrap_err();
        assert_eq!(e.field, "amount_key");
        assert_eq!(
            e.reason,
            "7 is not an amount key Carat listed for dealer 1 and DDD 11 (1, 3)"
        );
        let e = check_branch(&top_up("1", 2500, Some("3")), &data).unwrap_err();
        assert_eq!(e.field, "amount");
        assert_eq!(
            e.reason,
            "2500 cents is outside amount_key 3's range, 3000 to 10000 cents"
        );
    }

    #[test]
    fn without_a_key_the_amount_must_be_in_some_range() {
        let data = sandbox_like();
        assert!(check_branch(&top_up("1", 1000, None), &data).is_ok());
        assert!(check_branch(&top_up("1", 10000, None), &data).is_ok());
        let e = check_branch(&top_up("1", 2500, None), &data).unwrap_err();
        assert_eq!(e.field, "amount");
        assert_eq!(
            e.reason,
            "2500 cents is in no amount range Carat listed for dealer 1 and DDD 11 \
             (1000 cents; 3000 to 10000 cents)"
        );
    }

    #[test]
    fn what_the_listing_does_not_say_is_left_to_carat() {
        let unbounded = listing(vec![range("8", Some(1000), None)], vec![]);
        assert!(check_branch(&top_up("1", 5, Some("8")), &unbounded).is_ok());
        assert!(check_branch(&top_up("1", 5, None), &unbounded).is_ok());
        let empty = listing(vec![], vec![]);
        assert!(check_branch(&top_up("1", 5, None), &empty).is_ok());
        assert_eq!(
            field(check_branch(&top_up("1", 5, Some("1")), &empty)),
            "amount_key"
        );
    }

    #[test]
    fn every_question_needs_an_answer_of_its_length() {
        let question = QuestionView {
            id: "5".into(),
            display: "Qual o nome do seu pai?".into(),
            rule: None,
            min_length: Some(5),
            max_length: Some(30),
            input_type: None,
        };
        let data = listing(vec![range("1", Some(1000), Some(1000))], vec![question]);
        let with_answers = |answers: serde_json::Value| {
            request(
                "normal",
                serde_json::json!({
                    "dealer": {"code": "004", "type_code": "03"},
                    "phone": {"ddd": "11", "number": "987654321"},
                    "amount": 1000,
                    "answers": answers,
                }),
            )
        };
        let branch_data = |e: &Effectuation, data: &BranchData| branch_data(&choice(e), data);
        let e = branch_data(&with_answers(serde_json::json!([])), &data).unwrap_err();
        assert_eq!(e.field, "answers[5]");
        assert!(e.reason.contains("question 5"), "{}", e.reason);
        let short = serde_json::json!([{"code": "1", "description": "x"}, {"code": "5", "description": "Jo"}]);
        let e = branch_data(&with_answers(short), &data).unwrap_err();
        assert_eq!(e.field, "answers[5].description");
        assert_eq!(
            e.reason,
            "must be 5 to 30 characters for question 5 (found 2)"
        );
        let good = serde_json::json!([{"code": "5", "description": "Joaquim José"}]);
        assert!(branch_data(&with_answers(good), &data).is_ok());
    }

    #[test]
    fn dealer_numbers_ignore_leading_zeros() {
        assert_eq!(dealer_number("001"), Some(1));
        assert_eq!(dealer_number("905"), Some(905));
        assert_eq!(dealer_number("x"), None);
        assert!(!same_number("x", "x"));
    }
}

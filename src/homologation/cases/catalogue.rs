//! What a case sells, chosen from what Carat's listings offer: a dealer, a product, an amount
//! and the answers to its questions. Pure: the listings come in, a choice goes out.

use serde_json::{Value, json};

use carat_core::recharge::{AmountRangeView, BranchData, DealerView, Dealers, QuestionView};

/// Whether a dealer sells TV packages. [INF] Carat's dealers listing has no field for it
/// (digest §3.2); a TV dealer is known by its name or type name ("TV", "Sky"). A wrong guess
/// shows: the case fails when Carat answers anything but AGU.
pub fn sells_tv(dealer: &DealerView) -> bool {
    let named = |text: &str| {
        let upper = text.to_uppercase();
        upper
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == "TV" || w == "SKY")
    };
    named(&dealer.name) || dealer.type_name.as_deref().is_some_and(named)
}

/// The phone dealers, TV dealers apart.
pub fn phone_dealers(dealers: &Dealers) -> Vec<&DealerView> {
    dealers.dealers.iter().filter(|d| !sells_tv(d)).collect()
}

pub fn tv_dealer(dealers: &Dealers) -> Option<&DealerView> {
    dealers.dealers.iter().find(|d| sells_tv(d))
}

/// The first product (a dealer's branch) an `others` listing offers.
pub fn first_product(dealers: &Dealers) -> Option<(&DealerView, &str)> {
    dealers
        .dealers
        .iter()
        .find_map(|d| d.branches.first().map(|b| (d, b.code.as_str())))
}

/// An amount Carat listed, with its key: the first range's least amount. Amounts the sandbox
/// turns into faults on purpose are stepped over.
pub fn amount(data: &BranchData) -> Option<(u64, Option<String>)> {
    let ranges = data.categories.iter().flat_map(|c| c.amount_ranges.iter());
    ranges.filter_map(pick).next()
}

fn pick(range: &AmountRangeView) -> Option<(u64, Option<String>)> {
    let cents = range
        .min_amount
        .or(range.payment_amount)
        .or(range.max_amount)?;
    let cents = if cents == 0 { range.max_amount? } else { cents };
    let sandbox_fault = [1313, 1414, 1515].contains(&cents);
    let cents = match (sandbox_fault, range.max_amount) {
        (true, Some(max)) if max > cents => cents + 1,
        _ => cents,
    };
    Some((cents, range.amount_key.clone()))
}

/// An answer to each question, within its length and of its input type: what a customer
/// would type. [INF] `input_type` and `rule` are free text in the listing (digest §3.3); a
/// type naming numbers gets digits, any other letters.
pub fn answers(questions: &[QuestionView]) -> Vec<Value> {
    questions
        .iter()
        .map(|q| json!({"code": q.id, "description": answer(q)}))
        .collect()
}

fn answer(question: &QuestionView) -> String {
    let numeric = [&question.input_type, &question.rule].iter().any(|t| {
        t.as_deref().is_some_and(|t| {
            let t = t.to_lowercase();
            t.starts_with('n') || t.contains("num") || t.contains("0-9") || t.contains("\\d")
        })
    });
    let min = question.min_length.unwrap_or(1).max(1) as usize;
    let max = question
        .max_length
        .map_or(usize::MAX, |m| m.max(1) as usize);
    let length = 8.clamp(min, max.max(min));
    let alphabet = if numeric { "1234567890" } else { "HOMOLOGACAO" };
    alphabet.chars().cycle().take(length).collect()
}

/// The `payment` of an effectuation body, paying `amount` with `card` (a card's body).
pub fn payment(amount: u64, authorizer_id: &str, card: Value) -> Value {
    json!({
        "amount": amount,
        "authorizer_id": authorizer_id,
        "installment": {"number": 1, "type": "4"},
        "card": card,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use carat_core::recharge::CategoryView;

    fn dealer(name: &str, type_name: &str) -> DealerView {
        DealerView {
            code: "1".into(),
            name: name.into(),
            type_code: Some("03".into()),
            type_name: Some(type_name.into()),
            branches: vec![],
        }
    }

    #[test]
    fn a_tv_dealer_is_known_by_its_words_not_by_letters_inside_one() {
        assert!(sells_tv(&dealer("Sky TV", "RECARGA")));
        assert!(sells_tv(&dealer("Claro", "TV PRE-PAGA")));
        assert!(!sells_tv(&dealer("Vivo", "RECARGA TELEFONE")));
        assert!(!sells_tv(&dealer("Skyline", "Tvx")));
    }

    #[test]
    fn the_amount_is_the_first_listed_range_and_steps_over_the_sandbox_faults() {
        let range = |min, max| AmountRangeView {
            amount_key: Some("7".into()),
            message: None,
            min_amount: Some(min),
            max_amount: Some(max),
            payment_amount: None,
            bonus: None,
            bonus_in_percentage: None,
            bonus_category: None,
            expiry_date: None,
            bonus_expiry_date: None,
        };
        let data = |ranges| BranchData {
            general_hash: None,
            questions: vec![],
            messages: vec![],
            categories: vec![CategoryView {
                code: "1".into(),
                description: "x".into(),
                amount_ranges: ranges,
            }],
        };
        assert_eq!(
            amount(&data(vec![range(1000, 5000)])),
            Some((1000, Some("7".into())))
        );
        assert_eq!(amount(&data(vec![range(1515, 5000)])).unwrap().0, 1516);
        assert_eq!(amount(&data(vec![])), None);
    }

    #[test]
    fn answers_fit_the_questions_length_and_type() {
        let question = |input_type: &str, min, max| QuestionView {
            id: "42".into(),
            display: "?".into(),
            rule: None,
            min_length: Some(min),
            max_length: Some(max),
            input_type: Some(input_type.into()),
        };
        let answered = answers(&[question("N", 11, 11), question("A", 1, 3)]);
        assert_eq!(answered[0]["description"], "12345678901");
        assert_eq!(answered[1]["description"], "HOM");
        assert_eq!(answered[0]["code"], "42");
    }
}

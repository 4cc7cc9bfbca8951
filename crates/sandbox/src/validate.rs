//! Field checks of every request, per the seed tables. Formats come from `domain` (the
//! documented `= n` / `< n` rules); the first failing field answers: code 2 for a format,
//! 3 for a missing field, 4 for a merchant key that is not the configured one, 8 for a
//! well-formed value the catalogue does not offer.

use super::bills;
use super::catalog::{self, DealerSpec};
use super::errors::CaratError;
use super::requests::{Confirmation, Decision, Order, Purchase};
use carat_domain::format::check_field;
use carat_domain::payment_methods::{UsedPaymentMethod, WireError};
use carat_domain::recharge::{AmountCents, AnswerCode, AnswerText};
use carat_domain::{
    AmountKey, BranchCode, Charset, Ddd, DealerCode, DealerTypeCode, FieldError, Format,
    GeneralHash, MerchantUsn, Nit, OrderId, RechargeType, Secret,
};
use carat_wire::{
    AnswerWire, BeginRechargeRequest, ConfirmRechargeRequest, DealerRef, DoRechargeRequest,
    ListBranchDataRequest, ListBranchesQuery, Phone,
};

/// `merchant_key`, `< 80 A` on create and `< 80 AN` elsewhere: letters and digits either way.
const MERCHANT_KEY: Format = Format::at_most(80, Charset::Alphanumeric);
const DOCUMENT: Format = Format::at_most(20, Charset::Alphanumeric);
const ZIP_CODE: Format = Format::at_most(9, Charset::Alphanumeric);
/// `phone.number` as Carat documents it; the merchant's [`PhoneNumber`] is stricter (8 or 9).
const PHONE_NUMBER: Format = Format::at_most(9, Charset::Numeric);
const TERMINAL_TYPE: Format = Format::exactly(2, Charset::Numeric);
const TERMINAL_TYPES: [&str; 5] = ["01", "02", "03", "04", "05"];
/// `payment_methods.max` as the sandbox announces it: at most that many entries.
pub(crate) const PAYMENT_METHODS_MAX: usize = 2;

/// A NIT in a path or query: absent or empty is code 1, otherwise `= 64 AN`.
pub(crate) fn nit(value: &str) -> Result<(), CaratError> {
    if value.is_empty() {
        return Err(CaratError::nit_missing());
    }
    Ok(check_field("nit", Nit::FORMAT, value)?)
}

/// The merchant key's format, then its value: only the configured key is accepted.
pub(crate) fn merchant_key(
    field: &'static str,
    value: &str,
    expected: &Secret,
) -> Result<(), CaratError> {
    check_field(field, MERCHANT_KEY, value)?;
    if value != expected.expose() {
        return Err(CaratError::merchant_key(field));
    }
    Ok(())
}

pub(crate) fn general_hash(field: &'static str, value: Option<&str>) -> Result<(), CaratError> {
    Ok(optional(field, GeneralHash::FORMAT, value)?)
}

pub(crate) fn begin(request: &BeginRechargeRequest, key: &Secret) -> Result<Order, CaratError> {
    merchant_key("merchant_key", &request.merchant_key, key)?;
    optional(
        "merchant_usn",
        MerchantUsn::FORMAT,
        request.merchant_usn.as_deref(),
    )?;
    optional("order_id", OrderId::FORMAT, request.order_id.as_deref())?;
    general_hash("general_hash", request.general_hash.as_deref())?;
    let recharge_type = match request.recharge_type.as_deref() {
        None => RechargeType::Normal,
        Some(value) => RechargeType::parse(value)
            .ok_or_else(|| FieldError::new("recharge_type", "must be normal, others or invoice"))?,
    };
    Ok(Order {
        order_id: request.order_id.clone(),
        merchant_usn: request.merchant_usn.clone(),
        recharge_type,
        general_hash: request.general_hash.clone(),
        signed: false,
    })
}

/// An invoice's branch data request (the body is an assumption, see the wire type): merchant
/// key, recharge type, dealer, and the bar code asked for; the bill itself is `bills::listing`'s.
pub(crate) fn invoice_listing<'r>(
    request: &'r ListBranchDataRequest,
    key: &Secret,
    recharge_type: RechargeType,
) -> Result<(&'static DealerSpec, &'r str), CaratError> {
    merchant_key("merchant_key", &request.merchant_key, key)?;
    if RechargeType::parse(&request.recharge_type) != Some(recharge_type) {
        return Err(FieldError::new(
            "recharge_type",
            format!("must be this transaction's, {recharge_type}"),
        )
        .into());
    }
    check_field("dealer.code", DealerCode::FORMAT, &request.dealer.code)?;
    let type_code = request.dealer.type_code.as_deref();
    optional("dealer.type_code", DealerTypeCode::FORMAT, type_code)?;
    let spec = offered_dealer("dealer.code", &request.dealer.code, recharge_type)?;
    if type_code.is_some_and(|t| !catalog::same_number(spec.type_code, t)) {
        return Err(CaratError::not_offered(
            "dealer.type_code",
            format!("dealer {} is of type {}", spec.code, spec.type_code),
        ));
    }
    let bar_code = request.invoice.as_ref().ok_or_else(|| {
        CaratError::missing_because("invoice.bar_code", "a bill is listed by its bar code")
    })?;
    Ok((spec, &bar_code.bar_code))
}

/// The branch data query's formats, then its dealer.
pub(crate) fn branch_query(
    query: &ListBranchesQuery,
    recharge_type: RechargeType,
) -> Result<&'static DealerSpec, CaratError> {
    check_field("ddd", Ddd::FORMAT, &query.ddd)?;
    check_field("dealercode", DealerCode::FORMAT, &query.dealercode)?;
    general_hash("generalhash", query.generalhash.as_deref())?;
    offered_dealer("dealercode", &query.dealercode, recharge_type)
}

/// `list_branch_data_request` (the body is the service's assumption, see the wire type): the
/// merchant key, the transaction's own `recharge_type`, then its dealer as an effectuation's
/// (for `others`, a branch of that dealer).
pub(crate) fn branch_data_request(
    request: &ListBranchDataRequest,
    key: &Secret,
    recharge_type: RechargeType,
) -> Result<&'static DealerSpec, CaratError> {
    merchant_key("merchant_key", &request.merchant_key, key)?;
    if RechargeType::parse(&request.recharge_type) != Some(recharge_type) {
        return Err(CaratError::not_offered(
            "recharge_type",
            format!(
                "{:?} is not this transaction's recharge_type, {recharge_type}",
                request.recharge_type
            ),
        ));
    }
    let hash = request.hashes.as_ref().and_then(|h| h.general.as_deref());
    general_hash("hashes.general", hash)?;
    let listed = &request.dealer;
    let type_code = listed
        .type_code
        .clone()
        .ok_or_else(|| CaratError::missing("dealer.type_code"))?;
    dealer(
        &DealerRef {
            code: listed.code.clone(),
            type_code,
            branch: listed.branch.clone(),
        },
        recharge_type,
    )
}

pub(crate) fn effectuation(
    request: &DoRechargeRequest,
    recharge_type: RechargeType,
) -> Result<Purchase, CaratError> {
    let hash = request.hashes.as_ref().and_then(|h| h.general.as_deref());
    general_hash("hashes.general", hash)?;
    let dealer = dealer(&request.dealer, recharge_type)?;
    phone(request.phone.as_ref(), recharge_type)?;
    let amount_cents = match recharge_type {
        RechargeType::Invoice => bills::effectuation(request.invoice.as_ref(), cents(request)?)?,
        RechargeType::Normal | RechargeType::Others => amount(request, dealer)?,
    };
    answers(request.answers.as_deref(), dealer)?;
    let tv_package = tv_package(request.answers.as_deref(), dealer)?;
    terminal_type(request.terminal_type.as_deref())?;
    optional("cpf", DOCUMENT, request.cpf.as_deref())?;
    optional("cnpj", DOCUMENT, request.cnpj.as_deref())?;
    optional("zip_code", ZIP_CODE, request.zip_code.as_deref())?;
    let methods = used_payment_methods(request.used_payment_methods.as_deref())?;
    if let Some((_, sum)) = &methods {
        sums_to(*sum, amount_cents)?;
    }
    Ok(Purchase {
        recharge_type,
        dealer,
        phone: request.phone.clone(),
        amount_cents,
        answers: request
            .answers
            .iter()
            .flatten()
            .map(|a| (a.code.clone(), a.description.clone()))
            .collect(),
        tv_package,
        used_payment_methods: methods.map(|(entries, _)| entries),
    })
}

pub(crate) fn confirmation(
    request: &ConfirmRechargeRequest,
    key: &Secret,
) -> Result<Confirmation, CaratError> {
    merchant_key("merchant_key", &request.merchant_key, key)?;
    let decision = match request.confirm.as_str() {
        "true" => Decision::Confirm,
        "false" => Decision::Undo,
        _ => return Err(FieldError::new("confirm", "must be \"true\" or \"false\"").into()),
    };
    Ok(Confirmation {
        decision,
        used_payment_methods: used_payment_methods(request.used_payment_methods.as_deref())?,
    })
}

/// Sandbox convention (code 22): the amounts of `used_payment_methods` must sum to the
/// transaction's amount, the consistency seed 001 leaves to the store.
pub(crate) fn sums_to(sum: u64, amount_cents: u64) -> Result<(), CaratError> {
    if sum == amount_cents {
        return Ok(());
    }
    Err(CaratError::payment_methods_sum(sum, amount_cents))
}

fn optional(field: &'static str, format: Format, value: Option<&str>) -> Result<(), FieldError> {
    value.map_or(Ok(()), |v| check_field(field, format, v))
}

fn offered_dealer(
    field: &str,
    code: &str,
    recharge_type: RechargeType,
) -> Result<&'static DealerSpec, CaratError> {
    catalog::dealer(recharge_type, code).ok_or_else(|| {
        CaratError::not_offered(
            field,
            format!("dealer {code} is not offered for recharge_type {recharge_type}"),
        )
    })
}

/// `dealer.code`, `dealer.type_code` and, for `others`, `dealer.branch.code`.
fn dealer(
    dealer: &DealerRef,
    recharge_type: RechargeType,
) -> Result<&'static DealerSpec, CaratError> {
    check_field("dealer.code", DealerCode::FORMAT, &dealer.code)?;
    check_field(
        "dealer.type_code",
        DealerTypeCode::FORMAT,
        &dealer.type_code,
    )?;
    if let Some(branch) = &dealer.branch {
        check_field("dealer.branch.code", BranchCode::FORMAT, &branch.code)?;
    }
    let spec = offered_dealer("dealer.code", &dealer.code, recharge_type)?;
    if !catalog::same_number(spec.type_code, &dealer.type_code) {
        return Err(CaratError::not_offered(
            "dealer.type_code",
            format!("dealer {} is of type {}", spec.code, spec.type_code),
        ));
    }
    // A phone top-up or a bill needs no product; the seed's normal example still sends one,
    // so it is only format-checked there.
    if recharge_type == RechargeType::Others {
        let branch = dealer.branch.as_ref().ok_or_else(|| {
            CaratError::missing_because(
                "dealer.branch.code",
                format!("mandatory for recharge_type {recharge_type}"),
            )
        })?;
        if !spec.has_branch(&branch.code) {
            return Err(CaratError::not_offered(
                "dealer.branch.code",
                format!(
                    "branch {} is not one of dealer {}'s",
                    branch.code, spec.code
                ),
            ));
        }
    }
    Ok(spec)
}

fn phone(phone: Option<&Phone>, recharge_type: RechargeType) -> Result<(), CaratError> {
    match phone {
        Some(phone) => {
            check_field("phone.ddd", Ddd::FORMAT, &phone.ddd)?;
            check_field("phone.number", PHONE_NUMBER, &phone.number)?;
            Ok(())
        }
        None if recharge_type == RechargeType::Normal => Err(CaratError::missing_because(
            "phone",
            "mandatory for recharge_type normal",
        )),
        None => Ok(()),
    }
}

/// `amount` in cents, inside one of the dealer's ranges, or inside `amount_key`'s range.
fn amount(request: &DoRechargeRequest, dealer: &DealerSpec) -> Result<u64, CaratError> {
    let cents = cents(request)?;
    let Some(key) = request.amount_key.as_deref() else {
        if dealer.offers(cents) {
            return Ok(cents);
        }
        return Err(CaratError::not_offered(
            "amount",
            format!(
                "{cents} cents is outside every amount range of dealer {}",
                dealer.code
            ),
        ));
    };
    check_field("amount_key", AmountKey::FORMAT, key)?;
    let range = dealer.range(key).ok_or_else(|| {
        CaratError::not_offered(
            "amount_key",
            format!("{key} is not an amount key of dealer {}", dealer.code),
        )
    })?;
    if !range.contains(cents) {
        return Err(CaratError::not_offered(
            "amount",
            format!(
                "{cents} cents is outside amount_key {key}'s range {}..{}",
                range.min, range.max
            ),
        ));
    }
    Ok(cents)
}

fn cents(request: &DoRechargeRequest) -> Result<u64, FieldError> {
    Ok(AmountCents::from_wire(&request.amount)
        .map_err(|e| FieldError::new("amount", e))?
        .get())
}

/// Every answer well-formed; one per question of the dealer, of the length it asks for.
fn answers(answers: Option<&[AnswerWire]>, dealer: &DealerSpec) -> Result<(), CaratError> {
    if let (None, Some(question)) = (answers, dealer.questions.first()) {
        return Err(CaratError::missing_because(
            "answers",
            format!("dealer {} asks question {}", dealer.code, question.id),
        ));
    }
    let given = answers.unwrap_or_default();
    for (i, answer) in given.iter().enumerate() {
        AnswerCode::FORMAT
            .check(&answer.code)
            .map_err(|e| FieldError::new(format!("answers[{i}].code"), e))?;
        AnswerText::FORMAT
            .check(&answer.description)
            .map_err(|e| FieldError::new(format!("answers[{i}].description"), e))?;
    }
    for question in dealer.questions {
        let (i, answer) = given
            .iter()
            .enumerate()
            .find(|(_, a)| a.code == question.id)
            .ok_or_else(|| {
                CaratError::missing_because(
                    "answers",
                    format!("no answer to question {}", question.id),
                )
            })?;
        let length = answer.description.chars().count();
        if !(question.min..=question.max).contains(&length) {
            return Err(FieldError::new(
                format!("answers[{i}].description"),
                format!(
                    "must be {} to {} characters for question {} (found {length})",
                    question.min, question.max, question.id
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// Answer 126, the TV package chosen: one the dealer offers, and only to a TV dealer.
fn tv_package(
    answers: Option<&[AnswerWire]>,
    dealer: &DealerSpec,
) -> Result<Option<String>, CaratError> {
    let Some((i, answer)) = answers
        .unwrap_or_default()
        .iter()
        .enumerate()
        .find(|(_, a)| a.code == TV_PACKAGE_ANSWER)
    else {
        return Ok(None);
    };
    if !dealer.tv_packages.contains(&answer.description.as_str()) {
        return Err(CaratError::not_offered(
            &format!("answers[{i}].description"),
            format!(
                "{:?} is not a TV package dealer {} offers",
                answer.description, dealer.code
            ),
        ));
    }
    Ok(Some(answer.description.clone()))
}

/// The answer code that carries a TV package chosen among `tv_package_subscription_codes`.
const TV_PACKAGE_ANSWER: &str = "126";

fn terminal_type(value: Option<&str>) -> Result<(), FieldError> {
    let Some(value) = value else { return Ok(()) };
    check_field("terminal_type", TERMINAL_TYPE, value)?;
    if !TERMINAL_TYPES.contains(&value) {
        return Err(FieldError::new(
            "terminal_type",
            "must be 01 (POS), 02 (TU), 03 (TAS), 04 (Internet) or 05 (POS-Sitef)",
        ));
    }
    Ok(())
}

/// Entries `Type:Amount[:Id:Data-Id:Data...]` (the domain's codec,
/// [`carat_domain::payment_methods`]), at most `payment_methods.max` of them: the entries as
/// sent and their amounts' sum.
fn used_payment_methods(
    entries: Option<&[String]>,
) -> Result<Option<(Vec<String>, u64)>, FieldError> {
    let Some(entries) = entries else {
        return Ok(None);
    };
    if entries.len() > PAYMENT_METHODS_MAX {
        return Err(FieldError::new(
            "used_payment_methods",
            format!("at most {PAYMENT_METHODS_MAX} entries (payment_methods.max)"),
        ));
    }
    let mut sum = 0u64;
    for (i, entry) in entries.iter().enumerate() {
        let method = payment_method(entry).map_err(|reason| {
            FieldError::new(
                format!("used_payment_methods[{i}]"),
                format!("must be Type:Amount[:Id:Data-Id:Data...]: {reason}"),
            )
        })?;
        sum = sum.saturating_add(method.amount.get());
    }
    Ok(Some((entries.to_vec(), sum)))
}

fn payment_method(entry: &str) -> Result<UsedPaymentMethod, WireError> {
    UsedPaymentMethod::from_wire(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use carat_wire::{BranchRef, Hashes};

    fn request() -> DoRechargeRequest {
        DoRechargeRequest {
            hashes: Some(Hashes {
                general: Some(catalog::TABLE_HASH.into()),
                wallet: None,
            }),
            dealer: DealerRef {
                code: "1".into(),
                type_code: "03".into(),
                branch: None,
            },
            phone: Some(Phone {
                ddd: "11".into(),
                number: "987654321".into(),
            }),
            amount: "3000".into(),
            amount_key: Some("3".into()),
            answers: None,
            invoice: None,
            used_payment_methods: Some(vec!["00:1000".into(), "05:2000:1:5-2:123456789".into()]),
            terminal_type: Some("04".into()),
            cpf: None,
            cnpj: None,
            zip_code: Some("01310100".into()),
            payment: None,
        }
    }

    fn rejects(change: impl FnOnce(&mut DoRechargeRequest)) -> CaratError {
        let mut r = request();
        change(&mut r);
        effectuation(&r, RechargeType::Normal).unwrap_err()
    }

    #[test]
    fn accepts_the_seed_like_request() {
        let p = effectuation(&request(), RechargeType::Normal).unwrap();
        assert_eq!((p.dealer.name, p.amount_cents), ("Vivo", 3000));
    }

    #[test]
    fn names_the_field_and_rule() {
        let e = rejects(|r| r.phone.as_mut().unwrap().ddd = "123".into());
        assert_eq!(e.code, "2");
        assert_eq!(e.message, "phone.ddd: must be exactly 2 digits (found 3)");
        let e = rejects(|r| r.dealer.type_code = "3x".into());
        assert!(
            e.message
                .starts_with("dealer.type_code: must be at most 2 digits;"),
            "{}",
            e.message
        );
        assert_eq!(rejects(|r| r.terminal_type = Some("06".into())).code, "2");
        assert_eq!(rejects(|r| r.amount = "0".into()).code, "2");
        assert_eq!(rejects(|r| r.zip_code = Some("01310-100".into())).code, "2");
    }

    #[test]
    fn catalogue_values_are_code_8() {
        assert_eq!(rejects(|r| r.dealer.code = "9".into()).code, "8");
        assert_eq!(rejects(|r| r.dealer.type_code = "2".into()).code, "8");
        assert_eq!(rejects(|r| r.amount_key = Some("9".into())).code, "8");
        assert_eq!(rejects(|r| r.amount_key = Some("1".into())).code, "8");
        let e = rejects(|r| {
            r.amount = "2500".into();
            r.amount_key = None;
        });
        assert_eq!(e.code, "8");
    }

    #[test]
    fn conditional_fields_follow_the_recharge_type() {
        assert_eq!(rejects(|r| r.phone = None).code, "3");
        let mut pin = request();
        pin.phone = None;
        pin.dealer = DealerRef {
            code: "905".into(),
            type_code: "02".into(),
            branch: None,
        };
        let e = effectuation(&pin, RechargeType::Others).unwrap_err();
        assert_eq!(
            (e.code, e.message.contains("dealer.branch.code")),
            ("3", true)
        );
        pin.dealer.branch = Some(BranchRef {
            code: "97001000000".into(),
        });
        assert_eq!(
            effectuation(&pin, RechargeType::Others).unwrap_err().code,
            "8"
        );
        pin.dealer.branch = Some(BranchRef {
            code: "97200000000".into(),
        });
        assert!(effectuation(&pin, RechargeType::Others).is_ok());
    }

    #[test]
    fn tim_needs_an_answer_of_the_right_length() {
        let tim = |answers: Option<Vec<(&str, &str)>>| {
            let mut r = request();
            r.dealer.code = "004".into();
            r.answers = answers.map(|a| {
                a.into_iter()
                    .map(|(code, description)| AnswerWire {
                        code: code.into(),
                        description: description.into(),
                    })
                    .collect()
            });
            effectuation(&r, RechargeType::Normal)
        };
        assert_eq!(tim(None).unwrap_err().code, "3");
        assert_eq!(tim(Some(vec![("1", "Joaquim")])).unwrap_err().code, "3");
        let short = tim(Some(vec![("5", "Jo")])).unwrap_err();
        assert_eq!(short.code, "2");
        assert!(
            short
                .message
                .starts_with("answers[0].description: must be 5 to 30")
        );
        assert!(tim(Some(vec![("5", "Joaquim José")])).is_ok());
    }

    #[test]
    fn payment_method_entries() {
        for good in ["00:1", "99:150", "05:2000:1:5-2:123456789-3:0520200001A6"] {
            assert!(payment_method(good).is_ok(), "{good}");
        }
        for bad in [
            "1:100",
            "11",
            "11:",
            "11:1,5",
            "11:100:",
            "11:100:x:1",
            "11:100:1:",
        ] {
            assert!(payment_method(bad).is_err(), "{bad}");
        }
        let three = vec!["00:1".to_owned(); 3];
        assert!(used_payment_methods(Some(&three)).is_err());
        let two = vec!["00:1".to_owned(), "05:20:1:5".to_owned()];
        assert_eq!(
            used_payment_methods(Some(&two)).unwrap(),
            Some((two.clone(), 21))
        );
        assert!(sums_to(21, 21).is_ok());
        let off = sums_to(20, 21).unwrap_err();
        assert_eq!(off.code, "22");
    }

    #[test]
    fn begin_checks_key_then_fields() {
        let key = Secret::new("KEY1");
        let mut r = BeginRechargeRequest {
            merchant_key: "KEY2".into(),
            merchant_usn: None,
            order_id: None,
            general_hash: None,
            recharge_type: None,
        };
        assert_eq!(begin(&r, &key).unwrap_err().code, "4");
        r.merchant_key = "KEY1".into();
        assert_eq!(begin(&r, &key).unwrap().recharge_type, RechargeType::Normal);
        r.recharge_type = Some("phone".into());
        assert_eq!(begin(&r, &key).unwrap_err().code, "2");
    }
}

//! The cases of other products: a PIN, a bill, a dealer's questions and a TV package. Each
//! sells what Carat's listings offer, and is skipped when they offer no such product.

use serde_json::json;

use super::catalogue;
use super::context::{CaseEnd, Ctx, Step, describe};
use super::sell::{self, created_and_listed, effectuate_expecting, phone_body};
use crate::homologation::evidence::mask_pin;
use carat_core::recharge::{DealerView, PinReceipt};
use carat_domain::RechargeType;

/// A PIN product sold, its PIN kept (encrypted) before the confirmation.
pub async fn pin_product(ctx: &mut Ctx<'_>) -> Step<()> {
    let (id, dealers) = created_and_listed(ctx, RechargeType::Others).await?;
    let Some((dealer, branch)) = catalogue::first_product(&dealers) else {
        let reason = "Carat's listing offers no PIN product (no dealer with a branch)";
        return Err(CaseEnd::Skip(reason.into()));
    };
    let (dealer, branch) = (dealer.clone(), branch.to_owned());
    let listed = ctx.product_branches(id, &dealer.code, &branch).await;
    let data = ctx.check("list the product's branch data", listed, |_| {
        format!("dealer {} ({}), product {branch}", dealer.code, dealer.name)
    })?;
    let (amount, key) = catalogue::amount(&data)
        .ok_or_else(|| CaseEnd::Fail(format!("product {branch} lists no amount")))?;
    let mut body = json!({
        "dealer": {"code": dealer.code, "type_code": type_code(&dealer), "branch": {"code": branch}},
        "amount": amount,
        "answers": catalogue::answers(&data.questions),
    });
    if let Some(key) = key {
        body["amount_key"] = json!(key);
    }
    let recharge = effectuate_expecting(ctx, id, body, "pending_confirmation").await?;
    let (receipts, state) = ctx.doors.recharges.receipts(&recharge);
    let kept = match state {
        Some(PinReceipt::Kept) => Ok(masked_pin(receipts.and_then(|r| r.customer))),
        other => Err(format!("the PIN receipt is {other:?}, not kept")),
    };
    ctx.check("PIN kept (encrypted)", kept, |pin| {
        format!("kept; PIN {pin}")
    })?;
    sell::end(ctx, id, true).await.map(drop)
}

/// The PIN as the report shows it: the receipt's `PIN` line's value, masked. [INF] Where
/// Carat's receipt puts the PIN is not documented (seed 001 only says it carries it).
pub fn masked_pin(receipt: Option<String>) -> String {
    let receipt = receipt.unwrap_or_default();
    let value = receipt.lines().find_map(|line| {
        let (label, value) = line.split_once(':')?;
        label
            .trim()
            .eq_ignore_ascii_case("pin")
            .then(|| value.trim().to_owned())
    });
    value.map_or_else(
        || "(in the receipt, not shown)".to_owned(),
        |v| mask_pin(&v),
    )
}

fn type_code(dealer: &DealerView) -> &str {
    dealer.type_code.as_deref().unwrap_or_default()
}

/// A bill found by its bar code, paid and confirmed.
pub async fn bill_paid(ctx: &mut Ctx<'_>) -> Step<()> {
    let bar_code = ctx
        .inputs
        .bar_code
        .clone()
        .map_err(|missing| CaseEnd::Skip(missing.reason()))?;
    let (id, dealers) = created_and_listed(ctx, RechargeType::Invoice).await?;
    let Some(dealer) = dealers.dealers.first().cloned() else {
        return Err(CaseEnd::Skip(
            "Carat's listing offers no bill dealer".into(),
        ));
    };
    let found = ctx.bill(id, &dealer.code, &bar_code).await;
    let bill = ctx.check("find the bill", found, |b| {
        let cents = b.invoice.amount.get();
        format!("dealer {} ({}): {cents} cents", dealer.code, dealer.name)
    })?;
    let body = json!({
        "dealer": {"code": dealer.code, "type_code": type_code(&dealer)},
        "invoice": {"bar_code": bar_code},
        "amount": bill.invoice.amount.get(),
    });
    effectuate_expecting(ctx, id, body, "pending_confirmation").await?;
    sell::end(ctx, id, true).await.map(drop)
}

/// A top-up of a dealer whose branch data asks questions, answered.
pub async fn dealer_questions(ctx: &mut Ctx<'_>) -> Step<()> {
    let (id, dealers) = created_and_listed(ctx, RechargeType::Normal).await?;
    let ddd = ctx.inputs.ddd.clone();
    let mut found = None;
    for dealer in catalogue::phone_dealers(&dealers) {
        let listed = ctx.branches(id, &ddd, &dealer.code).await;
        let data = ctx.check("list branch data", listed, |b| {
            let (code, name, n) = (&dealer.code, &dealer.name, b.questions.len());
            format!("dealer {code} ({name}): {n} question(s)")
        })?;
        if !data.questions.is_empty() {
            found = Some((dealer.clone(), data));
            break;
        }
    }
    let Some((dealer, data)) = found else {
        return Err(CaseEnd::Skip(
            "no dealer Carat lists asks a question".into(),
        ));
    };
    let body = phone_body(ctx, &dealer, &data)?;
    let answered = body["answers"].as_array().map_or(0, Vec::len);
    ctx.note(
        "answer the questions",
        true,
        format!("{answered} answer(s)"),
    );
    effectuate_expecting(ctx, id, body, "pending_confirmation").await?;
    sell::end(ctx, id, true).await.map(drop)
}

/// A TV recharge: Carat answers AGU with the packages, one is chosen, the sale is confirmed.
pub async fn tv_package(ctx: &mut Ctx<'_>) -> Step<()> {
    let (id, dealers) = created_and_listed(ctx, RechargeType::Normal).await?;
    let Some(dealer) = catalogue::tv_dealer(&dealers).cloned() else {
        return Err(CaseEnd::Skip(
            "Carat's dealers listing names no TV dealer".into(),
        ));
    };
    let ddd = ctx.inputs.ddd.clone();
    let listed = ctx.branches(id, &ddd, &dealer.code).await;
    let data = ctx.check("list branch data", listed, |_| {
        format!("TV dealer {} ({})", dealer.code, dealer.name)
    })?;
    let body = phone_body(ctx, &dealer, &data)?;
    let recharge = effectuate_expecting(ctx, id, body, "awaiting_choice").await?;
    let packages = recharge
        .carat_answer
        .as_ref()
        .and_then(|a| a.0.tv_package_subscription_codes.clone())
        .unwrap_or_default();
    let Some(package) = packages.first().cloned() else {
        return Err(CaseEnd::Fail(
            "step `AGU` failed: Carat offered no package".into(),
        ));
    };
    ctx.note("packages offered", true, packages.join(", "));
    let chosen = ctx.choose_tv_package(id, &package).await;
    let recharge = ctx.check("choose a package", chosen, describe)?;
    ctx.expect_status("choice's outcome", &recharge, "pending_confirmation")?;
    sell::end(ctx, id, true).await.map(drop)
}

//! The steps most cases share: a top-up sold up to Carat's PPC, and a sale ended.

use serde_json::{Value, json};
use uuid::Uuid;

use super::catalogue;
use super::context::{CaseEnd, Ctx, Step, describe, flow_text};
use carat_core::recharge::{BranchData, DealerView, Dealers};
use carat_domain::RechargeType;
use carat_store::Recharge;

/// A sale pending confirmation: its recharge and the amount sold.
pub struct Sold {
    pub id: Uuid,
    pub recharge: Recharge,
    pub amount: u64,
}

/// What the effectuation pays with.
pub enum Paying {
    Nothing,
    /// A card's body (`payment.card`).
    Card(Value),
}

/// Creates a top-up, lists what Carat offers, and effectuates it as the storefront would;
/// `expect`: the status the effectuation must leave (`pending_confirmation` when approved).
pub async fn top_up(ctx: &mut Ctx<'_>, paying: Paying, expect: &str) -> Step<Sold> {
    let (id, dealers) = created_and_listed(ctx, RechargeType::Normal).await?;
    let Some(dealer) = catalogue::phone_dealers(&dealers)
        .first()
        .map(|d| (*d).clone())
    else {
        return Err(CaseEnd::Skip(
            "Carat's dealers listing offers no phone dealer".into(),
        ));
    };
    let ddd = ctx.inputs.ddd.clone();
    let branches = ctx.branches(id, &ddd, &dealer.code).await;
    let data = ctx.check("list branch data", branches, |b| {
        let (code, name, n) = (&dealer.code, &dealer.name, b.categories.len());
        format!("dealer {code} ({name}), area {ddd}: {n} categories")
    })?;
    let mut body = phone_body(ctx, &dealer, &data)?;
    let amount = body["amount"].as_u64().unwrap_or_default();
    if let Paying::Card(card) = paying {
        let authorizer = ctx.inputs.authorizer_id.clone();
        body["payment"] = catalogue::payment(amount, &authorizer, card);
    }
    let recharge = effectuate_expecting(ctx, id, body, expect).await?;
    Ok(Sold {
        id,
        recharge,
        amount,
    })
}

/// Creates a recharge of `kind` and lists its dealers.
pub async fn created_and_listed(ctx: &mut Ctx<'_>, kind: RechargeType) -> Step<(Uuid, Dealers)> {
    let created = ctx.create(kind).await;
    let recharge = ctx.check(&format!("create ({})", kind.as_str()), created, describe)?;
    let dealers = ctx.dealers(recharge.id).await;
    let dealers = ctx.check("list dealers", dealers, |d| {
        format!("{} dealers listed", d.dealers.len())
    })?;
    Ok((recharge.id, dealers))
}

/// The storefront's body for a phone (or TV) dealer: an amount it listed, the answers to its
/// questions, the inputs' phone.
pub fn phone_body(ctx: &Ctx<'_>, dealer: &DealerView, data: &BranchData) -> Step<Value> {
    let Some((amount, amount_key)) = catalogue::amount(data) else {
        let code = &dealer.code;
        return Err(CaseEnd::Fail(format!(
            "step `list branch data` failed: dealer {code} lists no amount"
        )));
    };
    let mut body = json!({
        "dealer": {"code": dealer.code, "type_code": dealer.type_code.as_deref().unwrap_or("")},
        "phone": {"ddd": ctx.inputs.ddd, "number": ctx.inputs.phone},
        "amount": amount,
        "answers": catalogue::answers(&data.questions),
    });
    if let Some(key) = amount_key {
        body["amount_key"] = json!(key);
    }
    Ok(body)
}

/// Effectuates with `body` and checks the status it leaves.
pub async fn effectuate_expecting(
    ctx: &mut Ctx<'_>,
    id: Uuid,
    body: Value,
    expect: &str,
) -> Step<Recharge> {
    let effectuated = ctx.effectuate(id, body).await.map_err(flow_text);
    let recharge = effectuate_seen(ctx, effectuated, id).await?;
    ctx.expect_status("effectuation's outcome", &recharge, expect)?;
    Ok(recharge)
}

/// The effectuation's step: a refusal is recorded as what Carat said, and the recharge is read
/// back for the status check that follows.
pub async fn effectuate_seen(
    ctx: &mut Ctx<'_>,
    effectuated: Result<Recharge, String>,
    id: Uuid,
) -> Step<Recharge> {
    match effectuated {
        Ok(recharge) => {
            ctx.note("effectuate", true, describe(&recharge));
            Ok(recharge)
        }
        Err(answer) => {
            ctx.note("effectuate", true, format!("answered: {answer}"));
            let loaded = ctx.load(id).await;
            ctx.check("read the recharge back", loaded, describe)
        }
    }
}

/// Confirms (`confirm`) or undoes the sale, and checks where it ended.
pub async fn end(ctx: &mut Ctx<'_>, id: Uuid, confirm: bool) -> Step<Recharge> {
    let (step, status) = if confirm {
        ("confirm", "confirmed")
    } else {
        ("undo", "undone")
    };
    let decided = ctx.decide(id, confirm, None).await;
    let recharge = ctx.check(step, decided, describe)?;
    ctx.expect_status(&format!("{step}'s outcome"), &recharge, status)?;
    Ok(recharge)
}

/// The card the inputs approve, as a payment's `card` body; skips the case when it is not
/// configured.
pub fn approved_card(ctx: &Ctx<'_>) -> Step<Value> {
    let card = ctx
        .inputs
        .approved_card
        .as_ref()
        .map_err(|missing| CaseEnd::Skip(missing.reason()))?;
    Ok(card.body())
}

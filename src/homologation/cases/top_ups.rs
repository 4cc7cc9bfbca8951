//! The phone top-up's cases: confirmed, undone, confirmed with `used_payment_methods`, the
//! status query, the signature mode and a lost effectuation answer.

use serde_json::json;

use super::context::{CaseEnd, Ctx, Step, describe};
use super::sell::{self, Paying};
use carat_domain::{AuthMode, UsedPaymentMethod};
use carat_sandbox::{Fault, Operation};

pub async fn confirmed(ctx: &mut Ctx<'_>) -> Step<()> {
    let sold = sell::top_up(ctx, Paying::Nothing, "pending_confirmation").await?;
    sell::end(ctx, sold.id, true).await.map(drop)
}

pub async fn undone(ctx: &mut Ctx<'_>) -> Step<()> {
    let sold = sell::top_up(ctx, Paying::Nothing, "pending_confirmation").await?;
    sell::end(ctx, sold.id, false).await.map(drop)
}

/// Confirmed with how the customer paid: all of it in cash (type `00`, seed 001's table).
pub async fn used_payment_methods(ctx: &mut Ctx<'_>) -> Step<()> {
    let sold = sell::top_up(ctx, Paying::Nothing, "pending_confirmation").await?;
    let methods: Result<Vec<UsedPaymentMethod>, _> =
        serde_json::from_value(json!([{"type": "00", "amount": sold.amount}]));
    let methods = ctx.check(
        "used_payment_methods",
        methods.map_err(|e| e.to_string()),
        |m| format!("{} method(s): cash, {} cents", m.len(), sold.amount),
    )?;
    let decided = ctx.decide(sold.id, true, Some(methods)).await;
    let recharge = ctx.check("confirm with used_payment_methods", decided, describe)?;
    ctx.expect_status("confirm's outcome", &recharge, "confirmed")?;
    let sent = recharge
        .decision_payment_methods
        .as_ref()
        .map(|m| m.0.clone());
    let result = match sent {
        Some(sent) if !sent.is_empty() => Ok(sent.join(", ")),
        _ => Err("the confirmation kept no used_payment_methods".to_owned()),
    };
    ctx.check("used_payment_methods sent", result, |sent| {
        format!("sent: {sent}")
    })
    .map(drop)
}

/// Carat's status asked by `GET /recharge/{nit}` before and after the confirmation.
pub async fn status_query(ctx: &mut Ctx<'_>) -> Step<()> {
    let sold = sell::top_up(ctx, Paying::Nothing, "pending_confirmation").await?;
    let asked = ctx
        .query(sold.id, "status query before the confirmation")
        .await;
    let recharge = ctx.check("query (PPC expected)", asked, describe)?;
    expect_carat(ctx, &recharge, "PPC")?;
    sell::end(ctx, sold.id, true).await?;
    let asked = ctx
        .query(sold.id, "status query after the confirmation")
        .await;
    let recharge = ctx.check("query (CON expected)", asked, describe)?;
    expect_carat(ctx, &recharge, "CON")
}

fn expect_carat(ctx: &mut Ctx<'_>, recharge: &carat_store::Recharge, status: &str) -> Step<()> {
    let carat = recharge
        .carat_status
        .as_ref()
        .map(|s| s.as_str().to_owned());
    let result = match carat.as_deref() {
        Some(s) if s == status => Ok(()),
        other => Err(format!(
            "Carat answered {}, not {status}",
            other.unwrap_or("nothing")
        )),
    };
    ctx.check("Carat's status", result, |()| {
        format!("Carat holds {status}")
    })
}

/// A top-up whose calls are all signed (RS256 JWT): its NIT came in the create's answer.
pub async fn signature_mode(ctx: &mut Ctx<'_>) -> Step<()> {
    if ctx.doors.auth_mode != AuthMode::Signature {
        return Err(CaseEnd::Skip(
            "CARAT_AUTH_MODE is authenticity: set CARAT_AUTH_MODE=signature and \
             CARAT_JWT_PRIVATE_KEY to run it (docs/going-live.md)"
                .into(),
        ));
    }
    let sold = sell::top_up(ctx, Paying::Nothing, "pending_confirmation").await?;
    let signed = match sold.recharge.auth_mode {
        AuthMode::Signature => Ok(()),
        AuthMode::Authenticity => Err("the recharge was made in authenticity mode".to_owned()),
    };
    ctx.check("signed calls", signed, |()| {
        "every call signed; NIT from the create's answer".into()
    })?;
    sell::end(ctx, sold.id, true).await.map(drop)
}

/// The sandbox applies the effectuation and answers 500: the outcome is unknown, and a query
/// (the reconciler's) resolves it. The effectuation is never sent twice.
pub async fn lost_effectuation_answer(ctx: &mut Ctx<'_>) -> Step<()> {
    let Some(sandbox) = ctx.doors.sandbox.clone() else {
        return Err(CaseEnd::Skip(
            "runs only against the embedded sandbox: Carat cannot be made to lose an answer".into(),
        ));
    };
    ctx.simulated = Some(
        "simulado / simulated: the sandbox applied the effectuation (PPC), then answered \
         HTTP 500, so this service could not know the outcome"
            .into(),
    );
    sandbox.inject(Operation::Effectuate, Fault::AppliedThen500, 1);
    let sold = sell::top_up(ctx, Paying::Nothing, "effectuating").await?;
    let resolved = resolve_by_query(ctx, sold.id).await;
    let recharge = ctx.check("resolved by query", resolved, describe)?;
    ctx.expect_status(
        "outcome found by the query",
        &recharge,
        "pending_confirmation",
    )?;
    let nit = recharge
        .nit
        .as_ref()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let sent = sandbox
        .transaction(&nit)
        .map_or(0, |t| t.effectuation_requests);
    let once = if sent == 1 {
        Ok(())
    } else {
        Err(format!("sent {sent} times"))
    };
    ctx.check("effectuation sent once", once, |()| {
        "sent once, never repeated".into()
    })?;
    sell::end(ctx, sold.id, false).await.map(drop)
}

/// Runs the reconciler until the recharge is out of doubt (its lease may be another pass's).
async fn resolve_by_query(ctx: &Ctx<'_>, id: uuid::Uuid) -> Result<carat_store::Recharge, String> {
    let deadline = tokio::time::Instant::now() + ctx.doors.callback_wait;
    loop {
        ctx.doors
            .reconciler
            .run_pass()
            .await
            .map_err(|e| e.to_string())?;
        let recharge = ctx.load(id).await?;
        if !recharge.outcome_unknown || tokio::time::Instant::now() > deadline {
            return Ok(recharge);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

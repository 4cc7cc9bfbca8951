//! Every operation a recharge supports, in one place. Each door (the storefront API, Carat's
//! callbacks, the reconciler, the console) calls these and nothing below them, so every door
//! gets the same guards. The steps that call Carat run detached (`steps.rs`): a caller that
//! hangs up never stops one half way between the call and the record of its outcome.

use uuid::Uuid;

use super::bills::bill_listing;
use super::confirm::Decision;
use super::operator::operator_reason;
use super::requests::{Chosen, TvChoice};
use super::steps::detached;
use super::views::{BillListing, BranchData, Dealers};
use super::{FlowError, Opened, PinReceipt, Receipts, RechargeService, payment_methods};
use carat_domain::effectuation::BarCode;
use carat_domain::{Actor, BranchCode, Ddd, DealerCode, OrderId, RechargeType, UsedPaymentMethod};
use carat_store::payments::PaymentRow;
use carat_store::{self as store, Event, Recharge};

impl RechargeService {
    /// Creates a recharge at Carat (its NIT comes with the answer, or by the authenticity
    /// POST). Without `order_id`, one is generated.
    pub async fn begin(
        &self,
        order_id: Option<OrderId>,
        recharge_type: RechargeType,
    ) -> Result<Recharge, FlowError> {
        let this = self.clone();
        detached(async move { this.begin_now(order_id, recharge_type).await }).await
    }

    /// The dealers Carat lists for the recharge, kept with it.
    pub async fn dealers(&self, id: Uuid) -> Result<Dealers, FlowError> {
        let (opened, nit) = self.listable(self.open(id).await?).await?;
        self.list_dealers(opened.recharge(), &nit).await
    }

    /// The amount ranges and questions of a `normal` recharge's dealer in `ddd`, kept with it.
    /// A dealer its dealers listing does not hold is refused (422 `dealer_code`) unasked.
    pub async fn branches(
        &self,
        opened: Opened,
        ddd: &Ddd,
        dealer_code: &DealerCode,
    ) -> Result<BranchData, FlowError> {
        self.checked_branches(opened, ddd, dealer_code).await
    }

    /// Branch data of an `others` product: `dealer_code`'s branch `branch_code`, as Carat
    /// listed them (the dealers are listed first if the storefront has not). The route asks
    /// only for an `others` recharge's.
    pub async fn product_branches(
        &self,
        opened: Opened,
        dealer_code: &DealerCode,
        branch_code: &BranchCode,
    ) -> Result<BranchData, FlowError> {
        self.checked_product_branches(opened, dealer_code, branch_code)
            .await
    }

    /// `GET .../branches?dealer_code=..&bar_code=..` of an `invoice` recharge: the bill Carat
    /// finds for the bar code, kept with the recharge.
    pub async fn bill(
        &self,
        opened: Opened,
        dealer_code: &DealerCode,
        bar_code: &BarCode,
    ) -> Result<BillListing, FlowError> {
        let listing = bill_listing(dealer_code, bar_code);
        self.list_invoice(opened, dealer_code, bar_code, &listing)
            .await
    }

    /// Sells: checked against what Carat listed, sent at most once per attempt.
    pub async fn effectuate(&self, opened: Opened, chosen: Chosen) -> Result<Recharge, FlowError> {
        let this = self.clone();
        detached(async move {
            this.effectuate_now(opened, chosen, &Actor::Storefront)
                .await
        })
        .await
    }

    /// The TV package Carat asked for: the effectuation is sent again with it.
    pub async fn choose_tv_package(
        &self,
        opened: Opened,
        choice: TvChoice,
    ) -> Result<Recharge, FlowError> {
        let this = self.clone();
        detached(async move {
            let actor = Actor::Storefront;
            let choice = &choice;
            this.at_most_twice(opened, "choose a TV package", |opened| {
                Box::pin(this.try_choose(opened.into_recharge(), choice, &actor))
            })
            .await
        })
        .await
    }

    /// Confirms (`confirm`) or undoes a recharge pending confirmation.
    /// `used_payment_methods`: how the sale was paid, sent with a confirmation.
    pub async fn confirm(
        &self,
        opened: Opened,
        confirm: bool,
        used_payment_methods: Option<Vec<UsedPaymentMethod>>,
    ) -> Result<Recharge, FlowError> {
        if !confirm && used_payment_methods.is_some() {
            return Err(payment_methods::only_on_confirmation());
        }
        let this = self.clone();
        let decision = Decision { confirm };
        detached(async move {
            let methods = used_payment_methods.as_deref();
            this.decide(opened, decision, methods, &Actor::Storefront)
                .await
        })
        .await
    }

    /// The recharge and its history.
    pub async fn get(&self, id: Uuid) -> Result<(Recharge, Vec<Event>), FlowError> {
        let (recharge, events) = store::recharges::find_with_events(&self.pool, id)
            .await?
            .ok_or(FlowError::NotFound)?;
        super::trace_ids(&recharge);
        Ok((recharge, events))
    }

    /// The operators' listing: recharges matching `filter`, newest first, after `after`.
    pub async fn list(
        &self,
        filter: &store::recharge_list::Filter,
        after: Option<store::recharge_list::Key>,
        limit: i64,
    ) -> Result<Vec<Recharge>, FlowError> {
        Ok(store::recharge_list::list(&self.pool, filter, after, limit).await?)
    }

    /// A recharge's payment as kept, if it has one (each door shows it its own way). Only a
    /// recharge effectuated with a payment has its row (written with the effectuation's step),
    /// so the others' is not looked for.
    pub async fn payment(&self, recharge: &Recharge) -> Result<Option<PaymentRow>, FlowError> {
        let paid = recharge.effectuation().is_some_and(|e| e.payment.is_some());
        if !paid {
            return Ok(None);
        }
        Ok(store::payments::load(&self.pool, recharge.id).await?)
    }

    /// The receipts to show: a PIN sale's opened, the others' as stored. A sealed receipt no
    /// key opens is logged (by key id) and shown as unreadable.
    pub fn receipts(&self, recharge: &Recharge) -> (Option<Receipts>, Option<PinReceipt>) {
        self.opened_receipts(recharge)
    }

    // Operator actions: the console's, each by an operator (`Actor::Operator`) with a reason
    // (trimmed, not empty, at most 500 characters, else `FlowError::Invalid` naming `reason`)
    // that is kept in the history (`operator_action`) before anything else happens. Each then
    // takes the same guarded steps as the storefront and the reconciler: a click racing them
    // never makes a second call to Carat, and answers with what actually happened.

    /// Queries Carat and settles the recharge by its answer at once, as the reconciler would:
    /// a recharge in doubt or pending moves to what Carat records; a confirmation or undo
    /// Carat never received (it still holds PPC) is sent again; an answer that moves nothing
    /// leaves it as it is (the query is in the history).
    pub async fn ask_carat_now(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Recharge, FlowError> {
        let reason = operator_reason(actor, reason).map_err(FlowError::Invalid)?;
        let (this, actor) = (self.clone(), actor.clone());
        detached(async move { this.ask_as_operator(id, &actor, &reason).await }).await
    }

    /// Undoes a recharge pending confirmation, or one in doubt that Carat holds PPC (settled
    /// by a query first), as the storefront's undo does.
    pub async fn undo_now(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Recharge, FlowError> {
        self.decide_now(id, Decision { confirm: false }, actor, reason)
            .await
    }

    /// Confirms as the storefront's confirmation does, and is refused where it is (a PIN sale
    /// whose receipt was not kept is never confirmed).
    pub async fn confirm_now(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Recharge, FlowError> {
        self.decide_now(id, Decision { confirm: true }, actor, reason)
            .await
    }

    /// An operator's confirmation or undo, detached like the storefront's.
    async fn decide_now(
        &self,
        id: Uuid,
        decision: Decision,
        actor: &Actor,
        reason: &str,
    ) -> Result<Recharge, FlowError> {
        let reason = operator_reason(actor, reason).map_err(FlowError::Invalid)?;
        let (this, actor) = (self.clone(), actor.clone());
        detached(async move { this.decide_as_operator(id, decision, &actor, &reason).await }).await
    }

    /// A PIN sale's receipts, opened, for an operator; the reveal is kept in the history
    /// first. Refused for a sale that has no PIN kept.
    pub async fn reveal_pin(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &str,
    ) -> Result<Receipts, FlowError> {
        let reason = operator_reason(actor, reason).map_err(FlowError::Invalid)?;
        self.reveal_as_operator(id, actor, &reason).await
    }
}

//! Listing dealers and branch data: read-only calls, safe to repeat, shown to the storefront
//! in a clean shape (amounts as integer cents), and kept with the recharge
//! (`store::listings`) so that its effectuation is checked against them before Carat is called.

use serde::{Serialize, de::DeserializeOwned};

use super::steps::call_record;
use super::views::{
    AmountRangeView, BillListing, BranchData, BranchView, CategoryView, DealerView, Dealers,
    QuestionView,
};
use super::{CaratProblem, FlowError, Opened, RechargeService, bills, catalog_check, why_not};
use crate::carat::Exchange;
use carat_domain::effectuation::BarCode;
use carat_domain::{
    Actor, BranchCode, Ddd, DealerCode, Effectuation, EffectuationInput, FieldError, Nit,
    RechargeStatus, RechargeType,
};
use carat_store::listings::ListingKey;
use carat_store::{self as store, CallRecord, Changes, Guard, Recharge, Step};
use carat_wire::{AmountRange, BranchDataDealerRef, ListBranchDataResponse, ListDealersResponse};

/// The stored listing of a recharge's dealers.
pub(super) const DEALERS_LISTING: &ListingKey = &ListingKey::Dealers;

/// The stored listing of a recharge's branch data for `ddd` and `dealer` (dealer codes compare
/// as numbers: Carat writes dealer 1 as `1` and as `001`).
fn branches_listing(ddd: &Ddd, dealer: &DealerCode) -> ListingKey {
    ListingKey::Branches {
        ddd: ddd.clone(),
        dealer: catalog_check::dealer_number(dealer.as_str()).unwrap_or_default(),
    }
}

/// The stored listing of a recharge's branch data for an `others` product: `dealer`'s branch
/// `branch`.
fn product_listing(dealer: &DealerCode, branch: &BranchCode) -> ListingKey {
    ListingKey::Product {
        dealer: catalog_check::dealer_number(dealer.as_str()).unwrap_or_default(),
        branch: branch.clone(),
    }
}

impl RechargeService {
    /// Branch data of an `others` product: `dealer_code`'s branch `branch_code`, as Carat
    /// listed them (the dealers are listed first if the storefront has not). The route asks
    /// only for an `others` recharge's.
    pub(super) async fn checked_product_branches(
        &self,
        opened: Opened,
        dealer_code: &DealerCode,
        branch_code: &BranchCode,
    ) -> Result<BranchData, FlowError> {
        let (opened, nit) = self.listable(opened).await?;
        let dealers = self.dealers_of(&opened, &nit).await?;
        let recharge = opened.recharge();
        let dealer =
            catalog_check::product(dealer_code, branch_code, &dealers).map_err(|mut e| {
                // Named as in the query string.
                e.field = match e.field.as_ref() {
                    "dealer.branch.code" => "branch_code",
                    _ => "dealer_code",
                }
                .into();
                FlowError::Invalid(e)
            })?;
        self.list_product_branches(recharge, &nit, dealer_code, &dealer, branch_code)
            .await
    }

    /// Branch data of a `normal` recharge's dealer in `ddd`. The dealer must be one the
    /// recharge's dealers listing holds (listed first if the storefront has not): another is
    /// the storefront's mistake, a 422 naming `dealer_code` before Carat is asked.
    pub(super) async fn checked_branches(
        &self,
        opened: Opened,
        ddd: &Ddd,
        dealer_code: &DealerCode,
    ) -> Result<BranchData, FlowError> {
        let (opened, nit) = self.listable(opened).await?;
        let dealers = self.dealers_of(&opened, &nit).await?;
        catalog_check::listed_dealer(dealer_code, &dealers).map_err(as_dealer_code)?;
        self.list_branches(opened.recharge(), &nit, ddd, dealer_code)
            .await
    }

    /// Checks `req` against what Carat listed for this recharge: a dealer, product, amount,
    /// amount key or answer it did not offer is the storefront's mistake, a 422 before
    /// anything is written or sent. What the storefront did not list yet is listed first, as
    /// Carat's flow has it (list dealers, list branch data, then effectuate): read-only calls,
    /// safe to make.
    pub(super) async fn check_against_listings(
        &self,
        opened: &Opened,
        nit: &Nit,
        req: &Effectuation,
    ) -> Result<(), FlowError> {
        // An invoice is checked against the bill Carat listed, not against products.
        let Some(choice) = catalog_check::Choice::of(req) else {
            return Ok(());
        };
        let dealers = self.dealers_of(opened, nit).await?;
        let recharge = opened.recharge();
        catalog_check::dealer(&choice, &dealers).map_err(FlowError::Invalid)?;
        let branch_data = match &req.input {
            EffectuationInput::Normal { dealer, phone, .. } => {
                let (ddd, dealer) = (&phone.ddd, &dealer.code);
                match self.stored(opened, &branches_listing(ddd, dealer)).await? {
                    Some(data) => data,
                    None => self.list_branches(recharge, nit, ddd, dealer).await?,
                }
            }
            EffectuationInput::Others { dealer, .. } => {
                let listing = product_listing(&dealer.code, &dealer.branch.code);
                match self.stored(opened, &listing).await? {
                    Some(data) => data,
                    None => {
                        let listed =
                            catalog_check::product(&dealer.code, &dealer.branch.code, &dealers)
                                .map_err(FlowError::Invalid)?;
                        self.list_product_branches(
                            recharge,
                            nit,
                            &dealer.code,
                            &listed,
                            &dealer.branch.code,
                        )
                        .await?
                    }
                }
            }
            EffectuationInput::Invoice { .. } => return Ok(()),
        };
        catalog_check::branch_data(&choice, &branch_data).map_err(FlowError::Invalid)
    }

    /// The dealers listed for this recharge, listing them now if the storefront has not.
    async fn dealers_of(&self, opened: &Opened, nit: &Nit) -> Result<Dealers, FlowError> {
        match self.stored(opened, DEALERS_LISTING).await? {
            Some(dealers) => Ok(dealers),
            None => self.list_dealers(opened.recharge(), nit).await,
        }
    }

    /// `PUT rechargebranches` for an `others` product; `dealer` is the listed dealer (its
    /// `type_code` goes with the request).
    async fn list_product_branches(
        &self,
        recharge: &Recharge,
        nit: &Nit,
        dealer_code: &DealerCode,
        dealer: &DealerView,
        branch_code: &BranchCode,
    ) -> Result<BranchData, FlowError> {
        let listing = product_listing(dealer_code, branch_code);
        let sent = BranchDataDealerRef {
            code: dealer_code.to_string(),
            type_code: dealer.type_code.clone(),
            branch: None,
        };
        let (view, call) = self
            .list_through_cache(recharge, &listing, |hash| async move {
                let exchange = self
                    .carat_for(recharge)
                    .list_product_branches(nit, sent, branch_code, &hash)
                    .await;
                let (answer, call) = self.record_list_call(recharge, exchange).await?;
                Ok((branch_data_view(answer), call))
            })
            .await?;
        self.keep(recharge, &listing, &view, call).await?;
        Ok(view)
    }

    pub(super) async fn list_dealers(
        &self,
        recharge: &Recharge,
        nit: &Nit,
    ) -> Result<Dealers, FlowError> {
        let (view, call) = self
            .list_through_cache(recharge, DEALERS_LISTING, |hash| async move {
                let exchange = self.carat_for(recharge).list_dealers(nit, &hash).await;
                let (answer, call) = self.record_list_call(recharge, exchange).await?;
                Ok((dealers_view(answer), call))
            })
            .await?;
        self.keep(recharge, DEALERS_LISTING, &view, call).await?;
        Ok(view)
    }

    pub(super) async fn list_branches(
        &self,
        recharge: &Recharge,
        nit: &Nit,
        ddd: &Ddd,
        dealer_code: &DealerCode,
    ) -> Result<BranchData, FlowError> {
        let listing = branches_listing(ddd, dealer_code);
        let (view, call) = self
            .list_through_cache(recharge, &listing, |hash| async move {
                let exchange = self
                    .carat_for(recharge)
                    .list_branches(nit, ddd, dealer_code, &hash)
                    .await;
                let (answer, call) = self.record_list_call(recharge, exchange).await?;
                Ok((branch_data_view(answer), call))
            })
            .await?;
        self.keep(recharge, &listing, &view, call).await?;
        Ok(view)
    }

    /// An `invoice` recharge's bill for `bar_code` from the listed dealer `dealer_code`
    /// (dealers are listed first if they were not yet), kept as `listing`.
    pub(super) async fn list_invoice(
        &self,
        opened: Opened,
        dealer_code: &DealerCode,
        bar_code: &BarCode,
        listing: &ListingKey,
    ) -> Result<BillListing, FlowError> {
        let (opened, nit) = self.listable(opened).await?;
        let recharge = opened.recharge();
        if recharge.recharge_type != RechargeType::Invoice {
            return Err(FlowError::Invalid(FieldError::new(
                "bar_code",
                format!(
                    "bills are listed for invoice recharges; this one is {}",
                    recharge.recharge_type
                ),
            )));
        }
        let dealers = self.dealers_of(&opened, &nit).await?;
        let dealer = catalog_check::listed_dealer(dealer_code, &dealers).map_err(as_dealer_code)?;
        let sent = BranchDataDealerRef {
            code: dealer.code.clone(),
            type_code: dealer.type_code.clone(),
            branch: None,
        };
        let exchange = self
            .carat_for(recharge)
            .list_invoice(&nit, sent, bar_code)
            .await;
        let (answer, call) = self.record_list_call(recharge, exchange).await?;
        let carat_status = answer.status.clone().unwrap_or_default();
        let bill = match bills::bill_view(answer, dealer, bar_code) {
            Ok(bill) => bill,
            Err(why) => {
                self.note(recharge, call).await?;
                return Err(bills::unusable_bill(why, &carat_status, recharge.status));
            }
        };
        self.keep(recharge, listing, &bill, call).await?;
        Ok(bill)
    }

    /// Keeps `view` as the recharge's `listing`, and the call that listed it in its history,
    /// in one statement.
    async fn keep<T: Serialize>(
        &self,
        recharge: &Recharge,
        listing: &ListingKey,
        view: &T,
        call: CallRecord,
    ) -> Result<(), FlowError> {
        let body = serde_json::to_value(view).expect("a view serializes");
        let actor = Actor::Storefront;
        store::listings::save_with_call(&self.pool, recharge.id, listing, &body, &actor, call)
            .await?;
        Ok(())
    }

    /// Keeps a listing call whose answer is not kept (refused, or unusable) in the history.
    async fn note(&self, recharge: &Recharge, call: CallRecord) -> Result<(), FlowError> {
        store::recharges::record_call(&self.pool, recharge.id, &Actor::Storefront, call).await?;
        Ok(())
    }

    /// A listing kept earlier, as read with the recharge (or from the store, when it was not);
    /// one that no longer reads as a view counts as never listed.
    async fn stored<T: DeserializeOwned>(
        &self,
        opened: &Opened,
        listing: &ListingKey,
    ) -> Result<Option<T>, FlowError> {
        let body = match &opened.listings {
            Some(listings) => listings.get(&listing.as_key()).cloned(),
            None => store::listings::find(&self.pool, opened.recharge.id, listing).await?,
        };
        Ok(body.and_then(|body| T::deserialize(body).ok()))
    }

    /// Listing belongs between create and effectuation (Carat status NOV): the NIT to list
    /// with, read once the recharge is opened.
    pub(super) async fn listable(&self, opened: Opened) -> Result<(Opened, Nit), FlowError> {
        match (&opened.recharge.nit, opened.recharge.status) {
            (Some(nit), RechargeStatus::Started) => {
                let nit = nit.clone();
                Ok((opened, nit))
            }
            (_, status) => Err(FlowError::out_of_order(status, why_not(status, "list"))),
        }
    }

    /// A listing's answer and the record of its call, to be kept together; a refusal is
    /// recorded here, with what it did to the recharge.
    async fn record_list_call<T: carat_wire::Verdict>(
        &self,
        recharge: &Recharge,
        exchange: Exchange<T>,
    ) -> Result<(T, CallRecord), FlowError> {
        let actor = Actor::Storefront;
        let call = call_record(&exchange);
        let error = match exchange.result {
            Ok(answer) => return Ok((answer, call)),
            Err(error) => error,
        };
        self.note(recharge, call).await?;
        let problem = CaratProblem::not_applied(&error);
        let status = match problem.ends(recharge.status) {
            Some(next) => {
                let step = Step {
                    changes: Changes {
                        carat_status: problem
                            .carat_status
                            .as_deref()
                            .map(carat_domain::CaratStatus::parse),
                        error: Some(problem.as_last_error()),
                        ..Changes::default()
                    },
                    detail: serde_json::json!({"carat_status": problem.carat_status}),
                    ..self.step(recharge, next, Guard::Status, &actor)
                };
                match store::recharges::apply(&self.pool, step).await? {
                    Some(stored) => stored.status,
                    None => self.load(recharge.id).await?.status,
                }
            }
            None => recharge.status,
        };
        Err(FlowError::Carat(problem.with_status(status)))
    }
}

/// A listing's refusal of the dealer, named as in the query string.
fn as_dealer_code(mut e: FieldError) -> FlowError {
    e.field = "dealer_code".into();
    FlowError::Invalid(e)
}

fn dealers_view(r: ListDealersResponse) -> Dealers {
    Dealers {
        general_hash: r.hashes.and_then(|h| h.general),
        dealers: r
            .dealers
            .into_iter()
            .map(|d| DealerView {
                code: d.code,
                name: d.name,
                type_code: d.type_code,
                type_name: d.type_name,
                branches: d
                    .branches
                    .into_iter()
                    .map(|b| BranchView {
                        code: b.code,
                        name: b.name,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn branch_data_view(r: ListBranchDataResponse) -> BranchData {
    BranchData {
        general_hash: r.hashes.and_then(|h| h.general),
        questions: r
            .questions
            .into_iter()
            .map(|q| QuestionView {
                id: q.id,
                display: q.display,
                rule: q.rule,
                min_length: q.min.as_deref().and_then(|s| s.parse().ok()),
                max_length: q.max.as_deref().and_then(|s| s.parse().ok()),
                input_type: q.kind,
            })
            .collect(),
        messages: r.general.into_iter().map(|g| g.message).collect(),
        categories: r
            .categories
            .into_iter()
            .map(|c| CategoryView {
                code: c.code,
                description: c.description,
                amount_ranges: c.amount_ranges.into_iter().map(range_view).collect(),
            })
            .collect(),
    }
}

fn range_view(r: AmountRange) -> AmountRangeView {
    let cents = |s: Option<String>| s.and_then(|s| s.trim().parse::<u64>().ok());
    AmountRangeView {
        amount_key: r.amount_key,
        message: r.message,
        min_amount: cents(r.min_amount),
        max_amount: cents(r.max_amount),
        payment_amount: cents(r.payment_amount),
        bonus: cents(r.bonus),
        bonus_in_percentage: r.bonus_in_percentage,
        bonus_category: r.bonus_category,
        expiry_date: r.expiry_date,
        bonus_expiry_date: r.bonus_expiry_date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_data_amounts_become_cents_and_odd_values_are_dropped() {
        let body = r#"{"status":"NOV","esitef":{"code":"0"},"hashes":{"general":"09A9681D09A9681D"},
          "questions":[{"id":"5","display":"Qual?","rule":"3","min":"5","max":"30","type":"i"}],
          "general":[{"message":"MENSAGEM DE TESTE"}],
          "categories":[{"code":"01","description":"RECARGA","amount_ranges":[
            {"amount_key":"7","min_amount":"500","max_amount":"10000","bonus":"50","expiry_date":"30"},
            {"amount_key":"8","min_amount":"10,00"}]}]}"#;
        let view = branch_data_view(serde_json::from_str(body).unwrap());
        assert_eq!(view.questions[0].max_length, Some(30));
        assert_eq!(view.messages, ["MENSAGEM DE TESTE"]);
        let ranges = &view.categories[0].amount_ranges;
        assert_eq!(ranges[0].min_amount, Some(500));
        assert_eq!(ranges[0].bonus, Some(50));
        assert_eq!(ranges[1].min_amount, None);
    }
}

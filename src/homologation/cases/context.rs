//! What a case works with: this service's own use cases (the doors' layer, with the same
//! guards as the storefront's), the test inputs, and the journal of its steps. The runner is
//! the storefront of its sales, and the operator `operator:homologation` where a case acts as
//! the console does (the status query).

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use crate::homologation::evidence::StepRecord;
use crate::homologation::inputs::Inputs;
use carat_core::callbacks::CallbackService;
use carat_core::cards::CardService;
use carat_core::recharge::{
    BillListing, BranchData, Chosen, Dealers, EffectuateRequest, FlowError, InvoiceRequest,
    OthersEffectuateRequest, RechargeService, Reconciler, TvChoice,
};
use carat_domain::effectuation::BarCode;
use carat_domain::{
    Actor, AuthMode, BranchCode, Ddd, DealerCode, FieldError, RechargeType, UsedPaymentMethod,
};
use carat_sandbox::Sandbox;
use carat_store::Recharge;

/// The use cases a case calls, and the embedded sandbox when it plays Carat.
#[derive(Clone)]
pub struct Doors {
    pub recharges: RechargeService,
    pub cards: CardService,
    pub callbacks: CallbackService,
    /// Ends what a case leaves in doubt, as the background reconciler would.
    pub reconciler: Reconciler,
    pub sandbox: Option<Sandbox>,
    pub auth_mode: AuthMode,
    /// How long a case waits for a callback Carat sends on its own (a HASH notification).
    pub callback_wait: Duration,
}

/// How a case ended early.
#[derive(Debug)]
pub enum CaseEnd {
    /// The case cannot run here (a product Carat does not offer, a value not configured).
    Skip(String),
    /// A step failed: the reason names it.
    Fail(String),
}

pub type Step<T> = Result<T, CaseEnd>;

/// One case's run.
pub struct Ctx<'a> {
    pub doors: &'a Doors,
    pub inputs: &'a Inputs,
    /// Unique to this run: order ids and customer ids are made from it.
    pub run_id: &'a str,
    /// The case's place in the script: order ids are unique across the run's cases.
    pub case_no: usize,
    pub steps: Vec<StepRecord>,
    /// Every recharge the case made, in order.
    pub sales: Vec<Uuid>,
    /// Every card the case stored.
    pub cards: Vec<Uuid>,
    pub simulated: Option<String>,
}

impl<'a> Ctx<'a> {
    pub fn new(doors: &'a Doors, inputs: &'a Inputs, run_id: &'a str, case_no: usize) -> Self {
        Self {
            doors,
            inputs,
            run_id,
            case_no,
            steps: Vec::new(),
            sales: Vec::new(),
            cards: Vec::new(),
            simulated: None,
        }
    }

    pub fn note(&mut self, name: &str, ok: bool, detail: impl Into<String>) {
        self.steps.push(StepRecord {
            at: Utc::now(),
            name: name.to_owned(),
            ok,
            detail: detail.into(),
        });
    }

    /// Records a step that returned `result`: what it saw, or why it failed (the case then
    /// fails, naming the step).
    pub fn check<T>(
        &mut self,
        name: &str,
        result: Result<T, String>,
        seen: impl FnOnce(&T) -> String,
    ) -> Step<T> {
        match result {
            Ok(value) => {
                self.note(name, true, seen(&value));
                Ok(value)
            }
            Err(reason) => {
                self.note(name, false, reason.clone());
                Err(CaseEnd::Fail(format!("step `{name}` failed: {reason}")))
            }
        }
    }

    /// A step that expects `recharge` in `status`.
    pub fn expect_status(&mut self, name: &str, recharge: &Recharge, status: &str) -> Step<()> {
        let seen = describe(recharge);
        let result = if recharge.status.as_str() == status {
            Ok(())
        } else {
            Err(format!("expected {status}, found {seen}"))
        };
        self.check(name, result, |()| seen.clone())
    }

    pub fn operator() -> Actor {
        Actor::Operator("homologation".to_owned())
    }

    /// A new order id, unique to the run and the case.
    pub fn order_id(&self) -> String {
        format!(
            "HML{}{:02}{}",
            self.run_id,
            self.case_no,
            self.sales.len() + 1
        )
    }

    // The use cases, as the storefront's requests call them.

    pub async fn create(&mut self, kind: RechargeType) -> Result<Recharge, String> {
        let order_id = parse_field("order_id", &self.order_id())?;
        match self.doors.recharges.begin(Some(order_id), kind).await {
            Ok(recharge) => {
                self.sales.push(recharge.id);
                Ok(recharge)
            }
            Err(FlowError::Carat(problem)) => {
                self.sales.extend(problem.recharge_id);
                Err(problem_text(&problem))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    pub async fn dealers(&self, id: Uuid) -> Result<Dealers, String> {
        self.doors.recharges.dealers(id).await.map_err(flow_text)
    }

    pub async fn branches(&self, id: Uuid, ddd: &str, dealer: &str) -> Result<BranchData, String> {
        let ddd: Ddd = parse_field("ddd", ddd)?;
        let dealer: DealerCode = parse_field("dealer_code", dealer)?;
        let opened = self
            .doors
            .recharges
            .open_listed(id)
            .await
            .map_err(flow_text)?;
        let branches = self.doors.recharges.branches(opened, &ddd, &dealer);
        branches.await.map_err(flow_text)
    }

    pub async fn product_branches(
        &self,
        id: Uuid,
        dealer: &str,
        branch: &str,
    ) -> Result<BranchData, String> {
        let dealer: DealerCode = parse_field("dealer_code", dealer)?;
        let branch: BranchCode = parse_field("branch_code", branch)?;
        let recharges = &self.doors.recharges;
        let opened = recharges.open_listed(id).await.map_err(flow_text)?;
        let listed = recharges.product_branches(opened, &dealer, &branch);
        listed.await.map_err(flow_text)
    }

    pub async fn bill(
        &self,
        id: Uuid,
        dealer: &str,
        bar_code: &str,
    ) -> Result<BillListing, String> {
        let dealer: DealerCode = parse_field("dealer_code", dealer)?;
        let bar_code: BarCode = parse_field("bar_code", bar_code)?;
        let recharges = &self.doors.recharges;
        let opened = recharges.open_listed(id).await.map_err(flow_text)?;
        recharges
            .bill(opened, &dealer, &bar_code)
            .await
            .map_err(flow_text)
    }

    /// Effectuates with `body`, the storefront's JSON body, read as the door reads it.
    pub async fn effectuate(&self, id: Uuid, body: Value) -> Result<Recharge, FlowError> {
        let recharges = &self.doors.recharges;
        let opened = recharges.open_listed(id).await?;
        let chosen = match opened.recharge_type() {
            RechargeType::Normal => from_body::<EffectuateRequest>(body).map(Chosen::Normal),
            RechargeType::Others => from_body::<OthersEffectuateRequest>(body).map(Chosen::Others),
            RechargeType::Invoice => from_body::<InvoiceRequest>(body).map(Chosen::Invoice),
        }
        .map_err(FlowError::Invalid)?;
        recharges.effectuate(opened, chosen).await
    }

    pub async fn choose_tv_package(&self, id: Uuid, package: &str) -> Result<Recharge, String> {
        let choice: TvChoice =
            from_body(serde_json::json!({ "tv_package": package })).map_err(|e| e.to_string())?;
        let recharges = &self.doors.recharges;
        let opened = recharges.open(id).await.map_err(flow_text)?;
        recharges
            .choose_tv_package(opened, choice)
            .await
            .map_err(flow_text)
    }

    pub async fn decide(
        &self,
        id: Uuid,
        confirm: bool,
        methods: Option<Vec<UsedPaymentMethod>>,
    ) -> Result<Recharge, String> {
        let recharges = &self.doors.recharges;
        let opened = recharges.open(id).await.map_err(flow_text)?;
        recharges
            .confirm(opened, confirm, methods)
            .await
            .map_err(flow_text)
    }

    /// The status query, as the console's "ask Carat now" makes it.
    pub async fn query(&self, id: Uuid, reason: &str) -> Result<Recharge, String> {
        let recharges = &self.doors.recharges;
        let reason = format!("homologation: {reason}");
        let operator = Self::operator();
        let asked = recharges.ask_carat_now(id, &operator, &reason);
        asked.await.map_err(flow_text)
    }

    pub async fn load(&self, id: Uuid) -> Result<Recharge, String> {
        let (recharge, _) = self.doors.recharges.get(id).await.map_err(flow_text)?;
        Ok(recharge)
    }
}

/// A storefront body read as the door reads it: a field Carat would refuse is named.
fn from_body<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(body)
        .map_err(|e| FieldError::new(e.path().to_string(), e.inner().to_string()))
}

/// One value checked as the door checks it (each domain type validates as it deserialises).
fn parse_field<T: serde::de::DeserializeOwned>(field: &str, value: &str) -> Result<T, String> {
    serde_json::from_value(Value::String(value.to_owned()))
        .map_err(|e| format!("{field} {value:?}: {e}"))
}

/// A recharge as a step saw it: its status, Carat's, and its NIT.
pub fn describe(recharge: &Recharge) -> String {
    let carat = recharge.carat_status.as_ref().map_or("-", |s| s.as_str());
    let nit = recharge.nit.as_ref().map_or("-", |n| n.as_str());
    format!("{} (Carat {carat}, NIT {nit})", recharge.status.as_str())
}

/// A use case's failure in the report's words, with Carat's code and message when it gave them.
pub fn flow_text(e: FlowError) -> String {
    match e {
        FlowError::Carat(problem) => problem_text(&problem),
        e => e.to_string(),
    }
}

fn problem_text(problem: &carat_core::recharge::CaratProblem) -> String {
    let mut text = problem.message.clone();
    if let Some(code) = &problem.code {
        text.push_str(&format!(" (Carat code {code}"));
        if let Some(message) = &problem.carat_message {
            text.push_str(&format!(": {message}"));
        }
        text.push(')');
    }
    text
}

//! `GET /console/recharges/{id}`: one sale's summary, receipt (a PIN sale's masked) and
//! timeline, with an operator's actions; `POST /console/recharges/{id}/{ask|undo|confirm|reveal}`:
//! an action, with a reason, through `RechargeService` as `operator:<token id>`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use uuid::Uuid;

use super::layout::{self, Chrome};
use crate::console::ConsoleState;
use crate::console::context::{Viewer, field_message, flow_failure};
use crate::console::form::Fields;
use crate::console::format;
use crate::console::i18n::{L, Lang};
use crate::console::session;
use carat_core::recharge::{FlowError, PinReceipt, Receipts, pin_receipt_state, took_effect};
use carat_domain::{Actor, CaratStatus, EffectuationInput, RechargeStatus, RechargeType};
use carat_store::payments::PaymentRow;
use carat_store::{Event, EventKind, Recharge};

/// An operator's action on a sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Ask,
    Undo,
    Confirm,
    Reveal,
}

impl Action {
    pub const ALL: [Self; 4] = [Self::Ask, Self::Undo, Self::Confirm, Self::Reveal];

    /// The path segment and the form's id suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ask => "ask",
            Self::Undo => "undo",
            Self::Confirm => "confirm",
            Self::Reveal => "reveal",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    fn label(self) -> L {
        match self {
            Self::Ask => L::ActionAsk,
            Self::Undo => L::ActionUndo,
            Self::Confirm => L::ActionConfirm,
            Self::Reveal => L::ActionReveal,
        }
    }

    fn help(self) -> L {
        match self {
            Self::Ask => L::ActionAskHelp,
            Self::Undo => L::ActionUndoHelp,
            Self::Confirm => L::ActionConfirmHelp,
            Self::Reveal => L::ActionRevealHelp,
        }
    }

    /// What the page says once it is done (reveal shows the receipt instead).
    fn done(self) -> Option<L> {
        match self {
            Self::Ask => Some(L::DoneAsk),
            Self::Undo => Some(L::DoneUndo),
            Self::Confirm => Some(L::DoneConfirm),
            Self::Reveal => None,
        }
    }
}

/// The actions a sale in its state allows (the use case refuses the others anyway): asking
/// Carat while it is open and has a NIT; undoing or confirming while pending confirmation or
/// in doubt (settled by a query first), a PIN sale confirmed only with its PIN kept; revealing
/// a PIN sale's kept receipt.
pub fn allowed(r: &Recharge) -> Vec<Action> {
    let deciding = r.status == RechargeStatus::PendingConfirmation || r.status.is_in_doubt();
    let mut actions = Vec::new();
    if !r.status.is_final() && r.nit.is_some() {
        actions.push(Action::Ask);
    }
    if deciding {
        actions.push(Action::Undo);
        if r.may_be_confirmed() {
            actions.push(Action::Confirm);
        }
    }
    if r.recharge_type == RechargeType::Others && r.receipt_ciphertext.is_some() {
        actions.push(Action::Reveal);
    }
    actions
}

/// Everything the page shows.
pub struct RechargePage<'a> {
    pub recharge: &'a Recharge,
    pub events: &'a [Event],
    pub payment: Option<&'a PaymentRow>,
    /// `#flash`: what the last action did.
    pub flash: Option<L>,
    /// `#error`: why the last action was refused.
    pub error: Option<&'a str>,
    /// The receipts an operator's reveal opened: shown in `#pin-revealed` on this answer only.
    pub revealed: Option<&'a Receipts>,
    pub now: DateTime<Utc>,
}

/// `—` for what is not known.
fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "—".to_owned())
}

pub fn render(chrome: &Chrome, page: &RechargePage) -> Markup {
    let lang = chrome.lang;
    let r = page.recharge;
    let may_act = chrome.session.is_some_and(|s| s.role.may_act());
    let title = format!("{} {}", lang.t(L::Sale), r.order_id);
    let body = html! {
        h1 {
            (title) " "
            span class={ "badge status-" (r.status.as_str()) } {
                (lang.status_with_code(r.status, r.carat_status.as_ref()))
            }
        }
        @if let Some(flash) = page.flash {
            p id="flash" class="flash" role="status" { (lang.t(flash)) }
        }
        @if let Some(error) = page.error { (layout::error_box(error)) }
        div class="grid" {
            section class="card" aria-labelledby="summary-title" {
                h2 id="summary-title" { (lang.t(L::Summary)) }
                (summary(lang, page))
            }
            section id="receipt" class="card" aria-labelledby="receipt-title" {
                h2 id="receipt-title" { (lang.t(L::Receipt)) }
                (receipt(lang, r, page.revealed))
            }
        }
        @if may_act {
            (actions(lang, r, chrome.session.map(|s| s.csrf.as_str()).unwrap_or_default()))
        }
        section class="card wide" aria-labelledby="timeline-title" {
            h2 id="timeline-title" { (lang.t(L::Timeline)) }
            (timeline(lang, page.events))
        }
    };
    layout::page(chrome, &title, body)
}

/// `dl#summary`: what was sold, to whom, for how much, where it stands, with Carat's ids; the
/// card payment's status and card (BIN and last four only).
fn summary(lang: Lang, page: &RechargePage) -> Markup {
    let r = page.recharge;
    let input = r.effectuation().map(|e| &e.input);
    let amount = match input {
        Some(
            EffectuationInput::Normal { amount, .. }
            | EffectuationInput::Others { amount, .. }
            | EffectuationInput::Invoice { amount, .. },
        ) => Some(format::money(lang, amount.get() as i64)),
        None => None,
    };
    let dealer = match input {
        Some(
            EffectuationInput::Normal { dealer, .. } | EffectuationInput::Invoice { dealer, .. },
        ) => Some(format!("{} / {}", dealer.code, dealer.type_code)),
        Some(EffectuationInput::Others { dealer, .. }) => {
            Some(format!("{} / {}", dealer.code, dealer.type_code))
        }
        None => None,
    };
    let esitef_usn = r.carat_answer().and_then(|a| a.esitef_usn.clone());
    let doubt = if r.outcome_unknown_at(page.now) {
        format!("{} ({})", lang.yes_no(true), lang.t(L::OutcomeUnknown))
    } else {
        lang.yes_no(r.status.is_in_doubt()).to_owned()
    };
    html! {
        dl id="summary" class="summary" {
            dt { (lang.t(L::Kind)) } dd { (lang.kind(r.recharge_type)) }
            dt { (lang.t(L::Status)) } dd { (lang.status_with_code(r.status, r.carat_status.as_ref())) }
            dt { (lang.t(L::CaratStatus)) } dd { (or_dash(r.carat_status.as_ref().map(|s| lang.carat_status(s)))) }
            dt { (lang.t(L::InDoubt)) } dd { (doubt) }
            dt { (lang.t(L::Amount)) } dd class="amount" { (or_dash(amount)) }
            dt { (lang.t(L::Dealer)) } dd { (or_dash(dealer)) }
            (sold(lang, input))
            dt { (lang.t(L::OrderId)) } dd { code { (r.order_id) } }
            dt { (lang.t(L::Nit)) } dd { code class="nit" { (or_dash(r.nit.as_ref().map(ToString::to_string))) } }
            dt { (lang.t(L::MerchantUsn)) } dd { code { (r.merchant_usn) } }
            dt { (lang.t(L::CaratUsn)) } dd { code { (or_dash(esitef_usn)) } }
            dt { (lang.t(L::Id)) } dd { code { (r.id) } }
            dt { (lang.t(L::Created)) } dd { (format::date_time_seconds(r.created_at)) }
            dt { (lang.t(L::Updated)) } dd { (format::date_time_seconds(r.updated_at)) }
            dt { (lang.t(L::Attempts)) } dd { (r.attempt) }
            @if r.last_error_code.is_some() || r.last_error_message.is_some() {
                dt { (lang.t(L::LastError)) }
                dd {
                    @if let Some(code) = &r.last_error_code { code { (code) } " " }
                    (r.last_error_message.clone().unwrap_or_default())
                }
            }
            @if !r.status.is_final() {
                dt { (lang.t(L::NextReconcile)) }
                dd {
                    (or_dash(r.next_attempt_at.map(format::date_time_seconds)))
                    @if let Some(error) = &r.reconcile_error { " · " (error) }
                }
            }
            (payment(lang, page.payment))
        }
    }
}

/// What was sold: the phone of a top-up, the product of an `others` sale, the bill.
fn sold(lang: Lang, input: Option<&EffectuationInput>) -> Markup {
    html! {
        @match input {
            Some(EffectuationInput::Normal { phone, .. }) => {
                dt { (lang.t(L::Phone)) }
                dd { (format::phone(phone.ddd.as_ref(), phone.number.as_ref())) }
            }
            Some(EffectuationInput::Others { dealer, .. }) => {
                dt { (lang.t(L::Product)) } dd { (dealer.branch.code) }
            }
            Some(EffectuationInput::Invoice { invoice, .. }) => {
                dt { (lang.t(L::Bill)) }
                dd { (invoice.description) " · " code { (invoice.bar_code) } }
            }
            None => {}
        }
    }
}

/// The card payment linked to the sale, if any: the card by its BIN and last four only.
fn payment(lang: Lang, payment: Option<&PaymentRow>) -> Markup {
    html! {
        dt { (lang.t(L::Payment)) }
        @match payment {
            None => { dd { (lang.t(L::NoPayment)) } }
            Some(p) => {
                dd {
                    (format::money(lang, p.amount_cents)) " · "
                    (lang.t(L::PaymentStatus)) ": "
                    (or_dash(p.status.as_deref().map(|s| lang.carat_status(&CaratStatus::parse(s)))))
                }
                dt { (lang.t(L::Card)) }
                dd class="card-number" { (card(lang, p)) }
                dt { (lang.t(L::Authorizer)) } dd { (p.authorizer_id) }
                dt { (lang.t(L::Installments)) } dd { (p.installments) " (" (p.installment_type) ")" }
            }
        }
    }
}

/// A card as the payment keeps it: its BIN and last four, never more.
fn card(lang: Lang, p: &PaymentRow) -> String {
    let source = match p.card_source.as_str() {
        "number" => lang.t(L::CardByNumber),
        "token" => lang.t(L::CardByToken),
        "stored_card" => lang.t(L::CardStored),
        other => other,
    };
    match (&p.card_bin, &p.card_last4) {
        (Some(bin), Some(last4)) => format!("{bin}•• •••• {last4} ({source})"),
        (None, Some(last4)) => format!("•••• {last4} ({source})"),
        (Some(bin), None) => format!("{bin}•• ({source})"),
        (None, None) => format!("({source})"),
    }
}

/// `#receipt`'s content: a PIN sale's masked (`#pin-masked`) unless an operator revealed it
/// on this very answer (`#pin-revealed`); other kinds' receipts as stored.
fn receipt(lang: Lang, r: &Recharge, revealed: Option<&Receipts>) -> Markup {
    if r.recharge_type == RechargeType::Others {
        if let Some(receipts) = revealed {
            return html! {
                div id="pin-revealed" class="revealed" {
                    p class="notice" { (lang.t(L::PinRevealed)) }
                    @if let Some(customer) = &receipts.customer {
                        h3 { (lang.t(L::CustomerReceipt)) }
                        pre { (customer) }
                    }
                    @if let Some(merchant) = &receipts.merchant {
                        h3 { (lang.t(L::MerchantReceipt)) }
                        pre { (merchant) }
                    }
                }
            };
        }
        let state = match pin_receipt_state(r) {
            Some(PinReceipt::Kept) => L::PinMasked,
            Some(PinReceipt::NotKept) => L::PinNotKept,
            Some(PinReceipt::Unreadable) => L::PinUnreadable,
            None => L::PinNotYet,
        };
        return html! {
            p id="pin-masked" class="masked" {
                @if state == L::PinMasked { span class="mask" aria-hidden="true" { "•••• •••• ••••" } " " }
                (lang.t(state))
            }
        };
    }
    html! {
        @if r.customer_receipt.is_none() && r.merchant_receipt.is_none() {
            p { (lang.t(L::NoReceipt)) }
        }
        @if let Some(customer) = &r.customer_receipt {
            h3 { (lang.t(L::CustomerReceipt)) }
            pre { (customer) }
        }
        @if let Some(merchant) = &r.merchant_receipt {
            h3 { (lang.t(L::MerchantReceipt)) }
            pre { (merchant) }
        }
    }
}

/// `#actions`: one form per action the sale allows, each with the session's CSRF token and a
/// reason.
fn actions(lang: Lang, r: &Recharge, csrf: &str) -> Markup {
    let allowed = allowed(r);
    html! {
        section id="actions" class="card wide" aria-labelledby="actions-title" {
            h2 id="actions-title" { (lang.t(L::Actions)) }
            @if allowed.is_empty() {
                p { (lang.t(L::NoActions)) }
            } @else {
                p class="hint" { (lang.t(L::ActionsHelp)) }
                div class="actions" {
                    @for action in allowed {
                        @let name = action.as_str();
                        form id={ "action-" (name) } class="action" method="post"
                            action={ "/console/recharges/" (r.id) "/" (name) } {
                            h3 { (lang.t(action.label())) }
                            p class="hint" { (lang.t(action.help())) }
                            input type="hidden" name="csrf" value=(csrf);
                            label for={ "reason-" (name) } { (lang.t(L::Reason)) }
                            textarea id={ "reason-" (name) } name="reason" rows="2" maxlength="500" required {}
                            button type="submit" name="go" class={ "go " (name) } { (lang.t(action.label())) }
                        }
                    }
                }
            }
        }
    }
}

fn actor(lang: Lang, actor: Option<&Actor>) -> Markup {
    let (word, code) = match actor {
        None => (L::ActorUnknown, None),
        Some(a @ Actor::Storefront) => (L::ActorStorefront, Some(a.to_string())),
        Some(a @ Actor::Carat) => (L::ActorCarat, Some(a.to_string())),
        Some(a @ Actor::Reconciler(_)) => (L::ActorReconciler, Some(a.to_string())),
        Some(a @ Actor::Operator(_)) => (L::ActorOperator, Some(a.to_string())),
    };
    html! {
        span class="actor" {
            (lang.t(L::Actor)) ": " (lang.t(word))
            @if let Some(code) = code { " " code { (code) } }
        }
    }
}

fn event_kind(kind: EventKind) -> L {
    match kind {
        EventKind::OutboundCall => L::EventOutboundCall,
        EventKind::Callback => L::EventCallback,
        EventKind::StateChange => L::EventStateChange,
        EventKind::OperatorAction => L::EventOperatorAction,
    }
}

/// What an entry did, in words where the history says it plainly: a state change's from and
/// to, an operator's action and reason, a call's outcome and timing.
fn event_line(lang: Lang, e: &Event) -> Markup {
    let text = |key: &str| e.detail.get(key).and_then(|v| v.as_str());
    let status = |key: &str| {
        text(key)
            .and_then(RechargeStatus::parse)
            .map(|s| lang.status(s))
    };
    match e.kind {
        EventKind::StateChange => html! {
            @match (status("from"), status("to")) {
                (Some(from), Some(to)) if from != to => { (from) " → " (to) }
                (_, Some(to)) => { (to) }
                _ => { code { (e.name) } }
            }
        },
        EventKind::OperatorAction => {
            let action = match text("action") {
                Some("ask_carat_now") => Some(L::ActionAsk),
                Some("undo_now") => Some(L::ActionUndo),
                Some("confirm_now") => Some(L::ActionConfirm),
                Some("reveal_pin") => Some(L::ActionReveal),
                _ => None,
            };
            html! {
                @if let Some(action) = action { (lang.t(action)) } @else { code { (e.name) } }
                @if let Some(reason) = text("reason") {
                    span class="reason" { " · " (lang.t(L::Reason)) ": " q { (reason) } }
                }
            }
        }
        EventKind::OutboundCall | EventKind::Callback => {
            // How long Carat took, as the call's record keeps it (`steps/record.rs`).
            let took = e.detail.get("elapsed_ms").and_then(|v| v.as_u64());
            let carat = text("carat_status").map(|c| lang.carat_status(&CaratStatus::parse(c)));
            html! {
                code { (e.name) }
                @if let Some(outcome) = text("outcome") {
                    " · " (lang.t(L::Outcome)) ": " strong class={ "outcome " (outcome) } { (outcome) }
                }
                @if let Some(carat) = carat { " · " (carat) }
                @if let Some(ms) = took { " · " (lang.t(L::Took)) ": " (format::millis(lang, ms)) }
            }
        }
    }
}

/// `ol#timeline`: one `li.event` per history entry, oldest first, with its actor and time;
/// the entry's detail as stored (already redacted) in a `<pre>`.
fn timeline(lang: Lang, events: &[Event]) -> Markup {
    html! {
        @if events.is_empty() { p { (lang.t(L::NoEvents)) } }
        ol id="timeline" class="timeline" {
            @for e in events {
                li class={ "event kind-" (e.kind.as_str()) } {
                    div class="event-head" {
                        time datetime=(e.at.to_rfc3339()) { (format::date_time_seconds(e.at)) }
                        " "
                        strong class="event-kind" { (lang.t(event_kind(e.kind))) }
                        " · "
                        (event_line(lang, e))
                    }
                    div class="event-meta" { (actor(lang, e.actor.as_ref())) }
                    @if !e.detail.is_null() {
                        details {
                            summary { (lang.t(L::Details)) }
                            pre { (serde_json::to_string_pretty(&e.detail).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

/// The flash cookie: a done action's name, for the sale's page only, read once.
const FLASH_COOKIE: &str = "carat_console_flash";

/// What the page says after an action redirected to it: `undo` when the click did it,
/// `undo.other` when someone else had taken the step first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flash {
    action: Action,
    by_this_click: bool,
}

impl Flash {
    fn as_cookie_value(self) -> String {
        match self.by_this_click {
            true => self.action.as_str().to_owned(),
            false => format!("{}.other", self.action.as_str()),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let (action, by_this_click) = match text.strip_suffix(".other") {
            Some(action) => (action, false),
            None => (text, true),
        };
        Action::parse(action).map(|action| Self {
            action,
            by_this_click,
        })
    }

    fn message(self) -> Option<L> {
        match self.by_this_click {
            true => self.action.done(),
            false => Some(L::DoneByOther),
        }
    }
}

fn flash_cookie(id: Uuid, flash: Flash, secure: bool) -> String {
    format!(
        "{FLASH_COOKIE}={}; Path=/console/recharges/{id}; HttpOnly; SameSite=Strict; Max-Age=60{}",
        flash.as_cookie_value(),
        if secure { "; Secure" } else { "" }
    )
}

fn cleared_flash_cookie(id: Uuid, secure: bool) -> String {
    format!(
        "{FLASH_COOKIE}=; Path=/console/recharges/{id}; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// A recharge and what its page shows with it.
async fn load(
    state: &ConsoleState,
    id: Uuid,
) -> Result<(Recharge, Vec<Event>, Option<PaymentRow>), FlowError> {
    let (recharge, events) = state.recharges.get(id).await?;
    let payment = state.recharges.payment(&recharge).await?;
    Ok((recharge, events, payment))
}

/// The sale's 404 page, for a path that names none.
fn no_such_recharge(viewer: &Viewer) -> Response {
    viewer
        .fail(StatusCode::NOT_FOUND, viewer.lang().t(L::NoSuchRecharge))
        .into_response()
}

/// The page for `viewer`, with what an action left (`flash`, `error`, `revealed`).
async fn page_response(
    state: &ConsoleState,
    viewer: &Viewer,
    id: Uuid,
    status: StatusCode,
    flash: Option<L>,
    error: Option<&str>,
    revealed: Option<&Receipts>,
) -> Response {
    let (recharge, events, payment) = match load(state, id).await {
        Ok(loaded) => loaded,
        Err(e) => {
            let (status, message) = flow_failure(viewer.lang(), &e);
            return viewer.fail(status, message).into_response();
        }
    };
    let here = format!("/console/recharges/{id}");
    let chrome = Chrome {
        lang: viewer.lang(),
        here: &here,
        session: Some(&viewer.session),
    };
    let page = RechargePage {
        recharge: &recharge,
        events: &events,
        payment: payment.as_ref(),
        flash,
        error,
        revealed,
        now: Utc::now(),
    };
    (status, render(&chrome, &page)).into_response()
}

/// `GET /console/recharges/{id}`.
pub async fn show(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return no_such_recharge(&viewer);
    };
    let flash = session::cookie(&headers, FLASH_COOKIE)
        .and_then(Flash::parse)
        .and_then(Flash::message);
    let mut response = page_response(&state, &viewer, id, StatusCode::OK, flash, None, None).await;
    if flash.is_some()
        && let Ok(clear) =
            HeaderValue::from_str(&cleared_flash_cookie(id, viewer.ctx.secure_cookies))
    {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

/// `POST /console/recharges/{id}/{action}`: operators only (support: 403, logged, counted),
/// with the session's CSRF token (else 403) and a reason (the use case checks it).
pub async fn act(
    State(state): State<ConsoleState>,
    mut viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let lang = viewer.lang();
    // Whatever this answers is the sale's page (or the search's): the language switch links
    // there, never to this POST-only path.
    viewer.ctx.here = "/console/recharges".to_owned();
    let Some(action) = Action::parse(&action) else {
        return viewer
            .fail(StatusCode::NOT_FOUND, lang.t(L::NotFound))
            .into_response();
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return no_such_recharge(&viewer);
    };
    viewer.ctx.here = format!("/console/recharges/{id}");
    let reason = match checked_reason(&state, &viewer, id, action, &body).await {
        Ok(reason) => reason,
        Err(refused) => return refused,
    };
    let actor = viewer.session.actor();
    let token_id = viewer.session.token_id.as_str();
    tracing::info!(%token_id, action = action.as_str(), recharge_id = %id, "console: operator action");
    match perform(&state, &actor, id, action, &reason).await {
        Ok(Some(receipts)) => {
            let page = page_response(
                &state,
                &viewer,
                id,
                StatusCode::OK,
                None,
                None,
                Some(&receipts),
            );
            page.await
        }
        Ok(None) => done(&state, &viewer, &actor, id, action).await,
        Err(e) => {
            let (status, message) = flow_failure(lang, &e);
            if status == StatusCode::NOT_FOUND {
                return viewer.fail(status, message).into_response();
            }
            page_response(&state, &viewer, id, status, None, Some(&message), None).await
        }
    }
}

/// The action's reason, once the session may act (support: 403, logged, counted) and the
/// form carries the session's CSRF token (else 403); otherwise the page that refuses it.
async fn checked_reason(
    state: &ConsoleState,
    viewer: &Viewer,
    id: Uuid,
    action: Action,
    body: &[u8],
) -> Result<String, Response> {
    let lang = viewer.lang();
    let token_id = viewer.session.token_id.as_str();
    if !viewer.session.role.may_act() {
        state.metrics.console_action_forbidden();
        tracing::warn!(%token_id, action = action.as_str(), recharge_id = %id,
            "console: a support session posted an action; refused");
        return Err(viewer
            .fail(StatusCode::FORBIDDEN, lang.t(L::SupportCannotAct))
            .into_response());
    }
    let fields = Fields::parse(body, "form").map_err(|p| viewer.bad_field(&p).into_response())?;
    let csrf = fields.one("csrf").ok().flatten();
    if !session::csrf_matches(&viewer.session.csrf, csrf) {
        tracing::warn!(%token_id, action = action.as_str(), recharge_id = %id,
            "console: an action without the session's CSRF token; refused");
        return Err(viewer
            .fail(StatusCode::FORBIDDEN, lang.t(L::BadCsrf))
            .into_response());
    }
    match fields.one("reason") {
        Ok(reason) => Ok(reason.unwrap_or_default().to_owned()),
        Err(problem) => {
            let message = field_message(lang, &problem);
            let status = StatusCode::BAD_REQUEST;
            Err(page_response(state, viewer, id, status, None, Some(&message), None).await)
        }
    }
}

/// The action, through the same operations the storefront and the reconciler use: the
/// receipts when it reveals a PIN, nothing otherwise.
async fn perform(
    state: &ConsoleState,
    actor: &Actor,
    id: Uuid,
    action: Action,
    reason: &str,
) -> Result<Option<Receipts>, FlowError> {
    let recharges = &state.recharges;
    match action {
        Action::Ask => recharges
            .ask_carat_now(id, actor, reason)
            .await
            .map(|_| None),
        Action::Undo => recharges.undo_now(id, actor, reason).await.map(|_| None),
        Action::Confirm => recharges.confirm_now(id, actor, reason).await.map(|_| None),
        Action::Reveal => recharges.reveal_pin(id, actor, reason).await.map(Some),
    }
}

/// Back to the sale's page, with a flash saying what happened: the operator's click did it,
/// or someone else had taken the step first (the history tells who).
async fn done(
    state: &ConsoleState,
    viewer: &Viewer,
    actor: &Actor,
    id: Uuid,
    action: Action,
) -> Response {
    let by_this_click = match state.recharges.get(id).await {
        Ok((_, events)) => took_effect(&events, actor),
        // The step is taken; only the flash's wording is at stake.
        Err(_) => true,
    };
    let flash = Flash {
        action,
        by_this_click,
    };
    let mut response = Redirect::to(&format!("/console/recharges/{id}")).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&flash_cookie(id, flash, viewer.ctx.secure_cookies)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::{normal, others, recharge};
    use carat_core::console::Session;
    use carat_domain::{ConsoleRole, Nit};

    fn session(role: ConsoleRole) -> Session {
        Session {
            role,
            token_id: "0123456789abcdef".into(),
            csrf: "the-csrf".into(),
        }
    }

    fn event(kind: EventKind, name: &str, actor: Actor, detail: serde_json::Value) -> Event {
        Event {
            id: 1,
            at: DateTime::parse_from_rfc3339("2026-12-06T02:30:05Z")
                .unwrap()
                .with_timezone(&Utc),
            kind,
            name: name.to_owned(),
            actor: Some(actor),
            detail,
        }
    }

    fn pending(mut r: Recharge) -> Recharge {
        r.status = RechargeStatus::PendingConfirmation;
        r.carat_status = Some(CaratStatus::Ppc);
        r.nit = Some(Nit::parse("A".repeat(64)).unwrap());
        r
    }

    fn html(
        role: ConsoleRole,
        r: &Recharge,
        events: &[Event],
        revealed: Option<&Receipts>,
    ) -> String {
        let session = session(role);
        let chrome = Chrome {
            lang: Lang::PtBr,
            here: "/console/recharges/x",
            session: Some(&session),
        };
        let page = RechargePage {
            recharge: r,
            events,
            payment: None,
            flash: None,
            error: None,
            revealed,
            now: Utc::now(),
        };
        render(&chrome, &page).into_string()
    }

    #[test]
    fn actions_follow_the_state() {
        let r = pending(recharge(normal()));
        assert_eq!(allowed(&r), [Action::Ask, Action::Undo, Action::Confirm]);
        let confirmed = recharge(normal());
        assert_eq!(allowed(&confirmed), []);
        // A PIN sale whose PIN was not kept is never confirmed, nor revealed.
        let pin = pending(recharge(others()));
        assert_eq!(allowed(&pin), [Action::Ask, Action::Undo]);
        let mut kept = pin.clone();
        kept.receipt_ciphertext = Some(vec![1, 2, 3]);
        assert_eq!(allowed(&kept), Action::ALL);
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
    }

    #[test]
    fn operators_get_one_form_per_allowed_action_support_none() {
        let r = pending(recharge(normal()));
        let page = html(ConsoleRole::Operator, &r, &[], None);
        assert!(page.contains("id=\"actions\""));
        for action in ["ask", "undo", "confirm"] {
            assert!(page.contains(&format!(
                "<form id=\"action-{action}\" class=\"action\" method=\"post\" action=\"/console/recharges/{}/{action}\">",
                r.id
            )), "{page}");
        }
        assert!(!page.contains("action-reveal"));
        assert_eq!(
            page.matches("<input type=\"hidden\" name=\"csrf\" value=\"the-csrf\">")
                .count(),
            4,
            "3 actions and sign-out"
        );
        assert_eq!(page.matches("<textarea").count(), 3);
        assert_eq!(page.matches("name=\"go\"").count(), 3);
        for id in ["summary", "timeline", "receipt"] {
            assert!(page.contains(&format!("id=\"{id}\"")), "no #{id}");
        }
        assert!(page.contains("Pendente de confirmação (PPC)"));
        assert!(page.contains("R$ 1.234,56"));
        let support = html(ConsoleRole::Support, &r, &[], None);
        assert!(!support.contains("id=\"actions\""));
        assert!(!support.contains("class=\"action\""));
        assert!(!support.contains("<textarea"));
    }

    #[test]
    fn a_pin_is_masked_unless_revealed_on_this_answer() {
        let mut r = pending(recharge(others()));
        r.receipt_ciphertext = Some(vec![1]);
        let masked = html(ConsoleRole::Operator, &r, &[], None);
        assert!(masked.contains("id=\"pin-masked\""));
        assert!(!masked.contains("pin-revealed"));
        let receipts = Receipts {
            customer: Some("PIN: 1234-5678".into()),
            merchant: None,
        };
        let shown = html(ConsoleRole::Operator, &r, &[], Some(&receipts));
        assert!(shown.contains("id=\"pin-revealed\""));
        assert!(shown.contains("PIN: 1234-5678"));
        assert!(!shown.contains("pin-masked"));
    }

    #[test]
    fn the_timeline_has_an_entry_per_event_with_its_actor() {
        let r = recharge(normal());
        let events = [
            event(
                EventKind::StateChange,
                "created",
                Actor::Storefront,
                serde_json::json!({"to": "created"}),
            ),
            event(
                EventKind::OutboundCall,
                "effectuate",
                Actor::Storefront,
                serde_json::json!({"outcome": "ok", "carat_status": "PPC", "elapsed_ms": 1300, "request": {"x": "<b>"}}),
            ),
            event(
                EventKind::OperatorAction,
                "undo_now",
                Actor::Operator("0123456789abcdef".into()),
                serde_json::json!({"action": "undo_now", "reason": "Cliente desistiu"}),
            ),
            event(
                EventKind::StateChange,
                "pending_confirmation -> undoing",
                Actor::Operator("0123456789abcdef".into()),
                serde_json::json!({"from": "pending_confirmation", "to": "undoing"}),
            ),
        ];
        let page = html(ConsoleRole::Operator, &r, &events, None);
        assert_eq!(page.matches("<li class=\"event ").count(), 4);
        assert!(page.contains("operator:0123456789abcdef"));
        assert!(page.contains("<q>Cliente desistiu</q>"));
        assert!(page.contains("Pendente de confirmação → Desfazendo"));
        assert!(page.contains("Pendente de confirmação (PPC)"));
        assert!(page.contains("1,3 s"), "{page}");
        assert!(page.contains("&lt;b&gt;"), "JSON is escaped: {page}");
        assert!(page.contains("05/12/2026 23:30:05"));
    }

    #[test]
    fn cards_show_bin_and_last_four_only() {
        let p = PaymentRow {
            amount_cents: 1000,
            authorizer_id: "1".into(),
            customer_id: None,
            installments: 1,
            installment_type: "4".into(),
            card_source: "number".into(),
            stored_card_id: None,
            card_bin: Some("411111".into()),
            card_last4: Some("1111".into()),
            extra_params: serde_json::Value::Null,
            status: Some("CON".into()),
            status_source: None,
            status_at: None,
            carat_answer: None,
            customer_receipt: None,
            merchant_receipt: None,
        };
        let shown = card(Lang::En, &p);
        assert_eq!(shown, "411111•• •••• 1111 (card number)");
        assert!(!shown.contains("4111111111111111"));
    }

    #[test]
    fn the_flash_cookie_is_the_sales_own() {
        let id = Uuid::nil();
        let mine = Flash {
            action: Action::Undo,
            by_this_click: true,
        };
        let cookie = flash_cookie(id, mine, true);
        assert_eq!(
            cookie,
            "carat_console_flash=undo; Path=/console/recharges/00000000-0000-0000-0000-000000000000; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert!(cleared_flash_cookie(id, false).contains("Max-Age=0"));
    }

    #[test]
    fn the_flash_says_whether_the_click_did_it() {
        for action in Action::ALL {
            for by_this_click in [true, false] {
                let flash = Flash {
                    action,
                    by_this_click,
                };
                assert_eq!(Flash::parse(&flash.as_cookie_value()), Some(flash));
            }
        }
        let theirs = Flash::parse("undo.other").unwrap();
        assert_eq!(theirs.message(), Some(L::DoneByOther));
        assert_eq!(Flash::parse("undo").unwrap().message(), Some(L::DoneUndo));
        assert_eq!(Flash::parse("nothing"), None);
    }
}

//! `GET /console/queues/{in-doubt|overdue|awaiting-choice|callbacks|cards}`: what someone
//! should look at, a page at a time, in a table `#queue`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::layout::{self, Chrome};
use super::search::split_page;
use super::table;
use crate::api::listing::{decode_cursor, encode_cursor};
use crate::console::ConsoleState;
use crate::console::context::Viewer;
use crate::console::form::{FieldProblem, Fields};
use crate::console::format;
use crate::console::i18n::{L, Lang};
use carat_core::console::{ListKey, Queue};
use carat_store::Recharge;
use carat_store::callbacks::CallbackRow;
use carat_store::cards::CardRow;

/// Rows per page.
pub const PAGE: i64 = 50;

/// A queue page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueuePage {
    Recharges(Queue),
    Callbacks,
    Cards,
}

impl QueuePage {
    pub const ALL: [Self; 5] = [
        Self::Recharges(Queue::InDoubt),
        Self::Recharges(Queue::OverdueConfirmation),
        Self::Recharges(Queue::AwaitingChoice),
        Self::Callbacks,
        Self::Cards,
    ];

    /// The path segment.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Recharges(Queue::InDoubt) => "in-doubt",
            Self::Recharges(Queue::OverdueConfirmation) => "overdue",
            Self::Recharges(Queue::AwaitingChoice) => "awaiting-choice",
            Self::Callbacks => "callbacks",
            Self::Cards => "cards",
        }
    }

    pub fn parse(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.slug() == slug)
    }

    fn title(self) -> L {
        match self {
            Self::Recharges(Queue::InDoubt) => L::QueueInDoubt,
            Self::Recharges(Queue::OverdueConfirmation) => L::QueueOverdue,
            Self::Recharges(Queue::AwaitingChoice) => L::QueueAwaitingChoice,
            Self::Callbacks => L::QueueCallbacks,
            Self::Cards => L::QueueCards,
        }
    }

    fn help(self) -> L {
        match self {
            Self::Recharges(Queue::InDoubt) => L::QueueInDoubtHelp,
            Self::Recharges(Queue::OverdueConfirmation) => L::QueueOverdueHelp,
            Self::Recharges(Queue::AwaitingChoice) => L::QueueAwaitingChoiceHelp,
            Self::Callbacks => L::QueueCallbacksHelp,
            Self::Cards => L::QueueCardsHelp,
        }
    }
}

/// What a queue page lists.
pub enum Rows {
    Recharges(Vec<Recharge>),
    Callbacks(Vec<CallbackRow>),
    Cards(Vec<CardRow>),
}

pub fn render(chrome: &Chrome, queue: QueuePage, rows: &Rows, next: Option<&str>) -> Markup {
    let lang = chrome.lang;
    let body = html! {
        h1 { (lang.t(queue.title())) }
        p class="hint" { (lang.t(queue.help())) }
        @match rows {
            Rows::Recharges(rows) => { (table::recharges(lang, "queue", rows, L::EmptyQueue)) }
            Rows::Callbacks(rows) => { (callbacks(lang, rows)) }
            Rows::Cards(rows) => { (cards(lang, rows)) }
        }
        @if let Some(next) = next {
            p class="pager" {
                a id="next-page" rel="next" href={ "/console/queues/" (queue.slug()) "?" (next) } {
                    (lang.t(L::NextPage))
                }
            }
        }
    };
    layout::page(chrome, lang.t(queue.title()), body)
}

/// Refused and unmatched callbacks, with their bodies as kept (a secret in one was blanked
/// before it was kept).
fn callbacks(lang: Lang, rows: &[CallbackRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            p id="queue" class="empty" { (lang.t(L::EmptyQueue)) }
        } @else {
            table id="queue" class="list" {
                thead {
                    tr {
                        th scope="col" { (lang.t(L::Received)) }
                        th scope="col" { (lang.t(L::Callback)) }
                        th scope="col" { (lang.t(L::Outcome)) }
                        th scope="col" { (lang.t(L::Source)) }
                        th scope="col" class="num" { (lang.t(L::Receipts)) }
                        th scope="col" { (lang.t(L::Sale)) }
                        th scope="col" { (lang.t(L::Body)) }
                    }
                }
                tbody {
                    @for c in rows {
                        tr {
                            td { time datetime=(c.received_at.to_rfc3339()) { (format::date_time_seconds(c.received_at)) } }
                            td { code { (c.kind.as_str()) } " #" (c.id) }
                            td {
                                strong { (c.outcome.as_str()) } " (HTTP " (c.http_status) ")"
                                @if let Some(reason) = &c.reason { br; (reason) }
                            }
                            td { (c.source_addr.clone().unwrap_or_default()) }
                            td class="num" { (c.receipt_count) }
                            td {
                                @if let Some(id) = c.recharge_id {
                                    a class="recharge-link" href={ "/console/recharges/" (id) } { (lang.t(L::Open)) }
                                }
                            }
                            td {
                                details {
                                    summary { (c.content_type.clone().unwrap_or_default()) }
                                    pre { (String::from_utf8_lossy(&c.raw_body)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Cards whose storage was never answered: the card by its BIN and last four, never its
/// token.
fn cards(lang: Lang, rows: &[CardRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            p id="queue" class="empty" { (lang.t(L::EmptyQueue)) }
        } @else {
            table id="queue" class="list" {
                thead {
                    tr {
                        th scope="col" { (lang.t(L::Created)) }
                        th scope="col" { (lang.t(L::CustomerId)) }
                        th scope="col" { (lang.t(L::Card)) }
                        th scope="col" { (lang.t(L::Status)) }
                        th scope="col" { (lang.t(L::Authorizer)) }
                        th scope="col" { (lang.t(L::LastError)) }
                        th scope="col" { (lang.t(L::Id)) }
                    }
                }
                tbody {
                    @for c in rows {
                        tr {
                            td { time datetime=(c.created_at.to_rfc3339()) { (format::date_time_seconds(c.created_at)) } }
                            td { (c.customer_id) }
                            td class="card-number" {
                                (c.bin.clone().unwrap_or_default()) "•• •••• " (c.last4.clone().unwrap_or_default())
                            }
                            td { code { (c.status.as_str()) } }
                            td { (c.authorizer_id) }
                            td {
                                @if let Some(code) = &c.last_error_code { code { (code) } " " }
                                (c.last_error_message.clone().unwrap_or_default())
                            }
                            td { code { (c.id) } }
                        }
                    }
                }
            }
        }
    }
}

fn cursor(fields: &Fields) -> Result<Option<ListKey>, FieldProblem> {
    match fields.one("after")?.filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(c) => decode_cursor(c).map(Some).ok_or_else(|| {
            FieldProblem::new("after", "is not a cursor this queue gave (next page)")
        }),
    }
}

fn before(fields: &Fields) -> Result<Option<i64>, FieldProblem> {
    match fields.one("before")?.filter(|b| !b.is_empty()) {
        None => Ok(None),
        Some(b) => b
            .parse::<i64>()
            .map(Some)
            .map_err(|_| FieldProblem::new("before", "must be a callback id")),
    }
}

/// `GET /console/queues/{queue}`.
pub async fn show(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(queue) = QueuePage::parse(&slug) else {
        return viewer
            .fail(StatusCode::NOT_FOUND, viewer.lang().t(L::NoSuchQueue))
            .into_response();
    };
    let fields = match Fields::query(query.as_deref()) {
        Ok(fields) => fields,
        Err(problem) => return viewer.bad_field(&problem).into_response(),
    };
    let desk = &state.desk;
    let listed = match queue {
        QueuePage::Recharges(q) => {
            let after = match cursor(&fields) {
                Ok(after) => after,
                Err(problem) => return viewer.bad_field(&problem).into_response(),
            };
            desk.queue(q, after, PAGE + 1).await.map(|rows| {
                let (rows, next) = split_page(rows, PAGE);
                (Rows::Recharges(rows), next.map(|c| format!("after={c}")))
            })
        }
        QueuePage::Callbacks => {
            let before = match before(&fields) {
                Ok(before) => before,
                Err(problem) => return viewer.bad_field(&problem).into_response(),
            };
            desk.refused_callbacks(before, PAGE).await.map(|rows| {
                let next = (rows.len() as i64 == PAGE)
                    .then(|| rows.last().map(|c| format!("before={}", c.id)))
                    .flatten();
                (Rows::Callbacks(rows), next)
            })
        }
        QueuePage::Cards => {
            let after = match cursor(&fields) {
                Ok(after) => after,
                Err(problem) => return viewer.bad_field(&problem).into_response(),
            };
            desk.unknown_cards(after, PAGE).await.map(|rows| {
                let next = (rows.len() as i64 == PAGE)
                    .then(|| {
                        rows.last().map(|c| {
                            let key = ListKey {
                                created_at: c.created_at,
                                id: c.id,
                            };
                            format!("after={}", encode_cursor(key))
                        })
                    })
                    .flatten();
                (Rows::Cards(rows), next)
            })
        }
    };
    match listed {
        Ok((rows, next)) => render(&viewer.chrome(), queue, &rows, next.as_deref()).into_response(),
        Err(e) => viewer.console_error(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::{normal, recharge};

    #[test]
    fn queues_are_named_by_their_path() {
        for q in QueuePage::ALL {
            assert_eq!(QueuePage::parse(q.slug()), Some(q));
        }
        assert_eq!(QueuePage::parse("nope"), None);
    }

    #[test]
    fn every_queue_is_a_table_named_queue() {
        let chrome = Chrome {
            lang: Lang::PtBr,
            here: "/console/queues/in-doubt",
            session: None,
        };
        let rows = Rows::Recharges(vec![recharge(normal())]);
        let html = render(
            &chrome,
            QueuePage::Recharges(Queue::InDoubt),
            &rows,
            Some("after=abc"),
        )
        .into_string();
        assert!(html.contains("<table id=\"queue\""));
        assert!(html.contains("class=\"recharge-link\""));
        assert!(html.contains("href=\"/console/queues/in-doubt?after=abc\""));
        for (queue, rows) in [
            (QueuePage::Callbacks, Rows::Callbacks(vec![])),
            (QueuePage::Cards, Rows::Cards(vec![])),
        ] {
            let html = render(&chrome, queue, &rows, None).into_string();
            assert!(html.contains("id=\"queue\""), "{queue:?}");
            assert!(html.contains("Fila vazia."));
        }
    }

    #[test]
    fn a_card_shows_neither_its_number_nor_its_token() {
        let row = CardRow {
            id: uuid::Uuid::nil(),
            customer_id: "C1".into(),
            authorizer_id: "1".into(),
            merchant_usn: 1,
            nita: None,
            nsua: None,
            status: carat_domain::card_status::CardStatus::Unknown,
            token: Some("THE-SECRET-TOKEN".into()),
            bin: Some("601111".into()),
            last4: Some("1117".into()),
            expiry: Some("1230".into()),
            last_error_code: None,
            last_error_message: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let html = cards(Lang::En, &[row]).into_string();
        assert!(!html.contains("THE-SECRET-TOKEN"));
        assert!(!html.contains("1230"), "nor its expiry");
        assert!(html.contains("601111•• •••• 1117"));
    }
}

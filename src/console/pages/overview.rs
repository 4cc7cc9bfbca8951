//! `GET /console`: today's sales by status and kind, the queues' sizes, the last 24 hours by
//! hour, the reconciler's heartbeat and the database's state.

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::{Markup, html};

use super::layout::{self, Chrome};
use crate::console::ConsoleState;
use crate::console::chart::{self, Bucket};
use crate::console::context::Viewer;
use crate::console::format;
use crate::console::i18n::{L, Lang};
use carat_core::console::{DbState, Overview, QueueCounts};
use carat_domain::{RechargeStatus, RechargeType};

const KINDS: [RechargeType; 3] = [
    RechargeType::Normal,
    RechargeType::Others,
    RechargeType::Invoice,
];

/// Where the reconciler of this process stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heartbeat {
    /// It does not run here (`RECONCILE_ENABLED=false`).
    Disabled,
    /// It runs but has not completed a pass yet.
    NoPass,
    /// Its last pass ended this long ago, within what is expected.
    Ok(Duration),
    /// Its last pass is older than expected.
    Stale(Duration),
}

impl Heartbeat {
    pub fn of(reconciler: Option<(&carat_core::recharge::Heartbeat, Duration)>) -> Self {
        match reconciler {
            None => Self::Disabled,
            Some((beat, max_age)) => match beat.age() {
                None => Self::NoPass,
                Some(age) if age <= max_age => Self::Ok(age),
                Some(age) => Self::Stale(age),
            },
        }
    }
}

/// The overview's data, as the page shows it.
pub struct OverviewPage<'a> {
    pub overview: &'a Overview,
    pub database: DbState,
    pub heartbeat: Heartbeat,
    /// Today's date in São Paulo, for the links to today's sales.
    pub today: chrono::NaiveDate,
}

pub fn render(chrome: &Chrome, page: &OverviewPage) -> Markup {
    let lang = chrome.lang;
    let body = html! {
        h1 { (lang.t(L::Overview)) }
        div class="grid" {
            section class="card" aria-labelledby="today-title" {
                h2 id="today-title" { (lang.t(L::Today)) }
                p class="hint" { (lang.t(L::TodayHelp)) }
                (today(lang, &page.overview.today, page.today))
            }
            section class="card" aria-labelledby="queues-title" {
                h2 id="queues-title" { (lang.t(L::Queues)) }
                (queues(lang, &page.overview.queues))
            }
        }
        section class="card wide" aria-labelledby="chart-title" {
            h2 id="chart-title" { (lang.t(L::Last24h)) }
            (chart::chart(lang, &buckets(page.overview)))
        }
        section class="card" aria-labelledby="health-title" {
            h2 id="health-title" { (lang.t(L::Health)) }
            dl class="health" {
                dt { (lang.t(L::Reconciler)) }
                dd id="heartbeat" class=(heartbeat_class(page.heartbeat)) { (heartbeat(lang, page.heartbeat)) }
                dt { (lang.t(L::Database)) }
                @if page.database.reachable {
                    dd id="database" class="ok" {
                        (lang.tf(L::DatabaseOk, &page.database.latency_ms.unwrap_or_default().to_string()))
                    }
                } @else {
                    dd id="database" class="bad" { (lang.t(L::DatabaseDown)) }
                }
            }
        }
    };
    layout::page(chrome, lang.t(L::Overview), body)
}

fn buckets(overview: &Overview) -> Vec<Bucket> {
    overview
        .hourly
        .iter()
        .map(|h| Bucket {
            start: h.start,
            confirmed: h.confirmed,
            undone: h.undone,
            failed: h.failed,
            open: h.open,
        })
        .collect()
}

/// A search link for today's sales in `status` (and `kind`).
fn today_link(
    status: RechargeStatus,
    kind: Option<RechargeType>,
    day: chrono::NaiveDate,
) -> String {
    let day = day.format("%Y-%m-%d");
    let kind = kind
        .map(|k| format!("&kind={}", k.as_str()))
        .unwrap_or_default();
    format!(
        "/console/recharges?status={}{kind}&from={day}&to={day}",
        status.as_str()
    )
}

/// `#today`: a row per status that has sales today, a column per kind, and the totals.
fn today(
    lang: Lang,
    counts: &[(RechargeType, RechargeStatus, i64)],
    day: chrono::NaiveDate,
) -> Markup {
    let count = |kind: RechargeType, status: RechargeStatus| {
        counts
            .iter()
            .filter(|(k, s, _)| *k == kind && *s == status)
            .map(|(_, _, n)| n)
            .sum::<i64>()
    };
    let statuses: Vec<RechargeStatus> = RechargeStatus::ALL
        .into_iter()
        .filter(|s| counts.iter().any(|(_, st, n)| st == s && *n > 0))
        .collect();
    let kind_total = |kind| statuses.iter().map(|s| count(kind, *s)).sum::<i64>();
    let total: i64 = counts.iter().map(|(_, _, n)| n).sum();
    html! {
        table id="today" class="counts" {
            thead {
                tr {
                    th scope="col" { (lang.t(L::Status)) }
                    @for kind in KINDS { th scope="col" class="num" { (lang.kind(kind)) } }
                    th scope="col" class="num" { (lang.t(L::Total)) }
                }
            }
            tbody {
                @if statuses.is_empty() {
                    tr { td colspan="5" class="empty" { (lang.t(L::NoSalesToday)) } }
                }
                @for status in &statuses {
                    tr class={ "status-" (status.as_str()) } {
                        th scope="row" { (lang.status_with_code(*status, None)) }
                        @for kind in KINDS {
                            @let n = count(kind, *status);
                            td class="num" {
                                @if n > 0 {
                                    a href=(today_link(*status, Some(kind), day)) { (n) }
                                } @else { "0" }
                            }
                        }
                        td class="num" {
                            a href=(today_link(*status, None, day)) {
                                (KINDS.iter().map(|k| count(*k, *status)).sum::<i64>())
                            }
                        }
                    }
                }
            }
            tfoot {
                tr {
                    th scope="row" { (lang.t(L::Total)) }
                    @for kind in KINDS { td class="num" { (kind_total(kind)) } }
                    td class="num" { (total) }
                }
            }
        }
    }
}

/// `#queues`: each queue's size, linking to it.
fn queues(lang: Lang, q: &QueueCounts) -> Markup {
    let rows = [
        (
            "count-in-doubt",
            "/console/queues/in-doubt",
            L::QueueInDoubt,
            q.in_doubt,
        ),
        (
            "count-overdue",
            "/console/queues/overdue",
            L::QueueOverdue,
            q.overdue_confirmation,
        ),
        (
            "count-awaiting-choice",
            "/console/queues/awaiting-choice",
            L::QueueAwaitingChoice,
            q.awaiting_choice,
        ),
        (
            "count-callbacks",
            "/console/queues/callbacks",
            L::QueueCallbacks,
            q.callbacks,
        ),
        (
            "count-cards",
            "/console/queues/cards",
            L::QueueCards,
            q.cards_unknown,
        ),
    ];
    html! {
        ul id="queues" class="queues" {
            @for (id, href, label, n) in rows {
                li class=(if n > 0 { "busy" } else { "idle" }) {
                    a href=(href) { (lang.t(label)) }
                    " "
                    span id=(id) class="count" { (n) }
                }
            }
        }
    }
}

fn heartbeat(lang: Lang, beat: Heartbeat) -> String {
    let ago =
        |age: Duration| format::millis(lang, u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
    match beat {
        Heartbeat::Disabled => lang.t(L::ReconcilerDisabled).to_owned(),
        Heartbeat::NoPass => lang.t(L::ReconcilerNoPass).to_owned(),
        Heartbeat::Ok(age) => lang.tf(L::ReconcilerOk, &ago(age)),
        Heartbeat::Stale(age) => lang.tf(L::ReconcilerStale, &ago(age)),
    }
}

fn heartbeat_class(beat: Heartbeat) -> &'static str {
    match beat {
        Heartbeat::Ok(_) => "ok",
        Heartbeat::Disabled => "idle",
        Heartbeat::NoPass | Heartbeat::Stale(_) => "bad",
    }
}

/// `GET /console`.
pub async fn show(State(state): State<ConsoleState>, viewer: Viewer) -> Response {
    let now = Utc::now();
    let (overview, database) = tokio::join!(state.desk.overview(now), state.desk.health());
    let overview = match overview {
        Ok(overview) => overview,
        Err(e) => return viewer.console_error(e).into_response(),
    };
    let page = OverviewPage {
        overview: &overview,
        database,
        heartbeat: Heartbeat::of(state.reconciler.as_ref().map(|(b, max)| (b, *max))),
        today: format::today(now),
    };
    render(&viewer.chrome(), &page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use carat_core::console::HourBucket;
    use carat_core::console::Session;
    use carat_domain::ConsoleRole;

    #[test]
    fn the_overview_has_every_part() {
        let start = chrono::DateTime::parse_from_rfc3339("2026-12-05T15:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let overview = Overview {
            today: vec![
                (RechargeType::Normal, RechargeStatus::Confirmed, 12),
                (RechargeType::Others, RechargeStatus::Confirmed, 3),
                (RechargeType::Normal, RechargeStatus::Effectuating, 1),
            ],
            queues: QueueCounts {
                in_doubt: 1,
                overdue_confirmation: 2,
                awaiting_choice: 0,
                callbacks: 4,
                cards_unknown: 5,
            },
            hourly: (0..24)
                .map(|i| HourBucket {
                    start: start + chrono::Duration::hours(i),
                    confirmed: i,
                    undone: 0,
                    failed: 0,
                    open: 0,
                })
                .collect(),
        };
        let session = Session {
            role: ConsoleRole::Support,
            token_id: "0123456789abcdef".into(),
            csrf: "c".into(),
        };
        let chrome = Chrome {
            lang: Lang::PtBr,
            here: "/console",
            session: Some(&session),
        };
        let page = OverviewPage {
            overview: &overview,
            database: DbState {
                reachable: true,
                latency_ms: Some(3),
            },
            heartbeat: Heartbeat::Ok(Duration::from_millis(800)),
            today: chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
        };
        let html = render(&chrome, &page).into_string();
        for id in [
            "today",
            "queues",
            "count-in-doubt",
            "count-overdue",
            "count-awaiting-choice",
            "count-callbacks",
            "count-cards",
            "chart-24h",
            "heartbeat",
            "database",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "no #{id}");
        }
        assert!(html.contains("<span id=\"count-cards\" class=\"count\">5</span>"));
        assert!(html.contains("Confirmada (CON)"));
        assert!(html.contains(
            "href=\"/console/recharges?status=confirmed&amp;kind=normal&amp;from=2026-12-05&amp;to=2026-12-05\">12</a>"
        ), "{html}");
        // Totals: 15 confirmed, 16 in all.
        assert!(html.contains(">15</a>"));
        assert!(html.contains("<td class=\"num\">16</td>"));
        assert!(html.contains("Respondendo em 3 ms."));
        assert!(html.contains("Ativo: última passada há 800 ms."));
    }

    #[test]
    fn heartbeats_read_from_the_reconciler() {
        assert_eq!(Heartbeat::of(None), Heartbeat::Disabled);
        let beat = carat_core::recharge::Heartbeat::default();
        assert_eq!(
            Heartbeat::of(Some((&beat, Duration::from_secs(5)))),
            Heartbeat::NoPass
        );
        beat.beat();
        assert!(matches!(
            Heartbeat::of(Some((&beat, Duration::from_secs(5)))),
            Heartbeat::Ok(_)
        ));
        assert!(matches!(
            Heartbeat::of(Some((&beat, Duration::ZERO))),
            Heartbeat::Stale(_) | Heartbeat::Ok(_)
        ));
        let empty = today(
            Lang::En,
            &[],
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        )
        .into_string();
        assert!(empty.contains("No sales today."));
    }
}

//! `GET /console/recharges`: find sales by text (order id, NIT, phone with or without DDD,
//! id, merchant or Carat USN) and filters (statuses, kinds, in doubt, created between), newest
//! first, a page at a time (the API's cursor); and `GET /console/recharges.csv`, the same
//! filter exported, streamed.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate, Utc};
use futures_util::StreamExt;
use maud::{Markup, html};

use super::layout::{self, Chrome};
use super::table;
use crate::api::listing::{decode_cursor, encode_cursor};
use crate::console::ConsoleState;
use crate::console::context::Viewer;
use crate::console::csv;
use crate::console::form::{FieldProblem, Fields};
use crate::console::format;
use crate::console::i18n::{L, Lang};
use carat_core::console::{ListKey, Search};
use carat_domain::{RechargeStatus, RechargeType};
use carat_store::Recharge;

/// Results per page.
pub const PAGE: i64 = 50;

/// The longest text searched: the longest identifier (a NIT) is 64 characters.
const MAX_TEXT: usize = 100;

const KINDS: [RechargeType; 3] = [
    RechargeType::Normal,
    RechargeType::Others,
    RechargeType::Invoice,
];

/// The search form's fields, read and checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchForm {
    pub q: String,
    pub statuses: Vec<RechargeStatus>,
    pub kinds: Vec<RechargeType>,
    pub in_doubt: bool,
    /// Created on or after this day (São Paulo).
    pub from: Option<NaiveDate>,
    /// Created on or before this day (São Paulo).
    pub to: Option<NaiveDate>,
    /// The page after this key (`after`, the API's cursor).
    pub after: Option<ListKey>,
}

fn day(field: &str, value: Option<&str>) -> Result<Option<NaiveDate>, FieldProblem> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| FieldProblem::new(field, "must be a date, YYYY-MM-DD")),
    }
}

impl SearchForm {
    /// Reads the query; other fields (`lang`) are left alone.
    pub fn parse(fields: &Fields) -> Result<Self, FieldProblem> {
        let q = fields.one("q")?.unwrap_or_default().trim().to_owned();
        if q.chars().count() > MAX_TEXT {
            return Err(FieldProblem::new(
                "q",
                format!("must be at most {MAX_TEXT} characters"),
            ));
        }
        let mut statuses = Vec::new();
        for s in fields.all("status") {
            let status = RechargeStatus::parse(s)
                .ok_or_else(|| FieldProblem::new("status", format!("`{s}` is not a status")))?;
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        let mut kinds = Vec::new();
        for k in fields.all("kind") {
            let kind = RechargeType::parse(k)
                .ok_or_else(|| FieldProblem::new("kind", format!("`{k}` is not a kind")))?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        let in_doubt = match fields.one("in_doubt")? {
            None | Some("") => false,
            Some("on" | "true") => true,
            Some(_) => return Err(FieldProblem::new("in_doubt", "must be `on` when given")),
        };
        let from = day("from", fields.one("from")?)?;
        let to = day("to", fields.one("to")?)?;
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(FieldProblem::new("to", "must not be before `from`"));
        }
        let after = match fields.one("after")?.filter(|a| !a.is_empty()) {
            None => None,
            Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
                FieldProblem::new("after", "is not a cursor this search gave (next page)")
            })?),
        };
        Ok(Self {
            q,
            statuses,
            kinds,
            in_doubt,
            from,
            to,
            after,
        })
    }

    /// The use case's search: days are São Paulo's, `to` inclusive.
    pub fn search(&self) -> Search {
        Search {
            text: (!self.q.is_empty()).then(|| self.q.clone()),
            statuses: self.statuses.clone(),
            kinds: self.kinds.clone(),
            in_doubt: self.in_doubt,
            created_from: self.from.map(format::start_of_day),
            created_to: self
                .to
                .and_then(|d| d.checked_add_days(Days::new(1)))
                .map(format::start_of_day),
        }
    }

    /// The filter as a query string (without `after`), for the next page and the export.
    pub fn query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        pairs.extend(
            self.statuses
                .iter()
                .map(|s| ("status", s.as_str().to_owned())),
        );
        pairs.extend(self.kinds.iter().map(|k| ("kind", k.as_str().to_owned())));
        if self.in_doubt {
            pairs.push(("in_doubt", "on".to_owned()));
        }
        if let Some(from) = self.from {
            pairs.push(("from", from.format("%Y-%m-%d").to_string()));
        }
        if let Some(to) = self.to {
            pairs.push(("to", to.format("%Y-%m-%d").to_string()));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// `path` with `query` (none when empty).
fn link(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// The next page's link, when there is one.
fn next_page(form: &SearchForm, cursor: &str) -> String {
    let query = form.query();
    let after = serde_urlencoded::to_string([("after", cursor)]).unwrap_or_default();
    if query.is_empty() {
        format!("/console/recharges?{after}")
    } else {
        format!("/console/recharges?{query}&{after}")
    }
}

/// The search page; `error` shows `#error` (a bad field) above the form.
pub fn render(
    chrome: &Chrome,
    form: &SearchForm,
    rows: &[Recharge],
    next_cursor: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let lang = chrome.lang;
    let date = |d: Option<NaiveDate>| {
        d.map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let body = html! {
        h1 { (lang.t(L::SearchTitle)) }
        @if let Some(error) = error { (layout::error_box(error)) }
        form id="search" class="search" method="get" action="/console/recharges" {
            div class="field wide" {
                label for="q" { (lang.t(L::SearchText)) }
                input id="q" name="q" type="search" value=(form.q) maxlength=(MAX_TEXT)
                    aria-describedby="q-help";
                p id="q-help" class="hint" { (lang.t(L::SearchTextHelp)) }
            }
            fieldset {
                legend { (lang.t(L::Status)) }
                @for status in RechargeStatus::ALL {
                    label class="check" {
                        input type="checkbox" name="status" value=(status.as_str())
                            checked[form.statuses.contains(&status)];
                        " " (lang.status_with_code(status, None))
                    }
                }
            }
            fieldset {
                legend { (lang.t(L::Kind)) }
                @for kind in KINDS {
                    label class="check" {
                        input type="checkbox" name="kind" value=(kind.as_str())
                            checked[form.kinds.contains(&kind)];
                        " " (lang.kind(kind))
                    }
                }
                label class="check" {
                    input type="checkbox" name="in_doubt" value="on" checked[form.in_doubt];
                    " " (lang.t(L::InDoubtOnly))
                }
            }
            div class="field" {
                label for="from" { (lang.t(L::CreatedFrom)) }
                input id="from" name="from" type="date" value=(date(form.from));
                label for="to" { (lang.t(L::CreatedTo)) }
                input id="to" name="to" type="date" value=(date(form.to));
            }
            div class="buttons" {
                button type="submit" { (lang.t(L::Search)) }
                " "
                a id="export-csv" class="button" href=(link("/console/recharges.csv", &form.query())) {
                    (lang.t(L::ExportCsv))
                }
            }
        }
        section aria-label=(lang.t(L::NavSearch)) {
            (table::recharges(lang, "results", rows, L::NoResults))
            p class="pager" {
                @if form.after.is_some() {
                    a id="first-page" href=(link("/console/recharges", &form.query())) { (lang.t(L::FirstPage)) }
                    " "
                }
                @if let Some(cursor) = next_cursor {
                    a id="next-page" rel="next" href=(next_page(form, cursor)) { (lang.t(L::NextPage)) }
                }
            }
        }
    };
    layout::page(chrome, lang.t(L::SearchTitle), body)
}

/// One page of rows, and the cursor of the next when there is one (one row more is asked).
pub fn split_page(mut rows: Vec<Recharge>, limit: i64) -> (Vec<Recharge>, Option<String>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(|r| {
            encode_cursor(ListKey {
                created_at: r.created_at,
                id: r.id,
            })
        });
        (rows, next)
    } else {
        (rows, None)
    }
}

/// `GET /console/recharges`.
pub async fn show(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    let parsed = Fields::query(query.as_deref()).and_then(|f| SearchForm::parse(&f));
    let form = match parsed {
        Ok(form) => form,
        Err(problem) => {
            let message = crate::console::context::field_message(viewer.lang(), &problem);
            let page = render(
                &viewer.chrome(),
                &SearchForm::default(),
                &[],
                None,
                Some(&message),
            );
            return (axum::http::StatusCode::BAD_REQUEST, page).into_response();
        }
    };
    match state
        .desk
        .search(&form.search(), form.after, PAGE + 1)
        .await
    {
        Ok(rows) => {
            let (rows, next) = split_page(rows, PAGE);
            render(&viewer.chrome(), &form, &rows, next.as_deref(), None).into_response()
        }
        Err(e) => viewer.console_error(e).into_response(),
    }
}

/// `GET /console/recharges.csv`: the filter's sales (every page, `after` ignored), streamed
/// a page of rows at a time.
pub async fn export(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    let form = match Fields::query(query.as_deref()).and_then(|f| SearchForm::parse(&f)) {
        Ok(form) => form,
        Err(problem) => return viewer.bad_field(&problem).into_response(),
    };
    let lang: Lang = viewer.lang();
    let search = form.search();
    let desk = state.desk.clone();
    tracing::info!(token_id = %viewer.session.token_id, "console: CSV export");
    let stream = csv::export(lang, move |after| {
        let (desk, search) = (desk.clone(), search.clone());
        async move { desk.search(&search, after, csv::PAGE).await }
    })
    .map(|chunk| {
        chunk.inspect_err(|e| tracing::error!(error = %e, "console: the CSV export broke off"))
    });
    let disposition = format!("attachment; filename=\"{}\"", csv::file_name(Utc::now()));
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::{normal, recharge};

    fn parse(query: &str) -> Result<SearchForm, FieldProblem> {
        SearchForm::parse(&Fields::query(Some(query)).unwrap())
    }

    #[test]
    fn a_search_reads_every_filter() {
        let form = parse(
            "q=+11987654321+&status=confirmed&status=undone&status=confirmed&kind=normal\
             &in_doubt=on&from=2026-12-01&to=2026-12-05&lang=en",
        )
        .unwrap();
        assert_eq!(form.q, "11987654321");
        assert_eq!(
            form.statuses,
            [RechargeStatus::Confirmed, RechargeStatus::Undone]
        );
        assert_eq!(form.kinds, [RechargeType::Normal]);
        assert!(form.in_doubt);
        let search = form.search();
        assert_eq!(search.text.as_deref(), Some("11987654321"));
        assert_eq!(
            search.created_from.unwrap().to_rfc3339(),
            "2026-12-01T03:00:00+00:00"
        );
        assert_eq!(
            search.created_to.unwrap().to_rfc3339(),
            "2026-12-06T03:00:00+00:00",
            "the last day is whole"
        );
        assert_eq!(
            form.query(),
            "q=11987654321&status=confirmed&status=undone&kind=normal&in_doubt=on&from=2026-12-01&to=2026-12-05"
        );
        let empty = parse("q=&from=&to=&in_doubt=").unwrap();
        assert_eq!(empty, SearchForm::default());
        assert_eq!(empty.search(), Search::default());
        assert_eq!(empty.query(), "");
    }

    #[test]
    fn each_bad_field_is_named() {
        for (query, field) in [
            ("status=nope", "status"),
            ("kind=phone", "kind"),
            ("in_doubt=yes", "in_doubt"),
            ("from=05/12/2026", "from"),
            ("to=2026-13-01", "to"),
            ("from=2026-12-05&to=2026-12-01", "to"),
            ("after=%%%", "after"),
            ("after=bm9wZQ", "after"),
            ("q=a&q=b", "q"),
        ] {
            assert_eq!(parse(query).unwrap_err().field, field, "{query}");
        }
        let long = format!("q={}", "x".repeat(MAX_TEXT + 1));
        assert_eq!(parse(&long).unwrap_err().field, "q");
    }

    #[test]
    fn pages_link_onwards_with_the_same_filter() {
        let rows: Vec<Recharge> = (0..3).map(|_| recharge(normal())).collect();
        let (page, next) = split_page(rows.clone(), 2);
        assert_eq!(page.len(), 2);
        let cursor = next.unwrap();
        assert_eq!(
            decode_cursor(&cursor),
            Some(ListKey {
                created_at: rows[1].created_at,
                id: rows[1].id
            })
        );
        assert_eq!(split_page(rows, 3).1, None);

        let form = parse(&format!("q=x&status=confirmed&after={cursor}")).unwrap();
        let chrome = Chrome {
            lang: Lang::PtBr,
            here: "/console/recharges",
            session: None,
        };
        let html = render(&chrome, &form, &page, Some(&cursor), None).into_string();
        assert!(html.contains("<form id=\"search\" class=\"search\" method=\"get\""));
        assert!(html.contains("<input id=\"q\" name=\"q\" type=\"search\" value=\"x\""));
        assert!(html.contains(&format!(
            "id=\"next-page\" rel=\"next\" href=\"/console/recharges?q=x&amp;status=confirmed&amp;after={cursor}\""
        )), "{html}");
        assert!(html.contains(
            "id=\"export-csv\" class=\"button\" href=\"/console/recharges.csv?q=x&amp;status=confirmed\""
        ));
        assert!(html.contains("value=\"confirmed\" checked"));
        assert_eq!(html.matches("class=\"recharge-link\"").count(), 2);
        assert!(html.contains("id=\"results\""));
        let none = render(
            &chrome,
            &SearchForm::default(),
            &[],
            None,
            Some("Campo `q`"),
        )
        .into_string();
        assert!(none.contains("id=\"results\""));
        assert!(none.contains("id=\"error\""));
        assert!(!none.contains("id=\"next-page\""));
        assert!(none.contains("href=\"/console/recharges.csv\""));
    }
}

//! The table of recharges the search and the queues show: one row per sale, one link per row
//! to the sale's page.

use maud::{Markup, html};

use crate::console::format;
use crate::console::i18n::{L, Lang};
use carat_domain::EffectuationInput;
use carat_store::Recharge;

/// What was sold, in a few words: the phone, the product or the bill; and its amount.
pub fn what_and_amount(lang: Lang, r: &Recharge) -> (String, Option<String>) {
    match r.effectuation().map(|e| &e.input) {
        Some(EffectuationInput::Normal { phone, amount, .. }) => (
            format::phone(phone.ddd.as_ref(), phone.number.as_ref()),
            Some(format::money(lang, amount.get() as i64)),
        ),
        Some(EffectuationInput::Others { dealer, amount, .. }) => (
            format!("{} {}", lang.t(L::Product), dealer.branch.code),
            Some(format::money(lang, amount.get() as i64)),
        ),
        Some(EffectuationInput::Invoice {
            invoice, amount, ..
        }) => (
            invoice.description.to_string(),
            Some(format::money(lang, amount.get() as i64)),
        ),
        None => (String::new(), None),
    }
}

/// `<table id=...>` of `rows`; `empty` says why there is none.
pub fn recharges(lang: Lang, id: &str, rows: &[Recharge], empty: L) -> Markup {
    html! {
        @if rows.is_empty() {
            p id=(id) class="empty" { (lang.t(empty)) }
        } @else {
            table id=(id) class="list" {
                thead {
                    tr {
                        th scope="col" { (lang.t(L::Created)) }
                        th scope="col" { (lang.t(L::OrderId)) }
                        th scope="col" { (lang.t(L::Kind)) }
                        th scope="col" { (lang.t(L::Status)) }
                        th scope="col" { (lang.t(L::Sale)) }
                        th scope="col" class="num" { (lang.t(L::Amount)) }
                    }
                }
                tbody {
                    @for r in rows {
                        @let (what, amount) = what_and_amount(lang, r);
                        tr class={ "status-" (r.status.as_str()) } {
                            td { time datetime=(r.created_at.to_rfc3339()) { (format::date_time(r.created_at)) } }
                            td {
                                a class="recharge-link" href={ "/console/recharges/" (r.id) } {
                                    (r.order_id)
                                }
                            }
                            td { (lang.kind(r.recharge_type)) }
                            td {
                                (lang.status_with_code(r.status, r.carat_status.as_ref()))
                                @if r.status.is_in_doubt() {
                                    " " span class="badge doubt" { (lang.t(L::InDoubt)) }
                                }
                            }
                            td { (what) }
                            td class="num" { (amount.unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::{normal, others, recharge};

    #[test]
    fn one_link_per_row() {
        let rows = [
            recharge(normal()),
            recharge(others()),
            recharge(serde_json::Value::Null),
        ];
        let html = recharges(Lang::PtBr, "results", &rows, L::NoResults).into_string();
        assert!(html.starts_with("<table id=\"results\""));
        assert_eq!(html.matches("class=\"recharge-link\"").count(), 3);
        assert!(html.contains("href=\"/console/recharges/0192f0c1-0000-7000-8000-000000000001\""));
        assert!(html.contains("R$ 1.234,56"));
        assert!(html.contains("(11) 98765-4321"));
        assert!(html.contains("Produto 00000000012"));
        assert!(html.contains("Confirmada (CON)"));
        let empty = recharges(Lang::En, "queue", &[], L::EmptyQueue).into_string();
        assert!(empty.contains("id=\"queue\""));
        assert!(empty.contains("The queue is empty."));
    }
}

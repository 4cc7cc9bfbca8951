//! `report.html`: the report as one self-contained page (its stylesheet inline, no script,
//! nothing fetched), readable on screen and printable to PDF.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{
    NONE, SANDBOX_NOTE, SIMULATED_NOTE, TITLE, elapsed, ok_label, outcome_label, sale_fields, utc,
    yes_no,
};
use crate::homologation::evidence::{
    CardRecord, CaseReport, Check, Environment, HistoryEntry, Outcome, Report, SaleRecord,
    StepRecord, Summary,
};

/// The stylesheet. Badges carry a word and a border style of their own, so that they read in
/// black and white; print drops the backgrounds and starts each case on a new page.
const CSS: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: #1a1a1a; background: #fff; margin: 0 auto; padding: 1.5rem; max-width: 75rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .75rem; border-bottom: 2px solid #333; }
h3 { font-size: 1.15rem; margin: 0 0 .5rem; }
h4 { font-size: 1rem; margin: 1.25rem 0 .4rem; }
h5 { font-size: .95rem; margin: 1rem 0 .4rem; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
th, td { border: 1px solid #777; padding: .25rem .45rem; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: #eef0f3; overflow-wrap: normal; }
table.fields th { width: 18rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .4rem 0; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .88em; }
pre.json { white-space: pre-wrap; word-break: break-all; margin: 0; }
.note { border: 2px solid #9a6700; background: #fff8c5; padding: .5rem .75rem; margin: .75rem 0; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .25rem; font-weight: 700;
  white-space: nowrap; border: 2px solid; }
.badge.pass { color: #116329; background: #dafbe1; border-style: solid; }
.badge.fail { color: #a40e26; background: #ffebe9; border-style: double; border-width: 3px; }
.badge.skipped { color: #555; background: #eee; border-style: dashed; }
.totals { font-size: 1.05rem; }
.banner { margin: -.5rem 0 1rem; color: #333; }
td.name { white-space: nowrap; overflow-wrap: normal; }
section.case { border: 1px solid #bbb; border-radius: .4rem; padding: 1rem; margin: 1.25rem 0; }
.sale { margin-left: .5rem; }
.none { color: #555; font-style: italic; }
@media print {
  @page { margin: 14mm; }
  body { font-size: 10pt; padding: 0; max-width: none; color: #000; }
  * { background: transparent !important; box-shadow: none !important; }
  .badge { color: #000 !important; }
  a { color: #000; text-decoration: none; }
  section.case { page-break-before: always; break-before: page; border: none; padding: 0; }
  section.case, tr { page-break-inside: avoid; break-inside: avoid; }
  thead { display: table-header-group; }
  h2, h3, h4, h5 { page-break-after: avoid; break-after: avoid; }
}
"#;

pub(super) fn render(report: &Report) -> String {
    html! {
        (DOCTYPE)
        html lang="pt-BR" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (TITLE) }
                // A constant of this file, not report data: the one thing not escaped.
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { (TITLE) }
                (banner(&report.environment))
                (summary(&report.cases, report.summary))
                (environment(&report.environment))
                (preflight(&report.preflight))
                h2 { "Casos / Cases" }
                @for case in &report.cases {
                    (case_section(case))
                }
            }
        }
    }
    .into_string()
}

/// Under the title: where and when, so a printed first page says what it is evidence of.
fn banner(env: &Environment) -> Markup {
    html! {
        p class="banner" {
            code { (env.carat_url) } " · " code { (env.merchant_id) } " · v" (env.version)
            " · " (env.finished_at.format("%Y-%m-%d %H:%M UTC").to_string())
            " · " code { (env.run_id) }
            @if env.sandbox { " · " strong { "sandbox" } }
            @if env.interrupted { " · " strong { "interrompida / interrupted" } }
        }
    }
}

fn badge(outcome: Outcome) -> Markup {
    html! { span class=(format!("badge {}", outcome.as_str())) { (outcome_label(outcome)) } }
}

/// Whether a step or check went well: the same badges, a failure looking like a failed case.
fn ok_badge(ok: bool) -> Markup {
    let class = if ok { "badge pass" } else { "badge fail" };
    html! { span class=(class) { (ok_label(ok)) } }
}

fn none() -> Markup {
    html! { p class="none" { "Nenhum / None." } }
}

fn or_none(value: Option<&str>) -> &str {
    value.unwrap_or(NONE)
}

fn environment(env: &Environment) -> Markup {
    html! {
        section id="environment" {
            h2 { "Ambiente / Environment" }
            @if env.sandbox {
                p class="note" { strong { "Atenção / Note: " } (SANDBOX_NOTE) }
            }
            dl {
                dt { "URL da Carat / Carat URL" } dd { code { (env.carat_url) } }
                dt { "Sandbox embutido / Embedded sandbox" } dd { (yes_no(env.sandbox)) }
                dt { "Lojista / Merchant id" } dd { code { (env.merchant_id) } }
                dt { "Autenticação / Auth mode" } dd { code { (env.auth_mode) } }
                dt { "Versão / Version" } dd { code { (env.version) } }
                dt { "Execução / Run id" } dd { code { (env.run_id) } " (pedidos / order ids " code { "HML" (env.run_id) "…" } ")" }
                dt { "Interrompida / Interrupted" } dd { (yes_no(env.interrupted)) }
                dt { "Início / Started (UTC)" } dd { (utc(env.started_at)) }
                dt { "Fim / Finished (UTC)" } dd { (utc(env.finished_at)) }
            }
            h3 { "URLs de callback a registrar / Callback URLs to register" }
            @if env.callback_urls.is_empty() {
                (none())
            } @else {
                table {
                    thead { tr { th { "Callback" } th { "URL" } } }
                    tbody {
                        @for cb in &env.callback_urls {
                            tr { td { (cb.callback) } td { code { (cb.url) } } }
                        }
                    }
                }
            }
        }
    }
}

fn preflight(checks: &[Check]) -> Markup {
    html! {
        section id="preflight" {
            h2 { "Verificações iniciais / Pre-flight checks" }
            @if checks.is_empty() {
                (none())
            } @else {
                table {
                    thead { tr {
                        th { "Verificação / Check" } th { "Resultado / Result" }
                        th { "Detalhe / Detail" }
                    } }
                    tbody {
                        @for check in checks {
                            tr {
                                td { code { (check.name) } }
                                td { (ok_badge(check.ok)) }
                                td { (check.detail) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn summary(cases: &[CaseReport], totals: Summary) -> Markup {
    html! {
        section id="summary" {
            h2 { "Resumo / Summary" }
            p class="totals" {
                strong { "Passaram / Passed: " } (totals.passed) " · "
                strong { "Falharam / Failed: " } (totals.failed) " · "
                strong { "Ignorados / Skipped: " } (totals.skipped)
            }
            @if cases.is_empty() {
                (none())
            } @else {
                table {
                    thead { tr {
                        th { "Caso / Case" } th { "Título / Title" } th { "Resultado / Outcome" }
                        th { "Duração / Elapsed" } th { "Motivo / Reason" }
                    } }
                    tbody {
                        @for case in cases {
                            tr {
                                td class="name" {
                                    a href=(format!("#{}", anchor(case))) { code { (case.name) } }
                                }
                                td { (case.title) }
                                td { (badge(case.outcome)) }
                                td { (elapsed(case.elapsed_ms)) }
                                td { (or_none(case.reason.as_deref())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn anchor(case: &CaseReport) -> String {
    format!("case-{}", case.name)
}

fn case_section(case: &CaseReport) -> Markup {
    html! {
        section class="case" id=(anchor(case)) {
            h3 { code { (case.name) } " — " (case.title) }
            dl {
                dt { "Resultado / Outcome" } dd { (badge(case.outcome)) }
                @if let Some(reason) = &case.reason {
                    dt { "Motivo / Reason" } dd { strong { (reason) } }
                }
                dt { "Origem / Source" } dd { (case.source) }
                @if let Some(simulated) = &case.simulated {
                    dt { "Simulado / Simulated" }
                    dd { (simulated) " (" (SIMULATED_NOTE) ")" }
                }
                dt { "Início / Started (UTC)" } dd { (utc(case.started_at)) }
                dt { "Duração / Elapsed" } dd { (elapsed(case.elapsed_ms)) }
            }
            (steps(&case.steps))
            (sales(&case.sales))
            (cards(&case.cards))
        }
    }
}

fn steps(steps: &[StepRecord]) -> Markup {
    html! {
        h4 { "Passos / Steps" }
        @if steps.is_empty() {
            (none())
        } @else {
            table {
                thead { tr {
                    th { "Horário / Time (UTC)" } th { "Passo / Step" }
                    th { "Resultado / Result" } th { "Detalhe / Detail" }
                } }
                tbody {
                    @for step in steps {
                        tr {
                            td { (utc(step.at)) }
                            td { code { (step.name) } }
                            td { (ok_badge(step.ok)) }
                            td { (step.detail) }
                        }
                    }
                }
            }
        }
    }
}

fn sales(sales: &[SaleRecord]) -> Markup {
    html! {
        h4 { "Vendas / Sales" }
        @if sales.is_empty() {
            (none())
        } @else {
            @for sale in sales {
                div class="sale" {
                    h5 { "Venda / Sale " code { (sale.recharge_id) } }
                    table class="fields" {
                        tbody {
                            @for field in sale_fields(sale) {
                                tr {
                                    th scope="row" { (field.label) }
                                    td {
                                        @match (&field.value, field.literal) {
                                            (None, _) => (NONE),
                                            (Some(v), true) => code { (v) },
                                            (Some(v), false) => (v),
                                        }
                                    }
                                }
                            }
                        }
                    }
                    (history(&sale.history))
                }
            }
        }
    }
}

fn history(entries: &[HistoryEntry]) -> Markup {
    html! {
        h5 { "Histórico / History" }
        @if entries.is_empty() {
            (none())
        } @else {
            table class="history" {
                thead { tr {
                    th { "Horário / Time (UTC)" } th { "Tipo / Kind" } th { "Nome / Name" }
                    th { "Ator / Actor" } th { "Detalhe / Detail" }
                } }
                tbody {
                    @for entry in entries {
                        tr {
                            td { (utc(entry.at)) }
                            td { code { (entry.kind) } }
                            td { code { (entry.name) } }
                            td { (or_none(entry.actor.as_deref())) }
                            td { pre class="json" { (entry.detail.to_string()) } }
                        }
                    }
                }
            }
        }
    }
}

fn cards(cards: &[CardRecord]) -> Markup {
    html! {
        h4 { "Cartões / Cards" }
        @if cards.is_empty() {
            (none())
        } @else {
            table {
                thead { tr {
                    th { "Cartão / Card id" } th { "NITA" } th { "NSUA" } th { "Status" }
                    th { "Final / Last4" } th { "HASH notificado / Hash notified" }
                } }
                tbody {
                    @for card in cards {
                        tr {
                            td { code { (card.card_id) } }
                            td { (or_none(card.nita.as_deref())) }
                            td { (or_none(card.nsua.as_deref())) }
                            td { (card.status) }
                            td { (or_none(card.last4.as_deref())) }
                            td { (yes_no(card.hash_notified)) }
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
    use crate::homologation::report::sample;

    #[test]
    fn it_names_every_case_its_outcome_and_the_failing_reason() {
        let report = sample();
        let page = render(&report);
        assert!(
            page.starts_with("<!DOCTYPE html><html lang=\"pt-BR\"><head><meta charset=\"utf-8\">"),
            "{page}"
        );
        assert!(page.contains(&format!("<title>{TITLE}</title>")), "{page}");
        for case in &report.cases {
            assert!(
                page.contains(&format!("id=\"case-{}\"", case.name)),
                "{}",
                case.name
            );
            assert!(
                page.contains(&format!("href=\"#case-{}\"", case.name)),
                "{}",
                case.name
            );
        }
        for word in ["PASSOU / pass", "FALHOU / fail", "IGNORADO / skipped"] {
            assert!(page.contains(word), "{word}");
        }
        assert!(page.contains("class=\"badge fail\""), "{page}");
        assert!(
            page.contains("expected status undone, got in_doubt"),
            "{page}"
        );
        assert!(page.contains("evidence is of this service only"), "{page}");
        assert!(page.contains("********90"), "{page}");
    }

    #[test]
    fn it_is_self_contained_and_printable() {
        let page = render(&sample());
        let lower = page.to_lowercase();
        for banned in ["<script", "<link", "src=", "@import", "url("] {
            assert!(!lower.contains(banned), "{banned} in {page}");
        }
        assert_eq!(lower.matches("<style>").count(), 1, "{page}");
        assert!(page.contains("@media print"), "{page}");
        assert!(page.contains("page-break-inside: avoid"), "{page}");
        assert!(
            page.contains("white-space: pre-wrap; word-break: break-all"),
            "{page}"
        );
    }

    #[test]
    fn report_data_is_escaped() {
        let page = render(&sample());
        assert!(page.contains("&lt;b&gt;not undone&lt;/b&gt;"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        // The history detail as compact JSON, its quotes escaped.
        assert!(page.contains("<pre class=\"json\">{&quot;"), "{page}");
        assert!(page.contains("&quot;n&quot;:1"), "{page}");
    }
}

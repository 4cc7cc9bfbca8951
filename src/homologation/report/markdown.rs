//! `report.md`: the report as GitHub-flavoured Markdown, readable raw as well as rendered.

use std::fmt::{Result, Write};

use super::{
    NONE, SANDBOX_NOTE, SIMULATED_NOTE, TITLE, elapsed, ok_label, outcome_label, sale_fields, utc,
    yes_no,
};
use crate::homologation::evidence::{
    CardRecord, CaseReport, Check, Environment, HistoryEntry, Report, SaleRecord, StepRecord,
    Summary,
};

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = document(&mut out, report);
    out
}

fn document(out: &mut String, report: &Report) -> Result {
    writeln!(out, "# {TITLE}\n")?;
    environment(out, &report.environment)?;
    preflight(out, &report.preflight)?;
    summary(out, &report.cases, report.summary)?;
    writeln!(out, "## Casos / Cases\n")?;
    for case in &report.cases {
        case_section(out, case)?;
    }
    Ok(())
}

fn environment(out: &mut String, env: &Environment) -> Result {
    writeln!(out, "## Ambiente / Environment\n")?;
    if env.sandbox {
        writeln!(out, "> **Atenção / Note:** {}\n", text(SANDBOX_NOTE))?;
    }
    let rows = [
        ("URL da Carat / Carat URL", code(&env.carat_url)),
        (
            "Sandbox embutido / Embedded sandbox",
            yes_no(env.sandbox).to_owned(),
        ),
        ("Lojista / Merchant id", code(&env.merchant_id)),
        ("Autenticação / Auth mode", code(&env.auth_mode)),
        ("Versão / Version", code(&env.version)),
        (
            "Execução / Run id",
            format!(
                "{} (order ids {})",
                code(&env.run_id),
                code(&format!("HML{}…", env.run_id))
            ),
        ),
        (
            "Interrompida / Interrupted",
            yes_no(env.interrupted).to_owned(),
        ),
        ("Início / Started (UTC)", utc(env.started_at)),
        ("Fim / Finished (UTC)", utc(env.finished_at)),
    ];
    for (label, value) in rows {
        writeln!(out, "- **{label}:** {value}")?;
    }
    writeln!(
        out,
        "\n### URLs de callback a registrar / Callback URLs to register\n"
    )?;
    if env.callback_urls.is_empty() {
        writeln!(out, "{}\n", none_line())?;
        return Ok(());
    }
    writeln!(out, "| Callback | URL |\n|---|---|")?;
    for cb in &env.callback_urls {
        writeln!(out, "| {} | {} |", cell(&cb.callback), code_cell(&cb.url))?;
    }
    writeln!(out)
}

fn preflight(out: &mut String, checks: &[Check]) -> Result {
    writeln!(out, "## Verificações iniciais / Pre-flight checks\n")?;
    if checks.is_empty() {
        return writeln!(out, "{}\n", none_line());
    }
    writeln!(
        out,
        "| Verificação / Check | Resultado / Result | Detalhe / Detail |\n|---|---|---|"
    )?;
    for check in checks {
        writeln!(
            out,
            "| {} | {} | {} |",
            code_cell(&check.name),
            ok_label(check.ok),
            cell(&check.detail)
        )?;
    }
    writeln!(out)
}

fn summary(out: &mut String, cases: &[CaseReport], totals: Summary) -> Result {
    writeln!(out, "## Resumo / Summary\n")?;
    writeln!(
        out,
        "**Passaram / Passed:** {} · **Falharam / Failed:** {} · **Ignorados / Skipped:** {}\n",
        totals.passed, totals.failed, totals.skipped
    )?;
    if cases.is_empty() {
        return writeln!(out, "{}\n", none_line());
    }
    writeln!(
        out,
        "| Caso / Case | Título / Title | Resultado / Outcome | Duração / Elapsed | Motivo / Reason |\n\
         |---|---|---|---|---|"
    )?;
    for case in cases {
        writeln!(
            out,
            "| {} | {} | **{}** | {} | {} |",
            code_cell(&case.name),
            cell(&case.title),
            outcome_label(case.outcome),
            elapsed(case.elapsed_ms),
            case.reason.as_deref().map_or_else(|| NONE.to_owned(), cell)
        )?;
    }
    writeln!(out)
}

fn case_section(out: &mut String, case: &CaseReport) -> Result {
    writeln!(out, "### {} — {}\n", code(&case.name), text(&case.title))?;
    writeln!(out, "- **Origem / Source:** {}", text(&case.source))?;
    if let Some(simulated) = &case.simulated {
        writeln!(
            out,
            "- **Simulado / Simulated:** {} ({SIMULATED_NOTE})",
            text(simulated)
        )?;
    }
    writeln!(
        out,
        "- **Resultado / Outcome:** **{}**",
        outcome_label(case.outcome)
    )?;
    if let Some(reason) = &case.reason {
        writeln!(out, "- **Motivo / Reason:** {}", text(reason))?;
    }
    writeln!(
        out,
        "- **Início / Started (UTC):** {} · **Duração / Elapsed:** {}\n",
        utc(case.started_at),
        elapsed(case.elapsed_ms)
    )?;
    steps(out, &case.steps)?;
    sales(out, &case.sales)?;
    cards(out, &case.cards)
}

fn steps(out: &mut String, steps: &[StepRecord]) -> Result {
    writeln!(out, "#### Passos / Steps\n")?;
    if steps.is_empty() {
        return writeln!(out, "{}\n", none_line());
    }
    writeln!(
        out,
        "| Horário / Time (UTC) | Passo / Step | Resultado / Result | Detalhe / Detail |\n\
         |---|---|---|---|"
    )?;
    for step in steps {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            utc(step.at),
            code_cell(&step.name),
            ok_label(step.ok),
            cell(&step.detail)
        )?;
    }
    writeln!(out)
}

fn sales(out: &mut String, sales: &[SaleRecord]) -> Result {
    writeln!(out, "#### Vendas / Sales\n")?;
    if sales.is_empty() {
        return writeln!(out, "{}\n", none_line());
    }
    for sale in sales {
        writeln!(out, "##### Venda / Sale {}\n", code(&sale.recharge_id))?;
        writeln!(out, "| Campo / Field | Valor / Value |\n|---|---|")?;
        for field in sale_fields(sale) {
            let value = match (&field.value, field.literal) {
                (None, _) => NONE.to_owned(),
                (Some(v), true) => code_cell(v),
                (Some(v), false) => cell(v),
            };
            writeln!(out, "| {} | {value} |", field.label)?;
        }
        writeln!(out)?;
        history(out, &sale.history)?;
    }
    Ok(())
}

fn history(out: &mut String, entries: &[HistoryEntry]) -> Result {
    writeln!(out, "**Histórico / History**\n")?;
    if entries.is_empty() {
        return writeln!(out, "{}\n", none_line());
    }
    writeln!(
        out,
        "| Horário / Time (UTC) | Tipo / Kind | Nome / Name | Ator / Actor | Detalhe / Detail |\n\
         |---|---|---|---|---|"
    )?;
    for entry in entries {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            utc(entry.at),
            code_cell(&entry.kind),
            code_cell(&entry.name),
            entry.actor.as_deref().map_or_else(|| NONE.to_owned(), cell),
            // Compact JSON: one line, its own newlines escaped as `\n`.
            code_cell(&entry.detail.to_string())
        )?;
    }
    writeln!(out)
}

fn cards(out: &mut String, cards: &[CardRecord]) -> Result {
    writeln!(out, "#### Cartões / Cards\n")?;
    if cards.is_empty() {
        return writeln!(out, "{}\n", none_line());
    }
    writeln!(
        out,
        "| Cartão / Card id | NITA | NSUA | Status | Final / Last4 | HASH notificado / Hash notified |\n\
         |---|---|---|---|---|---|"
    )?;
    let opt = |v: &Option<String>| v.as_deref().map_or_else(|| NONE.to_owned(), cell);
    for card in cards {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&card.card_id),
            opt(&card.nita),
            opt(&card.nsua),
            cell(&card.status),
            opt(&card.last4),
            yes_no(card.hash_notified)
        )?;
    }
    writeln!(out)
}

fn none_line() -> &'static str {
    "_Nenhum / None._"
}

/// Report data as inline text: Markdown's punctuation escaped so that data cannot make
/// emphasis, links or raw HTML, and on one line so that it cannot start a block.
fn text(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        let word = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_alphanumeric())
        };
        match c {
            '\r' | '\n' => out.push(' '),
            // An underscore inside a word is no emphasis: leaving it keeps `in_doubt` readable.
            '_' if word(i.checked_sub(1)) && word(Some(i + 1)) => out.push('_'),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Inline text in a table cell: as [`text`], line breaks kept as `<br>`.
fn cell(s: &str) -> String {
    s.replace("\r\n", "\n")
        .split(['\n', '\r'])
        .map(text)
        .collect::<Vec<_>>()
        .join("<br>")
}

/// A code span, its fence longer than any run of backticks inside it.
fn code(s: &str) -> String {
    let one_line = s.replace(['\r', '\n'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in one_line.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if longest > 0 {
        format!("{fence} {one_line} {fence}")
    } else {
        format!("{fence}{one_line}{fence}")
    }
}

/// A code span in a table cell: GitHub splits cells at `|` even inside code, unless escaped.
fn code_cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::homologation::report::sample;

    /// A table row's cells: split at the pipes that are not escaped.
    fn cells(row: &str) -> Vec<String> {
        let mut cells = vec![String::new()];
        let mut escaped = false;
        for c in row.chars() {
            match c {
                '|' if !escaped => cells.push(String::new()),
                _ => cells.last_mut().expect("one cell at least").push(c),
            }
            escaped = c == '\\' && !escaped;
        }
        // The row's leading and trailing pipes make an empty first and last piece.
        cells.remove(0);
        cells.pop();
        cells
    }

    #[test]
    fn it_names_every_case_its_outcome_and_the_failing_reason() {
        let report = sample();
        let md = render(&report);
        assert!(md.starts_with(&format!("# {TITLE}")), "{md}");
        for case in &report.cases {
            assert!(
                md.contains(&format!("`{}`", case.name)),
                "{}: {md}",
                case.name
            );
        }
        for word in ["PASSOU / pass", "FALHOU / fail", "IGNORADO / skipped"] {
            assert!(md.contains(word), "{word}: {md}");
        }
        assert!(md.contains("expected status undone, got in_doubt"), "{md}");
        assert!(md.contains("no card flow configured"), "{md}");
        for heading in [
            "Resumo / Summary",
            "Ambiente / Environment",
            "Verificações iniciais / Pre-flight checks",
            "Casos / Cases",
            "Passos / Steps",
            "Vendas / Sales",
            "Cartões / Cards",
            "Histórico / History",
        ] {
            assert!(md.contains(heading), "{heading}: {md}");
        }
        assert!(md.contains("evidence is of this service only"), "{md}");
        assert!(md.contains("https://shop.example/carat/status"), "{md}");
        assert!(md.contains("| `********90` |"), "{md}");
        assert!(md.contains("2025-03-14T12:00:00.000Z"), "{md}");
        assert!(md.contains("**Passaram / Passed:** 1 · **Falharam / Failed:** 1"));
    }

    #[test]
    fn a_pipe_in_a_history_detail_does_not_break_the_row() {
        let md = render(&sample());
        let row = md
            .lines()
            .find(|l| l.contains("\"note\""))
            .expect("the history row with the pipe");
        let cells = cells(row);
        assert_eq!(cells.len(), 5, "{row}");
        assert!(cells[4].contains("a\\|b\\nc"), "{row}");
        for line in md.lines().filter(|l| l.starts_with('|')) {
            assert!(line.ends_with('|'), "a row that does not end: {line}");
        }
    }

    #[test]
    fn data_cannot_make_markup() {
        assert_eq!(text("<b>x</b> *y*"), "\\<b\\>x\\</b\\> \\*y\\*");
        assert_eq!(text("in_doubt _x_"), "in_doubt \\_x\\_");
        assert_eq!(cell("a|b\nc"), "a\\|b<br>c");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code_cell("x|y"), "`x\\|y`");
    }
}

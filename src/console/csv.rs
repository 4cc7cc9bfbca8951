//! The search's CSV export: the current filter's recharges, page after page as the database
//! gives them (never one big list), as a spreadsheet in the operator's language opens it:
//! a UTF-8 BOM, `;` and a decimal comma in pt-BR (`,` and a decimal point in English), dates
//! `dd/mm/yyyy HH:MM` in America/Sao_Paulo. Fields are quoted when they must be, and a field a
//! spreadsheet would take for a formula is neutralised with a leading apostrophe.

use std::future::Future;

use futures_util::Stream;
use futures_util::stream;

use super::format;
use super::i18n::{L, Lang};
use carat_domain::EffectuationInput;
use carat_store::Recharge;
use carat_store::recharge_list::Key;

/// Rows asked of the database at a time.
pub const PAGE: i64 = 200;

/// What opens the file: Excel reads UTF-8 only with it.
pub const BOM: &str = "\u{feff}";

/// The separator a spreadsheet in that language expects.
pub fn separator(lang: Lang) -> char {
    match lang {
        Lang::PtBr => ';',
        Lang::En => ',',
    }
}

/// One field, safe to put between separators: a leading `=`, `+`, `-`, `@` (or a tab or
/// carriage return, which some spreadsheets skip before reading a formula) gets an
/// apostrophe in front, so it is read as text; then it is quoted, doubling its quotes, when it
/// holds the separator, a quote or a line break (RFC 4180).
pub fn field(value: &str, sep: char) -> String {
    let neutral = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if neutral.contains([sep, '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

/// A line of fields, CRLF-terminated.
fn line<'a>(fields: impl IntoIterator<Item = &'a str>, sep: char) -> String {
    let mut out = fields
        .into_iter()
        .map(|f| field(f, sep))
        .collect::<Vec<_>>()
        .join(&sep.to_string());
    out.push_str("\r\n");
    out
}

/// The header line.
pub fn header(lang: Lang) -> String {
    let names = [
        L::Id,
        L::Created,
        L::Kind,
        L::Status,
        L::CaratStatus,
        L::OrderId,
        L::Nit,
        L::MerchantUsn,
        L::CaratUsn,
        L::Dealer,
        L::Product,
        L::Phone,
        L::Amount,
        L::InDoubt,
    ];
    line(names.map(|l| lang.t(l)), separator(lang))
}

/// One recharge's line. Nothing secret: no receipt (a PIN sale's carries its PIN), no card.
pub fn row(lang: Lang, r: &Recharge) -> String {
    let input = r.effectuation().map(|e| &e.input);
    let (dealer, product, phone, amount) = match input {
        Some(EffectuationInput::Normal {
            dealer,
            phone,
            amount,
            ..
        }) => (
            dealer.code.to_string(),
            String::new(),
            format::phone(phone.ddd.as_ref(), phone.number.as_ref()),
            Some(amount.get()),
        ),
        Some(EffectuationInput::Others { dealer, amount, .. }) => (
            dealer.code.to_string(),
            dealer.branch.code.to_string(),
            String::new(),
            Some(amount.get()),
        ),
        Some(EffectuationInput::Invoice { dealer, amount, .. }) => (
            dealer.code.to_string(),
            String::new(),
            String::new(),
            Some(amount.get()),
        ),
        None => Default::default(),
    };
    let amount = amount
        .map(|cents| format::amount(lang, cents as i64))
        .unwrap_or_default();
    let esitef_usn = r
        .carat_answer()
        .and_then(|a| a.esitef_usn.clone())
        .unwrap_or_default();
    let fields = [
        r.id.to_string(),
        format::date_time(r.created_at),
        lang.kind(r.recharge_type).to_owned(),
        lang.status(r.status).to_owned(),
        r.carat_status
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        r.order_id.to_string(),
        r.nit.as_ref().map(ToString::to_string).unwrap_or_default(),
        r.merchant_usn.to_string(),
        esitef_usn,
        dealer,
        product,
        phone,
        amount,
        lang.yes_no(r.status.is_in_doubt()).to_owned(),
    ];
    line(fields.iter().map(String::as_str), separator(lang))
}

enum Next {
    Start,
    After(Option<Key>),
    Done,
}

/// The file as a stream of chunks: the BOM and the header, then one chunk per page that
/// `fetch` answers (`fetch(after)` gives up to [`PAGE`] rows after the key). An error ends
/// the stream (the client sees a cut-off download, never a file that looks complete).
pub fn export<F, Fut, E>(lang: Lang, fetch: F) -> impl Stream<Item = Result<String, E>>
where
    F: FnMut(Option<Key>) -> Fut,
    Fut: Future<Output = Result<Vec<Recharge>, E>>,
{
    stream::try_unfold((Next::Start, fetch), move |(next, mut fetch)| async move {
        match next {
            Next::Start => Ok(Some((
                format!("{BOM}{}", header(lang)),
                (Next::After(None), fetch),
            ))),
            Next::After(after) => {
                let rows = fetch(after).await?;
                let last = rows.last().map(|r| Key {
                    created_at: r.created_at,
                    id: r.id,
                });
                let chunk: String = rows.iter().map(|r| row(lang, r)).collect();
                let next = match last {
                    Some(key) if rows.len() as i64 >= PAGE => Next::After(Some(key)),
                    _ => Next::Done,
                };
                if chunk.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some((chunk, (next, fetch))))
                }
            }
            Next::Done => Ok(None),
        }
    })
}

/// `recharges-2026-12-06.csv`, dated in America/Sao_Paulo.
pub fn file_name(now: chrono::DateTime<chrono::Utc>) -> String {
    format!("recharges-{}.csv", format::today(now).format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_fields_quoted() {
        assert_eq!(field("plain", ';'), "plain");
        assert_eq!(field("=1+1", ';'), "'=1+1");
        assert_eq!(field("+55", ';'), "'+55");
        assert_eq!(field("-2", ';'), "'-2");
        assert_eq!(field("@SUM(A1)", ';'), "'@SUM(A1)");
        assert_eq!(field("\t=1", ';'), "'\t=1");
        assert_eq!(field("a;b", ';'), "\"a;b\"");
        assert_eq!(field("a,b", ';'), "a,b");
        assert_eq!(field("a,b", ','), "\"a,b\"");
        assert_eq!(field("say \"hi\"", ';'), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines", ';'), "\"two\nlines\"");
        assert_eq!(
            field("=HYPERLINK(\"x\";\"y\")", ';'),
            "\"'=HYPERLINK(\"\"x\"\";\"\"y\"\")\""
        );
        assert_eq!(field("1.234,56", ';'), "1.234,56");
        assert_eq!(field("1,234.56", ','), "\"1,234.56\"");
        assert_eq!(field("", ';'), "");
    }

    #[test]
    fn headers_follow_the_language() {
        assert_eq!(
            header(Lang::PtBr),
            "Id;Criada em;Tipo;Situação;Situação na Carat;Pedido;NIT;USN do lojista;USN da Carat;Fornecedor;Produto;Telefone;Valor;Em dúvida\r\n"
        );
        assert!(header(Lang::En).starts_with("Id,Created,Kind,Status,"));
    }

    use crate::console::testing::{normal, recharge};

    #[test]
    fn a_row_in_each_language() {
        let r = recharge(normal());
        let pt = row(Lang::PtBr, &r);
        assert_eq!(
            pt,
            format!(
                "{};05/12/2026 23:30;Recarga de celular;Confirmada;CON;PEDIDO123;;42;;1;;(11) 98765-4321;1.234,56;Não\r\n",
                r.id
            )
        );
        let en = row(Lang::En, &r);
        assert!(en.ends_with(",(11) 98765-4321,\"1,234.56\",No\r\n"), "{en}");
    }

    #[tokio::test]
    async fn the_export_streams_page_after_page() {
        use futures_util::TryStreamExt;
        let pages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let asked = pages.clone();
        let fetch = move |after: Option<Key>| {
            let asked = asked.clone();
            async move {
                let n = {
                    let mut asked = asked.lock().unwrap();
                    asked.push(after);
                    asked.len()
                };
                // Two full pages, then a short one.
                let rows = if n <= 2 { PAGE } else { 3 };
                Ok::<_, std::convert::Infallible>(
                    (0..rows).map(|_| recharge(normal())).collect::<Vec<_>>(),
                )
            }
        };
        let chunks: Vec<String> = export(Lang::PtBr, fetch).try_collect().await.unwrap();
        assert_eq!(chunks.len(), 4, "the header, then one chunk per page");
        assert!(chunks[0].starts_with(BOM));
        let lines: usize = chunks[1..].iter().map(|c| c.matches("\r\n").count()).sum();
        assert_eq!(lines as i64, 2 * PAGE + 3);
        let asked = pages.lock().unwrap();
        assert_eq!(asked.len(), 3);
        assert_eq!(asked[0], None);
        assert!(asked[1].is_some());
    }

    #[tokio::test]
    async fn an_empty_result_is_the_header_alone() {
        use futures_util::TryStreamExt;
        let fetch = |_after: Option<Key>| async { Ok::<_, std::convert::Infallible>(Vec::new()) };
        let chunks: Vec<String> = export(Lang::En, fetch).try_collect().await.unwrap();
        assert_eq!(chunks, vec![format!("{BOM}{}", header(Lang::En))]);
    }

    #[tokio::test]
    async fn a_failed_page_ends_the_stream_with_the_error() {
        use futures_util::StreamExt;
        let fetch = |_after: Option<Key>| async { Err::<Vec<Recharge>, _>("database away") };
        let items: Vec<_> = export(Lang::En, fetch).collect().await;
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert_eq!(items[1], Err("database away"));
    }

    #[test]
    fn file_names_carry_the_local_date() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-06T02:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(file_name(at), "recharges-2026-12-05.csv");
    }
}

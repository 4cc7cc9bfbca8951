//! The status notification (`callbacks::status::parse`) and its payment-status rule
//! (`domain::payment_status::advance`): unknown parameters never change what a form says, and
//! no order of delivery takes a payment backwards.

use carat_domain::CaratStatus;
use carat_domain::payment_status::{Advance, advance, is_final};
use carat_wire::callbacks::status::parse;
use proptest::prelude::*;

use crate::strategies::arbitrary_text;

/// Every parameter the notification defines: an extra one of these names is not unknown.
const KNOWN: &[&str] = &[
    "nit",
    "pedido",
    "nsu",
    "nsuSitef",
    "nsuHost",
    "nsuesitef",
    "status",
    "cupom",
    "cupomEstabelecimento",
    "autorizadora",
    "tipoPagamento",
    "dataSitef",
    "dataEfetivacao",
    "parcelas",
    "tipoFinanciamento",
    "mensagem",
    "codigoRespostaAutorizadora",
    "rede",
    "numeroAutorizacao",
    "tid",
    "eci",
    "bandeira",
    "analise.status",
    "analise.codigo",
    "analise.mensagem",
    "binCartao",
];

const STATUSES: &[&str] = &[
    "NOV", "INV", "PPC", "PPN", "PEN", "CON", "NEG", "ERR", "BLQ", "EXP", "EST", "AGU", "ABA",
    "CAN", "RET",
];

/// A form of documented parameters, valid or not (a value sometimes off its format).
fn documented() -> impl Strategy<Value = Vec<(String, String)>> {
    let nit = prop_oneof![
        4 => "[A-Za-z0-9]{64}",
        1 => "[A-Za-z0-9]{0,70}",
    ];
    let status = prop_oneof![
        4 => proptest::sample::select(STATUSES).prop_map(str::to_owned),
        1 => "[A-Za-z]{0,4}",
    ];
    let optional = (
        proptest::option::of("[A-Z0-9]{1,20}"),
        proptest::option::of("[0-9]{1,13}"),
        proptest::option::of("[A-Za-z0-9]{5,7}"),
        proptest::option::of(
            "(0[1-9]|[12][0-9])/(0[1-9]|1[0-2])/20[0-9]{2} [01][0-9]:[0-5][0-9]:[0-5][0-9]",
        ),
        proptest::option::of(arbitrary_text(12)),
        proptest::option::of("[CDBX]"),
    );
    (nit, status, optional).prop_map(|(nit, status, (pedido, nsu, auth, date, msg, kind))| {
        let mut form = vec![("nit".to_owned(), nit), ("status".to_owned(), status)];
        let mut put = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                form.push((name.to_owned(), v));
            }
        };
        put("pedido", pedido);
        put("nsu", nsu);
        put("numeroAutorizacao", auth);
        put("dataSitef", date);
        put("mensagem", msg);
        put("tipoPagamento", kind);
        form
    })
}

/// A parameter the notification does not define: near misses of its names included (names
/// are case-sensitive, and dotted names are literal).
fn unknown_parameter() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        proptest::sample::select(vec![
            "NIT",
            "Status",
            "analise",
            "analise.outro",
            "analise[status]",
            "numeroautorizacao",
            "merchantId",
            "orderId",
            "somethingNew",
            "",
        ])
        .prop_map(str::to_owned),
        arbitrary_text(10),
    ]
    .prop_filter("a documented name is not unknown", |n| {
        !KNOWN.contains(&n.as_str())
    });
    (name, arbitrary_text(12))
}

fn verdict(form: &[(String, String)]) -> Result<String, String> {
    let body = serde_urlencoded::to_string(form).unwrap();
    parse(body.as_bytes())
        .map(|n| format!("{n:?}"))
        .map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(crate::config())]

    /// Extra unknown parameters, anywhere in the form, change nothing: the same notification,
    /// or the same refusal naming the same parameter.
    #[test]
    fn unknown_parameters_change_nothing(
        form in documented(),
        extra in proptest::collection::vec((unknown_parameter(), any::<prop::sample::Index>()), 1..4),
    ) {
        let mut with = form.clone();
        for (param, at) in extra {
            let i = at.index(with.len() + 1);
            with.insert(i, param);
        }
        prop_assert_eq!(verdict(&with), verdict(&form));
    }

    /// Whatever order notifications arrive in, a payment never goes back: a final status is
    /// never replaced by one that is not, and a status left behind for a later rank (NOV, then
    /// PPC) never comes back.
    #[test]
    fn no_order_of_delivery_takes_a_payment_backwards(
        arrivals in proptest::collection::vec(proptest::sample::select(STATUSES), 1..12),
    ) {
        let mut stored: Option<CaratStatus> = None;
        let mut left: Vec<CaratStatus> = Vec::new();
        for code in arrivals {
            let notified = CaratStatus::parse(code);
            if advance(stored.as_ref(), &notified) == Advance::Forward {
                if let Some(previous) = stored.take() {
                    prop_assert!(!is_final(&previous) || is_final(&notified),
                        "{} -> {}", previous, notified);
                    if matches!(previous, CaratStatus::Nov | CaratStatus::Ppc) || is_final(&previous) {
                        left.push(previous);
                    }
                }
                prop_assert!(!left.contains(&notified), "{} came back", notified);
                stored = Some(notified);
            }
        }
    }
}

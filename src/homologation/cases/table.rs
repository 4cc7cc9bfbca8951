//! The script: every case, with the page of Carat's documentation it comes from. Seed numbers
//! are the files of `shared/seeds` (the pages this project was built from); `digest §n` is
//! the section of the interface's digest (`carat-portal-recharge-api.md`) that settles it.

/// One case of the homologation script. `--only` names them by [`CaseId::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseId {
    TopUpConfirmed,
    TopUpUndone,
    CardPaymentConfirmed,
    CardPaymentUndone,
    CardDenied,
    PinProduct,
    BillPaid,
    DealerQuestions,
    TvPackage,
    StoredCard,
    UsedPaymentMethods,
    StatusQuery,
    SignatureMode,
    LostEffectuationAnswer,
}

/// (case, name, title, source), in the order they run.
const TABLE: [(CaseId, &str, &str, &str); 14] = [
    (
        CaseId::TopUpConfirmed,
        "top_up_confirmed",
        "Recarga de celular confirmada / A phone top-up, confirmed",
        "seed 000 (flow), 002 (create and authenticity POST), 001 (effectuation), 003 (confirm \"true\"); digest §2, §3.1-3.5",
    ),
    (
        CaseId::TopUpUndone,
        "top_up_undone",
        "Recarga de celular desfeita / A phone top-up, undone",
        "seed 003 (confirm \"false\": undo); digest §3.5",
    ),
    (
        CaseId::CardPaymentConfirmed,
        "card_payment_confirmed",
        "Recarga paga com cartão, confirmada / A top-up paid by card, confirmed",
        "seed 001 (payment and card of the effectuation), 003; digest §3.4, §6.2",
    ),
    (
        CaseId::CardPaymentUndone,
        "card_payment_undone",
        "Recarga paga com cartão, desfeita / A top-up paid by card, undone",
        "seed 001, 003 (undo of a paid recharge); digest §3.4-3.5",
    ),
    (
        CaseId::CardDenied,
        "card_denied",
        "Cartão negado / A card denied",
        "seed 001 (payment refused: status NEG); digest §5.1, §5.3",
    ),
    (
        CaseId::PinProduct,
        "pin_product",
        "Produto PIN confirmado, com o PIN guardado / A PIN product, confirmed, its PIN kept",
        "seed 001 (recharge type others, receipts, the PIN caveat); digest §3.3-3.4",
    ),
    (
        CaseId::BillPaid,
        "bill_paid",
        "Conta paga / A bill paid",
        "seed 001 (recharge type invoice, bar code); digest §3.3 (invoice listing), §3.4",
    ),
    (
        CaseId::DealerQuestions,
        "dealer_questions",
        "Operadora com pergunta respondida / A dealer whose question is answered",
        "seed 000 (branch data questions), 001 (answers); digest §3.3-3.4",
    ),
    (
        CaseId::TvPackage,
        "tv_package",
        "Pacote de TV escolhido após AGU / A TV package chosen after AGU",
        "seed 001 (resubmit_transaction, AGU, answer 126); digest §3.4, §5.1",
    ),
    (
        CaseId::StoredCard,
        "stored_card",
        "Cartão armazenado (NITA e notificação HASH), depois uma compra com ele / A card stored, \
         with its NITA and HASH notification, then a purchase with it",
        "seed 004 (card storage, NITA, HASH notification), 001 (payment by token); digest §6.3",
    ),
    (
        CaseId::UsedPaymentMethods,
        "used_payment_methods",
        "used_payment_methods enviado na confirmação / used_payment_methods sent on a confirmation",
        "seed 003 (used_payment_methods of confirm_recharge_request), 001 (format); digest §3.5",
    ),
    (
        CaseId::StatusQuery,
        "status_query",
        "Consulta de status / The status query",
        "digest §3.6 (GET /recharge/{nit}), §5.1",
    ),
    (
        CaseId::SignatureMode,
        "signature_mode",
        "Modo assinatura (JWT RS256) / The signature mode",
        "seed 002 (JWT signature instead of the authenticity POST); digest §4.3",
    ),
    (
        CaseId::LostEffectuationAnswer,
        "lost_effectuation_answer",
        "Resposta de efetivação perdida, resolvida por consulta / A lost effectuation answer, \
         resolved by query",
        "digest §7 (timeouts: query, never resend); seed 001",
    ),
];

impl CaseId {
    pub const ALL: [CaseId; 14] = {
        let mut all = [CaseId::TopUpConfirmed; 14];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].0;
            i += 1;
        }
        all
    };

    fn row(self) -> &'static (CaseId, &'static str, &'static str, &'static str) {
        TABLE.iter().find(|row| row.0 == self).unwrap_or(&TABLE[0])
    }

    pub fn name(self) -> &'static str {
        self.row().1
    }

    pub fn title(self) -> &'static str {
        self.row().2
    }

    pub fn source(self) -> &'static str {
        self.row().3
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// The cases `--only a,b` names, in the script's order; an unknown name is refused with the
/// list of names.
pub fn select(only: Option<&str>) -> Result<Vec<CaseId>, String> {
    let Some(only) = only else {
        return Ok(CaseId::ALL.to_vec());
    };
    let mut wanted = Vec::new();
    for name in only.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let case = CaseId::parse(name).ok_or_else(|| {
            let names: Vec<_> = CaseId::ALL.iter().map(|c| c.name()).collect();
            format!(
                "--only: no case is named {name:?}; the cases are {}",
                names.join(", ")
            )
        })?;
        wanted.push(case);
    }
    if wanted.is_empty() {
        return Err("--only: name at least one case".into());
    }
    Ok(CaseId::ALL
        .into_iter()
        .filter(|c| wanted.contains(c))
        .collect())
}

/// `--list`: one line per case, its name, title and source.
pub fn list() -> String {
    TABLE
        .iter()
        .map(|(_, name, title, source)| format!("{name}\n    {title}\n    source: {source}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_is_in_the_table_once_with_a_name_of_its_own() {
        for (i, case) in CaseId::ALL.iter().enumerate() {
            assert_eq!(TABLE[i].0, *case);
            assert_eq!(CaseId::parse(case.name()), Some(*case));
            assert!(!case.source().is_empty());
        }
        let mut names: Vec<_> = CaseId::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLE.len());
    }

    #[test]
    fn only_keeps_the_scripts_order_and_refuses_an_unknown_name() {
        assert_eq!(
            select(Some("status_query, top_up_confirmed")).unwrap(),
            vec![CaseId::TopUpConfirmed, CaseId::StatusQuery]
        );
        let refused = select(Some("top_up,bill_paid")).unwrap_err();
        assert!(
            refused.contains("\"top_up\"") && refused.contains("bill_paid"),
            "{refused}"
        );
        assert!(select(Some(" , ")).is_err());
        assert_eq!(select(None).unwrap().len(), 14);
    }
}

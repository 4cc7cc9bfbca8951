//! The console's words, in Brazilian Portuguese (the default) and English. Every label is one
//! line of [`labels!`] with both texts, so a label cannot exist in one language only.

use carat_domain::{CaratStatus, RechargeStatus, RechargeType};

/// The page's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    PtBr,
    En,
}

impl Lang {
    /// The `lang` attribute and the `?lang=` value.
    pub fn code(self) -> &'static str {
        match self {
            Self::PtBr => "pt-BR",
            Self::En => "en",
        }
    }

    /// `pt-BR`, `pt`, `en`, `en-US`... in any case; `None` for any other language.
    pub fn parse(tag: &str) -> Option<Self> {
        let tag = tag.trim();
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("pt") {
            Some(Self::PtBr)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else {
            None
        }
    }

    /// The best of ours an `Accept-Language` value asks for (highest `q` first, in order
    /// among equals); `None` when it asks for neither.
    pub fn from_accept_language(value: &str) -> Option<Self> {
        let mut best: Option<(f32, Self)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
                .unwrap_or(0.0);
            if q <= 0.0 {
                continue;
            }
            if let Some(lang) = Self::parse(tag)
                && best.is_none_or(|(b, _)| q > b)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }

    pub fn t(self, label: L) -> &'static str {
        match self {
            Self::PtBr => label.pt(),
            Self::En => label.en(),
        }
    }

    /// A label with `{}` replaced by `value`.
    pub fn tf(self, label: L, value: &str) -> String {
        self.t(label).replacen("{}", value, 1)
    }

    /// A recharge's status in words.
    pub fn status(self, status: RechargeStatus) -> &'static str {
        use RechargeStatus::*;
        let (pt, en) = match status {
            Created => ("Criada", "Created"),
            Started => ("Iniciada", "Started"),
            Effectuating => ("Efetivando", "Effectuating"),
            AwaitingChoice => ("Aguardando escolha", "Awaiting choice"),
            PendingConfirmation => ("Pendente de confirmação", "Pending confirmation"),
            Confirming => ("Confirmando", "Confirming"),
            Undoing => ("Desfazendo", "Undoing"),
            Confirmed => ("Confirmada", "Confirmed"),
            Undone => ("Desfeita", "Undone"),
            Failed => ("Falhou", "Failed"),
            Expired => ("Expirada", "Expired"),
        };
        self.pick(pt, en)
    }

    /// A recharge's status in words with Carat's code beside: `Confirmada (CON)`. `carat` is
    /// the recharge's last Carat status when known; otherwise the code Carat has for that
    /// status, when it has exactly one.
    pub fn status_with_code(self, status: RechargeStatus, carat: Option<&CaratStatus>) -> String {
        let code = carat
            .map(CaratStatus::as_str)
            .or_else(|| carat_code_of(status));
        match code {
            Some(code) => format!("{} ({code})", self.status(status)),
            None => self.status(status).to_owned(),
        }
    }

    /// Carat's status in words with its code: `Confirmada (CON)`.
    pub fn carat_status(self, status: &CaratStatus) -> String {
        use CaratStatus::*;
        let (pt, en) = match status {
            Nov => ("Nova", "New"),
            Inv => ("Inválida", "Invalid"),
            Ppc => ("Pendente de confirmação", "Pending confirmation"),
            Ppn => ("Desfeita", "Undone"),
            Pen => ("Aguardando pagamento", "Awaiting payment"),
            Con => ("Confirmada", "Confirmed"),
            Neg => ("Negada", "Denied"),
            Err => ("Erro na autorização", "Error authorizing"),
            Blq => ("Bloqueada", "Blocked"),
            Exp => ("Expirada", "Expired"),
            Est => ("Estornada", "Reversed"),
            Agu => ("Aguardando o usuário", "Awaiting user"),
            Aba => ("Abandonada", "Abandoned"),
            Can => ("Cancelada", "Canceled"),
            Ret => ("Nova tentativa", "Retry"),
            Other(_) => ("Desconhecida", "Unknown"),
        };
        format!("{} ({})", self.pick(pt, en), status.as_str())
    }

    /// A recharge's kind in words.
    pub fn kind(self, kind: RechargeType) -> &'static str {
        let (pt, en) = match kind {
            RechargeType::Normal => ("Recarga de celular", "Phone top-up"),
            RechargeType::Others => ("PIN e outros produtos", "PINs and other products"),
            RechargeType::Invoice => ("Pagamento de conta", "Bill payment"),
        };
        self.pick(pt, en)
    }

    pub fn yes_no(self, yes: bool) -> &'static str {
        self.t(if yes { L::Yes } else { L::No })
    }

    fn pick(self, pt: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::PtBr => pt,
            Self::En => en,
        }
    }
}

/// The Carat status a recharge status always has, when there is exactly one.
fn carat_code_of(status: RechargeStatus) -> Option<&'static str> {
    use RechargeStatus::*;
    match status {
        Started => Some("NOV"),
        AwaitingChoice => Some("AGU"),
        PendingConfirmation => Some("PPC"),
        Confirmed => Some("CON"),
        Expired => Some("EXP"),
        _ => None,
    }
}

macro_rules! labels {
    ($($name:ident => $pt:literal, $en:literal;)*) => {
        /// A label of the console; [`Lang::t`] gives its text.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum L { $($name),* }

        impl L {
            pub const ALL: &[L] = &[$(L::$name),*];

            pub fn pt(self) -> &'static str {
                match self { $(L::$name => $pt),* }
            }

            pub fn en(self) -> &'static str {
                match self { $(L::$name => $en),* }
            }
        }
    };
}

labels! {
    AppTitle => "Console de operação", "Operator console";
    SignInTitle => "Entrar no console", "Sign in to the console";
    Token => "Token da API", "API token";
    TokenHint => "Um token de API_TOKENS (operador) ou de API_READONLY_TOKENS (suporte, só leitura).", "A token of API_TOKENS (operator) or of API_READONLY_TOKENS (support, read only).";
    SignIn => "Entrar", "Sign in";
    SignInFailed => "Token não reconhecido. Confira e tente de novo.", "Token not recognised. Check it and try again.";
    SignOut => "Sair", "Sign out";
    SignedOut => "Você saiu do console.", "You signed out of the console.";
    SessionExpired => "Sua sessão expirou. Entre de novo.", "Your session expired. Sign in again.";
    Navigation => "Navegação", "Navigation";
    NavOverview => "Visão geral", "Overview";
    NavSearch => "Buscar vendas", "Find sales";
    QueueInDoubt => "Em dúvida", "In doubt";
    QueueOverdue => "Confirmação atrasada", "Overdue confirmation";
    QueueAwaitingChoice => "Aguardando escolha", "Awaiting choice";
    QueueCallbacks => "Callbacks recusados", "Refused callbacks";
    QueueCards => "Cartões sem resposta", "Cards with no answer";
    QueueInDoubtHelp => "Vendas com uma chamada que move dinheiro sem resultado conhecido: o reconciliador consulta a Carat; \"Consultar a Carat agora\" resolve já.", "Sales with a money-moving call whose outcome is unknown: the reconciler asks Carat; \"Ask Carat now\" settles one at once.";
    QueueOverdueHelp => "Vendas efetivadas que esperam confirmação além do prazo (PENDING_CONFIRMATION_TIMEOUT_SECS).", "Effectuated sales waiting for confirmation past the deadline (PENDING_CONFIRMATION_TIMEOUT_SECS).";
    QueueAwaitingChoiceHelp => "Vendas de TV esperando a escolha do pacote (AGU): nada foi cobrado ainda.", "TV sales waiting for a package to be chosen (AGU): nothing is charged yet.";
    QueueCallbacksHelp => "POSTs da Carat recusados ou sem venda correspondente, com o corpo como guardado.", "Carat's POSTs that were refused or matched nothing here, with their bodies as kept.";
    QueueCardsHelp => "Cartões guardados cuja resposta da Carat não chegou ou se perdeu.", "Stored cards whose answer from Carat never came or was lost.";
    RoleOperator => "Operador", "Operator";
    RoleSupport => "Suporte", "Support";
    SignedInAs => "Conectado como", "Signed in as";
    Language => "Idioma", "Language";
    Overview => "Visão geral", "Overview";
    Today => "Vendas de hoje", "Today's sales";
    TodayHelp => "Desde a meia-noite, horário de Brasília.", "Since midnight, Brasília time.";
    Queues => "Filas", "Queues";
    Last24h => "Últimas 24 horas, por hora", "Last 24 hours, by hour";
    ChartTitle => "Vendas por hora nas últimas 24 horas, por resultado", "Sales by hour over the last 24 hours, by outcome";
    ChartConfirmed => "confirmadas", "confirmed";
    ChartUndone => "desfeitas", "undone";
    ChartFailed => "falhas", "failed";
    ChartOpen => "em aberto", "open";
    ChartEmpty => "Nenhuma venda nas últimas 24 horas.", "No sales in the last 24 hours.";
    Health => "Saúde", "Health";
    Reconciler => "Reconciliador", "Reconciler";
    ReconcilerOk => "Ativo: última passada há {}.", "Running: last pass {} ago.";
    ReconcilerStale => "Parado: última passada há {}.", "Stalled: last pass {} ago.";
    ReconcilerNoPass => "Ainda não completou uma passada.", "Has not completed a pass yet.";
    ReconcilerDisabled => "Não roda nesta instância (RECONCILE_ENABLED=false).", "Not running on this instance (RECONCILE_ENABLED=false).";
    Database => "Banco de dados", "Database";
    DatabaseOk => "Respondendo em {} ms.", "Answering in {} ms.";
    DatabaseDown => "Não responde.", "Not answering.";
    Status => "Situação", "Status";
    CaratStatus => "Situação na Carat", "Carat status";
    Kind => "Tipo", "Kind";
    Count => "Quantidade", "Count";
    Total => "Total", "Total";
    NoSalesToday => "Nenhuma venda hoje.", "No sales today.";
    SearchTitle => "Buscar vendas", "Find sales";
    SearchText => "Texto", "Text";
    SearchTextHelp => "Pedido, NIT, telefone (com ou sem DDD), id, USN do lojista ou da Carat.", "Order id, NIT, phone (with or without DDD), id, merchant or Carat USN.";
    InDoubt => "Em dúvida", "In doubt";
    InDoubtOnly => "Só as em dúvida", "In doubt only";
    CreatedFrom => "Criadas de", "Created from";
    CreatedTo => "até", "to";
    Search => "Buscar", "Search";
    ExportCsv => "Exportar CSV", "Export CSV";
    NextPage => "Próxima página", "Next page";
    FirstPage => "Primeira página", "First page";
    NoResults => "Nenhuma venda encontrada.", "No sale found.";
    Created => "Criada em", "Created";
    Updated => "Atualizada em", "Updated";
    OrderId => "Pedido", "Order id";
    Nit => "NIT", "NIT";
    Phone => "Telefone", "Phone";
    Product => "Produto", "Product";
    Dealer => "Fornecedor", "Dealer";
    Amount => "Valor", "Amount";
    MerchantUsn => "USN do lojista", "Merchant USN";
    CaratUsn => "USN da Carat", "Carat USN";
    Id => "Id", "Id";
    Open => "Abrir", "Open";
    Sale => "Venda", "Sale";
    Payment => "Pagamento", "Payment";
    PaymentStatus => "Situação do pagamento", "Payment status";
    Card => "Cartão", "Card";
    CardShown => "BIN {}", "BIN {}";
    Installments => "Parcelas", "Installments";
    Authorizer => "Autorizador", "Authorizer";
    NoPayment => "Sem pagamento com cartão.", "No card payment.";
    Bill => "Conta", "Bill";
    LastError => "Último erro", "Last error";
    Attempts => "Chamadas que movem dinheiro", "Money-moving calls";
    NextReconcile => "Próxima tentativa do reconciliador", "Reconciler's next attempt";
    Summary => "Resumo", "Summary";
    Timeline => "Histórico", "Timeline";
    NoEvents => "Nada registrado.", "Nothing recorded.";
    Actor => "Quem", "Actor";
    ActorStorefront => "Loja", "Storefront";
    ActorCarat => "Carat", "Carat";
    ActorReconciler => "Reconciliador", "Reconciler";
    ActorOperator => "Operador", "Operator";
    ActorUnknown => "Desconhecido", "Unknown";
    EventOutboundCall => "Chamada à Carat", "Call to Carat";
    EventCallback => "Callback da Carat", "Carat's callback";
    EventStateChange => "Mudança de situação", "State change";
    EventOperatorAction => "Ação de operador", "Operator action";
    EventOther => "Evento", "Event";
    Outcome => "Resultado", "Outcome";
    OutcomeUnknown => "resultado desconhecido", "outcome unknown";
    CardByNumber => "número do cartão", "card number";
    CardByToken => "token do cartão", "card token";
    CardStored => "cartão guardado", "stored card";
    Took => "Duração", "Took";
    Details => "Detalhes (como guardados)", "Details (as stored)";
    Receipt => "Comprovante", "Receipt";
    CustomerReceipt => "Via do cliente", "Customer's receipt";
    MerchantReceipt => "Via do lojista", "Merchant's receipt";
    NoReceipt => "Sem comprovante.", "No receipt.";
    PinMasked => "PIN oculto. Um operador pode revelá-lo, com um motivo (fica registrado).", "PIN hidden. An operator may reveal it, giving a reason (it is recorded).";
    PinNotKept => "O PIN não foi guardado (a resposta da efetivação se perdeu): a venda é desfeita.", "The PIN was not kept (the effectuation's answer was lost): the sale is undone.";
    PinUnreadable => "O comprovante guardado não abre com as chaves configuradas.", "The stored receipt does not open with the configured keys.";
    PinNotYet => "A Carat ainda não efetivou a venda.", "Carat has not effectuated the sale yet.";
    PinRevealed => "PIN revelado (registrado no histórico). Esta página não é guardada em cache.", "PIN revealed (recorded in the timeline). This page is not cached.";
    Actions => "Ações", "Actions";
    ActionsHelp => "Cada ação exige um motivo e fica registrada no histórico com o seu token.", "Each action needs a reason and is recorded in the timeline with your token.";
    NoActions => "Nenhuma ação possível nesta situação.", "No action is possible in this status.";
    Reason => "Motivo", "Reason";
    ActionAsk => "Consultar a Carat agora", "Ask Carat now";
    ActionAskHelp => "Consulta a Carat e resolve a venda já, como o reconciliador faria.", "Queries Carat and settles the sale now, as the reconciler would.";
    ActionUndo => "Desfazer agora", "Undo now";
    ActionUndoHelp => "Desfaz a venda pendente de confirmação.", "Undoes the sale pending confirmation.";
    ActionConfirm => "Confirmar agora", "Confirm now";
    ActionConfirmHelp => "Confirma a venda pendente de confirmação.", "Confirms the sale pending confirmation.";
    ActionReveal => "Revelar o PIN", "Reveal the PIN";
    ActionRevealHelp => "Mostra o comprovante com o PIN nesta página, uma vez.", "Shows the receipt with the PIN on this page, once.";
    DoneAsk => "A Carat foi consultada.", "Carat was asked.";
    DoneUndo => "A venda foi desfeita.", "The sale was undone.";
    DoneConfirm => "A venda foi confirmada.", "The sale was confirmed.";
    DoneByOther => "Outro ator deu este passo antes do seu clique (veja o histórico); nada foi enviado de novo à Carat.", "Someone else took this step before your click (see the timeline); nothing was sent to Carat again.";
    Yes => "Sim", "Yes";
    No => "Não", "No";
    Error => "Erro", "Error";
    NotFound => "Não encontrado.", "Not found.";
    MethodNotAllowed => "Este endereço não aceita esse método.", "This address does not take that method.";
    NoSuchRecharge => "Não há venda com esse id.", "There is no sale with that id.";
    NoSuchQueue => "Não há fila com esse nome.", "There is no queue by that name.";
    BadField => "O campo `{}` é inválido", "Field `{}` is invalid";
    Forbidden => "Proibido.", "Forbidden.";
    SupportCannotAct => "Sessões de suporte só leem: ações exigem um token de operador.", "Support sessions only read: actions need an operator token.";
    BadCsrf => "O formulário expirou ou não veio desta sessão. Recarregue a página e tente de novo.", "The form expired or did not come from this session. Reload the page and try again.";
    Unavailable => "O serviço não conseguiu responder agora (banco de dados indisponível). Tente de novo.", "The service could not answer now (database unavailable). Try again.";
    CaratFailed => "A Carat não atendeu o pedido", "Carat did not fulfil the request";
    BackToOverview => "Voltar à visão geral", "Back to the overview";
    Callback => "Callback", "Callback";
    Received => "Recebido em", "Received";
    Receipts => "Recebimentos", "Receipts";
    Body => "Corpo (como guardado)", "Body (as kept)";
    Source => "Origem", "Source";
    CustomerId => "Cliente", "Customer";
    TimeZoneNote => "Horários de Brasília (UTC−03:00).", "Times are Brasília time (UTC−03:00).";
    EmptyQueue => "Fila vazia.", "The queue is empty.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_has_both_languages() {
        for label in L::ALL {
            assert!(!label.pt().trim().is_empty(), "{label:?} has no Portuguese");
            assert!(!label.en().trim().is_empty(), "{label:?} has no English");
            assert_eq!(
                label.pt().matches("{}").count(),
                label.en().matches("{}").count(),
                "{label:?}: both languages take the same values"
            );
        }
        // Most words differ between the languages: a copy-paste left untranslated would not.
        let same = L::ALL.iter().filter(|l| l.pt() == l.en()).count();
        assert!(same <= 6, "{same} labels read the same in both languages");
    }

    #[test]
    fn statuses_in_words_with_carats_code() {
        use RechargeStatus::*;
        assert_eq!(
            Lang::PtBr.status_with_code(Confirmed, Some(&CaratStatus::Con)),
            "Confirmada (CON)"
        );
        assert_eq!(
            Lang::En.status_with_code(Confirmed, None),
            "Confirmed (CON)"
        );
        assert_eq!(
            Lang::PtBr.status_with_code(Failed, Some(&CaratStatus::Neg)),
            "Falhou (NEG)"
        );
        assert_eq!(
            Lang::PtBr.status_with_code(Effectuating, None),
            "Efetivando"
        );
        assert_eq!(
            Lang::PtBr.carat_status(&CaratStatus::Con),
            "Confirmada (CON)"
        );
        assert_eq!(
            Lang::En.carat_status(&CaratStatus::Ppc),
            "Pending confirmation (PPC)"
        );
        assert_eq!(
            Lang::En.carat_status(&CaratStatus::parse("XYZ")),
            "Unknown (XYZ)"
        );
        for status in RechargeStatus::ALL {
            assert_ne!(
                Lang::PtBr.status(status),
                Lang::En.status(status),
                "{status}"
            );
        }
        for kind in [
            RechargeType::Normal,
            RechargeType::Others,
            RechargeType::Invoice,
        ] {
            assert_ne!(Lang::PtBr.kind(kind), Lang::En.kind(kind));
        }
        for code in [
            "NOV", "INV", "PPC", "PPN", "PEN", "CON", "NEG", "ERR", "BLQ", "EXP", "EST", "AGU",
            "ABA", "CAN", "RET",
        ] {
            let status = CaratStatus::parse(code);
            assert!(
                Lang::PtBr
                    .carat_status(&status)
                    .ends_with(&format!("({code})"))
            );
            assert!(
                !Lang::PtBr.carat_status(&status).starts_with("Desconhecida"),
                "{code}"
            );
        }
    }

    #[test]
    fn languages_parse_from_tags_and_accept_language() {
        assert_eq!(Lang::parse("pt-BR"), Some(Lang::PtBr));
        assert_eq!(Lang::parse("PT"), Some(Lang::PtBr));
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("en-GB"), Some(Lang::En));
        assert_eq!(Lang::parse("es"), None);
        assert_eq!(Lang::parse(""), None);
        let accept = Lang::from_accept_language;
        assert_eq!(accept("en-US,en;q=0.9,pt-BR;q=0.8"), Some(Lang::En));
        assert_eq!(accept("pt-BR,pt;q=0.9,en;q=0.8"), Some(Lang::PtBr));
        assert_eq!(accept("es;q=1,en;q=0.5,pt;q=0.7"), Some(Lang::PtBr));
        assert_eq!(accept("de, fr"), None);
        assert_eq!(accept("en;q=0, pt;q=0.1"), Some(Lang::PtBr));
        assert_eq!(accept(""), None);
        assert_eq!(Lang::En.tf(L::BadField, "q"), "Field `q` is invalid");
    }
}

//! The status notification (digest §6.2): Carat tells us, asynchronously and with retries,
//! that a payment's status changed. Only HTTP 200 stops the retries, so 200 means "kept and
//! applied", and nothing else does; the body is ignored by Carat.
//!
//! Applied to the payment of the recharge holding its NIT only when it moves the payment's
//! status forward ([`carat_domain::payment_status`]): a late one is kept and noted `stale`. It
//! never ends a recharge by itself: where it disagrees with the recharge's state, the
//! reconciler queries Carat now, or, for a recharge a query can no longer move, operators find
//! it as a discrepancy (`GET /api/v1/callbacks?kind=status&follow_up=discrepancy`).
//!
//! A NIT we do not know is kept as unmatched and answered 200 (so Carat stops retrying); a
//! malformed POST is refused with a 400 naming the parameter, and kept.
//!
//! Whatever its fate, its receipts are never kept in clear: a PIN sale's carries the PIN
//! ([`redact_body`]).

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use carat_domain::format::check_field;
use carat_domain::{
    CaratStatus, Charset, FieldError, Format, FormatError, MerchantUsn, Nit, OrderId,
};

/// The form as it arrives: every documented parameter, by its literal name (`analise.status`
/// is one name, not a nesting). Unknown parameters are ignored; a known one repeated makes the
/// body malformed.
#[derive(Debug, Default, Deserialize)]
pub struct StatusForm {
    pub nit: Option<String>,
    pub pedido: Option<String>,
    pub nsu: Option<String>,
    #[serde(rename = "nsuSitef")]
    pub nsu_sitef: Option<String>,
    #[serde(rename = "nsuHost")]
    pub nsu_host: Option<String>,
    pub nsuesitef: Option<String>,
    pub status: Option<String>,
    pub cupom: Option<String>,
    #[serde(rename = "cupomEstabelecimento")]
    pub cupom_estabelecimento: Option<String>,
    pub autorizadora: Option<String>,
    #[serde(rename = "tipoPagamento")]
    pub tipo_pagamento: Option<String>,
    #[serde(rename = "dataSitef")]
    pub data_sitef: Option<String>,
    #[serde(rename = "dataEfetivacao")]
    pub data_efetivacao: Option<String>,
    pub parcelas: Option<String>,
    #[serde(rename = "tipoFinanciamento")]
    pub tipo_financiamento: Option<String>,
    pub mensagem: Option<String>,
    #[serde(rename = "codigoRespostaAutorizadora")]
    pub codigo_resposta_autorizadora: Option<String>,
    pub rede: Option<String>,
    #[serde(rename = "numeroAutorizacao")]
    pub numero_autorizacao: Option<String>,
    pub tid: Option<String>,
    pub eci: Option<String>,
    pub bandeira: Option<String>,
    #[serde(rename = "analise.status")]
    pub analise_status: Option<String>,
    #[serde(rename = "analise.codigo")]
    pub analise_codigo: Option<String>,
    #[serde(rename = "analise.mensagem")]
    pub analise_mensagem: Option<String>,
    #[serde(rename = "binCartao")]
    pub bin_cartao: Option<String>,
}

/// A status notification, each parameter of its documented format. Everything but the NIT
/// and the status is optional: §6.2 says several are sent only for some payments (SiTef-routed
/// or not, confirmed or not), and which are always sent is [UNKNOWN].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusNotification {
    pub nit: Nit,
    pub status: String,
    /// `pedido`: the recharge's order id; checked against it when sent.
    pub order_id: Option<OrderId>,
    /// `nsu`: the recharge's merchant USN; checked against it when sent.
    pub merchant_usn: Option<u64>,
    pub nsu_sitef: Option<String>,
    pub nsu_host: Option<String>,
    pub nsu_esitef: Option<String>,
    /// `cupom` and `cupomEstabelecimento`: read and checked, never kept (see [`redact_body`]);
    /// serialized as whether one came.
    #[serde(serialize_with = "not_kept")]
    pub customer_receipt: Option<String>,
    #[serde(serialize_with = "not_kept")]
    pub merchant_receipt: Option<String>,
    pub authorizer: Option<String>,
    pub payment_type: Option<PaymentType>,
    pub sitef_date: Option<NaiveDateTime>,
    pub effectuation_date: Option<NaiveDateTime>,
    pub installments: Option<u8>,
    pub financing_type: Option<FinancingType>,
    pub message: Option<String>,
    pub authorizer_response_code: Option<String>,
    pub network: Option<String>,
    pub authorization_number: Option<String>,
    pub tid: Option<String>,
    pub eci: Option<String>,
    pub card_brand: Option<String>,
    pub analysis_status: Option<String>,
    pub analysis_code: Option<String>,
    pub analysis_message: Option<String>,
    pub card_bin: Option<String>,
}

impl StatusNotification {
    pub fn carat_status(&self) -> CaratStatus {
        CaratStatus::parse(&self.status)
    }
}

/// `tipoPagamento`: how the customer paid. Serialized as Carat sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PaymentType {
    #[serde(rename = "C")]
    Credit,
    #[serde(rename = "D")]
    Debit,
    #[serde(rename = "B")]
    Boleto,
}

impl PaymentType {
    pub fn parse(value: &str) -> Result<Self, FormatError> {
        match value {
            "C" => Ok(Self::Credit),
            "D" => Ok(Self::Debit),
            "B" => Ok(Self::Boleto),
            _ => Err(FormatError::Rule(
                "must be C (credit), D (debit) or B (boleto)",
            )),
        }
    }

    /// Carat's letter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credit => "C",
            Self::Debit => "D",
            Self::Boleto => "B",
        }
    }
}

/// `tipoFinanciamento`: who pays the installments' interest. Serialized as Carat sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FinancingType {
    /// `3`: with interest (the issuer's).
    #[serde(rename = "3")]
    WithInterest,
    /// `4`: without interest (the merchant's).
    #[serde(rename = "4")]
    WithoutInterest,
}

impl FinancingType {
    pub fn parse(value: &str) -> Result<Self, FormatError> {
        match value {
            "3" => Ok(Self::WithInterest),
            "4" => Ok(Self::WithoutInterest),
            _ => Err(FormatError::Rule(
                "must be 3 (with interest) or 4 (without interest)",
            )),
        }
    }

    /// Carat's digit.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WithInterest => "3",
            Self::WithoutInterest => "4",
        }
    }
}

/// The receipts a notification carries, whose values are never kept.
pub const RECEIPT_PARAMS: [&str; 2] = ["cupom", "cupomEstabelecimento"];

/// The body as the inbox keeps it: the receipts' values replaced by `[redacted]`, the rest
/// byte for byte (the dedupe key is still the real bytes' digest).
///
/// Why: the customer receipt of a paid PIN sale carries the PIN (seed 001:
/// `payment.customer.receipt`), and Carat's notification repeats it. Dropped rather than sealed
/// with the receipt cipher: the receipts are already kept from the effectuation's answer
/// (sealed there when they hold a PIN, `recharge::pin_receipts`), so this copy adds nothing;
/// and every status notification is redacted, since an unmatched or malformed one cannot be
/// told apart from a PIN sale's.
pub fn redact_body(body: &[u8]) -> Vec<u8> {
    super::redact_params(body, &RECEIPT_PARAMS)
}

/// Serializes a receipt as `"[not kept]"` when it came, `null` when not: the detail and the
/// history keep that Carat sent one, never what it said.
fn not_kept<S: serde::Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str("[not kept]"),
        None => s.serialize_none(),
    }
}

pub use super::PostError;

/// Reads a raw form body: tolerant parse, strict validation ([`super::read_form`]). Pure.
pub fn parse(body: &[u8]) -> Result<StatusNotification, PostError> {
    let form: StatusForm = super::read_form(body)?;
    Ok(StatusNotification::try_from(form)?)
}

/// `DD/MM/YYYY hh:mm:SS`, nothing else (no single digits, no other separators).
fn date_time(value: &str) -> Result<NaiveDateTime, FormatError> {
    const RULE: &str = "must be a date and time as DD/MM/YYYY hh:mm:SS";
    let shape_ok = value.len() == 19
        && value.bytes().enumerate().all(|(i, b)| match i {
            2 | 5 => b == b'/',
            10 => b == b' ',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(FormatError::Rule(RULE));
    }
    NaiveDateTime::parse_from_str(value, "%d/%m/%Y %H:%M:%S").map_err(|_| FormatError::Rule(RULE))
}

/// A receipt (`< 4000`): printable text and line breaks, which receipts are made of.
fn receipt(value: &str) -> Result<(), FormatError> {
    let len = value.chars().count();
    if len > 4000 {
        return Err(FormatError::Length {
            expected: Format::at_most(4000, Charset::Text),
            found: len,
        });
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FormatError::Rule(
            "must be text and line breaks; found another control character",
        ));
    }
    Ok(())
}

// The readers of one form parameter, each named by its parameter for the error.

/// An empty optional parameter is taken as absent: Carat's forms may carry a parameter that
/// does not apply with no value ([UNKNOWN] whether they do; tolerated either way).
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn required(name: &'static str, value: Option<String>) -> Result<String, FieldError> {
    value.ok_or_else(|| FieldError::new(name, "is missing"))
}

fn optional<T>(
    name: &'static str,
    value: Option<String>,
    parse: impl FnOnce(String) -> Result<T, FormatError>,
) -> Result<Option<T>, FieldError> {
    present(value)
        .map(|v| parse(v).map_err(|e| FieldError::new(name, e)))
        .transpose()
}

fn formatted(
    name: &'static str,
    format: Format,
    value: Option<String>,
) -> Result<Option<String>, FieldError> {
    let value = present(value);
    if let Some(v) = &value {
        check_field(name, format, v)?;
    }
    Ok(value)
}

fn checked(
    name: &'static str,
    value: Option<String>,
    rule: impl Fn(&str) -> Result<(), FormatError>,
) -> Result<Option<String>, FieldError> {
    optional(name, value, |v| rule(&v).map(|()| v))
}

/// `status`: Carat's three capital letters.
fn status(value: Option<String>) -> Result<String, FieldError> {
    let status = required("status", value)?;
    check_field("status", Format::exactly(3, Charset::Alphanumeric), &status)?;
    if !status.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(FieldError::new(
            "status",
            "must be 3 capital letters (digest §5.1)",
        ));
    }
    Ok(status)
}

impl TryFrom<StatusForm> for StatusNotification {
    type Error = FieldError;

    /// The parameters are read in §6.2's order, so a form with several wrong names the first.
    fn try_from(mut form: StatusForm) -> Result<Self, FieldError> {
        let nit =
            Nit::parse(required("nit", form.nit.take())?).map_err(|e| FieldError::new("nit", e))?;
        let mut n = Self::bare(nit, status(form.status.take())?);
        n.read_references(&mut form)?;
        n.customer_receipt = checked("cupom", form.cupom.take(), receipt)?;
        n.merchant_receipt = checked(
            "cupomEstabelecimento",
            form.cupom_estabelecimento.take(),
            receipt,
        )?;
        n.read_payment(&mut form)?;
        n.read_authorization(&mut form)?;
        n.read_analysis(&mut form)?;
        // Seen only in an example [UNKNOWN]: a BIN, 6 or 8 digits. Never a card number.
        n.card_bin = formatted(
            "binCartao",
            Format::between(6, 8, Charset::Numeric),
            form.bin_cartao,
        )?;
        Ok(n)
    }
}

impl StatusNotification {
    /// The two parameters always sent, the rest still to read.
    fn bare(nit: Nit, status: String) -> Self {
        Self {
            nit,
            status,
            order_id: None,
            merchant_usn: None,
            nsu_sitef: None,
            nsu_host: None,
            nsu_esitef: None,
            customer_receipt: None,
            merchant_receipt: None,
            authorizer: None,
            payment_type: None,
            sitef_date: None,
            effectuation_date: None,
            installments: None,
            financing_type: None,
            message: None,
            authorizer_response_code: None,
            network: None,
            authorization_number: None,
            tid: None,
            eci: None,
            card_brand: None,
            analysis_status: None,
            analysis_code: None,
            analysis_message: None,
            card_bin: None,
        }
    }

    /// Which transaction it is, in our numbers (`pedido`, `nsu`) and SiTef's.
    fn read_references(&mut self, form: &mut StatusForm) -> Result<(), FieldError> {
        use Charset::Alphanumeric;
        self.order_id = optional("pedido", form.pedido.take(), OrderId::parse)?;
        self.merchant_usn = optional("nsu", form.nsu.take(), |v| {
            MerchantUsn::parse(&v).map(|u| u.get())
        })?;
        self.nsu_sitef = formatted(
            "nsuSitef",
            Format::at_most(10, Alphanumeric),
            form.nsu_sitef.take(),
        )?;
        self.nsu_host = formatted(
            "nsuHost",
            Format::at_most(20, Alphanumeric),
            form.nsu_host.take(),
        )?;
        self.nsu_esitef = formatted(
            "nsuesitef",
            Format::exactly(15, Alphanumeric),
            form.nsuesitef.take(),
        )?;
        Ok(())
    }

    /// How it was paid: authorizer, type, dates, installments.
    fn read_payment(&mut self, form: &mut StatusForm) -> Result<(), FieldError> {
        self.authorizer = formatted(
            "autorizadora",
            Format::at_most(10, Charset::Alphanumeric),
            form.autorizadora.take(),
        )?;
        self.payment_type = optional("tipoPagamento", form.tipo_pagamento.take(), |v| {
            PaymentType::parse(&v)
        })?;
        self.sitef_date = optional("dataSitef", form.data_sitef.take(), |v| date_time(&v))?;
        self.effectuation_date = optional("dataEfetivacao", form.data_efetivacao.take(), |v| {
            date_time(&v)
        })?;
        self.installments = optional("parcelas", form.parcelas.take(), |v| {
            Format::at_most(2, Charset::Numeric).check(&v)?;
            v.parse::<u8>()
                .map_err(|_| FormatError::Rule("must be a number"))
        })?;
        self.financing_type = optional("tipoFinanciamento", form.tipo_financiamento.take(), |v| {
            FinancingType::parse(&v)
        })?;
        Ok(())
    }

    /// The authorizer's answer, as the network gave it.
    fn read_authorization(&mut self, form: &mut StatusForm) -> Result<(), FieldError> {
        use Charset::{Alphanumeric, Numeric, Text};
        self.message = formatted(
            "mensagem",
            Format::at_most(1024, Text),
            form.mensagem.take(),
        )?;
        self.authorizer_response_code = formatted(
            "codigoRespostaAutorizadora",
            Format::at_most(1024, Text),
            form.codigo_resposta_autorizadora.take(),
        )?;
        self.network = formatted("rede", Format::at_most(500, Text), form.rede.take())?;
        self.authorization_number = formatted(
            "numeroAutorizacao",
            Format::exactly(6, Alphanumeric),
            form.numero_autorizacao.take(),
        )?;
        self.tid = formatted("tid", Format::exactly(40, Alphanumeric), form.tid.take())?;
        // §6.2 says `= 3`, but ECI values are usually two digits ("05"): read as at most 3
        // until homologation shows what Carat sends [UNKNOWN].
        self.eci = formatted("eci", Format::at_most(3, Alphanumeric), form.eci.take())?;
        self.card_brand = formatted(
            "bandeira",
            Format::at_most(5, Numeric),
            form.bandeira.take(),
        )?;
        Ok(())
    }

    /// The risk analysis (`analise.*`).
    fn read_analysis(&mut self, form: &mut StatusForm) -> Result<(), FieldError> {
        use Charset::{Alphanumeric, Text};
        // NOV, EXP, ACC, REJ, REV, INV per §5.4; other codes are kept, not refused.
        self.analysis_status = formatted(
            "analise.status",
            Format::exactly(3, Alphanumeric),
            form.analise_status.take(),
        )?;
        // Their formats are not documented [UNKNOWN]: any short text.
        self.analysis_code = formatted(
            "analise.codigo",
            Format::at_most(1024, Text),
            form.analise_codigo.take(),
        )?;
        self.analysis_message = formatted(
            "analise.mensagem",
            Format::at_most(1024, Text),
            form.analise_mensagem.take(),
        )?;
        Ok(())
    }
}

/// How the log names this callback.
#[cfg(test)]
mod tests {
    use super::*;

    const NIT: &str = "89b4ec8a0b8d4bc6bc8b5d1ad1c6d3c3c2f84e6f2c1a46d5b6a3b0f0b7a7e0d1";

    fn body(extra: &str) -> String {
        format!("nit={NIT}&status=CON{extra}")
    }

    #[test]
    fn the_least_form_is_a_nit_and_a_status() {
        let n = parse(body("").as_bytes()).unwrap();
        assert_eq!(n.nit.as_str(), NIT);
        assert_eq!(n.carat_status(), CaratStatus::Con);
        assert_eq!(n.order_id, None);
    }

    #[test]
    fn every_documented_parameter_is_read() {
        let full = body(
            "&pedido=ORDER123&nsu=000000000042&nsuSitef=123456&nsuHost=HOST99&\
             nsuesitef=123456789012345&cupom=VIA+CLIENTE%0ALINHA+2&cupomEstabelecimento=VIA+LOJA&\
             autorizadora=2&tipoPagamento=C&dataSitef=21%2F11%2F2026+13%3A45%3A09&\
             dataEfetivacao=&parcelas=3&tipoFinanciamento=4&mensagem=Transacao+OK&\
             codigoRespostaAutorizadora=00&rede=REDE&numeroAutorizacao=A1B2C3&\
             tid=0123456789012345678901234567890123456789&eci=05&bandeira=2&\
             analise.status=ACC&analise.codigo=10&analise.mensagem=ok&binCartao=411111",
        );
        let n = parse(full.as_bytes()).unwrap();
        assert_eq!(n.order_id.unwrap().as_str(), "ORDER123");
        assert_eq!(n.merchant_usn, Some(42));
        assert_eq!(n.customer_receipt.as_deref(), Some("VIA CLIENTE\nLINHA 2"));
        assert_eq!(n.sitef_date.unwrap().to_string(), "2026-11-21 13:45:09");
        assert_eq!(n.effectuation_date, None);
        assert_eq!(n.installments, Some(3));
        assert_eq!(n.authorization_number.as_deref(), Some("A1B2C3"));
        assert_eq!(n.analysis_status.as_deref(), Some("ACC"));
        assert_eq!(n.card_bin.as_deref(), Some("411111"));
    }

    #[test]
    fn the_payment_and_financing_types_keep_carats_letters() {
        let n = parse(body("&tipoPagamento=D&tipoFinanciamento=3").as_bytes()).unwrap();
        assert_eq!(n.payment_type, Some(PaymentType::Debit));
        assert_eq!(n.financing_type, Some(FinancingType::WithInterest));
        let detail = serde_json::to_value(&n).unwrap();
        assert_eq!(detail["payment_type"], "D");
        assert_eq!(detail["financing_type"], "3");
        for t in [PaymentType::Credit, PaymentType::Debit, PaymentType::Boleto] {
            assert_eq!(PaymentType::parse(t.as_str()), Ok(t));
        }
        for t in [FinancingType::WithInterest, FinancingType::WithoutInterest] {
            assert_eq!(FinancingType::parse(t.as_str()), Ok(t));
        }
    }

    #[test]
    fn unknown_parameters_and_dotted_names_are_literal() {
        let n = parse(body("&analise=x&analise.outro=y&whatever=1").as_bytes()).unwrap();
        assert_eq!(n.analysis_status, None);
    }

    fn refused_field(extra: &str) -> String {
        match parse(body(extra).as_bytes()) {
            Err(PostError::Field(e)) => e.field.into_owned(),
            other => panic!("{extra}: {other:?}"),
        }
    }

    #[test]
    fn each_parameter_is_held_to_its_format() {
        for (extra, field) in [
            ("&pedido=has+space", "pedido"),
            ("&nsu=12a", "nsu"),
            ("&nsuSitef=12345678901", "nsuSitef"),
            ("&nsuesitef=1234", "nsuesitef"),
            ("&tipoPagamento=X", "tipoPagamento"),
            ("&dataSitef=2026-11-21+13%3A45%3A09", "dataSitef"),
            ("&dataSitef=1%2F11%2F2026+13%3A45%3A09", "dataSitef"),
            (
                "&dataEfetivacao=31%2F02%2F2026+13%3A45%3A09",
                "dataEfetivacao",
            ),
            ("&parcelas=123", "parcelas"),
            ("&tipoFinanciamento=1", "tipoFinanciamento"),
            ("&numeroAutorizacao=12345", "numeroAutorizacao"),
            ("&tid=short", "tid"),
            ("&eci=0005", "eci"),
            ("&bandeira=AB", "bandeira"),
            ("&binCartao=4111111111111111", "binCartao"),
            ("&cupom=a%07b", "cupom"),
        ] {
            assert_eq!(refused_field(extra), field, "{extra}");
        }
    }

    #[test]
    fn the_nit_and_status_are_required_and_strict() {
        let missing = |b: &str| match parse(b.as_bytes()) {
            Err(PostError::Field(e)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(missing("status=CON"), "nit: is missing");
        assert!(missing(&format!("nit={NIT}")).starts_with("status"));
        assert!(missing(&format!("nit={NIT}&status=con")).starts_with("status"));
        assert!(missing(&format!("nit={NIT}&status=CONF")).starts_with("status"));
        assert!(missing("nit=short&status=CON").starts_with("nit"));
    }

    #[test]
    fn a_known_parameter_twice_is_malformed() {
        assert!(matches!(
            parse(body("&status=NEG").as_bytes()),
            Err(PostError::Malformed(_))
        ));
    }

    #[test]
    fn the_kept_body_has_the_receipts_blanked_and_the_rest_as_sent() {
        let raw = format!(
            "{}&cupom=VIA+CLIENTE%0APIN%3A+1234&cupomEstabelecimento=X",
            body("")
        );
        let kept = String::from_utf8(redact_body(raw.as_bytes())).unwrap();
        assert_eq!(
            kept,
            format!(
                "{}&cupom=[redacted]&cupomEstabelecimento=[redacted]",
                body("")
            )
        );
        // Named as Carat may encode them; nothing else touched.
        assert_eq!(redact_body(b"a=1&cup%6Fm=PIN"), b"a=1&cup%6Fm=[redacted]");
        assert_eq!(redact_body(b"cupomX=1&a=cupom"), b"cupomX=1&a=cupom");
        assert_eq!(redact_body(b""), b"");
    }

    #[test]
    fn the_receipts_are_never_serialized() {
        let n = parse(body("&cupom=PIN%3A+98765&cupomEstabelecimento=LOJA").as_bytes()).unwrap();
        assert_eq!(n.customer_receipt.as_deref(), Some("PIN: 98765"));
        let detail = serde_json::to_value(&n).unwrap();
        assert_eq!(detail["customer_receipt"], "[not kept]");
        assert_eq!(detail["merchant_receipt"], "[not kept]");
        assert!(!detail.to_string().contains("98765"), "{detail}");
        let without = serde_json::to_value(parse(body("").as_bytes()).unwrap()).unwrap();
        assert!(without["customer_receipt"].is_null());
    }
}

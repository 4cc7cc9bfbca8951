//! The payment side of the sandbox: a card payment linked to a recharge (seed 001 `payment`),
//! checked field by field, authorized by test card, answered in the effectuation, confirm and
//! query answers, and announced by status notifications (digest §6.2) when it is confirmed,
//! denied or undone.
//!
//! Sandbox conventions (not Carat's documented behaviour): the payment's `amount` must equal the
//! recharge's (code 8 otherwise); a token must be one the vault holds with status CON (code 8
//! naming `payment.card.token` otherwise). The test cards:
//!
//! | card | effect |
//! |---|---|
//! | `4111111111111111`, any other Luhn-valid number, [`super::vault::TEST_TOKEN`], a CON token in the vault | approved: payment PPC, CON on confirm, PPN on undo |
//! | [`DENIED_CARD`] `4000000000000002` | denied: payment NEG and recharge NEG, `host` 05, `sitef` 005 |
//! | [`SLOW_CARD`] `4000000000000010` | approved, answered after `slow_answer_delay` |
//!
//! A paid `others` sale's PIN line (`PIN: ...`) is on the payment's customer receipt as well as
//! on the sale's (seed 001: the PIN comes in `payment.customer.receipt`).

use chrono::{DateTime, FixedOffset, Utc};
use rand::RngExt;

use super::errors::CaratError;
use super::vault::Vault;
use carat_domain::card::{CardExpiry, luhn_holds};
use carat_domain::format::check_field;
use carat_domain::{CaratStatus, Charset, FieldError, Format, Secret};
use carat_wire::{
    CardWire, CodeMessage, ExtraParam, InstallmentWire, PaymentAnalysis, PaymentAnswer,
    PaymentAuthorization, PaymentEsitef, PaymentRequest, Receipt,
};

/// Denied by the issuer.
pub const DENIED_CARD: &str = "4000000000000002";
/// Approved, answered after `slow_answer_delay`.
pub const SLOW_CARD: &str = "4000000000000010";

const AMOUNT: Format = Format::at_most(12, Charset::Numeric);
const AUTHORIZER_ID: Format = Format::at_most(5, Charset::Numeric);
const CUSTOMER_ID: Format = Format::at_most(20, Charset::Alphanumeric);
const MERCHANT_KEY: Format = Format::at_most(80, Charset::Alphanumeric);
const INSTALLMENTS: Format = Format::at_most(2, Charset::Numeric);
const INSTALLMENT_TYPE: Format = Format::exactly(1, Charset::Numeric);
const CARD_NUMBER: Format = Format::at_most(19, Charset::Numeric);
const TOKEN: Format = Format::exactly(88, Charset::Text);
const SECURITY_CODE: Format = Format::at_most(5, Charset::Numeric);

/// Carat's clock: Brasília, UTC-3.
const BRASILIA: FixedOffset = match FixedOffset::west_opt(3 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC-3 is a valid offset"),
};

/// What the issuer does with the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Approve,
    Deny,
    ApproveSlowly,
}

/// The card a valid effectuation paid with, as tests may see it: never the number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenCard {
    pub bin: String,
    pub last4: String,
    /// Given by token (the number came from the vault).
    pub by_token: bool,
    pub security_code: bool,
}

/// A valid payment request: what the ledger keeps (never the card number, only BIN and last 4).
#[derive(Clone, Debug)]
pub(crate) struct CardPayment {
    pub amount_cents: u64,
    pub authorizer_id: String,
    pub installments: String,
    pub installment_type: String,
    pub bin: String,
    pub seen: SeenCard,
    pub verdict: Verdict,
    pub extra_param: Vec<ExtraParam>,
    /// Which card fields the request carried (a test hook: [`super::SandboxTransaction`]).
    pub card: CardSeen,
}

/// How an effectuation's `payment.card` gave the card, as the sandbox (Carat) received it: the
/// token as sent, and whether each of the other fields came at all. Never the number itself,
/// so a test printing it shows no PAN.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CardSeen {
    pub token: Option<String>,
    pub number_sent: bool,
    pub expiry_date_sent: bool,
    pub security_code_sent: bool,
}

fn field(name: &'static str, format: Format, value: &str) -> Result<(), CaratError> {
    Ok(check_field(name, format, value)?)
}

fn required<'a>(name: &'static str, value: Option<&'a str>) -> Result<&'a str, CaratError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CaratError::missing(name))
}

/// Seed 001's `payment` table, in table order; then the sandbox's conventions.
pub(crate) fn check(
    p: &PaymentRequest,
    key: &Secret,
    recharge_cents: u64,
    vault: &Vault,
) -> Result<CardPayment, CaratError> {
    let (amount, authorizer_id) = check_amount_and_merchant(p, key)?;
    let installment = check_installment(p)?;
    let card = p
        .card
        .as_ref()
        .ok_or_else(|| CaratError::missing("payment.card"))?;
    if let Some(code) = &card.security_code {
        field("payment.card.security_code", SECURITY_CODE, code)?;
    }
    // Seed 001: with a token, the number and expiry are not considered.
    let number = match &card.token {
        Some(token) => stored_number(token, vault)?,
        None => given_number(card)?,
    };
    let amount_cents: u64 = amount.parse().unwrap_or(0);
    if amount_cents != recharge_cents {
        return Err(CaratError::not_offered(
            "payment.amount",
            format!("must equal the recharge's amount, {recharge_cents} (sandbox convention)"),
        ));
    }
    Ok(CardPayment {
        amount_cents,
        authorizer_id: authorizer_id.to_owned(),
        installments: installment.number.clone(),
        installment_type: installment.kind.clone(),
        bin: number[..6].to_owned(),
        seen: SeenCard {
            bin: number[..6].to_owned(),
            last4: number[number.len() - 4..].to_owned(),
            by_token: card.token.is_some(),
            security_code: card.security_code.is_some(),
        },
        verdict: verdict_of(&number),
        extra_param: p.extra_param.clone().unwrap_or_default(),
        card: CardSeen::of(card),
    })
}

/// The table's first rows: the amount, who is paid (authorizer, customer) and the merchant
/// key, which must be ours. Gives the amount and the authorizer.
fn check_amount_and_merchant<'a>(
    p: &'a PaymentRequest,
    key: &Secret,
) -> Result<(&'a str, &'a str), CaratError> {
    let amount = required("payment.amount", Some(&p.amount))?;
    field("payment.amount", AMOUNT, amount)?;
    let authorizer_id = required("payment.authorizer_id", Some(&p.authorizer_id))?;
    field("payment.authorizer_id", AUTHORIZER_ID, authorizer_id)?;
    if let Some(c) = &p.customer_id {
        field("payment.customer_id", CUSTOMER_ID, c)?;
    }
    let merchant_key = required("payment.merchant_key", Some(&p.merchant_key))?;
    field("payment.merchant_key", MERCHANT_KEY, merchant_key)?;
    if merchant_key != key.expose() {
        return Err(CaratError::merchant_key("payment.merchant_key"));
    }
    Ok((amount, authorizer_id))
}

/// `payment.installment`: a number and one of the four documented types.
fn check_installment(p: &PaymentRequest) -> Result<&InstallmentWire, CaratError> {
    let installment = p
        .installment
        .as_ref()
        .ok_or_else(|| CaratError::missing("payment.installment"))?;
    field(
        "payment.installment.number",
        INSTALLMENTS,
        &installment.number,
    )?;
    field(
        "payment.installment.type",
        INSTALLMENT_TYPE,
        &installment.kind,
    )?;
    if !matches!(installment.kind.as_str(), "3" | "4" | "6" | "7") {
        return Err(FieldError::new("payment.installment.type", "must be 3, 4, 6 or 7").into());
    }
    Ok(installment)
}

/// A card given by token: the number of the vault's card, which must be usable (CON).
fn stored_number(token: &str, vault: &Vault) -> Result<String, CaratError> {
    field("payment.card.token", TOKEN, token)?;
    match vault.by_token(token) {
        Some(stored) if stored.status == "CON" => Ok(stored.number),
        Some(stored) => Err(CaratError::not_offered(
            "payment.card.token",
            format!("the stored card's status is {}", stored.status),
        )),
        None => Err(CaratError::not_offered(
            "payment.card.token",
            "no stored card has this token",
        )),
    }
}

/// A card given by number: a Luhn-valid number and its expiry, both required without a token.
fn given_number(card: &CardWire) -> Result<String, CaratError> {
    let number = required("payment.card.number", card.number.as_deref())
        .map_err(|_| CaratError::missing_because("payment.card.number", "no token was sent"))?;
    field("payment.card.number", CARD_NUMBER, number)?;
    if number.len() < 13 || !luhn_holds(number) {
        return Err(FieldError::new(
            "payment.card.number",
            "must be a card number whose check digit (Luhn) holds",
        )
        .into());
    }
    let expiry =
        required("payment.card.expiry_date", card.expiry_date.as_deref()).map_err(|_| {
            CaratError::missing_because("payment.card.expiry_date", "the card number was sent")
        })?;
    CardExpiry::parse(expiry).map_err(|e| FieldError::new("payment.card.expiry_date", e))?;
    Ok(number.to_owned())
}

/// What the issuer does with the card: the test cards' effects (the module's table).
fn verdict_of(number: &str) -> Verdict {
    match number {
        DENIED_CARD => Verdict::Deny,
        SLOW_CARD => Verdict::ApproveSlowly,
        _ => Verdict::Approve,
    }
}

impl CardSeen {
    fn of(card: &CardWire) -> Self {
        Self {
            token: card.token.clone(),
            number_sent: card.number.as_deref().is_some_and(|n| !n.is_empty()),
            expiry_date_sent: card.expiry_date.as_deref().is_some_and(|e| !e.is_empty()),
            security_code_sent: card.security_code.as_deref().is_some_and(|c| !c.is_empty()),
        }
    }
}

/// A payment as the ledger keeps it, with what the authorizer gave.
#[derive(Clone, Debug)]
pub(crate) struct PaymentRecord {
    pub status: CaratStatus,
    pub payment: CardPayment,
    pub usn: String,
    pub date: DateTime<FixedOffset>,
    pub authorization: PaymentAuthorization,
    pub customer_receipt: String,
    pub merchant_receipt: String,
}

impl PaymentRecord {
    pub fn new(payment: CardPayment) -> Self {
        let now = Utc::now().with_timezone(&BRASILIA);
        let approved = payment.verdict != Verdict::Deny;
        let date = now.format("%d/%m/%Y %H:%M").to_string();
        let authorization = PaymentAuthorization {
            number: approved.then(|| digits(6)),
            sitef_usn: Some(digits(6)),
            host_usn: Some(digits(9)),
            tid: Some(digits(20)),
            eci: Some("05".to_owned()),
            sitef_date: Some(date),
        };
        let body = format!(
            "VALOR: R$ {},{:02}\nCARTAO: {}******\nPARCELAS: {}\n",
            payment.amount_cents / 100,
            payment.amount_cents % 100,
            payment.bin,
            payment.installments
        );
        Self {
            status: if approved {
                CaratStatus::Ppc
            } else {
                CaratStatus::Neg
            },
            usn: digits(15),
            date: now,
            authorization,
            customer_receipt: format!("COMPROVANTE DE PAGAMENTO\nVIA CLIENTE\n{body}"),
            merchant_receipt: format!("COMPROVANTE DE PAGAMENTO\nVIA ESTABELECIMENTO\n{body}"),
            payment,
        }
    }

    fn approved(&self) -> bool {
        self.payment.verdict != Verdict::Deny
    }

    /// The effectuation's and the query's `payment`.
    pub fn answer(&self) -> PaymentAnswer {
        let approved = self.approved();
        PaymentAnswer {
            status: Some(self.status.as_str().to_owned()),
            amount: Some(self.payment.amount_cents.to_string()),
            kind: Some("C".to_owned()),
            authorizer_id: Some(self.payment.authorizer_id.clone()),
            acquirer: Some(serde_json::Value::from("SANDBOX ACQUIRER")),
            esitef: Some(PaymentEsitef {
                usn: Some(self.usn.clone()),
                date: Some(self.date.format("%d/%m/%Y %H:%M").to_string()),
            }),
            sitef: Some(CodeMessage {
                code: Some(if approved { "000" } else { "005" }.to_owned()),
                message: None,
            }),
            customer: approved.then(|| receipt(&self.customer_receipt)),
            merchant: approved.then(|| receipt(&self.merchant_receipt)),
            authorization: Some(self.authorization.clone()),
            analysis: Some(PaymentAnalysis {
                // Digest §5.4's risk-analysis statuses: accepted or rejected.
                status: Some(if approved { "ACC" } else { "REJ" }.to_owned()),
                code: Some(if approved { "0" } else { "5" }.to_owned()),
                message: Some(if approved { "Aprovada" } else { "Negada" }.to_owned()),
            }),
            extra_param: (!self.payment.extra_param.is_empty())
                .then(|| self.payment.extra_param.clone()),
        }
    }

    /// The confirmation's `payment`: its status.
    pub fn status_answer(&self) -> PaymentAnswer {
        PaymentAnswer {
            status: Some(self.status.as_str().to_owned()),
            ..PaymentAnswer::default()
        }
    }

    /// The §6.2 status notification's form, every parameter the sandbox can fill.
    pub fn notification(
        &self,
        nit: &str,
        order_id: Option<&str>,
        merchant_usn: Option<&str>,
    ) -> Vec<(String, String)> {
        let approved = self.approved();
        let a = &self.authorization;
        // SiTef-routed, as the sandbox's payments are: `dataSitef` and a numeric `bandeira`
        // (§6.2: SiTef only), no `tid` (§6.2: `= 40`, non-SiTef only).
        let pairs: [(&str, String); 21] = [
            ("nit", nit.to_owned()),
            ("pedido", order_id.unwrap_or_default().to_owned()),
            ("nsu", merchant_usn.unwrap_or_default().to_owned()),
            ("nsuSitef", a.sitef_usn.clone().unwrap_or_default()),
            ("nsuHost", a.host_usn.clone().unwrap_or_default()),
            ("nsuesitef", self.usn.clone()),
            ("status", self.status.as_str().to_owned()),
            (
                "cupom",
                if approved {
                    self.customer_receipt.clone()
                } else {
                    String::new()
                },
            ),
            (
                "cupomEstabelecimento",
                if approved {
                    self.merchant_receipt.clone()
                } else {
                    String::new()
                },
            ),
            ("autorizadora", self.payment.authorizer_id.clone()),
            ("tipoPagamento", "C".to_owned()),
            (
                "dataSitef",
                self.date.format("%d/%m/%Y %H:%M:%S").to_string(),
            ),
            ("parcelas", self.payment.installments.clone()),
            ("tipoFinanciamento", self.payment.installment_type.clone()),
            (
                "mensagem",
                if approved { "Aprovada" } else { "Negada" }.to_owned(),
            ),
            (
                "codigoRespostaAutorizadora",
                if approved { "00" } else { "05" }.to_owned(),
            ),
            ("rede", "5".to_owned()),
            ("numeroAutorizacao", a.number.clone().unwrap_or_default()),
            ("eci", a.eci.clone().unwrap_or_default()),
            ("bandeira", brand(&self.payment.bin).to_owned()),
            ("binCartao", self.payment.bin.clone()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

/// The card brand's code (§6.2 `bandeira`, `< 5 N`) by the BIN's first digit, as far as the
/// sandbox cares. The codes are the sandbox's own: SiTef's table of brand codes is not in the
/// sources [UNKNOWN].
pub const BRAND_VISA: &str = "1";

fn brand(bin: &str) -> &'static str {
    match bin.as_bytes().first() {
        Some(b'4') => BRAND_VISA,
        Some(b'5') | Some(b'2') => "2",
        Some(b'3') => "3",
        _ => "0",
    }
}

fn receipt(text: &str) -> Receipt {
    Receipt {
        total_copies: Some(1),
        receipt: Some(text.to_owned()),
    }
}

fn digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use carat_wire::{CardWire, InstallmentWire};

    fn request(card: CardWire) -> PaymentRequest {
        PaymentRequest {
            amount: "1000".into(),
            authorizer_id: "1".into(),
            customer_id: None,
            merchant_key: "KEY".into(),
            installment: Some(InstallmentWire {
                number: "1".into(),
                kind: "4".into(),
            }),
            card: Some(card),
            extra_param: None,
        }
    }

    fn number(n: &str) -> CardWire {
        CardWire {
            number: Some(n.into()),
            token: None,
            security_code: Some("123".into()),
            expiry_date: Some("1230".into()),
        }
    }

    fn checked(p: PaymentRequest) -> Result<CardPayment, CaratError> {
        check(&p, &Secret::new("KEY"), 1000, &Vault::with_test_card())
    }

    #[test]
    fn test_cards_choose_the_verdict() {
        assert_eq!(
            checked(request(number("4111111111111111")))
                .unwrap()
                .verdict,
            Verdict::Approve
        );
        assert_eq!(
            checked(request(number(DENIED_CARD))).unwrap().verdict,
            Verdict::Deny
        );
        assert_eq!(
            checked(request(number(SLOW_CARD))).unwrap().verdict,
            Verdict::ApproveSlowly
        );
        let token = CardWire {
            number: None,
            token: Some(super::super::vault::TEST_TOKEN.into()),
            security_code: None,
            expiry_date: None,
        };
        assert_eq!(checked(request(token)).unwrap().verdict, Verdict::Approve);
    }

    #[test]
    fn names_the_failing_field() {
        let message = |p| checked(p).err().unwrap().message;
        assert!(message(request(number("4111111111111112"))).starts_with("payment.card.number"));
        let mut p = request(number("4111111111111111"));
        p.installment.as_mut().unwrap().kind = "5".into();
        assert!(message(p).starts_with("payment.installment.type"));
        let mut p = request(number("4111111111111111"));
        p.card.as_mut().unwrap().expiry_date = Some("1330".into());
        assert!(message(p).starts_with("payment.card.expiry_date"));
        let mut p = request(number("4111111111111111"));
        p.merchant_key = "OTHER".into();
        assert!(message(p).contains("payment.merchant_key"));
        let mut p = request(number("4111111111111111"));
        p.amount = "999".into();
        assert!(message(p).starts_with("payment.amount"));
        let unknown = CardWire {
            number: None,
            token: Some("Z".repeat(88)),
            security_code: None,
            expiry_date: None,
        };
        assert!(message(request(unknown)).starts_with("payment.card.token"));
    }

    #[test]
    fn the_notification_carries_the_documented_parameters() {
        let p = checked(request(number("4111111111111111"))).unwrap();
        let record = PaymentRecord::new(p);
        let form = record.notification("N", Some("O"), Some("7"));
        let get = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("status"), "PPC");
        assert_eq!(get("numeroAutorizacao").len(), 6);
        assert_eq!(get("binCartao"), "411111");
        assert_eq!(get("dataSitef").len(), 19);
        assert!(form.iter().all(|(_, v)| !v.contains("4111111111111111")));
    }

    /// The service's own reading of §6.2 takes every notification the sandbox sends, approved
    /// or denied, whatever its status.
    #[test]
    fn the_notification_is_one_the_service_accepts() {
        for card in ["4111111111111111", DENIED_CARD, "5555555555554444"] {
            let mut record = PaymentRecord::new(checked(request(number(card))).unwrap());
            for status in [CaratStatus::Con, CaratStatus::Neg, CaratStatus::Ppn] {
                record.status = status;
                let nit = "N".repeat(64);
                let form = record.notification(&nit, Some("ORDER1"), Some("7"));
                let body = serde_urlencoded::to_string(&form).unwrap();
                let parsed = carat_wire::callbacks::status::parse(body.as_bytes())
                    .unwrap_or_else(|e| panic!("{card} {body}: {e}"));
                assert!(parsed.card_brand.is_some());
            }
        }
    }
}

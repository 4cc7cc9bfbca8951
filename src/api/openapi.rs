//! `GET /api/openapi.json`: the storefront API described in OpenAPI 3.1.
//!
//! Written here, next to the routes, rather than derived through every domain type: the
//! validated newtypes' formats (`FORMAT`), the statuses and the kinds come from the code
//! itself, and two tests keep the rest honest: `every_route_is_documented` (each route in
//! `mod.rs`) and `tests/api/openapi.rs` (the API's real answers validate against the schemas).
//! Public: it holds no secret, and client generators fetch it without a token.

use std::sync::LazyLock;

use axum::Json;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use carat_domain::card::{CardExpiry, CardNumber, CardToken, SecurityCode};
use carat_domain::effectuation::{
    BarCode, InvoiceDescription, InvoiceEcho, InvoiceExpiryDate, InvoiceReferenceData,
};
use carat_domain::format::{Charset, Format, Length};
use carat_domain::payment::{
    AuthorizerId, CustomerId, ExtraParam, ExtraParamKey, ExtraParamValue, InstallmentType,
};
use carat_domain::payment_methods::{CollectedData, CollectedId, MethodType};
use carat_domain::recharge::{AnswerCode, AnswerText};
use carat_domain::{
    AmountCents, AmountKey, BranchCode, Cnpj, Cpf, Ddd, DealerCode, DealerTypeCode, Nit, OrderId,
    PhoneNumber, RechargeStatus, RechargeType, TerminalType, ZipCode,
};

/// Where the document is served.
pub const PATH: &str = "/api/openapi.json";

/// Every error `code` the API answers, with its HTTP status and when (`error.rs`; a unit test
/// there holds each `ApiError` to this table).
pub const ERRORS: &[(u16, &str, &str)] = &[
    (
        400,
        "malformed_body",
        "the body (or query string) is not JSON / not parseable",
    ),
    (
        400,
        "invalid_idempotency_key",
        "`Idempotency-Key` is not 1–255 visible ASCII characters",
    ),
    (
        400,
        "malformed_header",
        "a header cannot be read as one value: `Authorization` sent more than once (`header` names it)",
    ),
    (
        401,
        "unauthorized",
        "no valid `Authorization: Bearer <token>` (the answer carries `WWW-Authenticate: Bearer`)",
    ),
    (
        403,
        "read_only_token",
        "a read-only token on a route that changes something",
    ),
    (404, "not_found", "no recharge or card with this id"),
    (
        405,
        "method_not_allowed",
        "the route does not take this method",
    ),
    (
        409,
        "conflict",
        "the recharge's status does not allow the step, or the value is taken",
    ),
    (
        409,
        "idempotency_key_in_use",
        "the key's first request is still running",
    ),
    (413, "body_too_large", "the body is over the limit"),
    (
        415,
        "unsupported_media_type",
        "the body is not `application/json`",
    ),
    (
        422,
        "invalid_field",
        "a field is missing, of the wrong type or format (`field` names it)",
    ),
    (
        422,
        "carat_denied",
        "Carat Portal denied the operation (e.g. the card, status NEG)",
    ),
    (
        422,
        "idempotency_key_reused",
        "the key came before with another request",
    ),
    (500, "internal", "an internal error"),
    (502, "carat_refused", "Carat Portal refused the request"),
    (
        502,
        "carat_unavailable",
        "Carat Portal answered, with an error",
    ),
    (
        502,
        "carat_outcome_unknown",
        "Carat Portal's answer to a money-moving call was unusable",
    ),
    (503, "unavailable", "the database cannot be reached"),
    (
        503,
        crate::admission::CODE,
        "the service is answering as many storefront requests as it takes at once (`API_MAX_CONCURRENCY`): retry after `Retry-After` seconds",
    ),
    (
        503,
        "carat_outcome_unknown",
        "a money-moving call went out and its answer could not be recorded",
    ),
    (
        504,
        "carat_unavailable",
        "Carat Portal did not answer in time",
    ),
    (
        504,
        "carat_outcome_unknown",
        "a money-moving call was not answered in time: repeat it (it queries) or let the reconciler resolve it",
    ),
];

static DOCUMENT: LazyLock<Value> = LazyLock::new(document);

pub async fn serve() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Json(DOCUMENT.clone()),
    )
}

/// Free text: no control character (Unicode `Cc`, what `char::is_control` refuses).
pub const NO_CONTROL: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// A string schema from a validated newtype's `FORMAT`.
fn text(format: Format, description: &str) -> Value {
    let mut schema = Map::new();
    schema.insert("type".into(), "string".into());
    let (min, max) = match format.length {
        Length::Exactly(n) => (n, n),
        Length::AtMost(n) => (1, n),
        Length::Between(min, max) => (min, max),
    };
    schema.insert("minLength".into(), min.into());
    schema.insert("maxLength".into(), max.into());
    match format.charset {
        Charset::Numeric => {
            schema.insert("pattern".into(), "^[0-9]*$".into());
        }
        Charset::Alphanumeric => {
            schema.insert("pattern".into(), "^[A-Za-z0-9]*$".into());
        }
        Charset::Text => {
            schema.insert("pattern".into(), NO_CONTROL.into());
        }
    }
    if !description.is_empty() {
        schema.insert("description".into(), description.into());
    }
    Value::Object(schema)
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// `schema` or `null`.
fn nullable(schema: Value) -> Value {
    match schema {
        Value::Object(mut s) if s.get("type").is_some_and(Value::is_string) => {
            let t = s["type"].clone();
            s.insert("type".into(), json!([t, "null"]));
            Value::Object(s)
        }
        other => json!({ "oneOf": [other, {"type": "null"}] }),
    }
}

/// An object whose every property is listed (`additionalProperties: false`).
fn object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    })
}

fn cents(description: &str) -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": AmountCents::MAX,
           "description": format!("Integer cents. {description}")})
}

/// A string of `format` restricted to the values `valid` accepts (a closed set the code checks).
fn one_of(format: Format, valid: impl Fn(&str) -> bool, description: &str) -> Value {
    let Length::Exactly(len) = format.length else {
        unreachable!("a closed set of codes has one length")
    };
    let values: Vec<String> = (0..10u32.pow(len as u32))
        .map(|n| format!("{n:0len$}"))
        .filter(|v| valid(v))
        .collect();
    json!({"type": "string", "enum": values, "description": description})
}

fn ddd(description: &str) -> Value {
    one_of(Ddd::FORMAT, |v| Ddd::parse(v).is_ok(), description)
}

fn installment_type() -> Value {
    one_of(
        InstallmentType::FORMAT,
        |v| InstallmentType::parse(v).is_ok(),
        "`3` with interest, `4` without, `6`/`7` IATA.",
    )
}

/// `schema` with a stricter `pattern` than its format's charset.
fn with_pattern(mut schema: Value, pattern: &str) -> Value {
    schema["pattern"] = pattern.into();
    schema
}

fn card_expiry() -> Value {
    with_pattern(
        text(CardExpiry::FORMAT, "MMYY, a month from 01 to 12."),
        "^(0[1-9]|1[0-2])[0-9]{2}$",
    )
}

fn invoice_expiry() -> Value {
    with_pattern(
        text(
            InvoiceExpiryDate::FORMAT,
            "DDMMYYYY, a day the calendar has.",
        ),
        "^(0[1-9]|[12][0-9]|3[01])(0[1-9]|1[0-2])[0-9]{4}$",
    )
}

/// `payment.extra_param`: passed on to Carat, bounded in count and length.
fn extra_params() -> Value {
    json!({"type": "array", "maxItems": ExtraParam::MAX_COUNT, "items": object(&["key", "value"], json!({
        "key": text(ExtraParamKey::FORMAT, ""),
        "value": text(ExtraParamValue::FORMAT, ""),
    }))})
}

fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

/// Carat's own object, passed on as it sent it.
fn carats(description: &str) -> Value {
    json!({"type": ["object", "null"], "description": description})
}

fn schemas() -> Value {
    let statuses: Vec<&str> = RechargeStatus::ALL.iter().map(|s| s.as_str()).collect();
    let kinds: Vec<&str> = [
        RechargeType::Normal,
        RechargeType::Others,
        RechargeType::Invoice,
    ]
    .iter()
    .map(|k| k.as_str())
    .collect();
    let codes: Vec<&str> = {
        let mut codes: Vec<&str> = ERRORS.iter().map(|(_, code, _)| *code).collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    };
    let dealer = object(
        &["code", "type_code"],
        json!({
            "code": text(DealerCode::FORMAT, "The dealer's code, from `GET .../dealers`."),
            "type_code": text(DealerTypeCode::FORMAT, ""),
        }),
    );
    let used_payment_method = object(
        &["type", "amount"],
        json!({
            "type": text(MethodType::FORMAT, "The payment method's type (digest §7.3)."),
            "amount": cents("How much of the sale it paid."),
            "collected": {"type": "array", "items": object(&["id", "data"], json!({
                "id": text(CollectedId::FORMAT, ""),
                "data": with_pattern(text(CollectedData::FORMAT, "No `:` or `-` (the list's separators)."),
                    "^[^\\u0000-\\u001F\\u007F-\\u009F:-]*$"),
            }))},
        }),
    );
    let receipts = object(
        &["customer", "merchant"],
        json!({
            "customer": {"type": ["string", "null"]},
            "merchant": {"type": ["string", "null"]},
        }),
    );
    let error_detail = object(
        &["code", "message"],
        json!({
            "code": {"type": "string", "enum": codes,
                     "description": "What went wrong; each code's HTTP status is in the API's description."},
            "message": {"type": "string"},
            "field": {"type": "string", "description": "`invalid_field`: the field, e.g. `payment.card.number`."},
            "header": {"type": "string", "description": "`invalid_idempotency_key`: `Idempotency-Key`; `malformed_header`: the header, e.g. `Authorization`."},
            "recharge_status": {"type": "string", "enum": statuses.clone()},
            "recharge_id": uuid(),
            "carat": object(&[], json!({
                "call": {"type": ["string", "null"], "description": "The call that failed, when Carat did not answer."},
                "timeout_ms": {"type": ["integer", "null"]},
                "http_status": {"type": ["integer", "null"]},
                "code": {"type": ["string", "null"], "description": "Carat's code."},
                "message": {"type": ["string", "null"], "description": "Carat's message."},
                "status": {"type": ["string", "null"], "description": "Carat's 3-letter status."},
            })),
        }),
    );
    let mut all = Map::new();
    let mut add = |part: Value| {
        if let Value::Object(part) = part {
            all.extend(part);
        }
    };
    add(json!({
        "Error": object(&["error"], json!({ "error": error_detail })),
        "RechargeStatus": {"type": "string", "enum": statuses},
        "RechargeType": {"type": "string", "enum": kinds},
        "Dealer": dealer,
        "Phone": object(&["ddd", "number"], json!({
            "ddd": ddd("Area code, one Anatel assigned."),
            "number": text(PhoneNumber::FORMAT, "8 digits (landline) or 9 (mobile)."),
        })),
        "BranchDealer": object(&["code", "type_code", "branch"], json!({
            "code": text(DealerCode::FORMAT, ""),
            "type_code": text(DealerTypeCode::FORMAT, ""),
            "branch": object(&["code"], json!({"code": text(BranchCode::FORMAT, "The product, one of the dealer's branches.")})),
        })),
        "Invoice": object(&["bar_code", "description", "expiry_date", "reference_data", "echo"], json!({
            "bar_code": text(BarCode::FORMAT, ""),
            "description": text(InvoiceDescription::FORMAT, ""),
            "expiry_date": invoice_expiry(),
            "reference_data": text(InvoiceReferenceData::FORMAT, ""),
            "echo": text(InvoiceEcho::FORMAT, ""),
        })),
        "UsedPaymentMethod": used_payment_method,
        "Receipts": receipts,
    }));
    add(json!({
        // ---- answers
        "Recharge": object(
            &["id", "recharge_type", "order_id", "merchant_usn", "nit", "status", "carat_status",
              "in_doubt", "outcome_unknown", "attempt", "reconciliation", "effectuation",
              "esitef_usn", "authorization", "receipts", "last_error", "created_at", "updated_at"],
            json!({
                "id": uuid(),
                "recharge_type": schema_ref("RechargeType"),
                "order_id": text(OrderId::FORMAT, "The merchant's order id (generated when the create did not give one)."),
                "merchant_usn": {"type": "string", "pattern": "^[0-9]{1,12}$", "description": "The merchant's sequential number, as on Carat's wire (`< 12 N`)."},
                "nit": nullable(text(Nit::FORMAT, "Carat's transaction id, once its authenticity POST came.")),
                "status": schema_ref("RechargeStatus"),
                "carat_status": {"type": ["string", "null"], "description": "Carat's last 3-letter status (NOV, PPC, CON...)."},
                "in_doubt": {"type": "boolean", "description": "A money-moving call is out or its outcome is not known yet: repeating the step, or the reconciler, resolves it by querying Carat."},
                "outcome_unknown": {"type": "boolean", "description": "In doubt and nobody waits on the call any more: only a query to Carat can tell."},
                "attempt": {"type": "integer", "description": "How many money-moving calls went out."},
                "reconciliation": nullable(object(&["next_attempt_at", "attempts", "last_error"], json!({
                    "next_attempt_at": nullable(timestamp()),
                    "attempts": {"type": "integer"},
                    "last_error": {"type": ["string", "null"]},
                }))),
                "effectuation": nullable(schema_ref("Effectuation")),
                "esitef_usn": {"type": ["string", "null"]},
                "authorization": carats("Carat's `authorization`."),
                "tv_package_subscription_codes": {"type": "array", "items": {"type": "string"},
                    "description": "`awaiting_choice`: the TV packages Carat offered; choose one with `{\"tv_package\": ...}`."},
                "used_payment_methods": {"type": "array", "items": schema_ref("UsedPaymentMethod")},
                "confirmation_payment_methods": {"type": "array", "items": schema_ref("UsedPaymentMethod")},
                "payment_methods_max": {"type": "integer", "minimum": 0},
                "send_payment_methods": {"type": "boolean"},
                "receipts": nullable(schema_ref("Receipts")),
                "pin_receipt": {"type": "string", "enum": ["kept", "not_kept", "unreadable"],
                    "description": "A PIN sale's receipt; opened only by `GET /api/v1/recharges/{id}`."},
                "last_error": nullable(object(&["code", "message"], json!({
                    "code": {"type": ["string", "null"]},
                    "message": {"type": ["string", "null"]},
                }))),
                "payment": schema_ref("Payment"),
                "created_at": timestamp(),
                "updated_at": timestamp(),
                "events": {"type": "array", "items": schema_ref("Event"),
                    "description": "`GET /api/v1/recharges/{id}` only: the history, in order."},
            }),
        ),
    }));
    add(json!({
        "Effectuation": {
            "description": "What was effectuated, as the storefront sent it, per recharge kind.",
            "oneOf": [
                object(&["dealer", "phone", "amount", "amount_key"], json!({
                    "dealer": schema_ref("Dealer"), "phone": schema_ref("Phone"),
                    "amount": cents(""), "amount_key": nullable(text(AmountKey::FORMAT, "")),
                })),
                object(&["dealer", "amount", "amount_key"], json!({
                    "dealer": schema_ref("BranchDealer"),
                    "amount": cents(""), "amount_key": nullable(text(AmountKey::FORMAT, "")),
                })),
                object(&["dealer", "invoice", "amount"], json!({
                    "dealer": schema_ref("Dealer"), "invoice": schema_ref("Invoice"), "amount": cents(""),
                })),
            ],
        },
    }));
    add(json!({
        "Payment": object(
            &["status", "status_source", "amount", "authorizer_id", "customer_id", "installment",
              "card", "authorization", "analysis", "esitef", "acquirer", "type", "receipts", "extra_param"],
            json!({
                "status": {"type": ["string", "null"], "description": "Carat's 3-letter payment status (PPC, CON, NEG, PPN...)."},
                "status_source": {"type": ["string", "null"], "enum": ["effectuation", "confirmation", "query", "notification", null]},
                "amount": cents(""),
                "authorizer_id": text(AuthorizerId::FORMAT, ""),
                "customer_id": nullable(text(CustomerId::FORMAT, "")),
                "installment": object(&["number", "type"], json!({
                    "number": {"type": "integer", "minimum": 1, "maximum": 99},
                    "type": installment_type(),
                })),
                "card": object(&["source", "bin", "last4", "stored_card_id"], json!({
                    "source": {"type": "string", "enum": ["number", "token", "stored_card"]},
                    "bin": {"type": ["string", "null"]},
                    "last4": {"type": ["string", "null"]},
                    "stored_card_id": nullable(uuid()),
                })),
                "authorization": carats("Carat's payment `authorization`."),
                "analysis": carats("Carat's risk `analysis`."),
                "esitef": carats("Carat's `esitef` part."),
                "acquirer": {"description": "Carat's `acquirer`, as it sent it."},
                "type": {"description": "Carat's payment `type`, as it sent it."},
                "receipts": nullable(schema_ref("Receipts")),
                "extra_param": extra_params(),
            }),
        ),
    }));
    add(json!({
        "Event": object(&["id", "at", "kind", "name", "actor", "detail"], json!({
            "id": {"type": "integer"},
            "at": timestamp(),
            "kind": {"type": "string", "enum": ["outbound_call", "callback", "state_change", "operator_action"]},
            "name": {"type": "string"},
            "actor": {"type": ["string", "null"], "description": "`storefront`, `carat`, `reconciler:<instance>`, `operator:<token id>` (an operator console action; the token id is a fingerprint, never the token)."},
            "detail": {"description": "What happened, with any secret replaced by `[redacted]`."},
        })),
        "RechargeList": object(&["recharges", "next_cursor"], json!({
            "recharges": {"type": "array", "items": schema_ref("Recharge")},
            "next_cursor": {"type": ["string", "null"], "description": "Pass as `cursor` for the next page."},
        })),
    }));
    add(json!({
        "Dealers": object(&["general_hash", "dealers"], json!({
            "general_hash": {"type": ["string", "null"]},
            "dealers": {"type": "array", "items": object(&["code", "name", "type_code", "type_name", "branches"], json!({
                "code": {"type": "string"},
                "name": {"type": "string"},
                "type_code": {"type": ["string", "null"]},
                "type_name": {"type": ["string", "null"]},
                "branches": {"type": "array", "items": object(&["code", "name"], json!({
                    "code": {"type": "string"}, "name": {"type": "string"},
                }))},
            }))},
        })),
    }));
    let amount_range = object(
        &[
            "amount_key",
            "message",
            "min_amount",
            "max_amount",
            "payment_amount",
            "bonus",
            "bonus_in_percentage",
            "bonus_category",
            "expiry_date",
            "bonus_expiry_date",
        ],
        json!({
            "amount_key": {"type": ["string", "null"]},
            "message": {"type": ["string", "null"]},
            "min_amount": {"type": ["integer", "null"], "description": "Integer cents."},
            "max_amount": {"type": ["integer", "null"], "description": "Integer cents."},
            "payment_amount": {"type": ["integer", "null"], "description": "Integer cents."},
            "bonus": {"type": ["integer", "null"], "description": "Integer cents."},
            "bonus_in_percentage": {"type": ["string", "null"]},
            "bonus_category": {"type": ["string", "null"]},
            "expiry_date": {"type": ["string", "null"]},
            "bonus_expiry_date": {"type": ["string", "null"]},
        }),
    );
    add(json!({
        "BranchData": object(&["general_hash", "questions", "messages", "categories"], json!({
            "general_hash": {"type": ["string", "null"]},
            "questions": {"type": "array", "items": object(
                &["id", "display", "rule", "min_length", "max_length", "input_type"], json!({
                "id": {"type": "string"},
                "display": {"type": "string"},
                "rule": {"type": ["string", "null"]},
                "min_length": {"type": ["integer", "null"]},
                "max_length": {"type": ["integer", "null"]},
                "input_type": {"type": ["string", "null"]},
            }))},
            "messages": {"type": "array", "items": {"type": "string"}},
            "categories": {"type": "array", "items": object(&["code", "description", "amount_ranges"], json!({
                "code": {"type": "string"},
                "description": {"type": "string"},
                "amount_ranges": {"type": "array", "items": amount_range},
            }))},
        })),
    }));
    add(json!({
        "BillListing": object(&["general_hash", "messages", "dealer", "invoice"], json!({
            "general_hash": {"type": ["string", "null"]},
            "messages": {"type": "array", "items": {"type": "string"}},
            "dealer": object(&["code", "type_code"], json!({
                "code": text(DealerCode::FORMAT, ""),
                "type_code": nullable(text(DealerTypeCode::FORMAT, "")),
            })),
            "invoice": object(&["bar_code", "description", "expiry_date", "reference_data", "echo", "amount"], json!({
                "bar_code": text(BarCode::FORMAT, ""),
                "description": text(InvoiceDescription::FORMAT, ""),
                "expiry_date": invoice_expiry(),
                "reference_data": text(InvoiceReferenceData::FORMAT, ""),
                "echo": text(InvoiceEcho::FORMAT, ""),
                "amount": cents(""),
            })),
        })),
    }));
    add(json!({
        "CallbackList": object(&["callbacks", "next_before"], json!({
            "callbacks": {"type": "array", "items": object(
                &["id", "kind", "outcome", "reason", "http_status", "recharge_id", "content_type",
                  "source_addr", "forwarded_for", "received_at", "last_received_at", "receipt_count", "raw_body"],
                json!({
                    "id": {"type": "integer"},
                    "kind": {"type": "string", "enum": ["authenticity", "status", "hash"]},
                    "outcome": {"type": "string", "enum": ["accepted", "refused", "unmatched"]},
                    "reason": {"type": ["string", "null"]},
                    "http_status": {"type": "integer"},
                    "recharge_id": nullable(uuid()),
                    "content_type": {"type": ["string", "null"]},
                    "source_addr": {"type": ["string", "null"]},
                    "forwarded_for": {"type": ["string", "null"]},
                    "received_at": timestamp(),
                    "last_received_at": timestamp(),
                    "receipt_count": {"type": "integer"},
                    "raw_body": {"type": "string", "description": "The body as it arrived (form-urlencoded)."},
                }),
            )},
            "next_before": {"type": ["integer", "null"], "description": "Pass as `before` for the next page."},
        })),
    }));
    add(json!({
        "Card": object(
            &["id", "customer_id", "authorizer_id", "status", "usable", "bin", "last4", "expiry",
              "merchant_usn", "nita", "nsua", "last_error", "created_at", "updated_at"],
            json!({
                "id": uuid(),
                "customer_id": text(carat_core::cards::CustomerId::FORMAT, ""),
                "authorizer_id": text(AuthorizerId::FORMAT, ""),
                "status": {"type": "string", "enum": ["pending", "unknown", "CON", "INV", "NEG", "DUP", "CAN", "DEL", "BLQ"],
                    "description": "`unknown`: the storage's answer was lost (the HASH notification or a refresh settles it); else Carat's."},
                "usable": {"type": "boolean", "description": "Whether it can pay (CON)."},
                "bin": {"type": ["string", "null"]},
                "last4": {"type": ["string", "null"]},
                "expiry": {"type": ["string", "null"]},
                "merchant_usn": {"type": "string"},
                "nita": {"type": ["string", "null"]},
                "nsua": {"type": ["string", "null"]},
                "token": {"type": "string", "description": "Only with `CARD_TOKEN_VISIBLE`, and only on GET."},
                "last_error": nullable(object(&["code", "message"], json!({
                    "code": {"type": ["string", "null"]},
                    "message": {"type": ["string", "null"]},
                }))),
                "created_at": timestamp(),
                "updated_at": timestamp(),
            }),
        ),
        "CardList": object(&["cards"], json!({
            "cards": {"type": "array", "items": schema_ref("Card")},
        })),
    }));
    add(json!({
        // ---- requests
        "CreateRecharge": object(&["recharge_type"], json!({
            "recharge_type": schema_ref("RechargeType"),
            "order_id": text(OrderId::FORMAT, "Generated when absent; a second recharge with the same one is 409."),
        })),
        "Sale": object(&[], json!({
            "terminal_type": one_of(TerminalType::FORMAT, |v| TerminalType::parse(v).is_ok(),
                "`01` POS, `02` TU, `03` TAS, `04` Internet, `05` POS-Sitef."),
            "cpf": text(Cpf::FORMAT, "11 digits whose last two are the CPF's check digits."),
            "cnpj": with_pattern(text(Cnpj::FORMAT, "12 upper-case letters or digits, then the CNPJ's 2 check digits."),
                "^[0-9A-Z]{12}[0-9]{2}$"),
            "zip_code": text(ZipCode::FORMAT, ""),
            "used_payment_methods": {"type": "array", "items": schema_ref("UsedPaymentMethod"),
                "description": "How the sale was paid; required when the previous answer said `send_payment_methods`."},
        })),
        "Answers": {"type": "array", "items": object(&["code", "description"], json!({
            "code": text(AnswerCode::FORMAT, "The question's id (`questions` of the branch data)."),
            "description": text(AnswerText::FORMAT, ""),
        }))},
    }));
    add(json!({
        "PaymentCard": {
            "description": "The card, exactly one way: a number with its expiry, a stored card's token, or a card this service stored. Never stored, never logged.",
            "oneOf": [
                object(&["number", "expiry_date"], json!({
                    "number": text(CardNumber::FORMAT, "Luhn-valid (its check digit holds)."),
                    "expiry_date": card_expiry(),
                    "security_code": text(SecurityCode::FORMAT, ""),
                })),
                object(&["token"], json!({
                    "token": {"type": "string", "minLength": CardToken::LEN, "maxLength": CardToken::LEN,
                        "pattern": format!("^[!-~]{{{}}}$", CardToken::LEN),
                        "description": "A stored card's token: printable ASCII without spaces."},
                    "security_code": text(SecurityCode::FORMAT, ""),
                })),
                object(&["stored_card_id"], json!({
                    "stored_card_id": {"type": "string", "format": "uuid", "description": "A CON card of `/api/v1/cards`."},
                    "security_code": text(SecurityCode::FORMAT, ""),
                })),
            ],
        },
        "PaymentRequest": object(&["amount", "authorizer_id", "installment", "card"], json!({
            "amount": cents(""),
            "authorizer_id": text(AuthorizerId::FORMAT, ""),
            "customer_id": text(CustomerId::FORMAT, ""),
            "installment": object(&["number", "type"], json!({
                "number": {"type": "integer", "minimum": 1, "maximum": 99},
                "type": installment_type(),
            })),
            "card": schema_ref("PaymentCard"),
            "extra_param": extra_params(),
        })),
    }));
    add(json!({
        "EffectuateNormal": object(&["dealer", "phone", "amount"], json!({
            "dealer": schema_ref("Dealer"),
            "phone": schema_ref("Phone"),
            "amount": cents(""),
            "amount_key": text(AmountKey::FORMAT, "The range's `amount_key` from the branch data."),
            "answers": schema_ref("Answers"),
            "sale": schema_ref("Sale"),
            "payment": schema_ref("PaymentRequest"),
        })),
        "EffectuateOthers": object(&["dealer", "amount"], json!({
            "dealer": schema_ref("BranchDealer"),
            "amount": cents(""),
            "amount_key": text(AmountKey::FORMAT, ""),
            "answers": schema_ref("Answers"),
            "sale": schema_ref("Sale"),
            "payment": schema_ref("PaymentRequest"),
        })),
        "EffectuateInvoice": object(&["dealer", "invoice", "amount"], json!({
            "dealer": schema_ref("Dealer"),
            "invoice": object(&["bar_code"], json!({"bar_code": text(BarCode::FORMAT, "")})),
            "amount": cents(""),
            "sale": schema_ref("Sale"),
            "payment": schema_ref("PaymentRequest"),
        })),
    }));
    add(json!({
        "TvChoice": object(&["tv_package"], json!({
            "tv_package": text(AnswerText::FORMAT, "One of `tv_package_subscription_codes`."),
            "payment_card": schema_ref("PaymentCard"),
        })),
        "ConfirmRecharge": object(&["confirm"], json!({
            "confirm": {"type": "boolean", "description": "`false` undoes the recharge (and its payment)."},
            "used_payment_methods": {"type": "array", "items": schema_ref("UsedPaymentMethod"),
                "description": "Only with `confirm: true`; at most `payment_methods_max`."},
        })),
        "StoreCard": object(&["customer_id", "authorizer_id", "card"], json!({
            "customer_id": text(carat_core::cards::CustomerId::FORMAT, ""),
            "authorizer_id": text(AuthorizerId::FORMAT, ""),
            "card": object(&["number", "expiry_date"], json!({
                "number": text(CardNumber::FORMAT, "Luhn-valid; sent to Carat, never stored."),
                "expiry_date": card_expiry(),
            })),
        })),
    }));
    Value::Object(all)
}

/// The error answers a route can give, by status: each with the codes it may carry.
fn errors(statuses: &[u16]) -> Map<String, Value> {
    statuses
        .iter()
        .map(|status| {
            let codes: Vec<String> = ERRORS
                .iter()
                .filter(|(s, _, _)| s == status)
                .map(|(_, code, when)| format!("`{code}`: {when}"))
                .collect();
            let mut response = json!({
                "description": codes.join("; "),
                "content": {"application/json": {"schema": schema_ref("Error")}},
            });
            if *status == 401 {
                response["headers"] = json!({"WWW-Authenticate": header_ref("WWW-Authenticate")});
            }
            if *status == 503 {
                response["headers"] = json!({"Retry-After": header_ref("Retry-After")});
            }
            (status.to_string(), response)
        })
        .collect()
}

/// Every route answers these: a repeated `Authorization`, no token, no database, a bug.
const ALWAYS: &[u16] = &[400, 401, 500, 503];
/// A route with a JSON body: not JSON, too long, not `application/json`, a field.
const BODY: &[u16] = &[400, 413, 415, 422];
/// A route that changes something: a read-only token, a conflict.
const WRITE: &[u16] = &[403, 409];
/// A route that calls Carat.
const CARAT: &[u16] = &[502, 504];

fn operation(
    (operation_id, tag): (&str, &str),
    summary: &str,
    description: &str,
    parameters: Value,
    body: Option<(Value, Value)>,
    ok: (u16, &str, Value, Value),
    error_statuses: &[&[u16]],
) -> Value {
    let mut responses = Map::new();
    let (status, what, schema, example) = ok;
    responses.insert(
        status.to_string(),
        json!({
            "description": what,
            "content": {"application/json": {"schema": schema, "example": example}},
        }),
    );
    let mut statuses: Vec<u16> = error_statuses
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect();
    statuses.extend_from_slice(ALWAYS);
    statuses.sort_unstable();
    statuses.dedup();
    responses.extend(errors(&statuses));
    let mut op = json!({
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "parameters": parameters,
        "responses": responses,
    });
    if let Some((schema, example)) = body {
        op["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": schema, "example": example}},
        });
    }
    op
}

fn id_parameter(what: &str) -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": uuid(),
           "description": format!("The {what}'s id (an id that is not a UUID is 404).")})
}

fn idempotency_key() -> Value {
    json!({"name": "Idempotency-Key", "in": "header", "required": false,
           "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
           "description": "Optional: a repeat with the same key and body gets the first answer again, without a second call (kept for `IDEMPOTENCY_TTL_HOURS`)."})
}

fn query(name: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description})
}

fn recharge_example() -> Value {
    json!({"id":"11088884-d311-4e70-b2ab-1ae1ef19d34c","recharge_type":"normal","order_id":"F10C72661954474B900C",
           "merchant_usn":"1","nit":"c8632e4fa39f029a6c03593b3b1d5f44869aee625967d8f93f4e431fae77549b",
           "status":"started","carat_status":"NOV","in_doubt":false,"outcome_unknown":false,"attempt":0,
           "reconciliation":{"next_attempt_at":"2026-11-21T06:04:51.594349Z","attempts":0,"last_error":null},
           "effectuation":null,"esitef_usn":null,"authorization":null,"receipts":null,"last_error":null,
           "created_at":"2026-11-21T05:49:51.590487Z","updated_at":"2026-11-21T05:49:51.594349Z"})
}

fn effectuated_example() -> Value {
    let mut r = recharge_example();
    let fields = json!({
        "status": "pending_confirmation", "carat_status": "PPC", "attempt": 1,
        "effectuation": {"dealer":{"code":"001","type_code":"03"},"phone":{"ddd":"11","number":"987654321"},"amount":1000,"amount_key":"1"},
        "esitef_usn": "919995006834510",
        "authorization": {"authorizer_date":"1121","authorizer_time":"024954","confirmation_data":"028390936425",
                          "host_usn":"449089476","number":"584281","sitef_usn":"906986"},
        "receipts": {"customer":"COMPROVANTE DE RECARGA\nVIA CLIENTE\n...","merchant":"COMPROVANTE DE RECARGA\nVIA ESTABELECIMENTO\n..."},
        "payment": {"status":"PPC","status_source":"effectuation","amount":1000,"authorizer_id":"1",
            "customer_id":"CLIENTE1","installment":{"number":1,"type":"4"},
            "card":{"source":"number","bin":"411111","last4":"1111","stored_card_id":null},
            "authorization":{"eci":"05","host_usn":"915021394","number":"552541","sitef_date":"21/11/2026 13:41",
                             "sitef_usn":"296472","tid":"90635960026519322090"},
            "analysis":{"code":"0","message":"Aprovada","status":"ACC"},
            "esitef":{"date":"21/11/2026 13:41","usn":"983830060910707"},"acquirer":"SANDBOX ACQUIRER","type":"C",
            "receipts":{"customer":"COMPROVANTE DE PAGAMENTO\nVIA CLIENTE\n...","merchant":"..."},
            "extra_param":[]},
    });
    for (k, v) in fields.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn card_example() -> Value {
    json!({"id":"5b0e5f2e-8d4a-4a43-9d8e-0a4f8c1b2d3e","customer_id":"CLIENTE1","authorizer_id":"1",
           "status":"CON","usable":true,"bin":"411111","last4":"1111","expiry":"1230","merchant_usn":"2",
           "nita":"c8632e4fa39f029a6c03593b3b1d5f44869aee625967d8f93f4e431fae77549b0","nsua":"000000001",
           "last_error":null,"created_at":"2026-11-21T05:49:51.590487Z","updated_at":"2026-11-21T05:49:51.794349Z"})
}

fn paths() -> Value {
    let recharge = || schema_ref("Recharge");
    let paid = json!({"dealer":{"code":"001","type_code":"03"},"phone":{"ddd":"11","number":"987654321"},
        "amount":1000,"amount_key":"1",
        "payment":{"amount":1000,"authorizer_id":"1","customer_id":"CLIENTE1","installment":{"number":1,"type":"4"},
                   "card":{"number":"4111111111111111","expiry_date":"1230","security_code":"123"}}});
    let mut confirmed = effectuated_example();
    confirmed["status"] = "confirmed".into();
    confirmed["carat_status"] = "CON".into();
    confirmed["payment"]["status"] = "CON".into();
    confirmed["payment"]["status_source"] = "confirmation".into();
    json!({
        PATH: {
            "get": {
                "operationId": "getOpenApiDocument",
                "tags": ["operations"],
                "summary": "This document",
                "description": "The storefront API in OpenAPI 3.1, for client generators. No token needed.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "503": errors(&[503])["503"],
                },
            },
        },
        "/api/v1/recharges": {
            "post": operation(("createRecharge", "recharges"), "Create a recharge",
                "Writes the recharge and calls Carat's create; Carat's authenticity POST brings the NIT, so the answer carries it (status `started`).",
                json!([idempotency_key()]),
                Some((schema_ref("CreateRecharge"), json!({"recharge_type": "normal"}))),
                (201, "Created (its URL in `Location`).", recharge(), recharge_example()),
                &[BODY, WRITE, CARAT]),
            "get": operation(("listRecharges", "recharges"), "List recharges",
                "Newest first, filtered, paged by an opaque cursor. Each recharge without its `events`, payment and PIN receipts.",
                json!([
                    json!({"name": "status", "in": "query", "required": false, "style": "form", "explode": false,
                           "schema": {"type": "array", "minItems": 1, "items": schema_ref("RechargeStatus")},
                           "description": "One or several statuses, comma-separated."}),
                    query("in_doubt", false, json!({"type": "string", "enum": ["true", "false"]}), ""),
                    query("created_from", false, timestamp(), "RFC 3339."),
                    query("created_to", false, timestamp(), "RFC 3339."),
                    query("order_id", false, text(OrderId::FORMAT, ""), ""),
                    query("nit", false, text(Nit::FORMAT, ""), ""),
                    query("cursor", false, json!({"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_-]+$"}), "`next_cursor` of the previous page."),
                    query("limit", false, json!({"type": "integer", "minimum": 1, "maximum": super::listing::MAX_LIMIT}),
                          &format!("Default {}.", super::listing::DEFAULT_LIMIT)),
                ]),
                None,
                (200, "A page of recharges.", schema_ref("RechargeList"),
                 json!({"recharges": [recharge_example()], "next_cursor": null})),
                &[&[400, 422]]),
        },
        "/api/v1/recharges/{id}": {
            "get": operation(("getRecharge", "recharges"), "Show a recharge",
                "With its `events` (the history), its card payment, and a PIN sale's receipts (the only answer that opens them).",
                json!([id_parameter("recharge")]),
                None,
                (200, "The recharge.", recharge(), confirmed.clone()),
                &[&[404]]),
        },
        "/api/v1/recharges/{id}/dealers": {
            "get": operation(("listDealers", "catalogue"), "List the dealers",
                "Carat's dealers for this recharge's kind (cached by `general_hash`).",
                json!([id_parameter("recharge")]),
                None,
                (200, "The dealers.", schema_ref("Dealers"),
                 json!({"general_hash":"09A9681D09A9681D","dealers":[
                     {"code":"001","name":"Vivo","type_code":"03","type_name":"RECARGA CELULAR","branches":[]}]})),
                &[&[403, 404, 409], CARAT]),
        },
        "/api/v1/recharges/{id}/branches": {
            "get": operation(("getBranchData", "catalogue"), "A dealer's branch data, a product's, or a bill",
                "`normal`: `dealer_code` and `ddd` give the amount ranges; `others`: `dealer_code` and `branch_code`; `invoice`: `dealer_code` and `bar_code` give the bill (`BillListing`).",
                json!([
                    id_parameter("recharge"),
                    query("dealer_code", true, text(DealerCode::FORMAT, ""), ""),
                    query("ddd", false, text(Ddd::FORMAT, ""), "`normal` recharges."),
                    query("branch_code", false, text(BranchCode::FORMAT, ""), "`others` recharges."),
                    query("bar_code", false, text(BarCode::FORMAT, ""), "`invoice` recharges."),
                ]),
                None,
                (200, "The branch data, or the bill.",
                 json!({"oneOf": [schema_ref("BranchData"), schema_ref("BillListing")]}),
                 json!({"general_hash":"09A9681D09A9681D","questions":[],"messages":["MENSAGEM DE TESTE"],
                        "categories":[{"code":"01","description":"RECARGA","amount_ranges":[
                          {"amount_key":"1","message":"RECARGA DE R$ 10,00","min_amount":1000,"max_amount":1000,
                           "payment_amount":1000,"bonus":null,"bonus_in_percentage":null,"bonus_category":null,
                           "expiry_date":"30","bonus_expiry_date":null}]}]})),
                &[&[400, 403, 404, 409, 422], CARAT]),
        },
        "/api/v1/recharges/{id}/effectuate": {
            "post": operation(("effectuateRecharge", "recharges"), "Effectuate (optionally paid by card), or choose a TV package",
                "The body is read as the recharge's kind has it (`EffectuateNormal`, `EffectuateOthers`, `EffectuateInvoice`); a body naming `tv_package` chooses among the packages Carat offered (`awaiting_choice`). Carat leaves the sale pending confirmation (PPC). An unknown outcome (504 `carat_outcome_unknown`) is resolved by repeating the request, which queries Carat and never charges twice.",
                json!([id_parameter("recharge"), idempotency_key()]),
                Some((json!({"oneOf": [schema_ref("EffectuateNormal"), schema_ref("EffectuateOthers"),
                                       schema_ref("EffectuateInvoice"), schema_ref("TvChoice")]}), paid)),
                (200, "The recharge, pending confirmation.", recharge(), effectuated_example()),
                &[BODY, WRITE, CARAT, &[404]]),
        },
        "/api/v1/recharges/{id}/confirm": {
            "post": operation(("confirmRecharge", "recharges"), "Confirm or undo",
                "`{\"confirm\": true}` confirms the sale and its payment; `false` undoes both.",
                json!([id_parameter("recharge"), idempotency_key()]),
                Some((schema_ref("ConfirmRecharge"), json!({"confirm": true}))),
                (200, "The recharge, confirmed or undone.", recharge(), confirmed),
                &[BODY, WRITE, CARAT, &[404]]),
        },
        "/api/v1/callbacks": {
            "get": operation(("listCallbacks", "operations"), "The callback inbox",
                "What Carat sent, what it was answered, how often it came; newest first.",
                json!([
                    query("outcome", false, json!({"type": "string", "enum": ["accepted", "refused", "unmatched"]}), ""),
                    query("kind", false, json!({"type": "string", "enum": ["authenticity", "status", "hash"]}), ""),
                    query("follow_up", false, json!({"type": "string", "enum": ["query", "discrepancy"]}),
                          "Status notifications that contradicted their recharge."),
                    query("before", false, json!({"type": "integer", "format": "int64"}), "`next_before` of the previous page."),
                    query("limit", false, json!({"type": "integer", "minimum": 1, "maximum": 1000}), "Default 100."),
                ]),
                None,
                (200, "A page of callbacks.", schema_ref("CallbackList"),
                 json!({"callbacks": [{"id": 1, "kind": "authenticity", "outcome": "accepted", "reason": null,
                        "http_status": 200, "recharge_id": "11088884-d311-4e70-b2ab-1ae1ef19d34c",
                        "content_type": "application/x-www-form-urlencoded", "source_addr": "127.0.0.1",
                        "forwarded_for": null, "received_at": "2026-11-21T05:49:51.592Z",
                        "last_received_at": "2026-11-21T05:49:51.592Z", "receipt_count": 1,
                        "raw_body": "nit=c8632e4f...&order_id=F10C72661954474B900C"}], "next_before": null})),
                &[&[400, 422]]),
        },
        "/api/v1/cards": {
            "post": operation(("storeCard", "cards"), "Store a card",
                "Carat stores it and answers; its HASH notification settles the card. 202 when Carat's answer was lost (`unknown`).",
                json!([idempotency_key()]),
                Some((schema_ref("StoreCard"), json!({"customer_id": "CLIENTE1", "authorizer_id": "1",
                      "card": {"number": "4111111111111111", "expiry_date": "1230"}}))),
                (201, "Stored, whatever Carat judged (its URL in `Location`); 202 has the same body.",
                 schema_ref("Card"), card_example()),
                &[BODY, WRITE, CARAT]),
            "get": operation(("listCards", "cards"), "A customer's cards", "",
                json!([query("customer_id", true, text(carat_core::cards::CustomerId::FORMAT, ""), "")]),
                None,
                (200, "The cards.", schema_ref("CardList"), json!({"cards": [card_example()]})),
                &[&[400, 422]]),
        },
        "/api/v1/cards/{id}": {
            "get": operation(("getCard", "cards"), "Show a card", "",
                json!([id_parameter("card")]),
                None,
                (200, "The card.", schema_ref("Card"), card_example()),
                &[&[404]]),
        },
        "/api/v1/cards/{id}/refresh": {
            "post": operation(("refreshCard", "cards"), "Ask Carat for the card's notification again",
                "Carat answers `OK` and sends the HASH notification again; the card as it is now.",
                json!([id_parameter("card")]),
                None,
                (202, "Asked.", schema_ref("Card"), card_example()),
                &[WRITE, CARAT, &[404]]),
        },
    })
}

fn header_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/headers/{name}") })
}

/// The response headers the service sets (`request_id.rs`, `server_timing.rs`,
/// `idempotency.rs`, the routes' `Location`, `error.rs`).
fn headers() -> Value {
    json!({
        "X-Request-Id": {"required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 128},
            "description": "The request's id: the client's own `X-Request-Id` when it is 1–128 visible ASCII characters, else a new UUID. Logged with the request."},
        "Server-Timing": {"required": true, "schema": {"type": "string"},
            "description": "W3C Server Timing, milliseconds: `carat;dur=12.345, total;dur=15.678` (the wait on Carat Portal, and the whole request)."},
        "Location": {"required": true, "schema": {"type": "string", "format": "uri-reference"},
            "description": "The created resource's path, e.g. `/api/v1/recharges/{id}`."},
        "Idempotent-Replayed": {"schema": {"type": "string", "const": "true"},
            "description": "Present when the answer is the one kept for this `Idempotency-Key`, replayed without running the request again."},
        "Retry-After": {"schema": {"type": "integer", "minimum": 0},
            "description": "Seconds to wait before trying again, when the service can tell."},
        "WWW-Authenticate": {"required": true, "schema": {"type": "string", "const": "Bearer"},
            "description": "The scheme to authenticate with (RFC 6750)."},
    })
}

/// Where an answer's ids lead (client generators and stateful fuzzers follow them).
fn links() -> Value {
    let by_id = |operation: &str, what: &str| {
        json!({"operationId": operation, "parameters": {"id": "$response.body#/id"},
               "description": format!("{what} of the recharge or card just answered.")})
    };
    json!({
        "GetRecharge": by_id("getRecharge", "Show"),
        "ListDealers": by_id("listDealers", "The dealers"),
        "GetBranchData": by_id("getBranchData", "A dealer's branch data (or bill)"),
        "GetListedDealersBranchData": {"operationId": "getBranchData",
            "parameters": {"id": "$request.path.id", "dealer_code": "$response.body#/dealers/0/code"},
            "description": "The branch data (or bill) of the first dealer listed."},
        "EffectuateRecharge": by_id("effectuateRecharge", "Effectuate"),
        "ConfirmRecharge": by_id("confirmRecharge", "Confirm or undo"),
        "GetCard": by_id("getCard", "Show"),
        "RefreshCard": by_id("refreshCard", "Refresh"),
    })
}

/// Adds to every response the headers every answer carries, and to each operation's the
/// headers of its own (`Location`, `Idempotent-Replayed`), and the links that follow it.
fn describe_headers(paths: &mut Value) {
    let links: &[(&str, &[&str])] = &[
        (
            "createRecharge",
            &[
                "GetRecharge",
                "ListDealers",
                "GetBranchData",
                "EffectuateRecharge",
                "ConfirmRecharge",
            ],
        ),
        ("listDealers", &["GetListedDealersBranchData"]),
        ("effectuateRecharge", &["GetRecharge", "ConfirmRecharge"]),
        ("confirmRecharge", &["GetRecharge"]),
        ("storeCard", &["GetCard", "RefreshCard"]),
    ];
    for (path, item) in paths.as_object_mut().expect("paths").iter_mut() {
        let storefront = path.starts_with("/api/v1/");
        for operation in item.as_object_mut().expect("a path item").values_mut() {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let idempotent = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key"));
            let own_links = links.iter().find(|(op, _)| *op == id).map(|(_, l)| *l);
            for (status, response) in operation["responses"].as_object_mut().expect("responses") {
                let headers = response
                    .as_object_mut()
                    .expect("a response")
                    .entry("headers")
                    .or_insert_with(|| json!({}));
                headers["X-Request-Id"] = header_ref("X-Request-Id");
                if storefront {
                    headers["Server-Timing"] = header_ref("Server-Timing");
                }
                if idempotent {
                    headers["Idempotent-Replayed"] = header_ref("Idempotent-Replayed");
                }
                let created = status == "201" || (id == "storeCard" && status == "202");
                if created {
                    headers["Location"] = header_ref("Location");
                }
                if let (Some(own), true) = (own_links, status.starts_with('2')) {
                    let named: Map<String, Value> = own
                        .iter()
                        .map(|l| {
                            (
                                (*l).to_owned(),
                                json!({"$ref": format!("#/components/links/{l}")}),
                            )
                        })
                        .collect();
                    response["links"] = Value::Object(named);
                }
            }
        }
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = paths();
    // 202 of a stored card: the same body as 201.
    let created = paths["/api/v1/cards"]["post"]["responses"]["201"].clone();
    paths["/api/v1/cards"]["post"]["responses"]["202"] = json!({
        "description": "Carat's answer was lost: the card is `unknown` until its HASH notification or a refresh.",
        "content": created["content"].clone(),
    });
    let codes: Vec<String> = ERRORS
        .iter()
        .map(|(status, code, when)| format!("| {status} | `{code}` | {when} |"))
        .collect();
    describe_headers(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "carat-merchant storefront API",
            "version": env!("CARGO_PKG_VERSION"),
            "license": {"name": "Proprietary: the merchant's own service (UNLICENSED)", "identifier": "LicenseRef-Proprietary"},
            "contact": {"name": "The merchant's integration team (operators: see the service's docs/operations.md)"},
            "description": format!(
                "Recharges (phone top-ups, PINs, bills), optionally paid by card, through Carat Portal; stored cards; the callback inbox. Money is integer cents. Every error answers `{{\"error\":{{\"code\",\"message\",...}}}}`:\n\n| status | code | when |\n|---|---|---|\n{}",
                codes.join("\n")
            ),
        },
        "servers": [{"url": "/", "description": "The host that serves this document (the storefront API and the document share it)."}],
        "security": [{"bearer": []}],
        "tags": [
            {"name": "recharges", "description": "A sale's life: create, effectuate (optionally paid by card), confirm or undo, show, list."},
            {"name": "catalogue", "description": "What Carat Portal sells for a recharge: its dealers, a dealer's branch data (amount ranges, products) or a bill."},
            {"name": "cards", "description": "Cards stored with Carat Portal for a customer, to pay later without the number."},
            {"name": "operations", "description": "For operators and tools: the callback inbox and this document."},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "One of `API_TOKENS` (or `API_READONLY_TOKENS`: GET only)."},
            },
            "schemas": schemas(),
            "headers": headers(),
            "links": links(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The routes `mod.rs` registers, read from its source: `(method, path)`.
    fn registered_routes() -> Vec<(String, String)> {
        let source = include_str!("mod.rs");
        let mut routes = Vec::new();
        for chunk in source.split(".route(").skip(1) {
            let argument = chunk.split(',').next().unwrap().trim();
            let path = match argument.strip_prefix('"') {
                Some(literal) => literal.split('"').next().unwrap().to_owned(),
                None if argument == "openapi::PATH" => PATH.to_owned(),
                None => panic!("api/mod.rs registers a route this test cannot read: {argument}"),
            };
            // The methods: up to the route's closing, i.e. the next `.route(`/`.layer(`.
            let body = chunk.split(".layer(").next().unwrap();
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = body.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0
                        || !body.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && body.as_bytes()[i - 1] != b'_'
                });
                if called {
                    routes.push((method.to_owned(), path.clone()));
                }
            }
        }
        routes
    }

    #[test]
    fn every_route_is_documented() {
        let routes = registered_routes();
        assert!(routes.len() >= 13, "{routes:?}");
        let document = document();
        for (method, path) in &routes {
            assert!(
                document["paths"][path][method].is_object(),
                "{method} {path} is registered in api/mod.rs and missing from the OpenAPI document"
            );
        }
        // And nothing documented that is not served.
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                assert!(
                    routes.contains(&(method.clone(), path.clone())),
                    "{method} {path} is documented and not registered"
                );
            }
        }
    }

    /// Each `ApiError` answers a status and code the document's table lists, and the table
    /// lists nothing the API cannot answer.
    #[tokio::test]
    async fn every_error_is_in_the_table() {
        use crate::api::error::ApiError;
        use carat_core::recharge::{CaratFailure, CaratProblem};
        let carat = |failure, answered| {
            ApiError::Carat(Box::new(CaratProblem {
                failure,
                message: "m".into(),
                http_status: None,
                code: None,
                carat_message: None,
                carat_status: None,
                answered,
                recharge_status: None,
                recharge_id: None,
                call: None,
                timeout_ms: None,
            }))
        };
        let every = vec![
            ApiError::Unauthorized,
            ApiError::ReadOnlyToken,
            ApiError::NotFound("x".into()),
            ApiError::Malformed("x".into()),
            ApiError::UnsupportedMediaType,
            ApiError::BodyTooLarge,
            ApiError::MethodNotAllowed,
            ApiError::invalid("f", "r"),
            ApiError::Conflict {
                message: "x".into(),
                status: None,
                recharge_id: None,
            },
            carat(CaratFailure::Denied, true),
            carat(CaratFailure::Refused, true),
            carat(CaratFailure::Unavailable, true),
            carat(CaratFailure::Unavailable, false),
            carat(CaratFailure::OutcomeUnknown, true),
            carat(CaratFailure::OutcomeUnknown, false),
            ApiError::OutcomeUnrecorded {
                message: "x".into(),
                status: RechargeStatus::Effectuating,
            },
            ApiError::Unavailable,
            ApiError::Internal,
            ApiError::InvalidIdempotencyKey("is empty"),
            ApiError::MalformedHeader {
                header: "Authorization",
                reason: "must be sent once",
            },
            ApiError::IdempotencyKeyInUse,
            ApiError::IdempotencyKeyReused,
        ];
        let mut answered = Vec::new();
        // And the refusal of admission control, which answers before any handler.
        let responses = every
            .into_iter()
            .map(axum::response::IntoResponse::into_response)
            .chain([crate::admission::overloaded()]);
        for response in responses {
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            let code = body["error"]["code"].as_str().unwrap().to_owned();
            assert!(
                ERRORS.iter().any(|(s, c, _)| *s == status && *c == code),
                "{status} {code} is missing from openapi::ERRORS"
            );
            answered.push((status, code));
        }
        for (status, code, _) in ERRORS {
            assert!(
                answered.iter().any(|(s, c)| s == status && c == code),
                "{status} {code} is in openapi::ERRORS and no ApiError answers it"
            );
        }
    }

    #[test]
    fn every_reference_names_a_schema() {
        let document = document();
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let pointer = target.strip_prefix('#').unwrap();
            assert!(
                document.pointer(pointer).is_some(),
                "{target} names nothing"
            );
        }
    }

    /// Generators name their functions after `operationId`: each operation has one, camelCase
    /// and unique, and every link names one.
    #[test]
    fn every_operation_has_a_unique_camel_case_id() {
        let document = document();
        let mut ids = Vec::new();
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                let id = operation["operationId"].as_str().expect("an operationId");
                assert!(
                    id.starts_with(|c: char| c.is_ascii_lowercase())
                        && id.chars().all(|c| c.is_ascii_alphanumeric()),
                    "{id} is not camelCase"
                );
                assert!(!ids.contains(&id.to_owned()), "{id} twice");
                ids.push(id.to_owned());
            }
        }
        for link in document["components"]["links"]
            .as_object()
            .unwrap()
            .values()
        {
            let target = link["operationId"].as_str().unwrap();
            assert!(ids.iter().any(|id| id == target), "a link names {target}");
        }
    }

    #[test]
    fn free_text_refuses_control_characters_and_closed_sets_are_enums() {
        assert_eq!(text(AnswerText::FORMAT, "")["pattern"], NO_CONTROL);
        assert_eq!(installment_type()["enum"], json!(["3", "4", "6", "7"]));
        let ddds = ddd("");
        let ddds = ddds["enum"].as_array().unwrap();
        assert!(ddds.contains(&json!("11")) && !ddds.contains(&json!("20")));
    }

    #[test]
    fn a_format_becomes_lengths_and_a_pattern() {
        let schema = text(OrderId::FORMAT, "");
        assert_eq!(
            schema,
            json!({"type": "string", "minLength": 1, "maxLength": 20, "pattern": "^[A-Za-z0-9]*$"})
        );
        assert_eq!(
            nullable(json!({"type": "string"}))["type"],
            json!(["string", "null"])
        );
    }
}

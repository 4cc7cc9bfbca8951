//! The authenticity POST's form parser (`callbacks::authenticity::parse_post`): any body, no
//! panic; accepted exactly when every parameter is there once and of its documented format,
//! whatever the encoding; otherwise refused naming the parameter. The verdict for a body is
//! `oracle::expected`; the fuzz target checks the same.

use proptest::prelude::*;
use proptest::sample::Index;

use crate::oracle::{Expected, FIELDS, assert_parse_post_agrees, expected};
use crate::strategies::{
    arbitrary_text, ascii_alphanumeric, ascii_digit, near, tricky_char, valid,
};

/// A valid value for the parameter `FIELDS[i]`, and a near miss of one.
fn values_for(i: usize) -> (BoxedStrategy<String>, BoxedStrategy<String>) {
    let (alphabet, min, max) = match i {
        0 => (ascii_alphanumeric().boxed(), 64, 64),
        1 => (ascii_alphanumeric().boxed(), 1, 15),
        2 => (ascii_alphanumeric().boxed(), 1, 20),
        3 => (ascii_digit().boxed(), 1, 12),
        _ => (ascii_alphanumeric().boxed(), 16, 16),
    };
    (valid(alphabet.clone(), min, max), near(alphabet, max))
}

/// A parameter the POST does not define: other names, and near misses of its own names (which
/// are other parameters: names are case-sensitive).
fn unknown_parameter() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        proptest::sample::select(vec![
            "NIT",
            "Nit",
            "nit ",
            " nit",
            "merchantid",
            "merchant_id",
            "orderID",
            "merchantUsn",
            "generalhash",
            "somethingNew",
            "status",
            "",
        ])
        .prop_map(str::to_owned),
        arbitrary_text(10),
    ];
    (name, arbitrary_text(12))
}

/// The parameters of a POST: the five, valid but for at most one that is a near miss or
/// missing, sometimes one of them again, a few unknown ones; in any order.
fn parameters() -> impl Strategy<Value = Vec<(String, String)>> {
    let flawed = proptest::option::weighted(0.5, 0..FIELDS.len());
    let repeated = proptest::option::weighted(0.15, 0..FIELDS.len());
    (flawed, repeated)
        .prop_flat_map(|(flawed, repeated)| {
            let known = (0..FIELDS.len())
                .map(|i| {
                    let (valid, near) = values_for(i);
                    if flawed == Some(i) {
                        proptest::option::weighted(0.9, near).boxed()
                    } else {
                        valid.prop_map(Some).boxed()
                    }
                })
                .collect::<Vec<_>>();
            let again = match repeated {
                Some(i) => proptest::option::of(values_for(i).1.prop_map(move |v| (i, v))).boxed(),
                None => Just(None).boxed(),
            };
            (
                known,
                again,
                proptest::collection::vec(unknown_parameter(), 0..3),
            )
        })
        .prop_map(|(known, again, mut all)| {
            let named = |(i, v): (usize, String)| (FIELDS[i].0.to_owned(), v);
            all.extend(
                known
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.map(|v| named((i, v)))),
            );
            all.extend(again.map(named));
            all
        })
        .prop_shuffle()
}

/// A valid POST but for one value with a tricky character in front or at the end: what a
/// parser that trims, or reads a prefix, would let through.
fn padded_post() -> impl Strategy<Value = Vec<u8>> {
    let values = (0..FIELDS.len())
        .map(|i| values_for(i).0)
        .collect::<Vec<_>>();
    (
        values,
        0..FIELDS.len(),
        tricky_char(),
        any::<bool>(),
        encoding(),
    )
        .prop_map(|(mut values, i, c, front, how)| {
            if front {
                values[i].insert(0, c);
            } else {
                values[i].push(c);
            }
            let pairs = FIELDS
                .iter()
                .zip(&values)
                .map(|((name, _), value)| format!("{}={}", encode(name, how), encode(value, how)));
            pairs.collect::<Vec<_>>().join("&").into_bytes()
        })
}

/// How one parameter is written on the wire.
#[derive(Clone, Copy, Debug)]
enum Encoding {
    /// What a form encoder writes: reserved bytes and non-ASCII as `%XX`, spaces as `+`.
    Standard,
    /// Every byte as `%XX` (upper-case hex) or `%xx` (lower-case).
    Every { upper: bool },
    /// Not encoded at all: `&`, `=`, `+` and `%` in a value change what the body says.
    Raw,
    /// As `Standard`, but an empty value without its `=`.
    BareName,
}

fn encode(text: &str, how: Encoding) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match how {
            Encoding::Raw => return text.to_owned(),
            Encoding::Every { upper: true } => out.push_str(&format!("%{b:02X}")),
            Encoding::Every { upper: false } => out.push_str(&format!("%{b:02x}")),
            Encoding::Standard | Encoding::BareName => match b {
                b' ' => out.push('+'),
                b if b.is_ascii_alphanumeric() || b"*-._".contains(&b) => out.push(b as char),
                b => out.push_str(&format!("%{b:02X}")),
            },
        }
    }
    out
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        4 => Just(Encoding::Standard),
        1 => any::<bool>().prop_map(|upper| Encoding::Every { upper }),
        1 => Just(Encoding::Raw),
        1 => Just(Encoding::BareName),
    ]
}

/// A body written from `parameters()`, each parameter in its own encoding, sometimes with
/// empty pieces (`&&`, a leading or trailing `&`).
fn body() -> impl Strategy<Value = Vec<u8>> {
    parameters()
        .prop_flat_map(|params| {
            let n = params.len();
            (
                Just(params),
                proptest::collection::vec(encoding(), n),
                proptest::collection::vec(prop_oneof![4 => Just("&"), 1 => Just("&&")], n),
                any::<(bool, bool)>(),
            )
        })
        .prop_map(|(params, encodings, separators, (lead, trail))| {
            let mut body = String::new();
            if lead {
                body.push('&');
            }
            for (i, ((name, value), how)) in params.iter().zip(encodings).enumerate() {
                if i > 0 {
                    body.push_str(separators[i]);
                }
                body.push_str(&encode(name, how));
                if !(value.is_empty() && matches!(how, Encoding::BareName)) {
                    body.push('=');
                    body.push_str(&encode(value, how));
                }
            }
            if trail {
                body.push('&');
            }
            body.into_bytes()
        })
}

/// A body with one byte replaced, inserted or removed: a near miss of the encoding itself.
fn damaged_body() -> impl Strategy<Value = Vec<u8>> {
    (body(), any::<Index>(), any::<u8>(), 0..3u8).prop_map(|(mut body, at, byte, how)| {
        if body.is_empty() {
            return vec![byte];
        }
        let at = at.index(body.len());
        match how {
            0 => body[at] = byte,
            1 => body.insert(at, byte),
            _ => {
                body.remove(at);
            }
        }
        body
    })
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn well_formed_and_nearly_well_formed_posts(body in body()) {
        assert_parse_post_agrees(&body);
    }

    #[test]
    fn padded_values(body in padded_post()) {
        assert_parse_post_agrees(&body);
    }

    #[test]
    fn damaged_posts(body in damaged_body()) {
        assert_parse_post_agrees(&body);
    }

    #[test]
    fn arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        assert_parse_post_agrees(&body);
    }

    #[test]
    fn arbitrary_text_bodies(body in arbitrary_text(200)) {
        assert_parse_post_agrees(body.as_bytes());
    }
}

const SEED_NIT: &str = "e009886843920c5173104557c9f6cd66b1481557fb3f4d88daca072eb8a50c97";

/// Carat's example body (from the seed), with a parameter it does not define.
fn seed_body() -> String {
    format!(
        "merchantUSN=987654321&merchantId=LOJAFATURAT&orderId=123456789&nit={SEED_NIT}\
         &generalHash=85E791AD85E791AD&somethingNew=1"
    )
}

/// The oracle itself, on bodies whose verdict is known by hand: were it wrong, the properties
/// above would compare the parser with a wrong rule. Each case is the seed's body with one
/// replacement.
#[test]
fn the_oracle_reads_known_bodies_as_documented() {
    let seed = seed_body();
    let accepted = || {
        Expected::Accepted(
            [
                SEED_NIT,
                "LOJAFATURAT",
                "123456789",
                "987654321",
                "85E791AD85E791AD",
            ]
            .map(str::to_owned),
        )
    };
    let field = Expected::Field;
    let nit_again = format!("&nit={}", "B".repeat(64));
    let short_nit = format!("nit={}", &SEED_NIT[1..]);
    let cases = [
        ("", "", accepted()),
        // Percent-encoded names and values are the same parameters.
        (
            "merchantId=LOJAFATURAT",
            "merchant%49d=LOJA%46ATURAT",
            accepted(),
        ),
        (
            "somethingNew=1",
            "somethingNew=1&somethingNew=2&x&&",
            accepted(),
        ),
        ("somethingNew=1", &nit_again, Expected::Repeated("nit")),
        ("orderId=123456789", "orderId=", field("orderId")),
        ("&orderId=123456789", "&orderId", field("orderId")),
        ("orderId=123456789", "orderId=1234%2D789", field("orderId")),
        (
            "orderId=123456789",
            "orderId=12345678%C3%A9",
            field("orderId"),
        ),
        ("orderId=123456789", "orderId=1234+5789", field("orderId")),
        (
            "orderId=123456789",
            "orderId=%20123456789",
            field("orderId"),
        ),
        (
            "merchantUSN=987654321",
            "merchantUSN=98765%D9%A3",
            field("merchantUSN"),
        ),
        (
            "merchantUSN=987654321",
            "merchantUSN=1234567890123",
            field("merchantUSN"),
        ),
        (&format!("nit={SEED_NIT}"), &short_nit, field("nit")),
        ("generalHash=", "generalhash=", field("generalHash")),
    ];
    for (from, to, want) in cases {
        let body = if from.is_empty() {
            seed.clone()
        } else {
            seed.replace(from, to)
        };
        assert_eq!(expected(body.as_bytes()), want, "{body}");
        assert_parse_post_agrees(body.as_bytes());
    }
    assert_eq!(expected(b""), field("nit"));
    assert_parse_post_agrees(b"");
}

//! Generators: arbitrary input, and near misses of a format (off-by-one lengths, one character
//! from outside the alphabet), so that the boundaries are hit far more often than chance would.

use proptest::prelude::*;
use proptest::sample::Index;

/// Characters that look like they might pass: non-ASCII letters and digits (`é`, Arabic-Indic
/// and fullwidth digits, superscripts, Roman numerals), separators the form encoding gives a
/// meaning to, whitespace, controls (C0, DEL, C1), and what a lossy decode produces.
pub fn tricky_char() -> impl Strategy<Value = char> + Clone {
    prop_oneof![
        proptest::sample::select(vec![
            'é', 'ß', 'Ç', 'ã', '٣', '۷', '५', '５', 'Ａ', '²', 'Ⅻ', 'ı', 'K', '-', '_', '.', ' ',
            '+', '%', '&', '=', '/', '\0', '\t', '\n', '\r', '\u{7f}', '\u{85}', '\u{9f}',
            '\u{a0}', '\u{200b}', '\u{feff}', '\u{fffd}', '😀',
        ]),
        any::<char>(),
    ]
}

pub fn ascii_alphanumeric() -> impl Strategy<Value = char> + Clone {
    proptest::sample::select(
        ('0'..='9')
            .chain('a'..='z')
            .chain('A'..='Z')
            .collect::<Vec<_>>(),
    )
}

pub fn ascii_digit() -> impl Strategy<Value = char> + Clone {
    proptest::char::range('0', '9')
}

/// Printable text, accents and all, as free-text fields carry.
pub fn text_char() -> impl Strategy<Value = char> + Clone {
    prop_oneof![
        proptest::char::range(' ', '~'),
        proptest::sample::select(vec!['á', 'ç', 'õ', 'É', '€', '·', '\u{a0}'])
    ]
}

/// A string that is valid, or nearly so, for a format of `n` characters of `alphabet`: a
/// length around `n` (or anywhere up to `n + 2`), and sometimes one tricky character put in
/// front, at the end, in between or in place of one. Now and then, arbitrary characters.
pub fn near(
    alphabet: impl Strategy<Value = char> + Clone + 'static,
    n: usize,
) -> BoxedStrategy<String> {
    let length = prop_oneof![
        1 => Just(0),
        1 => Just(1),
        1 => Just(n.saturating_sub(1)),
        3 => Just(n),
        1 => Just(n + 1),
        1 => 0..=n + 2,
    ];
    let valid_ish = length
        .prop_flat_map(move |len| proptest::collection::vec(alphabet.clone(), len))
        .prop_map(String::from_iter);
    let mutated = (
        valid_ish.clone(),
        proptest::option::weighted(0.4, (any::<Index>(), tricky_char(), 0..4u8)),
    )
        .prop_map(|(s, change)| {
            let Some((at, c, how)) = change else {
                return s;
            };
            let mut chars: Vec<char> = s.chars().collect();
            match how {
                // Padding is what a trimming or lenient parser would let through.
                0 => chars.insert(0, c),
                1 => chars.push(c),
                2 => {
                    let at = at.index(chars.len() + 1);
                    chars.insert(at, c)
                }
                _ if chars.is_empty() => chars.push(c),
                _ => {
                    let at = at.index(chars.len());
                    chars[at] = c
                }
            }
            chars.into_iter().collect()
        });
    prop_oneof![
        6 => mutated,
        1 => arbitrary_text(n + 8),
    ]
    .boxed()
}

/// Any characters at all, controls and unassigned planes included.
pub fn arbitrary_text(max_len: usize) -> impl Strategy<Value = String> + Clone {
    proptest::collection::vec(any::<char>(), 0..=max_len).prop_map(String::from_iter)
}

/// A string of `min` to `max` characters of `alphabet`: always valid for such a format.
pub fn valid(
    alphabet: impl Strategy<Value = char> + Clone + 'static,
    min: usize,
    max: usize,
) -> BoxedStrategy<String> {
    proptest::collection::vec(alphabet, min..=max)
        .prop_map(String::from_iter)
        .boxed()
}

//! The values the fuzzer puts in fields: wild ones (empty, huge, control and bidi characters,
//! numbers at their extremes, look-alikes of tokens and contacts) and plausible ones, by field
//! name, from a real account, so that a request with one wild field gets past the others.

use std::collections::HashMap;
use std::sync::RwLock;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

/// Characters that break naive text handling: NUL, controls, bidi overrides, zero-width and
/// byte-order marks, combining marks, surrogate-adjacent and astral code points.
const NASTY: &[&str] = &[
    "\0",
    "\u{1}",
    "\u{7f}",
    "\r\n",
    "\t",
    "\u{202e}",
    "\u{2066}",
    "\u{200b}",
    "\u{feff}",
    "\u{301}",
    "\u{fffd}",
    "\u{d7ff}",
    "\u{e000}",
    "\u{10ffff}",
    "é",
    "ß",
    "İ",
    "中文",
    "𝕏",
    "👩‍👩‍👧",
    "ﷺ",
    "%s%n",
    "'; DROP TABLE accounts; --",
    "../../etc/passwd",
    "{{7*7}}",
    "<script>",
    "\\u0000",
    "Bearer ",
    " ",
    ".",
    "@",
    "+",
];

/// Strings other fields expect; one in another field is as wild as any.
const LOOKALIKES: &[&str] = &[
    "0",
    "-1",
    "18446744073709551616",
    "9223372036854775807",
    "NaN",
    "1e308",
    "+8613800138000",
    "+86 138 0013 8000",
    "+1",
    "+",
    "00",
    "a@b",
    "a@b.c",
    "@example.com",
    "user@",
    "en",
    "zh-Hans-CN",
    "x-private",
    "en_US",
    "a.b.c",
    "eyJhbGciOiJub25lIn0.e30.",
    "000000",
    "AAAA",
];

/// A string of any shape.
pub(super) fn wild_string(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0 => String::new(),
        1 => "a".repeat(rng.random_range(256..=4096)),
        // Rarely: far past every maximum (up to 1 MiB), below the 4 MiB message limit.
        2 if rng.random_bool(0.05) => "\u{202e}x".repeat(rng.random_range(1..=256 * 1024)),
        3 => (0..rng.random_range(1..64))
            .map(|_| rng.random::<char>())
            .collect(),
        4 => (0..rng.random_range(1..32))
            .map(|_| char::from(rng.random_range(0u8..0x20)))
            .collect(),
        5 => LOOKALIKES
            .choose(rng)
            .copied()
            .unwrap_or_default()
            .to_owned(),
        6 => format!("+{}", digits(rng, 0..40)),
        _ => (0..rng.random_range(1..8))
            .map(|_| NASTY.choose(rng).copied().unwrap_or_default())
            .collect(),
    }
}

/// An integer at or near an extreme, as the 64 bits of a varint.
pub(super) fn wild_integer(rng: &mut StdRng) -> u64 {
    const EXTREMES: &[i64] = &[
        0,
        1,
        -1,
        2,
        7,
        100,
        1000,
        i32::MAX as i64,
        i32::MIN as i64,
        u32::MAX as i64,
        i64::MAX,
        i64::MIN,
    ];
    if rng.random_bool(0.2) {
        rng.random()
    } else {
        EXTREMES.choose(rng).copied().unwrap_or_default() as u64
    }
}

/// Random bytes, usually short.
pub(super) fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let len = rng.random_range(0..=max);
    (0..len).map(|_| rng.random()).collect()
}

fn digits(rng: &mut StdRng, lengths: std::ops::Range<usize>) -> String {
    (0..rng.random_range(lengths))
        .map(|_| char::from(b'0' + rng.random_range(0..10)))
        .collect()
}

/// Plausible values by field name: those of a real account and its session where the field
/// takes one, else a value of the expected shape.
#[derive(Debug, Default)]
pub(super) struct Dictionary {
    strings: HashMap<&'static str, Vec<String>>,
    integers: HashMap<&'static str, Vec<u64>>,
    /// Bearer tokens for the `authorization` metadata: live, expired and forged ones. The
    /// fuzzer revokes sessions and deletes accounts; [`super::dictionary::keep_signed_in`]
    /// adds live ones as it goes.
    pub bearers: RwLock<Vec<String>>,
    /// A phone of the account, enrolled with its own key: device-side calls get a fresh device
    /// token of it (each is accepted once), so they reach their checks too.
    pub phone: Option<crate::find_device_commands::Phone>,
}

impl Dictionary {
    pub(super) fn add_strings(&mut self, fields: &[&'static str], values: &[&str]) {
        for field in fields {
            let entry = self.strings.entry(field).or_default();
            entry.extend(values.iter().map(|value| (*value).to_owned()));
        }
    }

    pub(super) fn add_integers(&mut self, fields: &[&'static str], values: &[u64]) {
        for field in fields {
            self.integers.entry(field).or_default().extend(values);
        }
    }

    pub(super) fn bearer(&self, rng: &mut StdRng) -> Option<String> {
        self.bearers.read().unwrap().choose(rng).cloned()
    }

    /// A fresh device token of the phone, as a bearer.
    pub(super) fn device_bearer(&self) -> Option<String> {
        let phone = self.phone.as_ref()?;
        Some(format!("Bearer {}", phone.token()))
    }

    pub(super) fn string(&self, rng: &mut StdRng, field: &str) -> String {
        match self.strings.get(field) {
            Some(values) => values.choose(rng).cloned().unwrap_or_default(),
            None => format!("fuzz-{}", digits(rng, 1..6)),
        }
    }

    /// A plausible integer; enums get a defined value (1 to 3) unless the name says otherwise.
    pub(super) fn integer(&self, rng: &mut StdRng, field: &str) -> u64 {
        match self.integers.get(field) {
            Some(values) => values.choose(rng).copied().unwrap_or_default(),
            None => rng.random_range(1..=3),
        }
    }
}

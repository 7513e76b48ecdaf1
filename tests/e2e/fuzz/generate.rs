//! Requests as the wire carries them, built from each request message's descriptor: wild ones
//! (every field of any shape, unknown fields, wrong wire types), plausible ones with one field
//! wild, plausible ones with their bytes mutated, and plain random bytes.

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto};
use rand::Rng;
use rand::rngs::StdRng;

use super::schema::Schema;
use super::values::{Dictionary, random_bytes, wild_integer, wild_string};

/// Nested messages deeper than this are left empty (the protos nest two levels at most).
const MAX_DEPTH: usize = 4;

/// How wild a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Wild,
    Plausible,
    /// Plausible but for the top-level field at this index.
    OneWild(usize),
}

/// What one case sends.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    RandomBytes,
    Wild,
    OneFieldWild,
    MutatedBytes,
    Plausible,
}

impl Kind {
    pub(super) fn pick(rng: &mut StdRng) -> Self {
        match rng.random_range(0..10) {
            0 | 1 => Self::RandomBytes,
            2..=4 => Self::Wild,
            5..=7 => Self::OneFieldWild,
            8 => Self::MutatedBytes,
            _ => Self::Plausible,
        }
    }
}

#[derive(Debug)]
pub(super) struct Generator<'a> {
    pub schema: &'a Schema,
    pub dictionary: &'a Dictionary,
}

impl Generator<'_> {
    /// The body of one request of type `input`.
    pub(super) fn body(&self, rng: &mut StdRng, input: &str, kind: Kind) -> Vec<u8> {
        match kind {
            Kind::RandomBytes => {
                let max = if rng.random_bool(0.05) { 65_536 } else { 64 };
                random_bytes(rng, max)
            }
            Kind::Wild => self.message(rng, input, Mode::Wild, 0),
            Kind::OneFieldWild => {
                let fields = self
                    .schema
                    .message(input)
                    .map_or(1, |m| m.field.len().max(1));
                let field = rng.random_range(0..fields);
                self.message(rng, input, Mode::OneWild(field), 0)
            }
            Kind::MutatedBytes => {
                let plausible = self.message(rng, input, Mode::Plausible, 0);
                mutate(rng, plausible)
            }
            Kind::Plausible => self.message(rng, input, Mode::Plausible, 0),
        }
    }

    fn message(&self, rng: &mut StdRng, name: &str, mode: Mode, depth: usize) -> Vec<u8> {
        let Some(descriptor) = self.schema.message(name) else {
            return random_bytes(rng, 16);
        };
        let mut out = Vec::new();
        for (index, field) in descriptor.field.iter().enumerate() {
            let field_mode = match mode {
                Mode::OneWild(wild) if wild == index => Mode::Wild,
                Mode::OneWild(_) => Mode::Plausible,
                other => other,
            };
            if field_mode == Mode::Wild && rng.random_bool(0.3) {
                continue;
            }
            for _ in 0..repetitions(rng, field, field_mode) {
                self.field(rng, field, field_mode, depth, &mut out);
            }
        }
        if mode == Mode::Wild && rng.random_bool(0.1) {
            unknown_field(rng, descriptor, &mut out);
        }
        out
    }

    fn field(
        &self,
        rng: &mut StdRng,
        field: &FieldDescriptorProto,
        mode: Mode,
        depth: usize,
        out: &mut Vec<u8>,
    ) {
        let number = field.number() as u64;
        let wild = mode == Mode::Wild;
        match field.r#type() {
            Type::String => {
                let text = if wild {
                    wild_string(rng)
                } else {
                    self.dictionary.string(rng, field.name())
                };
                put_bytes(out, number, text.as_bytes());
            }
            Type::Bytes => put_bytes(out, number, &random_bytes(rng, 64)),
            Type::Message | Type::Group => {
                let inner = if depth < MAX_DEPTH {
                    let nested_mode = if wild { Mode::Wild } else { Mode::Plausible };
                    self.message(rng, field.type_name(), nested_mode, depth + 1)
                } else {
                    Vec::new()
                };
                put_bytes(out, number, &inner);
            }
            Type::Fixed64 | Type::Sfixed64 | Type::Double => {
                put_key(out, number, 1);
                out.extend_from_slice(&wild_integer(rng).to_le_bytes());
            }
            Type::Fixed32 | Type::Sfixed32 | Type::Float => {
                put_key(out, number, 5);
                out.extend_from_slice(&(wild_integer(rng) as u32).to_le_bytes());
            }
            Type::Sint32 | Type::Sint64 => {
                let value = wild_integer(rng) as i64;
                put_key(out, number, 0);
                put_varint(out, ((value << 1) ^ (value >> 63)) as u64);
            }
            _ => {
                let value = if wild {
                    wild_integer(rng)
                } else {
                    self.dictionary.integer(rng, field.name())
                };
                put_key(out, number, 0);
                put_varint(out, value);
            }
        }
    }
}

fn repetitions(rng: &mut StdRng, field: &FieldDescriptorProto, mode: Mode) -> usize {
    match (field.label() == Label::Repeated, mode) {
        (false, _) => 1,
        (true, Mode::Wild) if rng.random_bool(0.05) => rng.random_range(100..2_000),
        (true, _) => rng.random_range(0..4),
    }
}

/// A field number the message does not have, or one it has with the wrong wire type.
fn unknown_field(rng: &mut StdRng, descriptor: &DescriptorProto, out: &mut Vec<u8>) {
    let number = match descriptor.field.first() {
        Some(field) if rng.random_bool(0.5) => field.number() as u64,
        _ => rng.random_range(1..=536_870_911),
    };
    match rng.random_range(0..3) {
        0 => {
            put_key(out, number, 0);
            put_varint(out, rng.random());
        }
        1 => put_bytes(out, number, &random_bytes(rng, 32)),
        _ => {
            put_key(out, number, 5);
            out.extend_from_slice(&rng.random::<u32>().to_le_bytes());
        }
    }
}

/// A few byte-level mutations: flips, truncation, insertion, a duplicated run.
fn mutate(rng: &mut StdRng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.random_range(1..=4) {
        let at = rng.random_range(0..=bytes.len());
        match rng.random_range(0..4) {
            0 if at < bytes.len() => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => bytes.truncate(at),
            2 => bytes.insert(at, rng.random()),
            _ => {
                let run = bytes[at..].iter().take(8).copied().collect::<Vec<_>>();
                bytes.splice(at..at, run);
            }
        }
    }
    bytes
}

fn put_key(out: &mut Vec<u8>, number: u64, wire_type: u64) {
    put_varint(out, (number << 3) | wire_type);
}

fn put_bytes(out: &mut Vec<u8>, number: u64, bytes: &[u8]) {
    put_key(out, number, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

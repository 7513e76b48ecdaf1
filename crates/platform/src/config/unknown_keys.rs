//! Finds configuration keys that no setting reads (a misspelt `MI_…` variable, an unknown TOML
//! key, a mistyped test override) and the valid key closest to each.
//!
//! serde skips unknown keys silently, which would leave a misspelt setting at its default. So
//! the settings are deserialized a second time through [`KeyCheck`], a deserializer over the
//! figment values that, at each struct, compares the keys present with the struct's fields
//! (serde hands them to `deserialize_struct`). Values are read exactly as figment reads them;
//! only the keys are looked at.

use std::cell::RefCell;
use std::collections::btree_map;

use figment::Error;
use figment::value::{Tag, Value};
use serde::Deserialize;
use serde::de::value::StrDeserializer;
use serde::de::{DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};

/// How alike a key must be to a valid one (Jaro-Winkler, 0 to 1) to be suggested as its fix.
const SUGGESTION_SIMILARITY: f64 = 0.8;

/// A key that no setting reads.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct UnknownKey {
    /// Its dotted path, e.g. `kafka.brokrs`.
    pub(super) key: String,
    /// The valid key beside it that is closest to it, if one is close.
    pub(super) closest: Option<String>,
    /// Where its value came from.
    pub(super) tag: Tag,
}

/// The keys under `value` (found at `path`) that `T` does not read. At the top struct,
/// `also_valid` names keys read by someone else (the service sections beside the shared
/// settings).
pub(super) fn unknown_keys<T: for<'de> Deserialize<'de>>(
    value: &Value,
    path: &str,
    also_valid: &[&str],
) -> Vec<UnknownKey> {
    let found = RefCell::new(Vec::new());
    let check = KeyCheck {
        value,
        path: path.to_owned(),
        also_valid,
        found: &found,
    };
    // A value that does not deserialize is reported by the real extraction, with its source;
    // the keys seen up to that point are still worth reporting.
    let _ = T::deserialize(check);
    found.into_inner()
}

/// The field among `fields` that `key` most likely meant.
fn closest<'f>(key: &str, fields: impl Iterator<Item = &'f str>) -> Option<&'f str> {
    fields
        .map(|field| (strsim::jaro_winkler(key, field), field))
        .filter(|(similarity, _)| *similarity >= SUGGESTION_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, field)| field)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Deserializes like figment's own value deserializer, recording unknown struct keys.
struct KeyCheck<'v, 'r> {
    value: &'v Value,
    path: String,
    /// Extra valid keys of the top struct; empty below it.
    also_valid: &'r [&'r str],
    found: &'r RefCell<Vec<UnknownKey>>,
}

impl<'v, 'r> KeyCheck<'v, 'r> {
    fn child(&self, value: &'v Value, key: &str) -> Self {
        Self {
            value,
            path: join(&self.path, key),
            also_valid: &[],
            found: self.found,
        }
    }
}

impl<'de> Deserializer<'de> for KeyCheck<'_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Dict(_, dict) => visitor.visit_map(CheckedMap {
                entries: dict.iter(),
                pending: None,
                parent: self,
            }),
            Value::Array(_, items) => visitor.visit_seq(CheckedSeq {
                items: items.iter().enumerate(),
                parent: self,
            }),
            leaf => leaf.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Empty(..) => self.value.deserialize_option(visitor),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.value.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if let Value::Dict(_, dict) = self.value {
            let valid = || fields.iter().chain(self.also_valid).copied();
            let unknown = dict
                .iter()
                .filter(|(key, _)| !valid().any(|field| field == key.as_str()))
                .map(|(key, value)| UnknownKey {
                    key: join(&self.path, key),
                    closest: closest(key, valid()).map(|field| join(&self.path, field)),
                    tag: value.tag(),
                });
            self.found.borrow_mut().extend(unknown);
        }
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct CheckedMap<'v, 'r> {
    entries: btree_map::Iter<'v, String, Value>,
    pending: Option<(&'v String, &'v Value)>,
    parent: KeyCheck<'v, 'r>,
}

impl<'de> MapAccess<'de> for CheckedMap<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((key, value));
        let key: StrDeserializer<'_, Error> = key.as_str().into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| <Error as serde::de::Error>::custom("value asked before its key"))?;
        seed.deserialize(self.parent.child(value, key))
    }
}

struct CheckedSeq<'v, 'r> {
    items: std::iter::Enumerate<std::slice::Iter<'v, Value>>,
    parent: KeyCheck<'v, 'r>,
}

impl<'de> SeqAccess<'de> for CheckedSeq<'_, '_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some((index, item)) = self.items.next() else {
            return Ok(None);
        };
        seed.deserialize(self.parent.child(item, &index.to_string()))
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    #[allow(dead_code)] // only the field names matter here
    struct Outer {
        kafka: Inner,
        data_dir: String,
        list: Vec<Inner>,
        maybe: Option<Inner>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    #[allow(dead_code)]
    struct Inner {
        brokers: Option<String>,
        partitions: i32,
    }

    fn value(toml: &str) -> Value {
        use figment::providers::{Format, Toml};
        figment::Figment::from(Toml::string(toml))
            .extract()
            .expect("value")
    }

    fn keys(found: &[UnknownKey]) -> Vec<(&str, Option<&str>)> {
        found
            .iter()
            .map(|unknown| (unknown.key.as_str(), unknown.closest.as_deref()))
            .collect()
    }

    #[test]
    fn unknown_keys_are_found_at_every_depth_with_the_closest_valid_key() {
        let toml = r#"
            data_dri = "x"
            identity = { listen_addr = "127.0.0.1:1" }
            [kafka]
            brokrs = "b"
            partitions = 2
            [[list]]
            partitons = 1
            [maybe]
            zzz = 1
        "#;
        let found = unknown_keys::<Outer>(&value(toml), "", &["identity"]);
        assert_eq!(
            keys(&found),
            vec![
                ("data_dri", Some("data_dir")),
                ("kafka.brokrs", Some("kafka.brokers")),
                ("list.0.partitons", Some("list.0.partitions")),
                ("maybe.zzz", None),
            ]
        );
    }

    #[test]
    fn a_section_is_checked_under_its_own_path() {
        let found = unknown_keys::<Inner>(&value("brokers = \"b\"\nbrokerz = 1"), "kafka", &[]);
        assert_eq!(keys(&found), vec![("kafka.brokerz", Some("kafka.brokers"))]);
    }

    #[test]
    fn known_keys_pass() {
        let toml = "data_dir = \"d\"\n[kafka]\nbrokers = \"b\"";
        assert!(unknown_keys::<Outer>(&value(toml), "", &[]).is_empty());
    }
}

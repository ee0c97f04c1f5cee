//! serde deserialization from a positioned YAML tree.
//!
//! Two things the usual YAML loaders do not do, and that on-call people need:
//! - every error carries the line and column of the value that caused it;
//! - unknown keys do not stop the load: each is reported with the closest valid key,
//!   then skipped, so one run of `gander validate` shows all of them.
//!
//! Plain scalars are resolved by what the target type asks for (a `String` field takes
//! `v1` or `1.0` as text); `deserialize_any` uses the YAML 1.2 core schema.

use super::{Kind, Node};
use crate::diag::{Diagnostic, Pos, suggest};
use serde::de::{self, DeserializeOwned, Error as _, IntoDeserializer, Visitor};
use std::cell::RefCell;
use std::fmt;

/// A deserialization error, positioned once it passes through the node that caused it.
#[derive(Debug, Clone)]
pub struct Error {
    pub message: String,
    pub help: Option<String>,
    pub pos: Option<Pos>,
}

impl Error {
    fn at(mut self, pos: Pos) -> Self {
        if self.pos.is_none() {
            self.pos = Some(pos);
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            message: msg.to_string(),
            help: None,
            pos: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Error {
            message: format!("missing required key `{field}`"),
            help: Some(format!("add `{field}:` to this mapping")),
            pos: None,
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error {
            message: format!("unknown value `{variant}`"),
            help: suggest(variant, expected.iter().copied()),
            pos: None,
        }
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        let found = match unexp {
            de::Unexpected::Str(s) => format!("`{s}`"),
            other => other.to_string(),
        };
        Error::custom(format!("expected {exp}, found {found}"))
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        Self::invalid_type(unexp, exp)
    }
}

/// Deserialize `T` from `node`. Unknown keys are returned as errors alongside the value
/// (which still loads without them), so the caller can report all of them and still run
/// the semantic checks on what did load. The diagnostics come sorted by position.
pub fn from_node<T: DeserializeOwned>(file: &str, node: &Node) -> (Option<T>, Vec<Diagnostic>) {
    let sink = RefCell::new(Vec::new());
    let result = T::deserialize(De { node, sink: &sink });
    let mut diags = sink.into_inner();
    let value = match result {
        Ok(v) => Some(v),
        Err(e) => {
            let pos = e.pos.unwrap_or(node.pos);
            diags.push(Diagnostic::error(file, pos, e.message).with_help_opt(e.help));
            None
        }
    };
    let mut out: Vec<Diagnostic> = diags
        .into_iter()
        .map(|mut d| {
            d.file = file.to_string();
            d
        })
        .collect();
    out.sort_by_key(|d| (d.line, d.column));
    (value, out)
}

struct De<'a> {
    node: &'a Node,
    sink: &'a RefCell<Vec<Diagnostic>>,
}

impl<'a> De<'a> {
    fn scalar(&self, what: &str) -> Result<&'a str, Error> {
        match &self.node.kind {
            Kind::Scalar { text, .. } if !self.node.is_null() => Ok(text),
            _ => Err(
                Error::custom(format!("expected {what}, found {}", self.node.describe()))
                    .at(self.node.pos),
            ),
        }
    }

    fn parse_num<T: std::str::FromStr>(&self, what: &str) -> Result<T, Error> {
        let s = self.scalar(what)?;
        let cleaned: String = s.chars().filter(|c| *c != '_').collect();
        cleaned
            .parse::<T>()
            .map_err(|_| Error::custom(format!("expected {what}, found `{s}`")).at(self.node.pos))
    }
}

macro_rules! de_number {
    ($method:ident, $visit:ident, $ty:ty, $what:expr) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let v: $ty = self.parse_num($what)?;
            visitor.$visit::<Error>(v).map_err(|e| e.at(self.node.pos))
        }
    };
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let pos = self.node.pos;
        let r: Result<V::Value, Error> = match &self.node.kind {
            Kind::Seq(_) => return self.deserialize_seq(visitor),
            Kind::Map(_) => return self.deserialize_map(visitor),
            Kind::Scalar { text, quoted: true } => visitor.visit_str(text),
            Kind::Scalar { .. } if self.node.is_null() => visitor.visit_unit(),
            Kind::Scalar {
                text,
                quoted: false,
            } => match resolve_plain(text) {
                Plain::Bool(b) => visitor.visit_bool(b),
                Plain::Int(i) => visitor.visit_i64(i),
                Plain::Float(f) => visitor.visit_f64(f),
                Plain::Str => visitor.visit_str(text),
            },
        };
        r.map_err(|e| e.at(pos))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let s = self.scalar("true or false")?;
        match s {
            "true" | "True" | "TRUE" => visitor.visit_bool(true),
            "false" | "False" | "FALSE" => visitor.visit_bool(false),
            _ => Err(Error::custom(format!(
                "expected true or false, found `{s}`"
            ))),
        }
        .map_err(|e| e.at(self.node.pos))
    }

    de_number!(deserialize_i8, visit_i8, i8, "an integer");
    de_number!(deserialize_i16, visit_i16, i16, "an integer");
    de_number!(deserialize_i32, visit_i32, i32, "an integer");
    de_number!(deserialize_i64, visit_i64, i64, "an integer");
    de_number!(deserialize_u8, visit_u8, u8, "a whole number");
    de_number!(deserialize_u16, visit_u16, u16, "a whole number");
    de_number!(deserialize_u32, visit_u32, u32, "a whole number");
    de_number!(deserialize_u64, visit_u64, u64, "a whole number");
    de_number!(deserialize_f32, visit_f32, f32, "a number");
    de_number!(deserialize_f64, visit_f64, f64, "a number");

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let s = self.scalar("a string")?;
        visitor
            .visit_str::<Error>(s)
            .map_err(|e| e.at(self.node.pos))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            visitor.visit_none()
        } else {
            let pos = self.node.pos;
            visitor.visit_some(self).map_err(|e| e.at(pos))
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let pos = self.node.pos;
        visitor.visit_newtype_struct(self).map_err(|e| e.at(pos))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let pos = self.node.pos;
        let items: &[Node] = match &self.node.kind {
            Kind::Seq(items) => items,
            _ if self.node.is_null() => &[],
            _ => {
                return Err(Error::custom(format!(
                    "expected a list, found {}",
                    self.node.describe()
                ))
                .with_list_help()
                .at(pos));
            }
        };
        let access = SeqAccess {
            items: items.iter(),
            sink: self.sink,
        };
        visitor.visit_seq(access).map_err(|e| e.at(pos))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.map_with_fields(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.map_with_fields(Some(fields), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let pos = self.node.pos;
        let s = self.scalar("a word")?;
        visitor
            .visit_enum(s.into_deserializer())
            .map_err(|e: Error| e.at(pos))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

impl<'a> De<'a> {
    fn map_with_fields<'de, V: Visitor<'de>>(
        self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let pos = self.node.pos;
        let entries: &[(Node, Node)] = match &self.node.kind {
            Kind::Map(entries) => entries,
            _ if self.node.is_null() => &[],
            _ => {
                return Err(Error::custom(format!(
                    "expected a mapping of `key: value` lines, found {}",
                    self.node.describe()
                ))
                .at(pos));
            }
        };
        let mut kept: Vec<&'a (Node, Node)> = Vec::with_capacity(entries.len());
        for entry in entries {
            let key = entry.0.as_str().unwrap_or_default();
            match fields {
                Some(fields) if !fields.contains(&key) => {
                    let help = suggest(key, fields.iter().copied())
                        .map(|s| format!("{s} (remove the key if it is not needed)"));
                    self.sink.borrow_mut().push(
                        Diagnostic::error("", entry.0.pos, format!("unknown key `{key}`"))
                            .with_help_opt(help),
                    );
                }
                _ => kept.push(entry),
            }
        }
        let access = MapAccess {
            entries: kept.into_iter(),
            value: None,
            sink: self.sink,
        };
        // A missing key is a property of the mapping: it points at the mapping's start.
        visitor.visit_map(access).map_err(|e| e.at(pos))
    }
}

impl Error {
    fn with_list_help(mut self) -> Self {
        self.help = Some("write a list as `[a, b]` or as lines starting with `- `".into());
        self
    }
}

struct SeqAccess<'a> {
    items: std::slice::Iter<'a, Node>,
    sink: &'a RefCell<Vec<Diagnostic>>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            None => Ok(None),
            Some(node) => seed
                .deserialize(De {
                    node,
                    sink: self.sink,
                })
                .map(Some)
                .map_err(|e| e.at(node.pos)),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'a> {
    entries: std::vec::IntoIter<&'a (Node, Node)>,
    value: Option<&'a Node>,
    sink: &'a RefCell<Vec<Diagnostic>>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.value = Some(v);
                let de = De {
                    node: k,
                    sink: self.sink,
                };
                seed.deserialize(de).map(Some).map_err(|e| e.at(k.pos))
            }
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let node = self.value.take().expect("value after key");
        seed.deserialize(De {
            node,
            sink: self.sink,
        })
        .map_err(|e| e.at(node.pos))
    }
}

enum Plain {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(s: &str) -> Plain {
    match s {
        "true" | "True" | "TRUE" => return Plain::Bool(true),
        "false" | "False" | "FALSE" => return Plain::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Plain::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Plain::Int(i);
        }
    } else if let Some(oct) = s.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Plain::Int(i);
        }
    }
    let looks_numeric = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        && s.chars().any(|c| c.is_ascii_digit());
    if looks_numeric {
        if let Ok(i) = s.parse::<i64>() {
            return Plain::Int(i);
        }
        if let Ok(f) = s.parse::<f64>() {
            return Plain::Float(f);
        }
    }
    Plain::Str
}

/// Parse a YAML text straight into `T`, for embedded defaults and tests.
pub fn from_str<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Vec<Diagnostic>> {
    let node = super::parse(file, text)?.ok_or_else(|| {
        vec![Diagnostic::error(
            file,
            Pos { line: 1, column: 1 },
            "the file is empty",
        )]
    })?;
    match from_node(file, &node) {
        (Some(v), d) if d.is_empty() => Ok(v),
        (_, d) => Err(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        name: String,
        #[serde(default)]
        count: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        inner: Inner,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        extra: BTreeMap<String, String>,
        #[serde(default)]
        flag: Option<bool>,
    }

    fn load(text: &str) -> (Option<Outer>, Vec<String>) {
        let node = crate::yaml::parse("t.yaml", text).unwrap().unwrap();
        let (v, d) = from_node::<Outer>("t.yaml", &node);
        (v, d.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn loads_and_accepts_numbers_as_strings() {
        let (v, d) = load("inner:\n  name: 1.0\n  count: 3\ntags: [a, 'b']\n");
        assert!(d.is_empty(), "{d:?}");
        let v = v.unwrap();
        assert_eq!(v.inner.name, "1.0");
        assert_eq!(v.tags, vec!["a", "b"]);
    }

    #[test]
    fn every_unknown_key_is_reported_with_a_suggestion() {
        let (v, d) = load("inner:\n  nmae: x\n  name: y\n  cuont: 2\ntagz: []\n");
        assert!(v.is_some());
        assert_eq!(
            d,
            vec![
                "t.yaml:2:3: error: unknown key `nmae`\n  help: did you mean `name`? (remove the key if it is not needed)",
                "t.yaml:4:3: error: unknown key `cuont`\n  help: did you mean `count`? (remove the key if it is not needed)",
                "t.yaml:5:1: error: unknown key `tagz`\n  help: did you mean `tags`? (remove the key if it is not needed)",
            ]
        );
    }

    #[test]
    fn missing_key_points_at_its_mapping() {
        let (v, d) = load("flag: true\ninner:\n  count: 2\n");
        assert!(v.is_none());
        assert_eq!(
            d,
            vec![
                "t.yaml:3:3: error: missing required key `name`\n  help: add `name:` to this mapping"
            ]
        );
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let (_, d) = load("inner:\n  name: x\n  count: lots\n");
        assert_eq!(
            d,
            vec!["t.yaml:3:10: error: expected a whole number, found `lots`"]
        );
        let (_, d) = load("inner: {name: x}\nflag: yes\n");
        assert_eq!(
            d,
            vec!["t.yaml:2:7: error: expected true or false, found `yes`"]
        );
        let (_, d) = load("inner: {name: x}\ntags: a\n");
        assert_eq!(
            d[0].lines().next().unwrap(),
            "t.yaml:2:7: error: expected a list, found `a`"
        );
    }
}

//! A YAML document tree that remembers where every node came from.
//!
//! saphyr-parser (the maintained successor of yaml-rust) gives events with spans; this
//! module builds a small tree of them so that both serde deserialization
//! (`yaml_de`) and the semantic checks that run afterwards can name the file, line and
//! column of any value. Duplicate keys, which YAML forbids and which silently lose data
//! in most loaders, are reported here.

pub mod de;

use crate::diag::{Diagnostic, Pos};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// One YAML node with its start position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar as written. `quoted` scalars are always strings; plain ones are resolved
    /// by the YAML 1.2 core schema when a type is not asked for.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Entries in document order. Keys are scalars (complex keys are refused).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node for `key` when this node is a mapping (where a key is written).
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }

    pub fn index(&self, i: usize) -> Option<&Node> {
        match &self.kind {
            Kind::Seq(items) => items.get(i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether this is YAML's null: `~`, `null`, or nothing at all.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, quoted: false }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The position of the node at `path`, walking mapping keys and sequence indices
    /// (`["service", "spec", "dependencies", "runtime", "1"]`). Stops at the deepest node
    /// that exists, so a semantic error always points somewhere useful.
    pub fn locate(&self, path: &[&str]) -> Pos {
        let mut node = self;
        for seg in path {
            let next = match &node.kind {
                Kind::Map(_) => node.get(seg),
                Kind::Seq(_) => seg.parse::<usize>().ok().and_then(|i| node.index(i)),
                Kind::Scalar { .. } => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node.pos
    }

    /// Like [`Node::locate`] but points at the key of the last segment, which reads better
    /// for "this key is wrong" messages.
    pub fn locate_key(&self, path: &[&str]) -> Pos {
        let Some((last, parent)) = path.split_last() else {
            return self.pos;
        };
        let mut node = self;
        for seg in parent {
            match node.get(seg) {
                Some(n) => node = n,
                None => return node.pos,
            }
        }
        node.key_node(last).map_or(node.pos, |k| k.pos)
    }

    /// A short name for the kind of node, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
            Kind::Scalar { .. } if self.is_null() => "an empty value".into(),
            Kind::Scalar { text, .. } => format!("`{}`", truncate(text, 40)),
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n).collect();
        format!("{t}…")
    }
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

/// How much larger than its text a document may grow by expanding aliases.
const EXPANSION: usize = 10;
/// The budget of a small document (so a short file may still use a few aliases).
const MIN_BUDGET: usize = 1 << 20;
/// What a node costs in memory beside its text (the tree's own bookkeeping).
const NODE_BYTES: usize = 64;
/// No config file is larger than this.
pub const MAX_FILE: usize = 4 << 20;
/// Nesting deeper than this is refused (a config needs a handful of levels).
const MAX_DEPTH: usize = 64;

/// A node's size as the budget counts it: its bookkeeping plus its scalar bytes.
fn size_of(n: &Node) -> usize {
    match &n.kind {
        Kind::Scalar { text, .. } => NODE_BYTES + text.len(),
        Kind::Seq(items) => NODE_BYTES + items.iter().map(size_of).sum::<usize>(),
        Kind::Map(entries) => {
            NODE_BYTES
                + entries
                    .iter()
                    .map(|(k, v)| size_of(k) + size_of(v))
                    .sum::<usize>()
        }
    }
}

enum Frame {
    Seq(Pos, Vec<Node>, Option<usize>),
    Map(Pos, Vec<(Node, Node)>, Option<Node>, Option<usize>),
}

/// Parse one YAML document. An empty file is an empty mapping's absence: `Ok(None)`.
/// Errors name the file, line and column; duplicate keys are all reported.
pub fn parse(file: &str, text: &str) -> Result<Option<Node>, Vec<Diagnostic>> {
    if text.len() > MAX_FILE {
        return Err(vec![Diagnostic::error(
            file,
            Pos { line: 1, column: 1 },
            format!("{} bytes; a config file is at most {MAX_FILE}", text.len()),
        )]);
    }
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchor's node and its size (nodes plus scalar bytes), so an alias costs what
    // it expands to: a few hundred bytes of nested aliases ("billion laughs") would
    // otherwise grow to gigabytes.
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let budget = text.len().saturating_mul(EXPANSION).max(MIN_BUDGET);
    let mut spent = 0usize;
    let mut root: Option<Node> = None;
    let mut docs = 0usize;
    let mut diags = Vec::new();

    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(ev) => ev,
            Err(e) => {
                let m = e.marker();
                let pos = Pos {
                    line: m.line(),
                    column: m.col() + 1,
                };
                diags.push(
                    Diagnostic::error(file, pos, format!("YAML syntax error: {}", e.info()))
                        .with_help(
                            "check the indentation and quoting on this line and the one above",
                        ),
                );
                return Err(diags);
            }
        };
        let pos = pos_of(&span);
        if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..))
            && stack.len() >= MAX_DEPTH
        {
            diags.push(
                Diagnostic::error(file, pos, format!("nested more than {MAX_DEPTH} levels deep"))
                    .with_help("a gander config needs a handful of levels; this looks like a generated or hostile file"),
            );
            return Err(diags);
        }
        spent += match &event {
            Event::Scalar(v, ..) => NODE_BYTES + v.len(),
            Event::SequenceStart(..) | Event::MappingStart(..) => NODE_BYTES,
            Event::Alias(id) => anchors.get(id).map_or(0, |(_, size)| *size),
            _ => 0,
        };
        if spent > budget {
            diags.push(
                Diagnostic::error(
                    file,
                    pos,
                    format!(
                        "aliases expand this document past {budget} bytes ({EXPANSION}× its size); refused"
                    ),
                )
                .with_help("an alias repeats its anchor's whole value; nested aliases multiply (a YAML alias bomb)"),
            );
            return Err(diags);
        }
        let finished: Option<(Node, usize)> = match event {
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    diags.push(
                        Diagnostic::error(file, pos, "a second YAML document in one file")
                            .with_help("gander reads one document per file; remove the `---` separator or split the file"),
                    );
                    return Err(diags);
                }
                None
            }
            Event::Scalar(value, style, anchor, _tag) => Some((
                Node {
                    pos,
                    kind: Kind::Scalar {
                        text: value.into_owned(),
                        quoted: !matches!(style, ScalarStyle::Plain),
                    },
                },
                anchor,
            )),
            Event::Alias(id) => match anchors.get(&id) {
                Some((n, _)) => Some((n.clone(), 0)),
                None => {
                    diags.push(Diagnostic::error(file, pos, "alias to an unknown anchor"));
                    return Err(diags);
                }
            },
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(pos, Vec::new(), Some(anchor)));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(pos, Vec::new(), None, Some(anchor)));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(p, items, anchor)) => Some((
                    Node {
                        pos: p,
                        kind: Kind::Seq(items),
                    },
                    anchor.unwrap_or(0),
                )),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(p, entries, _, anchor)) => Some((
                    Node {
                        pos: p,
                        kind: Kind::Map(entries),
                    },
                    anchor.unwrap_or(0),
                )),
                _ => None,
            },
            _ => None,
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            // The copy kept for later aliases costs what it holds, too.
            let size = size_of(&node);
            spent += size;
            if spent > budget {
                diags.push(Diagnostic::error(
                    file,
                    node.pos,
                    format!("anchors and aliases grow this document past {budget} bytes; refused"),
                ));
                return Err(diags);
            }
            anchors.insert(anchor, (node.clone(), size));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(_, items, _)) => items.push(node),
            Some(Frame::Map(_, entries, pending_key, _)) => match pending_key.take() {
                None => {
                    if !matches!(node.kind, Kind::Scalar { .. }) {
                        diags.push(
                            Diagnostic::error(
                                file,
                                node.pos,
                                "a mapping key must be a plain value",
                            )
                            .with_help("write the key as a word, e.g. `name:`"),
                        );
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    if let Some(k) = key.as_str()
                        && let Some((first, _)) =
                            entries.iter().find(|(e, _)| e.as_str() == Some(k))
                    {
                        diags.push(
                            Diagnostic::error(file, key.pos, format!("duplicate key `{k}`"))
                                .with_help(format!(
                                    "`{k}` is already set on line {}; keep one of them",
                                    first.pos.line
                                )),
                        );
                    }
                    entries.push((key, node));
                }
            },
        }
    }
    if diags.is_empty() {
        Ok(root)
    } else {
        Err(diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let n = parse("f", "a:\n  b: [x, y]\n").unwrap().unwrap();
        assert_eq!(
            n.locate(&["a", "b", "1"]),
            Pos {
                line: 2,
                column: 10
            }
        );
        assert_eq!(n.locate_key(&["a", "b"]), Pos { line: 2, column: 3 });
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = parse("f.yaml", "a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "f.yaml:3:1: error: duplicate key `a`\n  help: `a` is already set on line 1; keep one of them"
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("f.yaml", "a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].message.starts_with("YAML syntax error"), "{}", e[0]);
        assert!(e[0].line >= 1);
    }

    #[test]
    fn empty_document_is_none() {
        assert_eq!(parse("f", "").unwrap(), None);
        assert_eq!(parse("f", "# only a comment\n").unwrap(), None);
    }

    #[test]
    fn aliases_resolve() {
        let n = parse("f", "a: &x [1]\nb: *x\n").unwrap().unwrap();
        assert_eq!(n.get("b").unwrap().index(0).unwrap().as_str(), Some("1"));
    }
}

//! The mustache subset role templates use: variables (`{{name}}`, JSON-escaped as
//! Elasticsearch's templates escape by default; `{{{name}}}` and `{{&name}}` unescaped), dotted
//! names, sections and inverted sections over booleans, lists and objects, `{{.}}`, comments,
//! and Elasticsearch's `{{#tojson}}name{{/tojson}}` and `{{#join}}name{{/join}}`.
//!
//! Work is bounded: sections nest at most [`MAX_DEPTH`] deep, and rendering stops with an error
//! once the output passes [`MAX_OUTPUT`] bytes or [`MAX_STEPS`] nodes were visited, whatever the
//! template or the data.

use serde_json::Value;

use crate::error::Error;

/// How deep sections may nest.
pub const MAX_DEPTH: usize = 32;
/// The most bytes one rendering may produce.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// The most template nodes one rendering may visit.
pub const MAX_STEPS: usize = 100_000;

/// A compiled template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Variable {
        name: String,
        escape: bool,
    },
    Section {
        name: String,
        inverted: bool,
        nodes: Vec<Node>,
    },
}

impl Template {
    /// Compiles `source`; an unclosed or mismatched tag, or a construct outside the subset
    /// (partials, delimiter changes), is an `illegal_argument_exception`.
    pub fn compile(source: &str) -> Result<Template, Error> {
        let mut stack: Vec<(String, bool, Vec<Node>)> = Vec::new();
        let mut nodes = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                nodes.push(Node::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let (tag, consumed) = if let Some(inner) = after.strip_prefix('{') {
                let end = inner
                    .find("}}}")
                    .ok_or_else(|| compile_error("unclosed tag [{{{]"))?;
                (format!("&{}", &inner[..end]), 1 + end + 3)
            } else {
                let end = after
                    .find("}}")
                    .ok_or_else(|| compile_error("unclosed tag [{{]"))?;
                (after[..end].to_owned(), end + 2)
            };
            rest = &after[consumed..];
            let tag = tag.trim();
            let (kind, name) = match tag.chars().next() {
                Some(kind @ ('#' | '^' | '/' | '&' | '!' | '>' | '=')) => {
                    (Some(kind), tag[kind.len_utf8()..].trim())
                }
                _ => (None, tag),
            };
            match kind {
                Some('!') => {}
                Some('>') => return Err(compile_error("partials are not supported")),
                Some('=') => return Err(compile_error("delimiter changes are not supported")),
                Some(kind @ ('#' | '^')) => {
                    check_name(name)?;
                    if stack.len() >= MAX_DEPTH {
                        return Err(compile_error(format!(
                            "sections nest deeper than {MAX_DEPTH}"
                        )));
                    }
                    stack.push((name.to_owned(), kind == '^', std::mem::take(&mut nodes)));
                }
                Some('/') => {
                    let Some((open, inverted, outer)) = stack.pop() else {
                        return Err(compile_error(format!(
                            "closing tag [{name}] without an open section"
                        )));
                    };
                    if open != name {
                        return Err(compile_error(format!(
                            "section [{open}] closed by [{name}]"
                        )));
                    }
                    let inner = std::mem::replace(&mut nodes, outer);
                    nodes.push(Node::Section {
                        name: open,
                        inverted,
                        nodes: inner,
                    });
                }
                Some('&') => {
                    check_name(name)?;
                    nodes.push(Node::Variable {
                        name: name.to_owned(),
                        escape: false,
                    });
                }
                _ => {
                    check_name(name)?;
                    nodes.push(Node::Variable {
                        name: name.to_owned(),
                        escape: true,
                    });
                }
            }
        }
        if !rest.is_empty() {
            nodes.push(Node::Text(rest.to_owned()));
        }
        if let Some((open, _, _)) = stack.last() {
            return Err(compile_error(format!("section [{open}] is not closed")));
        }
        Ok(Template { nodes })
    }

    /// Renders the template with `scope` (usually an object) as its outermost context.
    pub fn render(&self, scope: &Value) -> Result<String, Error> {
        let mut renderer = Renderer {
            output: String::new(),
            steps: 0,
        };
        let mut contexts = vec![scope];
        renderer.nodes(&self.nodes, &mut contexts)?;
        Ok(renderer.output)
    }
}

struct Renderer {
    output: String,
    steps: usize,
}

impl Renderer {
    fn nodes(&mut self, nodes: &[Node], contexts: &mut Vec<&Value>) -> Result<(), Error> {
        for node in nodes {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err(render_error(format!(
                    "rendering visits more than {MAX_STEPS} template nodes"
                )));
            }
            match node {
                Node::Text(text) => self.push(text)?,
                Node::Variable { name, escape } => {
                    let text = lookup(contexts, name).map(scalar_text).unwrap_or_default();
                    if *escape {
                        let escaped = json_escape(&text);
                        self.push(&escaped)?;
                    } else {
                        self.push(&text)?;
                    }
                }
                Node::Section {
                    name,
                    inverted,
                    nodes: inner,
                } if !inverted && (name == "tojson" || name == "join") => {
                    let key = plain_text(inner);
                    let value = lookup(contexts, key.trim());
                    let text = match (name.as_str(), value) {
                        ("tojson", Some(value)) => value.to_string(),
                        ("join", Some(Value::Array(items))) => {
                            items.iter().map(scalar_text).collect::<Vec<_>>().join(",")
                        }
                        ("join", Some(value)) => scalar_text(value),
                        _ => String::new(),
                    };
                    self.push(&text)?;
                }
                Node::Section {
                    name,
                    inverted,
                    nodes: inner,
                } => {
                    let value = lookup(contexts, name);
                    let truthy = match value {
                        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
                        Some(Value::Array(items)) => !items.is_empty(),
                        Some(_) => true,
                    };
                    if *inverted {
                        if !truthy {
                            self.nodes(inner, contexts)?;
                        }
                    } else if let Some(value) = value.filter(|_| truthy) {
                        match value {
                            Value::Array(items) => {
                                for item in items {
                                    contexts.push(item);
                                    let result = self.nodes(inner, contexts);
                                    contexts.pop();
                                    result?;
                                }
                            }
                            other => {
                                contexts.push(other);
                                let result = self.nodes(inner, contexts);
                                contexts.pop();
                                result?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, text: &str) -> Result<(), Error> {
        if self.output.len() + text.len() > MAX_OUTPUT {
            return Err(render_error(format!(
                "role template output exceeds {MAX_OUTPUT} bytes"
            )));
        }
        self.output.push_str(text);
        Ok(())
    }
}

/// Resolves `name` in the innermost context that has it: `.` is the current context; a dotted
/// name is tried whole first (the user's `realm.name`), then as a path.
fn lookup<'a>(contexts: &[&'a Value], name: &str) -> Option<&'a Value> {
    if name == "." {
        return contexts.last().copied();
    }
    for context in contexts.iter().rev() {
        let Value::Object(object) = context else {
            continue;
        };
        if let Some(value) = object.get(name) {
            return Some(value);
        }
        let mut parts = name.split('.');
        let first = parts.next()?;
        if let Some(mut value) = object.get(first) {
            for part in parts {
                value = match value {
                    Value::Object(inner) => inner.get(part)?,
                    Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
                    _ => return None,
                };
            }
            return Some(value);
        }
    }
    None
}

/// A value as a variable shows it: strings as they are, other scalars as JSON, nothing for null,
/// lists and objects as JSON.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The text of a section body made only of text (what `tojson` and `join` name).
fn plain_text(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(|node| match node {
            Node::Text(text) => text.clone(),
            Node::Variable { .. } | Node::Section { .. } => String::new(),
        })
        .collect()
}

/// The inside of a JSON string literal for `text`.
fn json_escape(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(compile_error("empty tag name"));
    }
    Ok(())
}

fn compile_error(detail: impl std::fmt::Display) -> Error {
    Error::illegal_argument(format!("failed to compile role template: {detail}"))
}

fn render_error(detail: impl std::fmt::Display) -> Error {
    Error::illegal_argument(format!("failed to render role template: {detail}"))
}

//! SBOMs checked against their specification's own JSON Schema (CycloneDX 1.4, 1.5, 1.6
//! and SPDX 2.2, 2.3), bundled and compiled in: see `schemas/README.md` for where each copy
//! comes from. Nothing is fetched; a reference outside the bundle is an error.

use serde_json::Value;
use std::sync::OnceLock;

/// Which schema a document is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    CycloneDx14,
    CycloneDx15,
    CycloneDx16,
    Spdx22,
    Spdx23,
}

impl Spec {
    pub fn name(self) -> &'static str {
        match self {
            Spec::CycloneDx14 => "CycloneDX 1.4",
            Spec::CycloneDx15 => "CycloneDX 1.5",
            Spec::CycloneDx16 => "CycloneDX 1.6",
            Spec::Spdx22 => "SPDX 2.2",
            Spec::Spdx23 => "SPDX 2.3",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Spec::CycloneDx14 => include_str!("schemas/cyclonedx-bom-1.4.schema.json"),
            Spec::CycloneDx15 => include_str!("schemas/cyclonedx-bom-1.5.schema.json"),
            Spec::CycloneDx16 => include_str!("schemas/cyclonedx-bom-1.6.schema.json"),
            Spec::Spdx22 => include_str!("schemas/spdx-2.2.schema.json"),
            Spec::Spdx23 => include_str!("schemas/spdx-2.3.schema.json"),
        }
    }

    fn slot(self) -> &'static OnceLock<Result<jsonschema::Validator, String>> {
        static SLOTS: [OnceLock<Result<jsonschema::Validator, String>>; 5] =
            [const { OnceLock::new() }; 5];
        &SLOTS[self as usize]
    }
}

/// Serves the two schemas the CycloneDX ones refer to, and nothing else.
struct Bundled;

impl jsonschema::Retrieve for Bundled {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let text = match uri.as_str().trim_end_matches('#') {
            "http://cyclonedx.org/schema/spdx.schema.json" => {
                include_str!("schemas/cyclonedx-spdx.schema.json")
            }
            "http://cyclonedx.org/schema/jsf-0.82.schema.json" => {
                include_str!("schemas/cyclonedx-jsf-0.82.schema.json")
            }
            other => return Err(format!("{other} is not bundled with gander").into()),
        };
        Ok(serde_json::from_str(text)?)
    }
}

fn validator(spec: Spec) -> Result<&'static jsonschema::Validator, String> {
    spec.slot()
        .get_or_init(|| {
            let schema: Value = serde_json::from_str(spec.text())
                .map_err(|e| format!("the bundled {} schema: {e}", spec.name()))?;
            jsonschema::options()
                .with_retriever(Bundled)
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| format!("the bundled {} schema: {e}", spec.name()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One way a document breaks its schema: where (a JSON pointer, `/` for the whole
/// document) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Long messages (an enum of 600 licence ids, a whole component echoed back) are cut.
const MAX_MESSAGE: usize = 160;

/// Where and why, made specific: "not valid under any of the schemas listed in oneOf"
/// says nothing, so for `oneOf`/`anyOf` the alternative that got furthest into the
/// document is followed ("/components/0/licenses/0/license/id: \"Apache-2\" is not one
/// of …"), and a long echo of the value is replaced by "this value".
fn explain(e: &jsonschema::ValidationError<'_>) -> (String, String) {
    use jsonschema::error::ValidationErrorKind as K;
    let branches = match e.kind() {
        K::AnyOf { context } | K::OneOfNotValid { context } => Some(context),
        _ => None,
    };
    if let Some(branches) = branches {
        let nearest = branches
            .iter()
            .filter_map(|b| b.first())
            .max_by_key(|x| x.instance_path().to_string().matches('/').count());
        if let Some(inner) = nearest {
            if inner.instance_path().to_string().len() > e.instance_path().to_string().len() {
                let (path, message) = explain(inner);
                return (path, format!("{message} (no alternative fits)"));
            }
        }
    }
    let mut message = e.to_string();
    let echo = e.instance().to_string();
    if echo.len() > 40 && message.starts_with(&echo) {
        message = format!("this value{}", &message[echo.len()..]);
    }
    (e.instance_path().to_string(), message)
}

/// Every violation of the spec's schema, at most `limit` of them, in document order.
/// An error only when the bundled schema itself cannot be compiled.
pub fn check(spec: Spec, doc: &Value, limit: usize) -> Result<Vec<Violation>, String> {
    let v = validator(spec)?;
    let mut out: Vec<Violation> = v
        .iter_errors(doc)
        .take(limit)
        .map(|e| {
            let (path, mut message) = explain(&e);
            if message.chars().count() > MAX_MESSAGE {
                message = message.chars().take(MAX_MESSAGE - 1).collect::<String>() + "…";
            }
            Violation {
                path: if path.is_empty() { "/".into() } else { path },
                message,
            }
        })
        .collect();
    // In the order the validator met them (document order), without repeats.
    let mut seen = std::collections::HashSet::new();
    out.retain(|v| seen.insert((v.path.clone(), v.message.clone())));
    Ok(out)
}

//! The XML Dialplan: contexts of extensions in FreeSWITCH's
//! `<context><extension><condition><action/>` format, and the hunt that turns
//! a destination into the list of Applications a Channel runs.
//!
//! Supported: `field`/`expression` conditions (caller profile fields and
//! `${variable}`), a condition without a field (always true), `$1`…`$9`
//! substitution from the last matching condition, `anti-action`,
//! `break="on-false|on-true|always|never"`, and `continue="true"` extensions.

use std::collections::HashMap;

use regex::Regex;
use thiserror::Error;

/// The dialplan shipped with the switch: FreeSWITCH-like `default` test
/// extensions, the `switchboard` park context and the fixtures' `esl_fixtures`.
pub const DEFAULT_DIALPLAN: &str = include_str!("../dialplan/default.xml");

/// A dialplan that does not load.
#[derive(Debug, Error)]
pub enum DialplanError {
    #[error("dialplan is not well-formed XML: {0}")]
    Xml(#[from] roxmltree::Error),
    #[error("extension `{extension}` has a bad expression `{expression}`: {source}")]
    Expression {
        extension: String,
        expression: String,
        source: regex::Error,
    },
}

/// One Application to run, with its argument as written (variables are
/// expanded when it runs, as FreeSWITCH does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub application: String,
    pub data: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    OnFalse,
    OnTrue,
    Always,
    Never,
}

#[derive(Debug, Clone)]
struct Condition {
    field: Option<String>,
    expression: Option<Regex>,
    brk: Break,
    actions: Vec<Action>,
    anti_actions: Vec<Action>,
}

#[derive(Debug, Clone)]
struct Extension {
    continue_on_match: bool,
    conditions: Vec<Condition>,
}

/// A loaded dialplan.
#[derive(Debug, Clone, Default)]
pub struct Dialplan {
    contexts: HashMap<String, Vec<Extension>>,
}

impl Dialplan {
    /// Loads every `<context>` found in the document, wherever it sits
    /// (`<document><section name="dialplan">`, `<include>` …).
    pub fn parse(xml: &str) -> Result<Self, DialplanError> {
        let doc = roxmltree::Document::parse(xml)?;
        let mut contexts: HashMap<String, Vec<Extension>> = HashMap::new();
        for ctx in doc.descendants().filter(|n| n.has_tag_name("context")) {
            let name = ctx.attribute("name").unwrap_or("default").to_owned();
            let exts = contexts.entry(name).or_default();
            for ext in ctx.children().filter(|n| n.has_tag_name("extension")) {
                let ext_name = ext.attribute("name").unwrap_or("");
                let mut conditions = Vec::new();
                for cond in ext.children().filter(|n| n.has_tag_name("condition")) {
                    let expression = match cond.attribute("expression") {
                        Some(e) => {
                            Some(Regex::new(e).map_err(|source| DialplanError::Expression {
                                extension: ext_name.to_owned(),
                                expression: e.to_owned(),
                                source,
                            })?)
                        }
                        None => None,
                    };
                    let brk = match cond.attribute("break") {
                        Some("on-true") => Break::OnTrue,
                        Some("always") => Break::Always,
                        Some("never") => Break::Never,
                        _ => Break::OnFalse,
                    };
                    let action = |n: roxmltree::Node| Action {
                        application: n.attribute("application").unwrap_or("").to_owned(),
                        data: n.attribute("data").unwrap_or("").to_owned(),
                    };
                    conditions.push(Condition {
                        field: cond.attribute("field").map(str::to_owned),
                        expression,
                        brk,
                        actions: cond
                            .children()
                            .filter(|n| n.has_tag_name("action"))
                            .map(action)
                            .collect(),
                        anti_actions: cond
                            .children()
                            .filter(|n| n.has_tag_name("anti-action"))
                            .map(action)
                            .collect(),
                    });
                }
                exts.push(Extension {
                    continue_on_match: ext.attribute("continue") == Some("true"),
                    conditions,
                });
            }
        }
        Ok(Self { contexts })
    }

    /// Whether the context exists.
    pub fn has_context(&self, context: &str) -> bool {
        self.contexts.contains_key(context)
    }

    /// Hunts the context for the Channel described by `field` (which answers
    /// `destination_number`, `caller_id_number`, `${var}` …) and returns the
    /// Applications to run, or `None` when no extension matched.
    pub fn hunt(
        &self,
        context: &str,
        field: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Vec<Action>> {
        let exts = self.contexts.get(context)?;
        let mut out = Vec::new();
        let mut matched = false;
        for ext in exts {
            let mut ext_actions = Vec::new();
            let mut all_true = true;
            for cond in &ext.conditions {
                let (pass, captures) = evaluate(cond, field);
                if pass {
                    ext_actions.extend(cond.actions.iter().map(|a| substitute(a, &captures)));
                } else {
                    ext_actions.extend(cond.anti_actions.iter().map(|a| substitute(a, &captures)));
                    all_true = false;
                }
                let stop = match cond.brk {
                    Break::OnFalse => !pass,
                    Break::OnTrue => pass,
                    Break::Always => true,
                    Break::Never => false,
                };
                if stop {
                    break;
                }
            }
            if all_true || !ext_actions.is_empty() {
                matched |= all_true;
                out.extend(ext_actions);
                if all_true && !ext.continue_on_match {
                    break;
                }
            }
        }
        matched.then_some(out)
    }
}

fn evaluate(cond: &Condition, field: &dyn Fn(&str) -> Option<String>) -> (bool, Vec<String>) {
    let (Some(name), Some(re)) = (&cond.field, &cond.expression) else {
        return (true, Vec::new());
    };
    let value = if let Some(var) = name.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        field(&format!("${{{var}}}")).unwrap_or_default()
    } else {
        field(name).unwrap_or_default()
    };
    match re.captures(&value) {
        Some(caps) => (
            true,
            caps.iter()
                .map(|m| m.map(|m| m.as_str().to_owned()).unwrap_or_default())
                .collect(),
        ),
        None => (false, Vec::new()),
    }
}

fn substitute(action: &Action, captures: &[String]) -> Action {
    let mut data = String::with_capacity(action.data.len());
    let mut chars = action.data.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            if let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                chars.next();
                data.push_str(captures.get(d as usize).map(String::as_str).unwrap_or(""));
                continue;
            }
        }
        data.push(c);
    }
    Action {
        application: action.application.clone(),
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(dest: &'static str) -> impl Fn(&str) -> Option<String> {
        move |f| match f {
            "destination_number" => Some(dest.to_owned()),
            "caller_id_number" => Some("1000".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn the_shipped_dialplan_loads_with_its_three_contexts() {
        let dp = Dialplan::parse(DEFAULT_DIALPLAN).unwrap();
        for ctx in ["default", "switchboard", "esl_fixtures"] {
            assert!(dp.has_context(ctx), "{ctx}");
        }
    }

    #[test]
    fn the_fixture_extensions_run_what_the_fixtures_readme_lists() {
        let dp = Dialplan::parse(DEFAULT_DIALPLAN).unwrap();
        let apps = |d| {
            dp.hunt("esl_fixtures", &profile(d))
                .unwrap()
                .into_iter()
                .map(|a| a.application)
                .collect::<Vec<_>>()
        };
        assert_eq!(apps("7101"), ["ring_ready", "playback", "park"]);
        assert_eq!(apps("7100"), ["answer", "playback", "park"]);
        assert_eq!(apps("7200"), ["socket"]);
        assert_eq!(apps("7300"), ["answer", "park"]);
        assert_eq!(apps("7400"), ["answer", "conference"]);
        assert!(dp.hunt("esl_fixtures", &profile("9999")).is_none());
    }

    #[test]
    fn captures_substitute_and_anti_actions_run_on_false() {
        let xml = r#"<include><context name="t">
            <extension name="a" continue="true"><condition field="caller_id_number" expression="^2000$">
              <action application="log" data="never"/><anti-action application="set" data="vip=false"/></condition></extension>
            <extension name="b"><condition field="destination_number" expression="^(\d+)$">
              <action application="set" data="dest=$1"/><action application="park"/></condition></extension>
        </context></include>"#;
        let dp = Dialplan::parse(xml).unwrap();
        let apps = dp.hunt("t", &profile("42")).unwrap();
        assert_eq!(
            apps,
            vec![
                Action {
                    application: "set".into(),
                    data: "vip=false".into()
                },
                Action {
                    application: "set".into(),
                    data: "dest=42".into()
                },
                Action {
                    application: "park".into(),
                    data: "".into()
                },
            ]
        );
    }

    #[test]
    fn a_bad_expression_names_its_extension() {
        let xml = r#"<context name="t"><extension name="broken"><condition field="destination_number" expression="("/></extension></context>"#;
        let err = Dialplan::parse(xml).unwrap_err().to_string();
        assert!(err.contains("broken"), "{err}");
    }
}

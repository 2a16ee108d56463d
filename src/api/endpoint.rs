//! The API's endpoints as data: each one is routed and documented from the
//! same description, so the OpenAPI document at `/openapi.json` cannot drift
//! from what is served.

use std::sync::Arc;

use axum::routing::MethodRouter;
use serde_json::{json, Map, Value};

use super::resource::FieldKind;
use crate::app::App;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Delete,
}

/// A request parameter: form field of a POST, query parameter of a GET.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
}

pub const fn param(name: &'static str, kind: FieldKind) -> Param {
    Param {
        name,
        kind,
        required: false,
    }
}

pub const fn required(name: &'static str, kind: FieldKind) -> Param {
    Param {
        name,
        kind,
        required: true,
    }
}

/// What a successful answer carries.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// 200 (or 201 for a create) with one resource.
    One { status: u16 },
    /// 200 with a page; the resources are under this key.
    Page { key: &'static str },
    /// 204, no body.
    Nothing,
}

pub struct Endpoint {
    pub verb: Verb,
    /// Twilio's path, e.g. `/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json`.
    pub path: String,
    pub operation: String,
    pub summary: String,
    pub params: Vec<Param>,
    pub answer: Answer,
    pub handler: MethodRouter<Arc<App>>,
}

impl Endpoint {
    pub fn new(
        verb: Verb,
        path: String,
        operation: &str,
        summary: &str,
        params: Vec<Param>,
        answer: Answer,
        handler: MethodRouter<Arc<App>>,
    ) -> Endpoint {
        Endpoint {
            verb,
            path,
            operation: operation.into(),
            summary: summary.into(),
            params,
            answer,
            handler,
        }
    }

    /// The route axum matches: a parameter must fill a whole segment, so
    /// `{Sid}.json` is captured whole and the handler strips the suffix.
    pub fn route(&self) -> String {
        // A parent's SID takes `{sid}`'s place, as axum wants one name per
        // position: `…/Queues/{sid}` and `…/Queues/{sid}/Members/{member}`.
        let parent = PARENTS.iter().find(|p| self.path.contains(*p));
        let member = if parent.is_some() {
            "{member}"
        } else {
            "{sid}"
        };
        let mut route = self
            .path
            .replace("{AccountSid}.json", "{account}")
            .replace("{AccountSid}", "{account}")
            .replace("{Sid}.json", member)
            .replace("{Sid}", member);
        if let Some(parent) = parent {
            route = route.replace(parent, "{sid}");
        }
        route
    }
}

/// Path parameters naming the resource a sub-resource belongs to.
const PARENTS: [&str; 2] = ["{ConferenceSid}", "{QueueSid}"];

fn schema(kind: FieldKind) -> Value {
    match kind {
        FieldKind::Text => json!({"type": "string"}),
        FieldKind::Url => json!({"type": "string", "format": "uri"}),
        FieldKind::Method => json!({"type": "string", "enum": ["GET", "POST"]}),
        FieldKind::Bool => json!({"type": "boolean"}),
        FieldKind::PhoneNumber => json!({"type": "string", "pattern": "^\\+[1-9][0-9]{1,14}$"}),
        FieldKind::ApplicationSid => json!({"type": "string", "pattern": "^AP[0-9a-f]{32}$"}),
    }
}

/// The OpenAPI 3 document for `endpoints`.
pub fn openapi(endpoints: &[Endpoint]) -> Value {
    let mut paths = Map::new();
    for endpoint in endpoints {
        let mut parameters: Vec<Value> = ["AccountSid", "ConferenceSid", "QueueSid", "Sid"]
            .into_iter()
            .filter(|name| endpoint.path.contains(&format!("{{{name}}}")))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut operation = json!({
            "operationId": endpoint.operation,
            "summary": endpoint.summary,
            "security": [{"basic": []}],
        });
        match endpoint.verb {
            Verb::Post => {
                let properties: Map<String, Value> = endpoint
                    .params
                    .iter()
                    .map(|p| (p.name.to_owned(), schema(p.kind)))
                    .collect();
                let required: Vec<&str> = endpoint.params.iter().filter(|p| p.required).map(|p| p.name).collect();
                operation["requestBody"] = json!({
                    "content": {"application/x-www-form-urlencoded": {"schema": {
                        "type": "object", "properties": properties, "required": required,
                    }}}
                });
            }
            Verb::Get | Verb::Delete => parameters.extend(endpoint.params.iter().map(|p| {
                json!({"name": p.name, "in": "query", "required": p.required, "schema": schema(p.kind)})
            })),
        }
        operation["parameters"] = Value::Array(parameters);
        let error = json!({"description": "Twilio error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let mut responses = json!({"401": error, "404": error, "400": error});
        match endpoint.answer {
            Answer::One { status } => {
                responses[status.to_string()] = json!({"description": "The resource", "content": {"application/json": {"schema": {"type": "object"}}}});
            }
            Answer::Page { key } => {
                responses["200"] = json!({"description": "A page", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page", "properties": {key: {"type": "array", "items": {"type": "object"}}}}}}});
            }
            Answer::Nothing => responses["204"] = json!({"description": "Deleted"}),
        }
        operation["responses"] = responses;
        let verb = match endpoint.verb {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Delete => "delete",
        };
        paths
            .entry(endpoint.path.clone())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object")
            .insert(verb.to_owned(), operation);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Switchboard REST API",
            "version": super::VERSION,
            "description": "Twilio 2010-04-01 compatible programmable voice API.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message", "more_info", "status"], "properties": {
                    "code": {"type": "integer"}, "message": {"type": "string"},
                    "more_info": {"type": "string"}, "status": {"type": "integer"},
                }},
                "Page": {"type": "object", "properties": {
                    "first_page_uri": {"type": "string"}, "next_page_uri": {"type": "string", "nullable": true},
                    "previous_page_uri": {"type": "string", "nullable": true}, "uri": {"type": "string"},
                    "page": {"type": "integer"}, "page_size": {"type": "integer"},
                    "start": {"type": "integer"}, "end": {"type": "integer"},
                }},
            },
        },
    })
}

//! Resources that are an account's bag of settings (Applications,
//! IncomingPhoneNumbers): described once as data, served with create, fetch,
//! update, delete and list, and documented in the OpenAPI from the same data.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Map, Value};
use sqlx::Row;

use super::auth::Scope;
use super::endpoint::{param, Answer, Endpoint, Param, Verb};
use super::page::List;
use super::params::{invalid, Form, Params, INVALID_URL};
use super::{json_segment, rfc2822, ApiError, VERSION};
use crate::app::App;
use crate::sid::{Kind, Sid};
use crate::store::{now_millis, Column, Listing, Record};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// An absolute http(s) URL.
    Url,
    /// GET or POST.
    Method,
    Bool,
    /// E.164, e.g. +14155550100.
    PhoneNumber,
    /// An Application of the same account.
    ApplicationSid,
}

/// One setting: its request parameter, its column (= JSON field), its default.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub param: &'static str,
    pub column: &'static str,
    pub kind: FieldKind,
    pub default: Option<&'static str>,
    /// Set at creation only.
    pub fixed: bool,
}

const fn field(param: &'static str, column: &'static str, kind: FieldKind) -> Field {
    Field {
        param,
        column,
        kind,
        default: None,
        fixed: false,
    }
}

const fn with_default(mut f: Field, default: &'static str) -> Field {
    f.default = Some(default);
    f
}

const fn fixed(mut f: Field) -> Field {
    f.fixed = true;
    f
}

/// A resource described as data.
pub struct Resource {
    /// The path segment, e.g. `Applications`.
    pub name: &'static str,
    /// The key of the list in a page, e.g. `applications`.
    pub list_key: &'static str,
    pub table: &'static str,
    pub kind: Kind,
    pub fields: &'static [Field],
    /// Parameters a create must carry, with the code for their absence.
    pub required: &'static [(&'static str, u32)],
    /// List filters: parameter and SQL condition.
    pub filters: &'static [(&'static str, &'static str)],
    /// Columns elsewhere that point at this resource, cleared when it is deleted.
    pub referenced_by: &'static [(&'static str, &'static str)],
    /// Fields of the JSON shape that are not settings.
    pub extra: fn(&Map<String, Value>) -> Value,
}

const VOICE_FIELDS: [Field; 8] = [
    with_default(field("ApiVersion", "api_version", FieldKind::Text), VERSION),
    field("VoiceUrl", "voice_url", FieldKind::Url),
    with_default(
        field("VoiceMethod", "voice_method", FieldKind::Method),
        "POST",
    ),
    field("VoiceFallbackUrl", "voice_fallback_url", FieldKind::Url),
    with_default(
        field(
            "VoiceFallbackMethod",
            "voice_fallback_method",
            FieldKind::Method,
        ),
        "POST",
    ),
    field("StatusCallback", "status_callback", FieldKind::Url),
    with_default(
        field(
            "StatusCallbackMethod",
            "status_callback_method",
            FieldKind::Method,
        ),
        "POST",
    ),
    with_default(
        field(
            "VoiceCallerIdLookup",
            "voice_caller_id_lookup",
            FieldKind::Bool,
        ),
        "false",
    ),
];

pub static APPLICATIONS: Resource = Resource {
    name: "Applications",
    list_key: "applications",
    table: "applications",
    kind: Kind::Application,
    fields: &[
        field("FriendlyName", "friendly_name", FieldKind::Text),
        VOICE_FIELDS[0],
        VOICE_FIELDS[1],
        VOICE_FIELDS[2],
        VOICE_FIELDS[3],
        VOICE_FIELDS[4],
        VOICE_FIELDS[5],
        VOICE_FIELDS[6],
        VOICE_FIELDS[7],
        field("SmsUrl", "sms_url", FieldKind::Url),
        with_default(field("SmsMethod", "sms_method", FieldKind::Method), "POST"),
        field("SmsFallbackUrl", "sms_fallback_url", FieldKind::Url),
        with_default(
            field(
                "SmsFallbackMethod",
                "sms_fallback_method",
                FieldKind::Method,
            ),
            "POST",
        ),
        field("SmsStatusCallback", "sms_status_callback", FieldKind::Url),
        field(
            "MessageStatusCallback",
            "message_status_callback",
            FieldKind::Url,
        ),
        with_default(
            field(
                "PublicApplicationConnectEnabled",
                "public_application_connect_enabled",
                FieldKind::Bool,
            ),
            "false",
        ),
    ],
    required: &[],
    filters: &[("FriendlyName", "friendly_name =")],
    referenced_by: &[
        ("incoming_phone_numbers", "voice_application_sid"),
        ("incoming_phone_numbers", "sms_application_sid"),
    ],
    extra: |_| json!({}),
};

pub static INCOMING_PHONE_NUMBERS: Resource = Resource {
    name: "IncomingPhoneNumbers",
    list_key: "incoming_phone_numbers",
    table: "incoming_phone_numbers",
    kind: Kind::PhoneNumber,
    fields: &[
        fixed(field("PhoneNumber", "phone_number", FieldKind::PhoneNumber)),
        field("FriendlyName", "friendly_name", FieldKind::Text),
        VOICE_FIELDS[0],
        VOICE_FIELDS[1],
        VOICE_FIELDS[2],
        VOICE_FIELDS[3],
        VOICE_FIELDS[4],
        VOICE_FIELDS[5],
        VOICE_FIELDS[6],
        VOICE_FIELDS[7],
        field(
            "VoiceApplicationSid",
            "voice_application_sid",
            FieldKind::ApplicationSid,
        ),
        field("SmsUrl", "sms_url", FieldKind::Url),
        with_default(field("SmsMethod", "sms_method", FieldKind::Method), "POST"),
        field("SmsFallbackUrl", "sms_fallback_url", FieldKind::Url),
        with_default(
            field(
                "SmsFallbackMethod",
                "sms_fallback_method",
                FieldKind::Method,
            ),
            "POST",
        ),
        field(
            "SmsApplicationSid",
            "sms_application_sid",
            FieldKind::ApplicationSid,
        ),
    ],
    // 21421: PhoneNumber is required (and must be valid).
    required: &[("PhoneNumber", 21421)],
    filters: &[
        ("PhoneNumber", "phone_number ="),
        ("FriendlyName", "friendly_name ="),
    ],
    referenced_by: &[],
    extra: |_| {
        json!({
            "capabilities": {"voice": true, "sms": false, "mms": false, "fax": false},
            "status": "in-use",
            "origin": "switchboard",
            "beta": false,
            "voice_receive_mode": "voice",
        })
    },
};

/// Every resource served this way.
pub static RESOURCES: [&Resource; 2] = [&APPLICATIONS, &INCOMING_PHONE_NUMBERS];

impl Resource {
    fn columns(&self) -> String {
        let mut columns = vec!["sid", "account_sid", "date_created", "date_updated"];
        columns.extend(self.fields.iter().map(|f| f.column));
        columns.join(", ")
    }

    fn list_path(&self, account_sid: &str) -> String {
        format!("/{VERSION}/Accounts/{account_sid}/{}.json", self.name)
    }

    /// Create, list, fetch, update and delete, described and routed.
    pub fn endpoints(&'static self) -> Vec<Endpoint> {
        use axum::routing::{delete as del, get, post};
        let singular = self.name.trim_end_matches('s');
        let list_path = format!("/{VERSION}/Accounts/{{AccountSid}}/{}.json", self.name);
        let instance_path = format!(
            "/{VERSION}/Accounts/{{AccountSid}}/{}/{{Sid}}.json",
            self.name
        );
        let settings = |creating: bool| -> Vec<Param> {
            self.fields
                .iter()
                .filter(|f| creating || !f.fixed)
                .map(|f| Param {
                    name: f.param,
                    kind: f.kind,
                    required: creating && self.required.iter().any(|(p, _)| *p == f.param),
                })
                .collect()
        };
        let mut filters: Vec<Param> = self
            .filters
            .iter()
            .map(|(p, _)| param(p, FieldKind::Text))
            .collect();
        filters.extend(["PageSize", "Page", "PageToken"].map(|p| param(p, FieldKind::Text)));
        vec![
            Endpoint {
                verb: Verb::Get,
                path: list_path.clone(),
                operation: format!("list{singular}"),
                summary: format!("List {}", self.name),
                params: filters,
                answer: Answer::Page { key: self.list_key },
                handler: get(move |state, scope, uri| list(self, state, scope, uri)),
            },
            Endpoint {
                verb: Verb::Post,
                path: list_path,
                operation: format!("create{singular}"),
                summary: format!("Create one of {}", self.name),
                params: settings(true),
                answer: Answer::One { status: 201 },
                handler: post(move |state, scope, form| create(self, state, scope, form)),
            },
            Endpoint {
                verb: Verb::Get,
                path: instance_path.clone(),
                operation: format!("fetch{singular}"),
                summary: format!("Fetch one of {}", self.name),
                params: vec![],
                answer: Answer::One { status: 200 },
                handler: get(move |state, scope, uri, path| fetch(self, state, scope, uri, path)),
            },
            Endpoint {
                verb: Verb::Post,
                path: instance_path.clone(),
                operation: format!("update{singular}"),
                summary: format!("Update one of {}", self.name),
                params: settings(false),
                answer: Answer::One { status: 200 },
                handler: post(move |state, scope, uri, path, form| {
                    update(self, state, scope, uri, path, form)
                }),
            },
            Endpoint {
                verb: Verb::Delete,
                path: instance_path,
                operation: format!("delete{singular}"),
                summary: format!("Delete one of {}", self.name),
                params: vec![],
                answer: Answer::Nothing,
                handler: del(move |state, scope, uri, path| delete(self, state, scope, uri, path)),
            },
        ]
    }

    /// The row `segment` (`{Sid}.json`) names, in the caller's account only.
    fn record<'a>(
        &self,
        scope: &'a Scope,
        segment: &'a str,
        path: &str,
    ) -> Result<Record<'a>, ApiError> {
        Ok(Record {
            table: self.table,
            sid: json_segment(segment, path)?,
            account_sid: &scope.account.sid,
        })
    }

    /// The row in Twilio's JSON shape, or 404 naming `path`.
    async fn fetch_json(
        &self,
        app: &App,
        record: &Record<'_>,
        path: &str,
    ) -> Result<Json<Value>, ApiError> {
        let row = app
            .store
            .fetch_record(record, &self.columns())
            .await?
            .ok_or_else(|| ApiError::not_found(path))?;
        Ok(Json(
            self.to_json(&row).map_err(|e| ApiError::internal(&e))?,
        ))
    }

    /// The row in Twilio's JSON shape.
    fn to_json(&self, row: &sqlx::any::AnyRow) -> Result<Value, sqlx::Error> {
        let text = |column: &str| row.try_get::<Option<String>, _>(column);
        let mut object = Map::new();
        let sid = text("sid")?.unwrap_or_default();
        let account_sid = text("account_sid")?.unwrap_or_default();
        for f in self.fields {
            let value = match f.kind {
                FieldKind::Bool => Value::Bool(row.try_get::<i64, _>(f.column)? != 0),
                _ => text(f.column)?.map(Value::String).unwrap_or(Value::Null),
            };
            object.insert(f.column.to_owned(), value);
        }
        for column in ["date_created", "date_updated"] {
            let millis: i64 = row.try_get(column)?;
            object.insert(column.to_owned(), Value::String(rfc2822(millis)));
        }
        if let Value::Object(extra) = (self.extra)(&object) {
            object.extend(extra);
        }
        object.insert(
            "uri".to_owned(),
            Value::String(format!(
                "/{VERSION}/Accounts/{account_sid}/{}/{sid}.json",
                self.name
            )),
        );
        object.insert("sid".to_owned(), Value::String(sid));
        object.insert("account_sid".to_owned(), Value::String(account_sid));
        Ok(Value::Object(object))
    }

    /// Validates the parameters present in `params` into columns; on create,
    /// absent ones take their defaults.
    async fn columns_from(
        &self,
        app: &App,
        account_sid: &str,
        params: &Params,
        creating: bool,
    ) -> Result<Vec<(&'static str, Column)>, ApiError> {
        for (param, code) in self.required {
            if creating {
                params.require(param, *code)?;
            }
        }
        let mut columns = Vec::new();
        for f in self.fields {
            if f.fixed && !creating {
                continue;
            }
            let given = params.get(f.param);
            if given.is_none() && !creating {
                continue;
            }
            let value = match given.or(f.default) {
                None => match f.kind {
                    FieldKind::Bool => Column::Int(0),
                    _ => Column::Text(None),
                },
                Some(raw) => self.check(app, account_sid, f, raw).await?,
            };
            columns.push((f.column, value));
        }
        Ok(columns)
    }

    async fn check(
        &self,
        app: &App,
        account_sid: &str,
        f: &Field,
        raw: &str,
    ) -> Result<Column, ApiError> {
        let one = Params::parse(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair(f.param, raw)
                .finish()
                .as_bytes(),
        );
        Ok(match f.kind {
            FieldKind::Text => Column::Text(Some(raw.to_owned())),
            FieldKind::Url => Column::Text(one.url(f.param, INVALID_URL)?),
            FieldKind::Method => Column::Text(one.method(f.param)?),
            FieldKind::Bool => Column::Int(i64::from(one.boolean(f.param)?.unwrap_or(false))),
            FieldKind::PhoneNumber => {
                if !is_e164(raw) {
                    return Err(ApiError::bad_request(
                        21421,
                        format!("PhoneNumber is invalid: {raw:?} is not an E.164 number such as +14155550100."),
                    ));
                }
                Column::Text(Some(raw.to_owned()))
            }
            FieldKind::ApplicationSid if raw.is_empty() => Column::Text(None),
            FieldKind::ApplicationSid => {
                let owned = app
                    .store
                    .fetch_record(
                        &Record {
                            table: APPLICATIONS.table,
                            sid: raw,
                            account_sid,
                        },
                        "sid",
                    )
                    .await?
                    .is_some();
                if !owned {
                    return Err(invalid(
                        f.param,
                        raw,
                        "is not an Application of this account",
                    ));
                }
                Column::Text(Some(raw.to_owned()))
            }
        })
    }
}

/// `+` then 2 to 15 digits, the first not zero.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

async fn create(
    resource: &'static Resource,
    State(app): State<Arc<App>>,
    scope: Scope,
    Form(params): Form,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account_sid = scope.account.sid.as_str();
    let mut columns = resource
        .columns_from(&app, account_sid, &params, true)
        .await?;
    if resource.kind == Kind::PhoneNumber {
        let number = params.get("PhoneNumber").unwrap_or_default();
        if app
            .store
            .exists(resource.table, "phone_number", number)
            .await?
        {
            return Err(ApiError::bad_request(
                21422,
                format!("PhoneNumber {number} is not available: it is already in use."),
            ));
        }
        // Twilio names a number after itself unless told otherwise.
        if let Some((_, Column::Text(name @ None))) =
            columns.iter_mut().find(|(c, _)| *c == "friendly_name")
        {
            *name = Some(number.to_owned());
        }
    }
    let sid = Sid::new(resource.kind);
    let record = Record {
        table: resource.table,
        sid: sid.as_str(),
        account_sid,
    };
    app.store
        .insert_record(&record, &columns, now_millis())
        .await?;
    let row = app
        .store
        .fetch_record(&record, &resource.columns())
        .await?
        .ok_or_else(|| ApiError::internal(&"a created row vanished"))?;
    let created = resource.to_json(&row).map_err(|e| ApiError::internal(&e))?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn fetch(
    resource: &'static Resource,
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let record = resource.record(&scope, &segment, uri.path())?;
    resource.fetch_json(&app, &record, uri.path()).await
}

async fn update(
    resource: &'static Resource,
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
    Form(params): Form,
) -> Result<Json<Value>, ApiError> {
    let record = resource.record(&scope, &segment, uri.path())?;
    let columns = resource
        .columns_from(&app, &scope.account.sid, &params, false)
        .await?;
    if !app
        .store
        .update_record(&record, &columns, now_millis())
        .await?
    {
        return Err(ApiError::not_found(uri.path()));
    }
    resource.fetch_json(&app, &record, uri.path()).await
}

async fn delete(
    resource: &'static Resource,
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let record = resource.record(&scope, &segment, uri.path())?;
    if app
        .store
        .delete_record(&record, resource.referenced_by)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(uri.path()))
    }
}

async fn list(
    resource: &'static Resource,
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let params = Params::from_query(uri.query());
    let path = resource.list_path(&scope.account.sid);
    let columns = resource.columns();
    let listing = Listing::new(resource.table, &columns, &scope.account.sid);
    let mut list = List::new(resource.list_key, &path, listing);
    list.filter_equal(&params, resource.filters);
    list.answer(&app, &params, |row| resource.to_json(row))
        .await
}

#[cfg(test)]
mod tests {
    use super::is_e164;

    #[test]
    fn e164_numbers_have_a_plus_and_up_to_15_digits() {
        assert!(is_e164("+14155550100"));
        assert!(!is_e164("14155550100"));
        assert!(!is_e164("+0155"));
        assert!(!is_e164("+1415555010012345"));
        assert!(!is_e164("+1 415 555"));
    }
}

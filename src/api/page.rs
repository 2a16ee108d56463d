//! Twilio's list envelope: `PageSize`, `Page`, `PageToken` in, and
//! `first_page_uri`, `next_page_uri`, `previous_page_uri` out.

use serde_json::{json, Value};

use super::params::{invalid, Params};
use super::ApiError;
use crate::store::{Cursor, Page, PageRequest};

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 1000;

/// Reads the paging parameters of a list request.
pub fn page_request(params: &Params) -> Result<PageRequest, ApiError> {
    let size = params
        .integer("PageSize", 1..=MAX_PAGE_SIZE)?
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let number = params
        .integer("Page", 0..=i64::from(u32::MAX))?
        .unwrap_or(0);
    let after = match params.get("PageToken") {
        None | Some("") => None,
        Some(token) => Some(
            Cursor::parse(token)
                .ok_or_else(|| invalid("PageToken", token, "is not a page token"))?,
        ),
    };
    Ok(PageRequest {
        size,
        number,
        after,
    })
}

/// The list body: `key` holds `items`; the URIs keep the request's filters.
pub fn envelope(
    key: &str,
    path: &str,
    filters: &[(&str, &str)],
    request: &PageRequest,
    page: &Page,
    items: Vec<Value>,
) -> Result<Value, ApiError> {
    let uri = |number: i64, token: Option<&str>| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in filters {
            query.append_pair(name, value);
        }
        query.append_pair("PageSize", &request.size.to_string());
        query.append_pair("Page", &number.to_string());
        if let Some(token) = token {
            query.append_pair("PageToken", token);
        }
        format!("{path}?{}", query.finish())
    };
    let next = page
        .next_cursor()?
        .map(|cursor| uri(request.number + 1, Some(&cursor.token())));
    let start = request.number * request.size;
    let current_token = request.after.as_ref().map(Cursor::token);
    Ok(json!({
        "first_page_uri": uri(0, None),
        "end": start + (items.len() as i64 - 1).max(0),
        "next_page_uri": next,
        "page": request.number,
        "page_size": request.size,
        "previous_page_uri": (request.number > 0).then(|| uri(request.number - 1, None)),
        "start": start,
        "uri": uri(request.number, current_token.as_deref()),
        key: items,
    }))
}

/// The list body for items held in memory (a queue's callers): paged by
/// `Page` over the whole list, which is short.
pub fn memory_envelope(key: &str, path: &str, request: &PageRequest, items: Vec<Value>) -> Value {
    let uri = |number: i64| format!("{path}?PageSize={}&Page={number}", request.size);
    let start = (request.number * request.size) as usize;
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(request.size as usize)
        .collect();
    let more = start + page.len() < total;
    json!({
        "first_page_uri": uri(0),
        "end": start as i64 + (page.len() as i64 - 1).max(0),
        "next_page_uri": more.then(|| uri(request.number + 1)),
        "page": request.number,
        "page_size": request.size,
        "previous_page_uri": (request.number > 0).then(|| uri(request.number - 1)),
        "start": start,
        "uri": uri(request.number),
        key: page,
    })
}

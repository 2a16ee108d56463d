//! Twilio's list envelope: `PageSize`, `Page`, `PageToken` in, and
//! `first_page_uri`, `next_page_uri`, `previous_page_uri` out. Every list
//! endpoint answers through [`List::answer`].

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use sqlx::any::AnyRow;

use super::params::{invalid, Params};
use super::ApiError;
use crate::app::App;
use crate::store::{Column, Cursor, Listing, Page, PageRequest};

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 1000;

/// A list endpoint's answer in the making: which rows, and how it is addressed.
pub struct List<'a> {
    /// The key the rows go under, e.g. `calls`.
    pub key: &'a str,
    /// The list's path, which its page URIs start with.
    pub path: &'a str,
    pub listing: Listing<'a>,
    /// The request's filters as given, which the page URIs carry on.
    pub echo: Vec<(&'a str, &'a str)>,
}

impl<'a> List<'a> {
    pub fn new(key: &'a str, path: &'a str, listing: Listing<'a>) -> List<'a> {
        List {
            key,
            path,
            listing,
            echo: Vec::new(),
        }
    }

    /// The filter parameter `param`, given as `given`, keeps the rows where
    /// `condition` holds for `value`.
    pub fn filter(&mut self, param: &'a str, given: &'a str, condition: &'a str, value: Column) {
        self.echo.push((param, given));
        self.listing.filter(condition, value);
    }

    /// Filters on text parameters that are compared as given: `(param, condition)`.
    pub fn filter_equal(&mut self, params: &'a Params, filters: &[(&'a str, &'a str)]) {
        for &(param, condition) in filters {
            if let Some(given) = params.get(param) {
                self.filter(
                    param,
                    given,
                    condition,
                    Column::Text(Some(given.to_owned())),
                );
            }
        }
    }

    /// Reads the paging parameters, fetches the page, renders each row and
    /// wraps them in Twilio's envelope.
    pub async fn answer<R: Serialize, E: std::fmt::Display>(
        self,
        app: &App,
        params: &Params,
        render: impl Fn(&AnyRow) -> Result<R, E>,
    ) -> Result<Response, ApiError> {
        let request = page_request(params)?;
        let page = app.store.list(&self.listing, &request).await?;
        let items = page
            .rows
            .iter()
            .map(render)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::internal(&e))?;
        let body = envelope(self.key, self.path, &self.echo, &request, &page, items)?;
        Ok(Json(body).into_response())
    }
}

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

/// A page of a list as Twilio shapes it: the items under their key, and
/// where this page sits.
#[derive(Serialize)]
struct Envelope<'a, R> {
    #[serde(flatten)]
    items: BTreeMap<&'a str, Vec<R>>,
    end: i64,
    first_page_uri: String,
    next_page_uri: Option<String>,
    page: i64,
    page_size: i64,
    previous_page_uri: Option<String>,
    start: i64,
    uri: String,
}

/// The list body: `key` holds `items`; the URIs keep the request's filters.
fn envelope<'a, R>(
    key: &'a str,
    path: &str,
    filters: &[(&str, &str)],
    request: &PageRequest,
    page: &Page,
    items: Vec<R>,
) -> Result<Envelope<'a, R>, ApiError> {
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
    Ok(Envelope {
        end: start + (items.len() as i64 - 1).max(0),
        items: BTreeMap::from([(key, items)]),
        first_page_uri: uri(0, None),
        next_page_uri: next,
        page: request.number,
        page_size: request.size,
        previous_page_uri: (request.number > 0).then(|| uri(request.number - 1, None)),
        start,
        uri: uri(request.number, current_token.as_deref()),
    })
}

/// The list body for items held in memory (a queue's callers): paged by
/// `Page` over the whole list, which is short.
pub fn memory_envelope<R: Serialize>(
    key: &str,
    path: &str,
    request: &PageRequest,
    items: Vec<R>,
) -> Response {
    let uri = |number: i64| format!("{path}?PageSize={}&Page={number}", request.size);
    let start = (request.number * request.size) as usize;
    let total = items.len();
    let page: Vec<R> = items
        .into_iter()
        .skip(start)
        .take(request.size as usize)
        .collect();
    let more = start + page.len() < total;
    Json(Envelope {
        end: start as i64 + (page.len() as i64 - 1).max(0),
        items: BTreeMap::from([(key, page)]),
        first_page_uri: uri(0),
        next_page_uri: more.then(|| uri(request.number + 1)),
        page: request.number,
        page_size: request.size,
        previous_page_uri: (request.number > 0).then(|| uri(request.number - 1)),
        start: start as i64,
        uri: uri(request.number),
    })
    .into_response()
}

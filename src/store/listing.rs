//! Paged listing of an account's rows, newest first, by offset or by cursor.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::records::bind_all;
use super::{Column, Store, StoreError};

/// Which page of a list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub size: i64,
    pub number: i64,
    /// Continue after this row: stable under inserts, and fast at any depth.
    pub after: Option<Cursor>,
}

/// A position in a list ordered by (date_created, sid), newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub date_created: i64,
    pub sid: String,
}

impl Cursor {
    /// Twilio's page tokens start `PA`; the rest is ours.
    pub fn token(&self) -> String {
        format!("PA{}_{}", self.date_created, self.sid)
    }

    pub fn parse(token: &str) -> Option<Cursor> {
        let (millis, sid) = token.strip_prefix("PA")?.split_once('_')?;
        let sid_ok = sid.len() == 34 && sid.bytes().all(|b| b.is_ascii_alphanumeric());
        let date_created = millis.parse().ok()?;
        sid_ok.then(|| Cursor {
            date_created,
            sid: sid.to_owned(),
        })
    }
}

/// A list query over one table, scoped to one account.
pub struct Listing<'a> {
    pub table: &'a str,
    pub columns: &'a str,
    /// The condition that scopes rows to `$1`, the account: usually `account_sid = $1`.
    pub scope: &'a str,
    pub account_sid: &'a str,
    /// Conditions such as `("to_number =", Column::Text(…))` or
    /// `("start_time >=", Column::Int(…))`, joined with AND; values are bound, never spliced.
    pub filters: Vec<(&'a str, Column)>,
}

impl<'a> Listing<'a> {
    /// The rows of `table` that are `account_sid`'s.
    pub fn new(table: &'a str, columns: &'a str, account_sid: &'a str) -> Listing<'a> {
        Listing {
            table,
            columns,
            scope: "account_sid = $1",
            account_sid,
            filters: Vec::new(),
        }
    }

    /// Keeps only the rows where `condition` (a column and operator) holds for `value`.
    pub fn filter(&mut self, condition: &'a str, value: Column) {
        self.filters.push((condition, value));
    }
}

/// One page of rows and whether more follow.
pub struct Page {
    pub rows: Vec<AnyRow>,
    pub has_more: bool,
}

impl Page {
    /// Where the next page starts, if there is one.
    pub fn next_cursor(&self) -> Result<Option<Cursor>, StoreError> {
        match (self.has_more, self.rows.last()) {
            (true, Some(row)) => Ok(Some(Cursor {
                date_created: row.try_get("date_created")?,
                sid: row.try_get("sid")?,
            })),
            _ => Ok(None),
        }
    }
}

impl Store {
    pub async fn list(
        &self,
        listing: &Listing<'_>,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        let mut sql = format!(
            "SELECT {} FROM {} WHERE {}",
            listing.columns, listing.table, listing.scope
        );
        let mut n = 1;
        for (condition, _) in &listing.filters {
            n += 1;
            sql.push_str(&format!(" AND {condition} ${n}"));
        }
        if page.after.is_some() {
            // `date_created <=` alone bounds the index range scan, so a page
            // deep in the list starts where it is instead of skipping there.
            sql.push_str(&format!(
                " AND date_created <= ${} AND (date_created < ${} OR sid < ${})",
                n + 1,
                n + 1,
                n + 2
            ));
        }
        sql.push_str(" ORDER BY date_created DESC, sid DESC");
        // One row more than asked tells whether another page follows.
        sql.push_str(&format!(" LIMIT {}", page.size + 1));
        if page.after.is_none() && page.number > 0 {
            sql.push_str(&format!(" OFFSET {}", page.number * page.size));
        }
        let mut query = bind_all(
            sqlx::query(&sql).bind(listing.account_sid),
            &listing.filters,
        );
        if let Some(cursor) = &page.after {
            query = query.bind(cursor.date_created).bind(&cursor.sid);
        }
        let mut rows = query.fetch_all(&self.pool).await?;
        let has_more = rows.len() as i64 > page.size;
        rows.truncate(page.size as usize);
        Ok(Page { rows, has_more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_token() {
        let cursor = Cursor {
            date_created: 1_764_033_099_000,
            sid: "AP0123456789abcdef0123456789abcdef".into(),
        };
        assert_eq!(Cursor::parse(&cursor.token()), Some(cursor));
        assert_eq!(Cursor::parse("PAxyz"), None);
        assert_eq!(Cursor::parse("PA1_AP' OR 1=1 --"), None);
    }
}

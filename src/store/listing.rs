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

    fn call(account_sid: &str, date_created: i64, start_time: Option<i64>) -> super::super::Call {
        super::super::Call {
            sid: crate::sid::Sid::new(crate::sid::Kind::Call).to_string(),
            account_sid: account_sid.to_owned(),
            parent_call_sid: None,
            direction: "outbound-api".into(),
            from: "+15005550100".into(),
            to: "+15005550006".into(),
            caller_name: None,
            forwarded_from: None,
            status: super::super::CallStatus::Completed,
            answered_by: None,
            phone_number_sid: None,
            application_sid: None,
            url: None,
            method: "POST".into(),
            fallback_url: None,
            fallback_method: "POST".into(),
            twiml: Some("<Response/>".into()),
            status_callback: None,
            status_callback_method: "POST".into(),
            status_callback_events: "completed".into(),
            timeout_secs: 60,
            node: None,
            channel_uuid: None,
            start_time,
            end_time: None,
            duration: None,
            date_created,
            date_updated: date_created,
            send_digits: None,
            record: None,
            time_limit_secs: None,
        }
    }

    #[tokio::test]
    async fn pages_by_cursor_walk_a_filtered_list_once_in_order_through_ties() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        );
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let mine = store.create_account("Mine", None).await.unwrap();
        let other = store.create_account("Other", None).await.unwrap();
        let mut expected = Vec::new();
        // Three calls share each creation time, so pages must break ties by sid.
        for i in 0..30 {
            let started = (i % 3 != 0).then_some(1_000 + i);
            let c = call(&mine.sid, 100 + i / 3, started);
            store.insert_call(&c).await.unwrap();
            if started.is_some_and(|t| t >= 1_005) {
                expected.push((c.date_created, c.sid));
            }
            store
                .insert_call(&call(&other.sid, 100 + i / 3, started))
                .await
                .unwrap();
        }
        expected.sort();
        expected.reverse();
        let mut listing = Listing::new("calls", "sid, date_created", &mine.sid);
        listing.filter("start_time >=", Column::Int(1_005));
        let mut seen = Vec::new();
        let mut request = PageRequest {
            size: 4,
            number: 0,
            after: None,
        };
        loop {
            let page = store.list(&listing, &request).await.unwrap();
            for row in &page.rows {
                seen.push((
                    row.get::<i64, _>("date_created"),
                    row.get::<String, _>("sid"),
                ));
            }
            match page.next_cursor().unwrap() {
                Some(cursor) => request.after = Some(cursor),
                None => break,
            }
        }
        assert_eq!(seen, expected);
    }
}

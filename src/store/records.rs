//! Plain rows of an account's configurable resources (applications, phone
//! numbers …), written column by column from a resource's description.

use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// A column value both backends store the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Text(Option<String>),
    Int(i64),
}

/// One table's row, identified by sid and always scoped to an account.
pub struct Record<'a> {
    pub table: &'a str,
    pub sid: &'a str,
    pub account_sid: &'a str,
}

impl Store {
    pub async fn insert_record(
        &self,
        record: &Record<'_>,
        columns: &[(&str, Column)],
        now: i64,
    ) -> Result<(), StoreError> {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let placeholders: Vec<String> = (5..5 + columns.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "INSERT INTO {} (sid, account_sid, date_created, date_updated{}{}) VALUES ($1, $2, $3, $4{}{})",
            record.table,
            if names.is_empty() { "" } else { ", " },
            names.join(", "),
            if names.is_empty() { "" } else { ", " },
            placeholders.join(", ")
        );
        let query = sqlx::query(&sql)
            .bind(record.sid)
            .bind(record.account_sid)
            .bind(now)
            .bind(now);
        bind_all(query, columns).execute(&self.pool).await?;
        Ok(())
    }

    /// Updates the given columns; false when no such row is the account's.
    pub async fn update_record(
        &self,
        record: &Record<'_>,
        columns: &[(&str, Column)],
        now: i64,
    ) -> Result<bool, StoreError> {
        let sets: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (name, _))| format!(", {name} = ${}", i + 4))
            .collect();
        let sql = format!(
            "UPDATE {} SET date_updated = $3{} WHERE sid = $1 AND account_sid = $2",
            record.table,
            sets.concat()
        );
        let query = sqlx::query(&sql)
            .bind(record.sid)
            .bind(record.account_sid)
            .bind(now);
        Ok(bind_all(query, columns)
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }

    pub async fn fetch_record(
        &self,
        record: &Record<'_>,
        columns: &str,
    ) -> Result<Option<AnyRow>, StoreError> {
        let sql = format!(
            "SELECT {columns} FROM {} WHERE sid = $1 AND account_sid = $2",
            record.table
        );
        Ok(sqlx::query(&sql)
            .bind(record.sid)
            .bind(record.account_sid)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Deletes the row after clearing the columns elsewhere that point at it.
    pub async fn delete_record(
        &self,
        record: &Record<'_>,
        referenced_by: &[(&str, &str)],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        for (table, column) in referenced_by {
            sqlx::query(&format!(
                "UPDATE {table} SET {column} = NULL WHERE {column} = $1 AND account_sid = $2"
            ))
            .bind(record.sid)
            .bind(record.account_sid)
            .execute(&mut *tx)
            .await?;
        }
        let deleted = sqlx::query(&format!(
            "DELETE FROM {} WHERE sid = $1 AND account_sid = $2",
            record.table
        ))
        .bind(record.sid)
        .bind(record.account_sid)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// Whether any row of `table` has `column = value` (uniqueness checks).
    pub async fn exists(&self, table: &str, column: &str, value: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT 1 FROM {table} WHERE {column} = $1 LIMIT 1"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}

pub(super) fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    columns: &'q [(&str, Column)],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for (_, value) in columns {
        query = match value {
            Column::Text(text) => query.bind(text.as_deref()),
            Column::Int(n) => query.bind(*n),
        };
    }
    query
}

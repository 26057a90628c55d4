//! Records (containers, networks) in the embedded transactional store (redb): one write
//! transaction per change, so a crash at any point leaves either the old or the new record.

use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{de::DeserializeOwned, Serialize};

/// The table of container records.
pub const CONTAINERS: &str = "containers";
/// The table of network records.
pub const NETWORKS: &str = "networks";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("metadata store: {0}")]
    Db(String),
    #[error("metadata store: record {key}: {source}")]
    Decode {
        key: String,
        source: serde_json::Error,
    },
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// JSON records by id in one table of the store.
#[derive(Clone)]
pub struct JsonTable {
    db: Arc<Database>,
    def: TableDefinition<'static, &'static str, &'static [u8]>,
}

impl JsonTable {
    pub fn open(db: Arc<Database>, name: &'static str) -> Result<Self, StoreError> {
        let def = TableDefinition::new(name);
        let tx = db.begin_write().map_err(db_err)?;
        tx.open_table(def).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(JsonTable { db, def })
    }

    pub fn put<T: Serialize>(&self, id: &str, value: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(db_err)?;
        let tx = self.db.begin_write().map_err(db_err)?;
        {
            let mut t = tx.open_table(self.def).map_err(db_err)?;
            t.insert(id, bytes.as_slice()).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    pub fn delete(&self, id: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(db_err)?;
        {
            let mut t = tx.open_table(self.def).map_err(db_err)?;
            t.remove(id).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    pub fn all<T: DeserializeOwned>(&self) -> Result<Vec<T>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(self.def).map_err(db_err)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            let value = serde_json::from_slice(v.value()).map_err(|source| StoreError::Decode {
                key: k.value().to_string(),
                source,
            })?;
            out.push(value);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_all_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::create(dir.path().join("t.db")).unwrap());
        let t = JsonTable::open(db, CONTAINERS).unwrap();
        t.put("a", &vec![1, 2]).unwrap();
        t.put("b", &vec![3]).unwrap();
        let all: Vec<Vec<i32>> = t.all().unwrap();
        assert_eq!(all, vec![vec![1, 2], vec![3]]);
        t.delete("a").unwrap();
        let all: Vec<Vec<i32>> = t.all().unwrap();
        assert_eq!(all, vec![vec![3]]);
    }
}

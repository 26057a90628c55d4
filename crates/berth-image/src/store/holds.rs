//! Layers held by containers. A container's root filesystem stacks its image's layers; the
//! image may be deleted (`rmi -f`) while the container exists, so its layers are held under
//! the container's id until the container is removed, as docker's RW layers hold theirs.

use std::collections::HashSet;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::layers::chain_ids;
use super::meta;
use super::ImageStore;
use crate::ImageError;

/// owner (container id) -> JSON list of chain ids.
pub(crate) const HOLDS: TableDefinition<&str, &[u8]> = TableDefinition::new("layer_holds");

impl ImageStore {
    /// Holds the layers of image `image_id` for `owner` (idempotent).
    pub fn hold_layers(&self, owner: &str, image_id: &str) -> Result<(), ImageError> {
        let txn = self.db.begin_write()?;
        let snap = meta::write_snapshot(&txn)?;
        let rec = snap.resolve(image_id)?;
        let chains = chain_ids(&rec.diff_ids);
        let bytes = serde_json::to_vec(&chains)
            .map_err(|e| ImageError::Corrupt(format!("encode layer holds: {e}")))?;
        txn.open_table(HOLDS)?.insert(owner, bytes.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Lets `owner`'s layers go, and collects what no image or holder uses any more.
    pub fn release_layers(&self, owner: &str) -> Result<(), ImageError> {
        let txn = self.db.begin_write()?;
        txn.open_table(HOLDS)?.remove(owner)?;
        txn.commit()?;
        self.gc().map(|_| ())
    }

    /// Who holds layers (container ids).
    pub fn layer_holders(&self) -> Result<Vec<String>, ImageError> {
        Ok(self.holds()?.into_iter().map(|(owner, _)| owner).collect())
    }

    /// Every chain id some holder keeps.
    pub(crate) fn held_chains(&self) -> Result<HashSet<String>, ImageError> {
        Ok(self.holds()?.into_iter().flat_map(|(_, c)| c).collect())
    }

    /// Every hold: (owner, chain ids).
    fn holds(&self) -> Result<Vec<(String, Vec<String>)>, ImageError> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(HOLDS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let chains: Vec<String> = serde_json::from_slice(v.value())
                .map_err(|e| ImageError::Corrupt(format!("layer holds of {}: {e}", k.value())))?;
            out.push((k.value().to_string(), chains));
        }
        Ok(out)
    }
}

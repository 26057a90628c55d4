//! `docker rmi` and `docker image prune`, with docker's conflict rules, and
//! the garbage collection of layers and blobs no image uses any more.

use std::collections::HashSet;

use redb::WriteTransaction;

use super::layers::chain_ids;
use super::meta::{self, ref_key, Snapshot};
use super::{short_id, DeleteItem, ImageStore};
use crate::reference::Reference;
use crate::ImageError;

/// Answers "which container uses image `id`": `Some((container id, running))`.
/// Return a running container in preference to a stopped one.
pub type InUse<'a> = &'a dyn Fn(&str) -> Option<(String, bool)>;

struct Conflict {
    hard: bool,
    used: bool,
    message: String,
}

impl Conflict {
    fn error(&self, id: &str) -> ImageError {
        let force = if self.hard {
            "cannot be forced"
        } else {
            "must be forced"
        };
        ImageError::Conflict(format!(
            "conflict: unable to delete {} ({force}) - {}",
            short_id(id),
            self.message
        ))
    }
}

const HARD: u8 = 1; // dependent children, running containers
const ACTIVE_REF: u8 = 2;
const STOPPED: u8 = 4;
const SOFT: u8 = ACTIVE_REF | STOPPED;

fn check_conflict(
    snap: &Snapshot,
    refs_left: usize,
    id: &str,
    mask: u8,
    in_use: InUse<'_>,
) -> Option<Conflict> {
    if mask & HARD != 0 && !snap.children(id).is_empty() {
        return Some(Conflict {
            hard: true,
            used: false,
            message: "image has dependent child images".into(),
        });
    }
    let user = in_use(id);
    if mask & HARD != 0 {
        if let Some((c, true)) = &user {
            return Some(Conflict {
                hard: true,
                used: true,
                message: format!("image is being used by running container {}", short_id(c)),
            });
        }
    }
    if mask & ACTIVE_REF != 0 && refs_left > 0 {
        return Some(Conflict {
            hard: false,
            used: false,
            message: "image is referenced in multiple repositories".into(),
        });
    }
    if mask & STOPPED != 0 {
        if let Some((c, false)) = &user {
            return Some(Conflict {
                hard: false,
                used: true,
                message: format!("image is being used by stopped container {}", short_id(c)),
            });
        }
    }
    None
}

/// docker's `isSingleReference`: one tag, possibly with digests of the same repository.
fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&Reference> = None;
    let mut canonical = HashSet::new();
    for r in refs {
        if r.digest.is_some() {
            canonical.insert(r.name());
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&refs[0]);
    canonical.len() == 1 && canonical.contains(&single.name())
}

fn is_id_prefix(id: &str, prefix: &str) -> bool {
    id.starts_with(prefix)
        || id
            .split_once(':')
            .is_some_and(|(_, h)| h.starts_with(prefix))
}

fn untag(
    txn: &WriteTransaction,
    snap: &mut Snapshot,
    r: &Reference,
    out: &mut Vec<DeleteItem>,
) -> Result<(), ImageError> {
    let key = ref_key(r);
    meta::remove_ref(txn, &key.to_string())?;
    snap.refs.remove(&key.to_string());
    out.push(DeleteItem::Untagged(key.familiar_string()));
    Ok(())
}

impl ImageStore {
    /// `docker rmi`; see docker's `ImageService.ImageDelete`.
    pub fn delete(
        &self,
        name: &str,
        force: bool,
        in_use: InUse<'_>,
    ) -> Result<Vec<DeleteItem>, ImageError> {
        let txn = self.db.begin_write()?;
        let mut snap = meta::write_snapshot(&txn)?;
        let id = snap.resolve(name)?.id.clone();
        let mut out = Vec::new();
        let mut quiet = false;
        let refs = snap.refs_of(&id);
        if !is_id_prefix(&id, name) {
            if !force && is_single_reference(&refs) {
                if let Some((c, _)) = in_use(&id) {
                    return Err(ImageError::Conflict(format!(
                        "conflict: unable to remove repository reference {name:?} (must force) - container {} is using its referenced image {}",
                        short_id(&c),
                        short_id(&id)
                    )));
                }
            }
            let parsed = Reference::parse_normalized(name)?;
            untag(&txn, &mut snap, &parsed, &mut out)?;
            // A tag gone and no other tag of that repository: its digests go too.
            if parsed.digest.is_none() {
                let left = snap.refs_of(&id);
                let tag_left = left
                    .iter()
                    .any(|r| r.digest.is_none() && r.name() == parsed.name());
                if !tag_left {
                    for r in left
                        .iter()
                        .filter(|r| r.digest.is_some() && r.name() == parsed.name())
                    {
                        untag(&txn, &mut snap, r, &mut out)?;
                    }
                }
            }
            if !snap.refs_of(&id).is_empty() {
                txn.commit()?;
                return Ok(out);
            }
            quiet = true;
        } else if is_single_reference(&refs) {
            let mask = if force { HARD } else { HARD | STOPPED };
            if let Some(c) = check_conflict(&snap, 0, &id, mask, in_use) {
                return Err(c.error(&id));
            }
            for r in &refs {
                untag(&txn, &mut snap, r, &mut out)?;
            }
        }

        let refs_left = snap.refs_of(&id).len();
        let mask = if force { HARD } else { HARD | SOFT };
        if let Some(c) = check_conflict(&snap, refs_left, &id, mask, in_use) {
            // docker's imageIsDangling: no reference left and no child image.
            let dangling = refs_left == 0 && snap.children(&id).is_empty();
            txn.commit()?;
            if quiet && (!dangling || c.used) {
                return Ok(out);
            }
            return Err(c.error(&id));
        }
        for r in snap.refs_of(&id) {
            untag(&txn, &mut snap, &r, &mut out)?;
        }
        let mut parent = snap
            .images
            .get(&id)
            .map(|r| r.parent.clone())
            .unwrap_or_default();
        meta::remove_image(&txn, &id)?;
        snap.images.remove(&id);
        out.push(DeleteItem::Deleted(id));
        // As docker: untagged parents left without children (a build's intermediate
        // images) go too, unless a container uses them.
        while let Some(p) = snap.images.get(&parent).cloned() {
            if !snap.refs_of(&p.id).is_empty()
                || !snap.children(&p.id).is_empty()
                || in_use(&p.id).is_some()
            {
                break;
            }
            meta::remove_image(&txn, &p.id)?;
            snap.images.remove(&p.id);
            out.push(DeleteItem::Deleted(p.id.clone()));
            parent = p.parent;
        }
        txn.commit()?;
        let (layers, _) = self.gc()?;
        out.extend(layers.into_iter().map(DeleteItem::Deleted));
        Ok(out)
    }

    /// `docker image prune`: dangling (untagged) images, or with `all` every
    /// image no container uses. Returns what went and the bytes reclaimed.
    pub fn prune(
        &self,
        all: bool,
        in_use: &dyn Fn(&str) -> bool,
    ) -> Result<(Vec<DeleteItem>, u64), ImageError> {
        let mut out = Vec::new();
        loop {
            let txn = self.db.begin_write()?;
            let mut snap = meta::write_snapshot(&txn)?;
            let victims: Vec<String> = snap
                .images
                .keys()
                .filter(|id| snap.children(id).is_empty())
                .filter(|id| all || snap.repo_tags(id).is_empty())
                .filter(|id| !in_use(id))
                .cloned()
                .collect();
            if victims.is_empty() {
                break;
            }
            for id in victims {
                for r in snap.refs_of(&id) {
                    untag(&txn, &mut snap, &r, &mut out)?;
                }
                meta::remove_image(&txn, &id)?;
                snap.images.remove(&id);
                out.push(DeleteItem::Deleted(id));
            }
            txn.commit()?;
        }
        let (layers, reclaimed) = self.gc()?;
        out.extend(layers.into_iter().map(DeleteItem::Deleted));
        Ok((out, reclaimed))
    }

    /// Removes layers and blobs no image references and no ingest holds.
    /// Returns the removed layers' chain ids and the bytes freed.
    pub(crate) fn gc(&self) -> Result<(Vec<String>, u64), ImageError> {
        let held = self.leases.lock();
        let snap = self.snapshot()?;
        let mut chains = HashSet::new();
        let mut blobs = HashSet::new();
        for r in snap.images.values() {
            chains.extend(chain_ids(&r.diff_ids));
            blobs.insert(r.config_digest.clone());
            blobs.extend(r.diff_ids.iter().cloned());
            blobs.extend(r.manifest_digest.iter().cloned());
            blobs.extend(r.blobs.iter().cloned());
        }
        chains.extend(self.held_chains()?);
        let mut removed = Vec::new();
        let mut freed = 0u64;
        let mut errors = Vec::new();
        for c in self.layers.list() {
            if chains.contains(&c) || held.contains_key(&c) {
                continue;
            }
            if let Ok(p) = self.layers.path(&c) {
                freed += dir_size(&p);
            }
            match self.layers.remove(&c) {
                Ok(()) => removed.push(c),
                Err(e) => errors.push(e.to_string()),
            }
        }
        for b in self.content.list()? {
            if blobs.contains(&b) || held.contains_key(&b) {
                continue;
            }
            if let Err(e) = self.content.delete(&b) {
                errors.push(e.to_string());
            }
        }
        if !errors.is_empty() {
            // Garbage left behind is retried by the next collection.
            tracing::warn!(errors = ?errors, "image garbage collection incomplete");
        }
        Ok((removed, freed))
    }
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.path().symlink_metadata() else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                total += md.len();
            }
        }
    }
    total
}

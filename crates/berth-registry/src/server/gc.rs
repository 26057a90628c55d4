//! `berth registry gc`: mark the blobs that manifests reference (their configs and layers,
//! the children of indexes), sweep the rest.
//!
//! With `delete_untagged`, manifests that no tag reaches (directly, as a child of a
//! tagged index, or as a referrer of a kept manifest) are removed first.
//!
//! Safe beside a running server: uploads in progress are not blobs yet and are left
//! alone, and blobs younger than the grace period are kept, so layers pushed just before
//! their manifest survive. Cross-repository mounts and re-uploads refresh a blob's time.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::server::digest::Digest;
use crate::server::manifests::Manifest;
use crate::server::storage::{Storage, StorageError};

#[derive(Debug, Clone)]
pub struct GcOptions {
    pub root: PathBuf,
    pub dry_run: bool,
    pub delete_untagged: bool,
    /// Blobs modified more recently than this are kept.
    pub grace: Duration,
}

/// What a collection removed (or, in a dry run, would remove).
#[derive(Debug, Default)]
pub struct GcReport {
    pub manifests_removed: Vec<(String, Digest)>,
    pub blobs_removed: Vec<Digest>,
    pub bytes_freed: u64,
    pub blobs_kept: usize,
    /// Unreferenced blobs kept because they are younger than the grace period.
    pub blobs_too_young: usize,
}

fn manifest_of(storage: &Storage, d: &Digest) -> Result<Option<Manifest>, StorageError> {
    Ok(storage
        .read_blob(d)?
        .and_then(|data| Manifest::parse(&data).ok()))
}

/// The manifests of a repository that tags reach, with children and referrers.
fn reachable(
    storage: &Storage,
    name: &str,
    all: &[Digest],
) -> Result<HashSet<Digest>, StorageError> {
    let mut keep: HashSet<Digest> = storage.tags(name)?.into_iter().map(|(_, d)| d).collect();
    let parsed: Vec<(Digest, Option<Manifest>)> = all
        .iter()
        .map(|d| Ok((d.clone(), manifest_of(storage, d)?)))
        .collect::<Result<_, StorageError>>()?;
    loop {
        let before = keep.len();
        for (d, m) in &parsed {
            let Some(m) = m else { continue };
            if keep.contains(d) {
                for c in m.children() {
                    if let Ok(c) = Digest::parse(&c.digest) {
                        keep.insert(c);
                    }
                }
            }
            let subject_kept = m
                .subject
                .as_ref()
                .and_then(|s| Digest::parse(&s.digest).ok())
                .is_some_and(|s| keep.contains(&s));
            if subject_kept {
                keep.insert(d.clone());
            }
        }
        if keep.len() == before {
            return Ok(keep);
        }
    }
}

pub fn collect(opts: &GcOptions) -> Result<GcReport, StorageError> {
    let storage = Storage::open(&opts.root)?;
    let mut report = GcReport::default();
    let mut marked: HashSet<Digest> = HashSet::new();
    let repos = storage.repositories()?;
    for name in &repos {
        let all = storage.manifests(name)?;
        let keep = if opts.delete_untagged {
            Some(reachable(&storage, name, &all)?)
        } else {
            None
        };
        for d in all {
            let m = manifest_of(&storage, &d)?;
            if keep.as_ref().is_some_and(|k| !k.contains(&d)) {
                if !opts.dry_run {
                    if let Some(s) = m.as_ref().and_then(|m| m.subject.as_ref()) {
                        if let Ok(s) = Digest::parse(&s.digest) {
                            storage.remove_referrer(name, &s, &d)?;
                        }
                    }
                    storage.unlink_manifest(name, &d)?;
                }
                report.manifests_removed.push((name.clone(), d));
                continue;
            }
            marked.insert(d.clone());
            if let Some(m) = m {
                for b in m.blobs() {
                    if let Ok(b) = Digest::parse(&b.digest) {
                        marked.insert(b);
                    }
                }
            }
        }
    }
    let cutoff = SystemTime::now() - opts.grace;
    let mut swept: BTreeSet<Digest> = BTreeSet::new();
    for d in storage.all_blobs()? {
        if marked.contains(&d) {
            report.blobs_kept += 1;
            continue;
        }
        let path = storage.blob_path(&d);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.modified().is_ok_and(|t| t > cutoff) {
            report.blobs_too_young += 1;
            continue;
        }
        if !opts.dry_run {
            storage.remove_blob(&d)?;
        }
        report.bytes_freed += meta.len();
        swept.insert(d);
    }
    if !opts.dry_run {
        for name in &repos {
            for d in storage.layers(name)? {
                if swept.contains(&d) {
                    storage.unlink_layer(name, &d)?;
                }
            }
        }
    }
    report.blobs_removed = swept.into_iter().collect();
    Ok(report)
}

//! `berth registry gc`: mark the blobs that manifests reference (their configs and layers,
//! the children of indexes), sweep the rest.
//!
//! With `delete_untagged`, manifests that no tag reaches (directly, as a child of a
//! tagged index, or as a referrer of a kept manifest) are removed first.
//!
//! Safe beside a running server: uploads in progress are not blobs yet and are left
//! alone (only those abandoned for longer than `upload_max_age` are removed), and blobs younger than the grace period are kept, so layers pushed just before
//! their manifest survive. Cross-repository mounts and re-uploads refresh a blob's time.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::server::digest::Digest;
use crate::server::manifests::Manifest;
use crate::server::storage::{err, Storage, StorageError};
use crate::server::uploads::UploadInfo;

#[derive(Debug, Clone)]
pub struct GcOptions {
    pub root: PathBuf,
    pub dry_run: bool,
    pub delete_untagged: bool,
    /// Blobs modified more recently than this are kept.
    pub grace: Duration,
    /// Uploads started longer ago than this are abandoned and removed (distribution purges
    /// them after a week); younger ones are in flight and left alone.
    pub upload_max_age: Duration,
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
    /// Abandoned uploads (their uuids).
    pub uploads_removed: Vec<String>,
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
    report.uploads_removed = purge_uploads(&storage, opts)?;
    Ok(report)
}

/// Removes uploads started before `upload_max_age` ago.
fn purge_uploads(storage: &Storage, opts: &GcOptions) -> Result<Vec<String>, StorageError> {
    let dir = storage.uploads_dir();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(err("read directory", &dir))?;
    for e in entries {
        let e = e.map_err(err("read directory", &dir))?;
        let info: Option<UploadInfo> = std::fs::read(e.path().join("info"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        // An upload without readable info may be being created right now: its directory
        // time stands in for its start.
        let started = match info {
            Some(i) => i.started,
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(now, |d| d.as_secs()),
        };
        if now.saturating_sub(started) <= opts.upload_max_age.as_secs() {
            continue;
        }
        if !opts.dry_run {
            let p = e.path();
            std::fs::remove_dir_all(&p).map_err(err("remove", &p))?;
        }
        removed.push(e.file_name().to_string_lossy().into_owned());
    }
    removed.sort();
    Ok(removed)
}

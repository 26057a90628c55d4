//! Downloading a blob into `<data root>/downloads/<hex>.partial` while another thread
//! reads (unpacks) what has arrived. The blob is hashed as it comes and only reported
//! complete when its digest and size are right. An interrupted download keeps its partial
//! file; the next attempt continues from there with `Range`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::Method;
use sha2::{Digest, Sha256};

use super::manifest::Descriptor;
use super::progress::{Progress, Throttle};
use super::session::{unexpected, Repository};
use super::RegistryError;

/// How far a download has come; shared by the downloader and the reader.
pub struct Growing {
    state: Mutex<State>,
    cv: Condvar,
    pub path: PathBuf,
}

struct State {
    len: u64,
    /// None: still coming; Some(Ok): complete and verified; Some(Err): failed.
    end: Option<Result<(), String>>,
}

impl Growing {
    pub fn new(path: PathBuf) -> Arc<Growing> {
        Arc::new(Growing {
            state: Mutex::new(State { len: 0, end: None }),
            cv: Condvar::new(),
            path,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn grow(&self, len: u64) {
        self.lock().len = len;
        self.cv.notify_all();
    }

    /// Whether the download itself failed (rather than what reads it).
    pub fn failed(&self) -> bool {
        matches!(self.lock().end, Some(Err(_)))
    }

    pub fn finish(&self, result: Result<(), String>) {
        let mut s = self.lock();
        if s.end.is_none() {
            s.end = Some(result);
        }
        drop(s);
        self.cv.notify_all();
    }

    /// A reader of the blob from its start, blocking until bytes arrive. It reports the end
    /// only once the download is verified, and fails when the download does.
    pub fn reader(self: &Arc<Self>) -> io::Result<GrowingReader> {
        // The downloader creates the file before it reports any length.
        loop {
            {
                let s = self.lock();
                if let Some(Err(e)) = &s.end {
                    return Err(io::Error::other(e.clone()));
                }
            }
            match File::open(&self.path) {
                Ok(file) => {
                    return Ok(GrowingReader {
                        file,
                        pos: 0,
                        shared: self.clone(),
                        on_read: None,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let s = self.lock();
                    if s.end.is_some() {
                        return Err(e);
                    }
                    let _ = self.cv.wait_timeout(s, Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

pub struct GrowingReader {
    file: File,
    pos: u64,
    shared: Arc<Growing>,
    /// Told the position after each read, and whether the download is complete by then.
    on_read: Option<Box<dyn FnMut(u64, bool) + Send>>,
}

impl GrowingReader {
    pub fn on_read(&mut self, f: impl FnMut(u64, bool) + Send + 'static) {
        self.on_read = Some(Box::new(f));
    }
}

impl Read for GrowingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (avail, done) = {
            let mut s = self.shared.lock();
            loop {
                if let Some(Err(e)) = &s.end {
                    return Err(io::Error::other(e.clone()));
                }
                if s.len > self.pos {
                    break (s.len - self.pos, matches!(s.end, Some(Ok(()))));
                }
                if matches!(s.end, Some(Ok(()))) {
                    return Ok(0);
                }
                s = self.shared.cv.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        };
        let want = buf.len().min(avail as usize);
        let n = self.file.read(&mut buf[..want])?;
        self.pos += n as u64;
        if let Some(f) = self.on_read.as_mut() {
            f(self.pos, done);
        }
        Ok(n)
    }
}

/// One download of a blob at a time in this process: a second pull of the same layer waits
/// for the first, then finds the layer stored.
pub async fn lock_blob(digest: &str) -> tokio::sync::OwnedMutexGuard<()> {
    use std::collections::HashMap;
    static LOCKS: Mutex<Option<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = Mutex::new(None);
    let m = {
        let mut all = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
        let all = all.get_or_insert_with(HashMap::new);
        // Forget locks nobody holds or waits for.
        all.retain(|_, l| Arc::strong_count(l) > 1);
        all.entry(digest.to_string()).or_default().clone()
    };
    m.lock_owned().await
}

/// Downloads `desc` into `g.path`, continuing a partial file. Tries up to 3 times when the
/// connection breaks. Marks `g` finished (verified) or failed.
pub async fn download(
    repo: &Repository,
    desc: &Descriptor,
    g: &Arc<Growing>,
    progress: &Progress,
    id: &str,
) -> Result<(), RegistryError> {
    let r = download_inner(repo, desc, g, progress, id).await;
    match &r {
        Ok(()) => g.finish(Ok(())),
        Err(e) => g.finish(Err(e.to_string())),
    }
    r
}

async fn download_inner(
    repo: &Repository,
    desc: &Descriptor,
    g: &Arc<Growing>,
    progress: &Progress,
    id: &str,
) -> Result<(), RegistryError> {
    let path = &g.path;
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(|e| RegistryError::io(format!("open {}", path.display()), e))?;
    let mut hasher = Sha256::new();
    let mut have = hash_existing(&mut file, &mut hasher, path)?;
    if have > desc.size {
        // Not this blob's prefix: start again.
        file.set_len(0)
            .map_err(|e| RegistryError::io(format!("truncate {}", path.display()), e))?;
        hasher = Sha256::new();
        have = 0;
    }
    g.grow(have);
    let mut bar = Throttle::new(progress.clone(), id, "Downloading");
    let mut attempt = 0;
    while have < desc.size {
        attempt += 1;
        match fetch_from(repo, desc, &mut file, &mut hasher, &mut have, g, &mut bar).await {
            Ok(()) => break,
            Err(e) if e.is_connect() && attempt < 3 => {
                tracing::info!(blob = %desc.digest, error = %e, have, "download interrupted, retrying");
                tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
    progress.layer(id, "Verifying Checksum");
    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
    if have != desc.size || actual != desc.digest {
        let _ = fs::remove_file(path);
        return Err(RegistryError::DigestMismatch {
            what: format!("blob {}", desc.digest),
            expected: format!("{} ({} bytes)", desc.digest, desc.size),
            actual: format!("{actual} ({have} bytes)"),
        });
    }
    progress.layer(id, "Download complete");
    Ok(())
}

fn hash_existing(file: &mut File, hasher: &mut Sha256, path: &Path) -> Result<u64, RegistryError> {
    let err = |e| RegistryError::io(format!("read {}", path.display()), e);
    file.seek(SeekFrom::Start(0)).map_err(err)?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = file.read(&mut buf).map_err(err)?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        n += k as u64;
    }
    Ok(n)
}

/// One GET of the blob from byte `have` on.
async fn fetch_from(
    repo: &Repository,
    desc: &Descriptor,
    file: &mut File,
    hasher: &mut Sha256,
    have: &mut u64,
    g: &Arc<Growing>,
    bar: &mut Throttle,
) -> Result<(), RegistryError> {
    let url = repo.url(&format!("blobs/{}", desc.digest));
    let mut headers = Vec::new();
    if *have > 0 {
        headers.push(("range", format!("bytes={have}-")));
    }
    let resp = repo.send(Method::GET, &url, &headers, None).await?;
    let status = resp.status();
    // A registry without Range support sends everything again: skip what is here.
    let mut skip = match status.as_u16() {
        206 => 0,
        200 => *have,
        404 => {
            return Err(RegistryError::NotFound(format!(
                "blob {} not found in {}",
                desc.digest, repo.name
            )))
        }
        _ => return Err(unexpected(&format!("fetch blob {}", desc.digest), resp).await),
    };
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| RegistryError::Connect {
            what: format!("read blob {}", desc.digest),
            message: e.to_string(),
        })?;
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        if skip > 0 {
            let k = (skip as usize).min(data.len());
            let _ = data.split_to(k);
            skip -= k as u64;
        }
        if data.is_empty() {
            continue;
        }
        if *have + data.len() as u64 > desc.size {
            return Err(RegistryError::DigestMismatch {
                what: format!("blob {}", desc.digest),
                expected: format!("{} bytes", desc.size),
                actual: "more bytes".into(),
            });
        }
        file.write_all(&data)
            .map_err(|e| RegistryError::io(format!("write {}", g.path.display()), e))?;
        hasher.update(&data);
        *have += data.len() as u64;
        g.grow(*have);
        bar.update(*have, desc.size);
    }
    if *have < desc.size {
        return Err(RegistryError::Connect {
            what: format!("read blob {}", desc.digest),
            message: format!("connection closed after {have} of {} bytes", desc.size),
        });
    }
    Ok(())
}

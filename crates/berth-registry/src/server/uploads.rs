//! Blob uploads: each session is a directory `uploads/<uuid>/` with `info` (the repository
//! and start time) and `data` (the bytes received so far), so a chunked upload survives a
//! restart of the server. Bodies are streamed to disk through a blocking writer thread that
//! hashes as it writes; the running hash is kept in memory and rebuilt from `data` when it
//! is missing (after a restart). Hashing uses ring's SHA-256 (assembly with the CPU's SHA
//! extensions, fast in debug builds too). A finished upload is verified against its digest, synced
//! and renamed into the blob store; a mismatch removes it, so a bad upload stores nothing.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};

use crate::server::digest::Digest;
use crate::server::error::{ApiError, Code};
use crate::server::storage::{err, Storage, StorageError};

/// Buffer of the writer thread: large writes keep syscalls few.
const WRITE_BUFFER: usize = 1 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub struct UploadInfo {
    pub name: String,
    /// Seconds since the epoch.
    pub started: u64,
}

/// The in-memory hash of an upload's first `len` bytes.
struct Running {
    len: u64,
    hash: Context,
}

#[derive(Clone)]
pub struct Uploads {
    storage: Storage,
    running: Arc<Mutex<HashMap<String, Slot>>>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unknown(uuid: &str) -> ApiError {
    ApiError::new(
        Code::BlobUploadUnknown,
        format!("blob upload unknown to registry: {uuid}"),
    )
}

/// The running hash of one upload, locked by the request working on it: requests on the
/// same upload wait for each other, so each sees the size the previous one left.
type Slot = Arc<tokio::sync::Mutex<Option<Running>>>;
type Locked = tokio::sync::OwnedMutexGuard<Option<Running>>;

impl Uploads {
    pub fn new(storage: Storage) -> Uploads {
        Uploads {
            storage,
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn dir(&self, uuid: &str) -> PathBuf {
        self.storage.uploads_dir().join(uuid)
    }

    /// Starts an upload session for repository `name`.
    pub fn start(&self, name: &str) -> Result<String, StorageError> {
        let uuid = format!("{:032x}", rand::random::<u128>());
        let dir = self.dir(&uuid);
        fs::create_dir_all(&dir).map_err(err("create directory", &dir))?;
        let info = serde_json::to_vec(&UploadInfo {
            name: name.to_string(),
            started: now_secs(),
        })
        .expect("upload info serialises");
        let p = dir.join("info");
        fs::write(&p, info).map_err(err("write", &p))?;
        let data = dir.join("data");
        fs::File::create(&data).map_err(err("create", &data))?;
        Ok(uuid)
    }

    /// The size received so far of upload `uuid` of repository `name`.
    pub fn size(&self, name: &str, uuid: &str) -> Result<u64, ApiError> {
        self.check(name, uuid)?;
        let data = self.dir(uuid).join("data");
        fs::metadata(&data)
            .map(|m| m.len())
            .map_err(|_| unknown(uuid))
    }

    fn check(&self, name: &str, uuid: &str) -> Result<(), ApiError> {
        if uuid.is_empty() || !uuid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unknown(uuid));
        }
        let info: UploadInfo = fs::read(self.dir(uuid).join("info"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| unknown(uuid))?;
        if info.name != name {
            return Err(unknown(uuid));
        }
        Ok(())
    }

    async fn lock(&self, uuid: &str) -> Locked {
        let slot = self
            .running
            .lock()
            .expect("uploads lock")
            .entry(uuid.to_string())
            .or_default()
            .clone();
        slot.lock_owned().await
    }

    fn forget(&self, uuid: &str) {
        self.running.lock().expect("uploads lock").remove(uuid);
    }

    /// Appends a request body to an upload. `start` is the first byte's offset from
    /// `Content-Range`, which must be the current size. Returns the new size.
    pub async fn append(
        &self,
        name: &str,
        uuid: &str,
        body: Incoming,
        start: Option<u64>,
    ) -> Result<u64, ApiError> {
        self.check(name, uuid)?;
        let mut locked = self.lock(uuid).await;
        self.append_locked(&mut locked, uuid, body, start).await
    }

    async fn append_locked(
        &self,
        locked: &mut Locked,
        uuid: &str,
        body: Incoming,
        start: Option<u64>,
    ) -> Result<u64, ApiError> {
        let data = self.dir(uuid).join("data");
        let size = fs::metadata(&data)
            .map(|m| m.len())
            .map_err(|_| unknown(uuid))?;
        if let Some(start) = start {
            if start != size {
                return Err(ApiError::new(
                    Code::RangeInvalid,
                    format!("invalid content range: upload {uuid} has {size} bytes, chunk starts at {start}"),
                ));
            }
        }
        let hash = match locked.take() {
            Some(r) if r.len == size => r.hash,
            _ => rehash(data.clone()).await?,
        };
        let file = fs::File::options()
            .append(true)
            .open(&data)
            .map_err(err("open", &data))?;
        let (hash, written, result) = stream_to_file(body, file, hash, data).await;
        **locked = hash.map(|hash| Running {
            len: size + written,
            hash,
        });
        result?;
        Ok(size + written)
    }

    /// Appends a last body (maybe empty), checks the content against `digest`, and moves
    /// it into the blob store, linked into `name`. On a mismatch the upload is removed.
    pub async fn finish(
        &self,
        name: &str,
        uuid: &str,
        body: Incoming,
        digest: &Digest,
    ) -> Result<(), ApiError> {
        self.check(name, uuid)?;
        let mut locked = self.lock(uuid).await;
        let size = self.append_locked(&mut locked, uuid, body, None).await?;
        let data = self.dir(uuid).join("data");
        let hash = match locked.take() {
            Some(r) if r.len == size => r.hash,
            _ => rehash(data.clone()).await?,
        };
        let actual = Digest::from_sha256(
            hash.finish()
                .as_ref()
                .try_into()
                .expect("sha256 is 32 bytes"),
        );
        if digest.algorithm() != "sha256" || &actual != digest {
            self.remove(uuid)?;
            return Err(ApiError::new(
                Code::DigestInvalid,
                format!("provided digest {digest} did not match uploaded content ({actual}, {size} bytes)"),
            ));
        }
        let storage = self.storage.clone();
        let digest2 = digest.clone();
        tokio::task::spawn_blocking(move || -> Result<(), StorageError> {
            fs::File::open(&data)
                .and_then(|f| f.sync_all())
                .map_err(err("sync", &data))?;
            storage.commit_blob(&data, &digest2)
        })
        .await
        .map_err(|e| ApiError::new(Code::Unavailable, format!("upload {uuid}: {e}")))??;
        self.storage.link_layer(name, digest)?;
        self.remove(uuid)?;
        Ok(())
    }

    /// Cancels an upload.
    pub async fn cancel(&self, name: &str, uuid: &str) -> Result<(), ApiError> {
        self.check(name, uuid)?;
        let _locked = self.lock(uuid).await;
        self.remove(uuid)?;
        Ok(())
    }

    fn remove(&self, uuid: &str) -> Result<(), StorageError> {
        self.forget(uuid);
        let dir = self.dir(uuid);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(err("remove", &dir)(e)),
            _ => Ok(()),
        }
    }
}

/// Hashes an upload's data file from the start (after a restart).
async fn rehash(path: PathBuf) -> Result<Context, ApiError> {
    tokio::task::spawn_blocking(move || -> Result<Context, StorageError> {
        let mut f = fs::File::open(&path).map_err(err("open", &path))?;
        let mut hash = Context::new(&SHA256);
        let mut buf = vec![0u8; WRITE_BUFFER];
        loop {
            let n = f.read(&mut buf).map_err(err("read", &path))?;
            if n == 0 {
                return Ok(hash);
            }
            hash.update(&buf[..n]);
        }
    })
    .await
    .map_err(|e| ApiError::new(Code::Unavailable, format!("hashing upload: {e}")))?
    .map_err(ApiError::from)
}

/// Streams `body` into `file`, hashing it, on a blocking thread fed through a channel so
/// that receiving, hashing and writing overlap. Returns the hash (`None` if the file and
/// the hash may disagree), the bytes written, and the outcome.
async fn stream_to_file(
    mut body: Incoming,
    file: fs::File,
    hash: Context,
    path: PathBuf,
) -> (Option<Context>, u64, Result<(), ApiError>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let wpath = path.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let mut hash = hash;
        let mut out = io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut written = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            if let Err(e) = out.write_all(&chunk) {
                return (None, written, Err(err("write", &wpath)(e)));
            }
            hash.update(&chunk);
            written += chunk.len() as u64;
        }
        match out.flush() {
            Ok(()) => (Some(hash), written, Ok(())),
            Err(e) => (None, written, Err(err("write", &wpath)(e))),
        }
    });
    let mut read_error = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    if tx.send(data).await.is_err() {
                        break;
                    }
                }
            }
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let (hash, written, result) = match writer.await {
        Ok(r) => r,
        Err(e) => {
            let e = ApiError::new(Code::Unavailable, format!("writing {path:?}: {e}"));
            return (None, 0, Err(e));
        }
    };
    let result = match (result, read_error) {
        (Err(e), _) => Err(ApiError::from(e)),
        (Ok(()), Some(e)) => Err(ApiError::new(
            Code::BlobUploadInvalid,
            format!("reading the request body: {e}"),
        )),
        (Ok(()), None) => Ok(()),
    };
    (hash, written, result)
}

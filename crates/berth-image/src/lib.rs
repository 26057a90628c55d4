//! Image store: content-addressed blobs, references, layers, overlay snapshots,
//! save/load/import/export.

mod error;
pub mod layer;
pub mod reference;
pub mod rootfs;
mod store;
mod sys;

pub use error::{ImageError, Kind};
pub use store::changes::apply_changes;
pub use store::pull::{BlobSource, PullLease, PushImage, Registered};
pub use store::{CacheEntry, DeleteItem, HistoryItem, ImageInfo, ImageStore};

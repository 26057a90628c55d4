//! The daemon's side of images: errors mapped to API statuses, and which containers use
//! which image.

use berth_api::ApiError;
use berth_image::{ImageError, Kind};

use crate::Daemon;

pub fn api_err(e: ImageError) -> ApiError {
    match e.status_kind() {
        Kind::NotFound => ApiError::not_found(e.to_string()),
        Kind::Conflict => ApiError::conflict(e.to_string()),
        Kind::InvalidArgument => ApiError::invalid(e.to_string()),
        Kind::Internal => ApiError::system(e.to_string()),
    }
}

impl Daemon {
    /// The first container using image `id`, and whether it runs.
    pub fn image_user(&self, id: &str) -> Option<(String, bool)> {
        self.containers.all().iter().find_map(|c| {
            let r = c.record();
            (r.image_id == id).then(|| (r.id[..12].to_string(), r.state.running))
        })
    }
}

//! docker's JSON progress messages (`{"status":..,"id":..,"progressDetail":..}`), sent to
//! whoever streams them to the API client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

/// Where progress goes; cheap to clone, usable from blocking threads.
#[derive(Clone)]
pub struct Progress {
    tx: Option<UnboundedSender<Value>>,
}

impl Progress {
    pub fn new(tx: UnboundedSender<Value>) -> Progress {
        Progress { tx: Some(tx) }
    }

    /// Progress nobody reads.
    pub fn discard() -> Progress {
        Progress { tx: None }
    }

    pub fn send(&self, v: Value) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(v);
        }
    }

    /// `{"status": text}`
    pub fn message(&self, text: impl Into<String>) {
        self.send(json!({"status": text.into()}));
    }

    /// `{"status": text, "id": id}` (no progressDetail: "Pulling from", "The push refers...")
    pub fn header(&self, id: &str, text: impl Into<String>) {
        self.send(json!({"status": text.into(), "id": id}));
    }

    /// A layer's new state: `{"status":"Waiting","progressDetail":{},"id":"abc123456789"}`.
    pub fn layer(&self, id: &str, text: &str) {
        self.send(json!({"status": text, "progressDetail": {}, "id": id}));
    }

    /// A layer's byte count: "Downloading", "Extracting", "Pushing".
    pub fn bar(&self, id: &str, text: &str, current: u64, total: u64) {
        self.send(json!({
            "status": text,
            "progressDetail": {"current": current, "total": total},
            "progress": bar_text(current, total),
            "id": id
        }));
    }
}

/// `[=====>      ]  1.2MB/3.4MB`, as docker's daemon writes it.
pub fn bar_text(current: u64, total: u64) -> String {
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let filled = ((current as f64 / total as f64) * 50.0) as usize;
    let filled = filled.min(50);
    let arrow = if filled < 50 { ">" } else { "" };
    let spaces = 50usize.saturating_sub(filled + arrow.len());
    format!(
        "[{}{arrow}{}] {:>8}/{}",
        "=".repeat(filled),
        " ".repeat(spaces),
        human_size(current),
        human_size(total)
    )
}

/// go-units' HumanSize (`2.1MB`, `512B`).
pub fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < units.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    // Four significant digits, as %.4g.
    let digits = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let rounded = format!("{v:.digits$}");
    let trimmed = if rounded.contains('.') {
        rounded
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        rounded
    };
    format!("{trimmed}{}", units[u])
}

/// Rate-limits a layer's byte counts (every 100 ms, and the last one).
pub struct Throttle {
    progress: Progress,
    id: Arc<str>,
    text: &'static str,
    last: Option<Instant>,
}

impl Throttle {
    pub fn new(progress: Progress, id: &str, text: &'static str) -> Throttle {
        Throttle {
            progress,
            id: id.into(),
            text,
            last: None,
        }
    }

    pub fn update(&mut self, current: u64, total: u64) {
        let now = Instant::now();
        if current < total
            && self
                .last
                .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(now);
        self.progress.bar(&self.id, self.text, current, total);
    }
}

/// The 12 hex digits docker shows of a digest.
pub fn short(digest: &str) -> String {
    let h = digest.split_once(':').map_or(digest, |(_, h)| h);
    h.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_bars_like_docker() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(2_100_000), "2.1MB");
        assert_eq!(human_size(772_790), "772.8kB");
        assert!(bar_text(50, 100).starts_with("[=========================>"));
        assert!(bar_text(100, 100).starts_with(&format!("[{}]", "=".repeat(50))));
    }
}

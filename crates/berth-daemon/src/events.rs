//! The event bus behind `GET /events`: live subscribers and a bounded history for replay
//! (`--since`/`--until`), in dockerd's JSON shape.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

/// How many past events are kept for replay, as dockerd's events log (1024... we keep more).
const HISTORY: usize = 4096;

/// One event, serialised as dockerd sends it.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: &'static str,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    // Deprecated top-level fields that older clients (and docker-py) still read for containers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// Publishes events to live subscribers and keeps the recent past.
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    history: Mutex<VecDeque<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(1024).0,
            history: Mutex::new(VecDeque::new()),
        }
    }
}

impl EventBus {
    /// Records and broadcasts an event. `attributes` should carry `name` and `image` for
    /// containers, as dockerd's do.
    pub fn publish(
        &self,
        kind: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let is_container = kind == "container";
        let event = Event {
            kind: kind.to_string(),
            action: action.to_string(),
            status: (is_container || kind == "image").then(|| action.to_string()),
            id: (is_container || kind == "image").then(|| id.to_string()),
            from: if is_container {
                attributes.get("image").cloned()
            } else {
                None
            },
            actor: Actor {
                id: id.to_string(),
                attributes,
            },
            scope: "local",
            time: nanos / 1_000_000_000,
            time_nano: nanos,
        };
        {
            let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(event.clone());
        }
        let _ = self.tx.send(event);
    }

    /// Past events (oldest first) and a receiver for the ones that follow, with no gap between.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.tx.subscribe();
        (h.iter().cloned().collect(), rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_then_live() {
        let bus = EventBus::default();
        bus.publish("container", "create", "abc", BTreeMap::new());
        let (past, mut rx) = bus.subscribe();
        assert_eq!(past.len(), 1);
        assert_eq!(past[0].status.as_deref(), Some("create"));
        bus.publish("volume", "create", "v1", BTreeMap::new());
        let live = rx.try_recv().unwrap();
        assert_eq!(live.action, "create");
        assert!(live.status.is_none());
    }
}

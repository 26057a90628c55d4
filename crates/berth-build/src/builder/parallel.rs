//! What lets independent stages build at once: a board of stage results a
//! stage waits on when it needs another stage's image, and an output that
//! keeps the legacy stream in stage order (the first unfinished stage
//! streams live, later ones are buffered and flushed when their turn comes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::{BuildError, Progress};

/// The image of each stage as stages finish.
pub(super) struct StageResults {
    slots: Mutex<Vec<Slot>>,
    changed: Condvar,
    /// Set when a stage failed: the others stop at their next step.
    cancelled: AtomicBool,
}

#[derive(Clone)]
enum Slot {
    Pending,
    Built(String),
    Failed,
}

impl StageResults {
    pub fn new(stages: usize) -> StageResults {
        StageResults {
            slots: Mutex::new(vec![Slot::Pending; stages]),
            changed: Condvar::new(),
            cancelled: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records how stage `index` ended; a failure cancels the build.
    pub fn finish(&self, index: usize, result: Option<&str>) {
        let mut slots = self.lock();
        slots[index] = match result {
            Some(id) => Slot::Built(id.to_string()),
            None => {
                self.cancelled.store(true, Ordering::SeqCst);
                Slot::Failed
            }
        };
        self.changed.notify_all();
    }

    /// The image of stage `index`, waiting until it is built; `Cancelled`
    /// when it failed (its own error is reported).
    pub fn wait(&self, index: usize) -> Result<String, BuildError> {
        let mut slots = self.lock();
        loop {
            match &slots[index] {
                Slot::Built(id) => return Ok(id.clone()),
                Slot::Failed => return Err(BuildError::Cancelled),
                Slot::Pending => {
                    slots = self.changed.wait(slots).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }

    /// Whether another stage failed (checked between steps).
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// The build's output sink, shared by the stages' threads.
pub type Sink<'s> = dyn FnMut(Progress<'_>) + Send + 's;

enum Owned {
    Stream(String),
    Aux(String),
    Status(serde_json::Value),
}

impl Owned {
    fn of(p: Progress<'_>) -> Owned {
        match p {
            Progress::Stream(s) => Owned::Stream(s.to_string()),
            Progress::Aux(s) => Owned::Aux(s.to_string()),
            Progress::Status(v) => Owned::Status(v.clone()),
        }
    }

    fn progress(&self) -> Progress<'_> {
        match self {
            Owned::Stream(s) => Progress::Stream(s),
            Owned::Aux(s) => Progress::Aux(s),
            Owned::Status(v) => Progress::Status(v),
        }
    }
}

struct OutputState<'s> {
    sink: &'s mut Sink<'s>,
    /// The position (in build order) of the stage that streams live.
    live: usize,
    buffers: Vec<Vec<Owned>>,
    finished: Vec<bool>,
}

/// Output of stages running at once, given to the client in build order.
pub(super) struct OrderedOutput<'s> {
    state: Mutex<OutputState<'s>>,
}

impl<'s> OrderedOutput<'s> {
    pub fn new(sink: &'s mut Sink<'s>, stages: usize) -> OrderedOutput<'s> {
        OrderedOutput {
            state: Mutex::new(OutputState {
                sink,
                live: 0,
                buffers: (0..stages).map(|_| Vec::new()).collect(),
                finished: vec![false; stages],
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, OutputState<'s>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Output of the stage at `position`: live when it is its turn, kept otherwise.
    pub fn emit(&self, position: usize, p: Progress<'_>) {
        let mut st = self.lock();
        if st.live == position {
            (st.sink)(p);
            return;
        }
        st.buffers[position].push(Owned::of(p));
    }

    /// The stage at `position` ended: the turn passes on, flushing what the
    /// next stages said meanwhile.
    pub fn finish(&self, position: usize) {
        let mut guard = self.lock();
        let st = &mut *guard;
        st.finished[position] = true;
        while st.live < st.finished.len() && st.finished[st.live] {
            st.live += 1;
            if let Some(buffer) = st.buffers.get_mut(st.live) {
                let kept = std::mem::take(buffer);
                for o in &kept {
                    (st.sink)(o.progress());
                }
            }
        }
    }

    /// Output after every stage ended (`Successfully built`, warnings).
    pub fn after(&self, p: Progress<'_>) {
        let mut st = self.lock();
        (st.sink)(p);
    }
}

/// Where stages write ([`OrderedOutput`], seen without its sink's lifetime).
pub(super) trait StageSink: Sync {
    fn emit(&self, position: usize, p: Progress<'_>);
}

impl StageSink for OrderedOutput<'_> {
    fn emit(&self, position: usize, p: Progress<'_>) {
        OrderedOutput::emit(self, position, p);
    }
}

/// One stage's handle on the ordered output.
#[derive(Clone, Copy)]
pub(super) struct StageOutput<'a> {
    pub output: &'a dyn StageSink,
    pub position: usize,
}

impl StageOutput<'_> {
    pub fn emit(&self, p: Progress<'_>) {
        self.output.emit(self.position, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(run: impl FnOnce(&OrderedOutput<'_>)) -> Vec<String> {
        let mut got = Vec::new();
        {
            let mut sink = |p: Progress<'_>| match p {
                Progress::Stream(s) => got.push(s.to_string()),
                Progress::Aux(s) => got.push(format!("aux {s}")),
                Progress::Status(v) => got.push(format!("status {}", v["status"])),
            };
            let out = OrderedOutput::new(&mut sink, 3);
            run(&out);
        }
        got
    }

    #[test]
    fn later_stages_wait_for_their_turn() {
        let got = collect(|out| {
            out.emit(1, Progress::Stream("b1"));
            out.emit(0, Progress::Stream("a1"));
            out.emit(2, Progress::Stream("c1"));
            out.emit(
                2,
                Progress::Status(&serde_json::json!({"status": "pulled"})),
            );
            out.finish(1);
            out.emit(0, Progress::Aux("a"));
            out.finish(0);
            out.emit(2, Progress::Stream("c2"));
            out.finish(2);
            out.after(Progress::Stream("done"));
        });
        assert_eq!(
            got,
            ["a1", "aux a", "b1", "c1", "status \"pulled\"", "c2", "done"]
        );
    }

    #[test]
    fn a_failed_stage_cancels_and_wakes_waiters() {
        let results = StageResults::new(2);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| results.wait(0));
            std::thread::sleep(std::time::Duration::from_millis(20));
            results.finish(0, None);
            assert!(matches!(waiter.join().unwrap(), Err(BuildError::Cancelled)));
        });
        assert!(results.cancelled());
        results.finish(1, Some("sha256:b"));
        assert_eq!(results.wait(1).unwrap(), "sha256:b");
    }
}

//! The audit file: request tasks append their events to per-thread queues ([`Pending`]); one
//! writer thread takes the queues whole every 100 ms, renders what is left to render, writes,
//! flushes and rotates the file by size.
//!
//! A request never touches a channel and never wakes the writer: it takes its shard's lock
//! (which only the writer ever contends for, once per drain), pushes its entry and goes on. The
//! disk is touched by the writer alone. A write
//! that fails (disk full, file removed) loses those lines, is logged once until writes succeed
//! again, and never stops the server: Elasticsearch keeps serving when its audit appender fails
//! too.
//!
//! Lines of one thread keep their order; lines of different threads are written in drain order,
//! so the file is ordered by time only within each 100 ms drain (every line carries its
//! timestamp).

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{Entry, EventNode, SubjectCache, WRITER_SUBJECTS};

/// How often the writer takes the pending lines, writes and flushes them. Rarely enough that
/// each drain renders thousands of events in one run, with the subjects' text and its buffers
/// warm: waking every 10 ms cost the server a fifth more writer time and more lost throughput.
const DRAIN_EVERY: Duration = Duration::from_millis(100);
/// The writer's file buffer.
const BUFFER: usize = 64 * 1024;
/// The most events a shard holds before requests wait for the writer (then drop their event).
const SHARD_LIMIT: usize = 32 * 1024;
/// A shard this full wakes the writer before its next drain, so a burst is written as it comes
/// instead of filling the shard.
const WAKE_AT: usize = 8 * 1024;
/// The most bytes rendered before they are written.
const RENDER_CHUNK: usize = 256 * 1024;
/// How many written bytes the writer lets the file keep in the page cache: past this it has them
/// written to disk and dropped from the cache (see [`Writer::settle`]).
const SETTLE_EVERY: u64 = 8 * 1024 * 1024;

/// The events waiting for the writer, one queue per shard; a thread always uses the same shard.
pub(super) struct Pending {
    shards: Box<[Shard]>,
    /// The writer thread, to wake early.
    writer: std::sync::OnceLock<std::thread::Thread>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// One shard, on its own cache lines so that threads appending to neighbours do not contend.
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<Vec<Entry>>);

impl Shard {
    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        // A panic while rendering leaves at worst a partial line: keep going.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

thread_local! {
    /// This thread's shard number, assigned on first use.
    static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Hands out shard numbers round-robin.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

impl Pending {
    /// Two shards per CPU: tokio's workers and the blocking threads rarely share one.
    pub(super) fn new() -> Pending {
        let shards = std::thread::available_parallelism()
            .map_or(4, |cpus| cpus.get() * 2)
            .clamp(2, 64);
        Pending {
            shards: (0..shards).map(|_| Shard::default()).collect(),
            writer: std::sync::OnceLock::new(),
        }
    }

    /// Queues `entry` on this thread's shard; gives it back when the shard is full and the
    /// writer must catch up first.
    pub(super) fn push(&self, entry: Entry) -> Option<Entry> {
        let index = SHARD.with(|slot| {
            slot.get().unwrap_or_else(|| {
                let index = NEXT_SHARD.fetch_add(1, Ordering::Relaxed);
                slot.set(Some(index));
                index
            })
        });
        let mut queue = self.shards[index % self.shards.len()].lock();
        if queue.len() >= SHARD_LIMIT {
            return Some(entry);
        }
        queue.push(entry);
        let wake = queue.len() == WAKE_AT;
        drop(queue);
        if wake {
            self.wake_writer();
        }
        None
    }

    /// Has the writer drain now rather than at its next tick.
    pub(super) fn wake_writer(&self) {
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }
}

/// What the writer thread is told besides "time to drain" (send it, then
/// [`Pending::wake_writer`]).
#[derive(Debug)]
pub(super) enum Control {
    /// Write everything pending now, then answer.
    Flush(Sender<()>),
}

/// Where and how the audit file is written.
#[derive(Debug, Clone)]
pub struct AuditFile {
    /// `<path.logs>/<cluster.name>_audit.json`.
    pub path: PathBuf,
    /// The size after which the file is rotated (`keyward.audit.max_file_size`).
    pub max_file_size: u64,
    /// How many rotated files are kept (`keyward.audit.max_files`): `<name>-1.json` is the
    /// newest, older ones are deleted.
    pub max_files: usize,
}

impl AuditFile {
    /// The `index`th rotated file: `x_audit.json` → `x_audit-1.json`.
    pub fn rotated(&self, index: usize) -> PathBuf {
        let stem = self
            .path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.path.with_file_name(format!("{stem}-{index}.json"))
    }
}

/// Opens the file (so a bad `path.logs` fails at start-up) and runs the writer on its own
/// thread until the control sender is gone; it drains once more before it ends.
pub(super) fn spawn(
    file: AuditFile,
    pending: Arc<Pending>,
    node: Arc<EventNode>,
    control: Receiver<Control>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    if let Some(parent) = file.path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let opened = open(&file.path)?;
    let mut writer = Writer {
        regular: false,
        node,
        subjects: SubjectCache::new(WRITER_SUBJECTS),
        rendered: Vec::with_capacity(RENDER_CHUNK + 4096),
        out: None,
        written: 0,
        settled: 0,
        file,
        failing: false,
        lost: 0,
    };
    writer.adopt(opened);
    std::thread::Builder::new()
        .name("keyward-audit".to_owned())
        .spawn(move || writer.run(&pending, &control))
}

struct Writer {
    node: Arc<EventNode>,
    /// The subjects of recent events, rendered.
    subjects: SubjectCache,
    /// Lines rendered and not written yet.
    rendered: Vec<u8>,
    out: Option<BufWriter<File>>,
    /// Whether the audit file is a regular file. Anything else (`/dev/null`, a pipe to a log
    /// shipper) is only written to: never rotated (renaming a device would move the device
    /// itself), never synced.
    regular: bool,
    /// Bytes in the current file, buffered ones included.
    written: u64,
    /// Bytes of the current file that are on disk and out of the page cache.
    settled: u64,
    file: AuditFile,
    /// A write failed and has not succeeded since: further failures are not logged again.
    failing: bool,
    /// Lines lost to write failures while `failing`.
    lost: u64,
}

impl Writer {
    /// Drains every [`DRAIN_EVERY`], or sooner when woken (a full shard, a flush). Requests
    /// wake it once a mebibyte at most: a wake-up per event would cost every request a system
    /// call.
    fn run(mut self, pending: &Pending, control: &Receiver<Control>) {
        let _ = pending.writer.set(std::thread::current());
        let mut spare = Vec::new();
        loop {
            std::thread::park_timeout(DRAIN_EVERY);
            self.drain(pending, &mut spare);
            self.flush();
            if self.written.saturating_sub(self.settled) >= SETTLE_EVERY {
                self.settle();
            }
            loop {
                match control.try_recv() {
                    Ok(Control::Flush(done)) => {
                        // Lines recorded before the flush was asked for may have gone into a
                        // shard this drain had already taken: drain again before answering.
                        self.drain(pending, &mut spare);
                        self.flush();
                        let _ = done.send(());
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.drain(pending, &mut spare);
                        self.flush();
                        return;
                    }
                }
            }
        }
    }

    /// Takes each shard's queue (swapping in the emptied one), renders and writes it.
    fn drain(&mut self, pending: &Pending, spare: &mut Vec<Entry>) {
        for shard in &pending.shards {
            std::mem::swap(&mut *shard.lock(), spare);
            let mut rendered = std::mem::take(&mut self.rendered);
            for entry in spare.drain(..) {
                entry.render(&self.node, &mut self.subjects, &mut rendered);
                rendered.push(b'\n');
                if rendered.len() >= RENDER_CHUNK {
                    self.write_lines(&rendered);
                    rendered.clear();
                }
            }
            self.write_lines(&rendered);
            rendered.clear();
            self.rendered = rendered;
            spare.shrink_to(WAKE_AT);
        }
    }

    /// Writes whole lines, rotating the file between two lines whenever the next would take it
    /// past the size limit.
    fn write_lines(&mut self, mut lines: &[u8]) {
        if !self.regular {
            self.write(lines);
            return;
        }
        while !lines.is_empty() {
            let room = usize::try_from(self.file.max_file_size.saturating_sub(self.written))
                .unwrap_or(usize::MAX);
            if lines.len() <= room {
                self.write(lines);
                return;
            }
            let mut fit = lines[..room]
                .iter()
                .rposition(|byte| *byte == b'\n')
                .map_or(0, |at| at + 1);
            if fit == 0 && self.written == 0 {
                // One line longer than a whole file: it gets a file of its own.
                fit = lines
                    .iter()
                    .position(|byte| *byte == b'\n')
                    .map_or(lines.len(), |at| at + 1);
            }
            self.write(&lines[..fit]);
            lines = &lines[fit..];
            if !lines.is_empty() {
                self.rotate();
                if self.written != 0 {
                    // Rotating did not give an empty file: write on rather than loop.
                    self.write(lines);
                    return;
                }
            }
        }
    }

    fn write(&mut self, lines: &[u8]) {
        if lines.is_empty() {
            return;
        }
        let result = match self.out.as_mut() {
            Some(out) => out.write_all(lines),
            None => Err(std::io::Error::other("the audit file is not open")),
        };
        match result {
            Ok(()) => {
                self.written = self.written.saturating_add(lines.len() as u64);
                self.recovered();
            }
            Err(err) => {
                let count = lines.iter().filter(|byte| **byte == b'\n').count();
                self.failed(&err, count as u64);
            }
        }
    }

    fn flush(&mut self) {
        if let Some(out) = self.out.as_mut() {
            if let Err(err) = out.flush() {
                // What the buffer held is dropped: keeping it would retry the same bytes
                // forever while the disk is full.
                match open(&self.file.path) {
                    Ok(file) => self.adopt(file),
                    Err(_) => self.out = None,
                }
                self.failed(&err, 1);
            }
        } else {
            self.reopen();
        }
    }

    /// Has what was written reach the disk, then drops the file's pages from the page cache.
    /// The audit file is only ever appended to, and keyward never reads it back: cached, its
    /// pages would only push the store's out of memory, and every mebibyte appended would take
    /// fresh pages from the kernel (on a virtual machine whose memory is backed lazily, the host
    /// faults each one in, which costs more than writing the events). Written and dropped every
    /// [`SETTLE_EVERY`] bytes, the file's pages are recycled: the freed pages are the ones the
    /// next writes get. It also bounds what a power loss can take from the audit trail.
    fn settle(&mut self) {
        if !self.regular {
            self.settled = self.written;
            return;
        }
        let Some(out) = self.out.as_ref() else {
            return;
        };
        let file = out.get_ref();
        if let Err(err) = file.sync_data() {
            self.failed(&err, 0);
            return;
        }
        // Advice only: when the kernel does not take it, the pages stay cached, as before.
        let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
        self.settled = self.written;
    }

    /// `x.json` becomes `x-1.json`, `x-1.json` becomes `x-2.json`…; the oldest beyond
    /// `max_files` is deleted.
    fn rotate(&mut self) {
        if let Some(Err(err)) = self.out.as_mut().map(BufWriter::flush) {
            self.failed(&err, 1);
        }
        self.settle();
        self.out = None;
        let oldest = self.file.rotated(self.file.max_files);
        let _ = std::fs::remove_file(&oldest);
        for index in (1..self.file.max_files).rev() {
            let from = self.file.rotated(index);
            if from.exists() {
                let _ = std::fs::rename(&from, self.file.rotated(index + 1));
            }
        }
        if self.file.max_files == 0 {
            let _ = std::fs::remove_file(&self.file.path);
        } else if let Err(err) = std::fs::rename(&self.file.path, self.file.rotated(1)) {
            self.failed(&err, 0);
        }
        self.reopen();
    }

    fn reopen(&mut self) {
        match open(&self.file.path) {
            Ok(file) => self.adopt(file),
            Err(err) => self.failed(&err, 0),
        }
    }

    /// Writes to `file` from now on: its size so far is written and settled.
    fn adopt(&mut self, file: File) {
        self.regular = is_regular(&file);
        self.written = file.metadata().map(|meta| meta.len()).unwrap_or(0);
        self.settled = self.written;
        self.out = Some(BufWriter::with_capacity(BUFFER, file));
    }

    fn failed(&mut self, err: &std::io::Error, lines: u64) {
        self.lost = self.lost.saturating_add(lines);
        if !self.failing {
            self.failing = true;
            tracing::error!(
                error = %err,
                file = %self.file.path.display(),
                "cannot write the audit log: audit events are lost until writing succeeds again; requests are still served"
            );
        }
    }

    fn recovered(&mut self) {
        if self.failing {
            self.failing = false;
            tracing::warn!(
                lost = self.lost,
                file = %self.file.path.display(),
                "the audit log is written again"
            );
            self.lost = 0;
        }
    }
}

fn is_regular(file: &File) -> bool {
    file.metadata().is_ok_and(|meta| meta.file_type().is_file())
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

//! The audit file: one writer thread appends the lines the request tasks queued, flushes them
//! every 10 ms and rotates the file by size.
//!
//! Request tasks only format a line and queue it; the disk is touched here alone. A write that
//! fails (disk full, file removed) loses that line, is logged once until writes succeed again,
//! and never stops the server: Elasticsearch keeps serving when its audit appender fails too.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc::Receiver;
use tokio::sync::mpsc::error::TryRecvError;

/// How often the writer takes the queued lines, writes and flushes them.
const DRAIN_EVERY: Duration = Duration::from_millis(10);
/// The writer's buffer: lines accumulate here between flushes.
const BUFFER: usize = 64 * 1024;

/// What the writer thread receives.
#[derive(Debug)]
pub(super) enum Message {
    /// One JSON line, without its newline.
    Line(Vec<u8>),
    /// Flush everything queued before this, then answer.
    Flush(std::sync::mpsc::Sender<()>),
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
/// thread until every sender is gone.
pub(super) fn spawn(
    file: AuditFile,
    receiver: Receiver<Message>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    if let Some(parent) = file.path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let opened = open(&file.path)?;
    let written = opened.metadata().map(|meta| meta.len()).unwrap_or(0);
    let writer = Writer {
        out: Some(BufWriter::with_capacity(BUFFER, opened)),
        written,
        file,
        failing: false,
        lost: 0,
    };
    std::thread::Builder::new()
        .name("keyward-audit".to_owned())
        .spawn(move || writer.run(receiver))
}

struct Writer {
    out: Option<BufWriter<File>>,
    /// Bytes in the current file, buffered ones included.
    written: u64,
    file: AuditFile,
    /// A write failed and has not succeeded since: further failures are not logged again.
    failing: bool,
    /// Lines lost to write failures while `failing`.
    lost: u64,
}

impl Writer {
    /// Wakes every [`DRAIN_EVERY`], writes whatever was queued and flushes it. The thread is
    /// never woken by a sender: a wake-up per event would cost every request a system call.
    fn run(mut self, mut receiver: Receiver<Message>) {
        loop {
            std::thread::sleep(DRAIN_EVERY);
            let mut open = true;
            loop {
                match receiver.try_recv() {
                    Ok(Message::Line(line)) => self.write(&line),
                    Ok(Message::Flush(done)) => {
                        self.flush();
                        let _ = done.send(());
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            self.flush();
            if !open {
                return;
            }
        }
    }

    fn write(&mut self, line: &[u8]) {
        let size = line.len() as u64 + 1;
        if self.written > 0 && self.written.saturating_add(size) > self.file.max_file_size {
            self.rotate();
        }
        let result = match self.out.as_mut() {
            Some(out) => out.write_all(line).and_then(|()| out.write_all(b"\n")),
            None => Err(std::io::Error::other("the audit file is not open")),
        };
        match result {
            Ok(()) => {
                self.written = self.written.saturating_add(size);
                self.recovered();
            }
            Err(err) => self.failed(&err),
        }
    }

    fn flush(&mut self) {
        if let Some(out) = self.out.as_mut() {
            if let Err(err) = out.flush() {
                // What the buffer held is dropped: keeping it would retry the same bytes
                // forever while the disk is full.
                self.out = open(&self.file.path).ok().map(|file| {
                    self.written = file.metadata().map(|meta| meta.len()).unwrap_or(0);
                    BufWriter::with_capacity(BUFFER, file)
                });
                self.failed(&err);
            }
        } else {
            self.reopen();
        }
    }

    /// `x.json` becomes `x-1.json`, `x-1.json` becomes `x-2.json`…; the oldest beyond
    /// `max_files` is deleted.
    fn rotate(&mut self) {
        if let Some(Err(err)) = self.out.take().map(|mut out| out.flush()) {
            self.failed(&err);
        }
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
            self.failed(&err);
        }
        self.reopen();
    }

    fn reopen(&mut self) {
        match open(&self.file.path) {
            Ok(file) => {
                self.written = file.metadata().map(|meta| meta.len()).unwrap_or(0);
                self.out = Some(BufWriter::with_capacity(BUFFER, file));
            }
            Err(err) => self.failed(&err),
        }
    }

    fn failed(&mut self, err: &std::io::Error) {
        self.lost = self.lost.saturating_add(1);
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

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

//! CPU-heavy jobs in helper processes of the running executable, each in a scheduling group
//! of its own.
//!
//! Why processes and not threads: Linux schedules groups before threads (an autogroup per
//! session on a host, a cgroup per container), and nice values only rank threads inside their
//! group. Hashing threads inside the service keep the service's group always runnable, so every
//! wake-up of a cheap RPC (and of the database it waits for) queues behind them. A worker
//! starts its own session, so it gets its own autogroup, and lowers that group's weight: the
//! service, the database and the broker get the CPU first, hashing gets the rest.
//!
//! A binary opts in by calling [`serve_if_worker`] first thing in `main`; a process started as
//! a worker then serves requests on stdin/stdout and exits at end of input. Frames are a
//! little-endian `u32` length and that many bytes; a reply starts with `0` (ok) or `1` (error
//! message).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use crate::jobs_gauge::CountedJob;

/// The environment variable naming the job kind a worker process serves.
const WORKER_ENV: &str = "MI_CPU_WORKER";
/// Frames larger than this are refused (jobs exchange a few hundred bytes).
const MAX_FRAME: usize = 1 << 20;
/// The nice value of a worker process and of its autogroup: the lowest priority.
const WORKER_NICENESS: i32 = 19;

/// A worker's job, ready to take requests.
pub type Job = Box<dyn FnMut(&[u8]) -> anyhow::Result<Vec<u8>>>;

/// A kind of job a worker process runs: built once from the pool's setup bytes.
#[derive(Debug, Clone, Copy)]
pub struct WorkerKind {
    /// The name pools ask for.
    pub name: &'static str,
    /// Builds the job from the setup bytes (keys, say), sent once when the worker starts.
    pub start: fn(setup: Vec<u8>) -> anyhow::Result<Job>,
}

/// The kinds the running executable serves, recorded by [`serve_if_worker`].
static SERVED: OnceLock<&'static [WorkerKind]> = OnceLock::new();

/// In a worker process, serves its kind until end of input and exits; otherwise records the
/// kinds this executable serves and returns. Call it first thing in `main`, before any runtime
/// or thread starts.
pub fn serve_if_worker(kinds: &'static [WorkerKind]) {
    let Some(requested) = std::env::var_os(WORKER_ENV) else {
        let _ = SERVED.set(kinds);
        return;
    };
    let code = match kinds.iter().find(|kind| requested == kind.name) {
        Some(kind) => match serve(kind) {
            Ok(()) => 0,
            Err(error) => {
                eprintln!("{} worker: {error:#}", kind.name);
                1
            }
        },
        None => {
            eprintln!("this executable serves no worker {requested:?}");
            2
        }
    };
    std::process::exit(code);
}

/// The running executable, if it serves workers of `name` (it called [`serve_if_worker`]).
pub fn this_executable_serving(name: &str) -> Option<PathBuf> {
    let kinds = SERVED.get()?;
    if !kinds.iter().any(|kind| kind.name == name) {
        return None;
    }
    running_executable()
}

/// On Linux the running image itself, which stays startable when an upgrade replaces the file
/// on disk; elsewhere the file it was started from.
#[cfg(target_os = "linux")]
fn running_executable() -> Option<PathBuf> {
    Some(PathBuf::from("/proc/self/exe"))
}

#[cfg(not(target_os = "linux"))]
fn running_executable() -> Option<PathBuf> {
    std::env::current_exe().ok()
}

fn serve(kind: &WorkerKind) -> anyhow::Result<()> {
    leave_the_parents_scheduling_group(kind.name);
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    let Some(setup) = read_frame(&mut input)? else {
        return Ok(());
    };
    let mut job = (kind.start)(setup)?;
    while let Some(request) = read_frame(&mut input)? {
        let reply = match job(&request) {
            Ok(mut reply) => {
                reply.insert(0, 0);
                reply
            }
            Err(error) => {
                let mut reply = vec![1];
                reply.extend_from_slice(format!("{error:#}").as_bytes());
                reply
            }
        };
        write_frame(&mut output, &reply)?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn leave_the_parents_scheduling_group(kind: &str) {
    // Started through /proc/self/exe, the worker would show up as `exe` in ps and top.
    if let Ok(name) = std::ffi::CString::new(format!("{kind}-worker")) {
        let _ = rustix::thread::set_name(&name);
    }
    // A new session gets a new autogroup; its nice value sets the whole group's weight.
    if let Err(error) = rustix::process::setsid() {
        eprintln!("worker: cannot start a session: {error}");
    }
    // Fails without autogroups (a container's cgroup schedules instead); the process nice
    // below still ranks the worker under the service's threads inside that cgroup.
    let _ = std::fs::write("/proc/self/autogroup", WORKER_NICENESS.to_string());
    if let Err(error) = rustix::process::setpriority_process(None, WORKER_NICENESS) {
        eprintln!("worker: cannot lower the priority: {error}");
    }
}

#[cfg(not(target_os = "linux"))]
fn leave_the_parents_scheduling_group(_kind: &str) {}

fn read_frame(input: &mut impl Read) -> anyhow::Result<Option<Vec<u8>>> {
    let mut length = [0u8; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error.into()),
    }
    let length = frame_length(length)?;
    let mut frame = vec![0u8; length];
    input.read_exact(&mut frame)?;
    Ok(Some(frame))
}

fn write_frame(output: &mut impl Write, frame: &[u8]) -> anyhow::Result<()> {
    output.write_all(&frame_header(frame)?)?;
    output.write_all(frame)?;
    output.flush()?;
    Ok(())
}

fn frame_header(frame: &[u8]) -> anyhow::Result<[u8; 4]> {
    anyhow::ensure!(
        frame.len() <= MAX_FRAME,
        "frame of {} bytes is too large",
        frame.len()
    );
    Ok(u32::try_from(frame.len())?.to_le_bytes())
}

fn frame_length(header: [u8; 4]) -> anyhow::Result<usize> {
    let length = usize::try_from(u32::from_le_bytes(header))?;
    anyhow::ensure!(length <= MAX_FRAME, "frame of {length} bytes is too large");
    Ok(length)
}

/// Worker processes of one kind, at most `processes` busy at once; a worker that dies is
/// replaced on the next request.
#[derive(Debug, Clone)]
pub struct WorkerPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    program: PathBuf,
    kind: String,
    setup: Vec<u8>,
    permits: Semaphore,
    idle: Mutex<Vec<Worker>>,
}

#[derive(Debug)]
struct Worker {
    // Kept so the process is killed when the worker is dropped.
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl WorkerPool {
    /// A pool running `program` as workers of `kind`, each given `setup` when it starts.
    /// Workers start on first use.
    pub fn new(program: PathBuf, kind: &str, processes: usize, setup: Vec<u8>) -> Self {
        Self {
            inner: Arc::new(PoolInner {
                program,
                kind: kind.to_owned(),
                setup,
                permits: Semaphore::new(processes.max(1)),
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs one request on a free worker; a worker that fails mid-request is replaced and the
    /// request tried once more on a fresh one.
    pub async fn run(&self, request: &[u8]) -> anyhow::Result<Vec<u8>> {
        let waiting = CountedJob::new(&self.inner.kind, "waiting");
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .context("worker pool is closed")?;
        drop(waiting);
        let _running = CountedJob::new(&self.inner.kind, "running");
        let (worker, reply) = match self.take_idle() {
            Some(worker) => match self.exchange(worker, request).await {
                Ok(done) => done,
                Err(error) => {
                    tracing::warn!(kind = %self.inner.kind, error = %format!("{error:#}"), "worker failed, starting another");
                    self.exchange_on_new_worker(request).await?
                }
            },
            None => self.exchange_on_new_worker(request).await?,
        };
        self.put_idle(worker);
        match reply.split_first() {
            Some((0, output)) => Ok(output.to_vec()),
            Some((_, message)) => Err(anyhow::anyhow!(
                "{} worker: {}",
                self.inner.kind,
                String::from_utf8_lossy(message)
            )),
            None => Err(anyhow::anyhow!(
                "{} worker sent an empty reply",
                self.inner.kind
            )),
        }
    }

    fn take_idle(&self) -> Option<Worker> {
        self.inner.idle.lock().ok()?.pop()
    }

    fn put_idle(&self, worker: Worker) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.push(worker);
        }
    }

    async fn start_worker(&self) -> anyhow::Result<Worker> {
        let mut child = Command::new(&self.inner.program)
            .env(WORKER_ENV, &self.inner.kind)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} as a {} worker",
                    self.inner.program.display(),
                    self.inner.kind
                )
            })?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            anyhow::bail!("worker started without pipes");
        };
        stdin.write_all(&frame_header(&self.inner.setup)?).await?;
        stdin.write_all(&self.inner.setup).await?;
        stdin.flush().await?;
        Ok(Worker {
            _child: child,
            stdin,
            stdout,
        })
    }

    async fn exchange_on_new_worker(&self, request: &[u8]) -> anyhow::Result<(Worker, Vec<u8>)> {
        let worker = self.start_worker().await?;
        self.exchange(worker, request).await
    }

    async fn exchange(
        &self,
        mut worker: Worker,
        request: &[u8],
    ) -> anyhow::Result<(Worker, Vec<u8>)> {
        worker.stdin.write_all(&frame_header(request)?).await?;
        worker.stdin.write_all(request).await?;
        worker.stdin.flush().await?;
        let mut header = [0u8; 4];
        worker
            .stdout
            .read_exact(&mut header)
            .await
            .context("worker closed its output")?;
        let mut reply = vec![0u8; frame_length(header)?];
        worker.stdout.read_exact(&mut reply).await?;
        Ok((worker, reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let mut buffer = Vec::new();
        write_frame(&mut buffer, b"setup").expect("write");
        write_frame(&mut buffer, b"").expect("write");
        let mut input = buffer.as_slice();
        assert_eq!(
            read_frame(&mut input).expect("read"),
            Some(b"setup".to_vec())
        );
        assert_eq!(read_frame(&mut input).expect("read"), Some(Vec::new()));
        assert_eq!(read_frame(&mut input).expect("read"), None);
    }

    #[test]
    fn oversized_frames_are_refused() {
        let header = u32::try_from(MAX_FRAME + 1).expect("fits").to_le_bytes();
        let mut input = header.as_slice();
        assert!(read_frame(&mut input).is_err());
    }
}

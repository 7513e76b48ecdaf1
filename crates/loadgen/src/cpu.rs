//! Where the CPU went during a run (Linux): how busy the whole machine was, how much CPU the
//! platform used, and how much of that went to password hashing (its worker processes, and
//! its threads named `cpu-pool-*`), from `/proc`; and the platform's resident memory. Nothing is printed where `/proc` cannot be
//! read.

use std::time::Instant;

/// `/proc` counts CPU time in USER_HZ ticks, 100 per second on every Linux ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU counters at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    at: Instant,
    /// All CPUs: (busy, total) ticks.
    machine: Option<(u64, u64)>,
    /// The platform with its worker processes: user + system ticks, all and hashing's.
    platform: Option<(u64, u64)>,
}

impl Sample {
    /// Reads the counters now (the platform's if [`watch`] named it).
    pub(crate) fn now() -> Self {
        Self {
            at: Instant::now(),
            machine: machine_ticks(),
            platform: platform_pid().and_then(platform_ticks),
        }
    }

    /// Prints what was used since `self`; `calls` is how many calls the CPU time served.
    pub(crate) fn print_since(&self, calls: u64) {
        let end = Self::now();
        let wall = end.at.duration_since(self.at).as_secs_f64();
        let mut lines = Vec::new();
        let mut machine_cores = None;
        if let (Some((busy0, total0)), Some((busy1, total1))) = (self.machine, end.machine) {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            let busy =
                busy1.saturating_sub(busy0) as f64 / total1.saturating_sub(total0).max(1) as f64;
            machine_cores = Some(busy * cores as f64);
            lines.push(format!(
                "machine busy  {:.0} % of {cores} cores",
                100.0 * busy
            ));
        }
        if let (Some((all0, pool0)), Some((all1, pool1))) = (self.platform, end.platform) {
            let seconds = |ticks: u64| ticks as f64 / TICKS_PER_SECOND;
            let (all, pool) = (
                seconds(all1.saturating_sub(all0)),
                seconds(pool1.saturating_sub(pool0)),
            );
            let wall = wall.max(0.001);
            let mut line = format!(
                "platform cpu  {:.2} cores, of which hashing {:.2}",
                all / wall,
                pool / wall
            );
            if let Some(machine) = machine_cores {
                line.push_str(&format!(
                    "; rest of machine {:.2}",
                    (machine - all / wall).max(0.0)
                ));
            }
            lines.push(line);
            if calls > 0 {
                lines.push(format!(
                    "cpu per call  {:.2} ms platform, of which hashing {:.2} ms",
                    all * 1000.0 / calls as f64,
                    pool * 1000.0 / calls as f64
                ));
            }
        }
        if !lines.is_empty() {
            #[allow(clippy::print_stdout)] // part of the report
            {
                println!("{}", lines.join("\n"));
            }
        }
    }
}

/// The platform's pid, for the end sample.
static PLATFORM_PID: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();

/// Remembers the platform's pid for every later sample.
pub(crate) fn watch(platform_pid: Option<u32>) {
    let _ = PLATFORM_PID.set(platform_pid);
}

fn platform_pid() -> Option<u32> {
    PLATFORM_PID.get().copied().flatten()
}

/// (busy, total) ticks of all CPUs; busy excludes idle and iowait.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|field| field.parse().unwrap_or_default())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle =
        fields.get(3).copied().unwrap_or_default() + fields.get(4).copied().unwrap_or_default();
    Some((total.saturating_sub(idle), total))
}

/// User + system ticks of the platform process and its children (the hashing workers), and
/// of the hashing: those children and the platform's `cpu-pool-*` threads.
fn platform_ticks(pid: u32) -> Option<(u64, u64)> {
    let own = stat_ticks(&format!("/proc/{pid}"))?;
    let workers: u64 = children(pid)
        .iter()
        .filter_map(|child| stat_ticks(&format!("/proc/{child}")))
        .sum();
    let mut pool_threads = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if name.starts_with("cpu-pool") {
            pool_threads += stat_ticks(&path.to_string_lossy()).unwrap_or_default();
        }
    }
    Some((own + workers, pool_threads + workers))
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&candidate| {
            stat_fields(&format!("/proc/{candidate}"))
                .and_then(|fields| fields.get(1)?.parse::<u32>().ok())
                == Some(pid)
        })
        .collect()
}

/// The fields of a `stat` file after the command name (which may hold spaces), from the state.
fn stat_fields(dir: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

/// User + system ticks of a process or thread (`/proc/<pid>` or `/proc/<pid>/task/<tid>`).
fn stat_ticks(dir: &str) -> Option<u64> {
    let fields = stat_fields(dir)?;
    // utime and stime are fields 14 and 15 of the whole line, 12th and 13th after the name.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

/// The platform process's resident memory in bytes (its own, not its workers'), if it was
/// named and `/proc` can be read.
pub(crate) fn platform_rss() -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", platform_pid()?)).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

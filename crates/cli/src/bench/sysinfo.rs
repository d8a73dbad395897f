//! What the machine is and what it spent: the environment a report is only valid for, and
//! CPU time read from `/proc` (Linux only; elsewhere the figures are simply absent).
//!
//! CPU is split by who spent it: the server child, the PostgreSQL processes on this machine,
//! this process (the load generator and the ceilings), and the whole machine, so that work
//! done by anything else during a run (another engineer's compiler) shows up as the gap.

use std::collections::HashMap;

use serde::Serialize;

/// Where a report was taken: what a reader needs before comparing two reports.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// Logical CPUs the process may use.
    pub cores: usize,
    /// The CPU model named by `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory, in MiB.
    pub memory_mib: u64,
    /// The kernel release.
    pub kernel: String,
    /// `release` or `debug`: a debug build is many times slower and says so here.
    pub build: &'static str,
    /// The commit checked out in the current directory, with `-dirty` when tracked files
    /// have changes, if git knows (run the bench from the tree it was built from).
    pub git_commit: Option<String>,
    /// `/proc/loadavg` (1, 5 and 15 minutes) when the run started: on a shared machine,
    /// how much else was running.
    pub load_at_start: String,
}

impl Environment {
    /// Reads the environment of this run.
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| kib_field(&m, "MemTotal:"))
            .map_or(0, |kib| kib / 1024);
        Self {
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            memory_mib,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned()),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            git_commit: git_commit(),
            load_at_start: load_average(),
        }
    }
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// `git rev-parse --short HEAD` (and a read-only status check) in the current directory.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).filter(|c| !c.is_empty())?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

/// A `Name:   123 kB` field of `/proc/meminfo` or `/proc/<pid>/status`, in KiB.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Peak resident memory (`VmHWM`) of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_field(&status, "VmHWM:")
}

/// Clock ticks per second of `/proc` CPU times: `getconf CLK_TCK`, else Linux's usual 100.
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// `(comm, utime + stime)` of a process from `/proc/<pid>/stat`, in clock ticks.
fn process_ticks(pid: &str) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself hold spaces or parentheses.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let comm = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // After the name: state is field 3 of the man page, utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// Busy ticks of the whole machine (every core), from the first line of `/proc/stat`.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let values: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
    let total: u64 = values.iter().take(8).sum();
    Some(total - values.get(3)? - values.get(4).unwrap_or(&0))
}

/// Ticks of the `postgres` processes on this machine that work for `database`, by pid:
/// its backends, and the server's shared background processes (WAL writer,
/// checkpointer…), which cannot be split by database. Backends of other databases (other
/// people's tests on a shared server) are left out. Empty when PostgreSQL runs elsewhere,
/// which the report then shows as no database CPU.
fn postgres_ticks(database: &str) -> HashMap<String, u64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| match process_ticks(&pid) {
            Some((comm, ticks)) if comm == "postgres" || comm.starts_with("postgres:") => {
                let title = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()?;
                works_for(&title, database).then_some((pid, ticks))
            }
            _ => None,
        })
        .collect()
}

/// Whether a `postgres` process with this title (`/proc/<pid>/cmdline`) works for
/// `database`: a backend of it (`postgres: 15/main: user db 127.0.0.1(5432) idle`), or a
/// process that is not a client backend at all (the postmaster, `… walwriter`).
fn works_for(title: &str, database: &str) -> bool {
    let words: Vec<&str> = title.split(['\0', ' ']).filter(|w| !w.is_empty()).collect();
    let client = words
        .iter()
        .any(|w| *w == "[local]" || (w.contains('(') && w.ends_with(')')));
    !client || words.contains(&database)
}

/// CPU counters at one instant, to subtract from a later one.
pub struct CpuSnapshot {
    server: u64,
    postgres: HashMap<String, u64>,
    this: u64,
    machine: u64,
}

impl CpuSnapshot {
    /// Reads every counter now; `server` is the child server's pid, and `postgres` names
    /// the bench database when PostgreSQL is the database under test.
    pub fn take(server: u32, postgres: Option<&str>) -> Self {
        let server = process_ticks(&server.to_string()).map_or(0, |(_, t)| t);
        Self {
            server,
            postgres: postgres.map(postgres_ticks).unwrap_or_default(),
            this: process_ticks("self").map_or(0, |(_, t)| t),
            machine: machine_busy_ticks().unwrap_or(0),
        }
    }

    /// CPU spent from `self` until `later`, per operation, over `ops` operations.
    pub fn per_op(&self, later: &CpuSnapshot, ops: u64, ticks_per_second: u64) -> CpuPerOp {
        let ms =
            |ticks: u64| ticks as f64 * 1000.0 / ticks_per_second.max(1) as f64 / ops.max(1) as f64;
        let postgres: u64 = later
            .postgres
            .iter()
            .map(|(pid, &t)| t.saturating_sub(self.postgres.get(pid).copied().unwrap_or(0)))
            .sum();
        CpuPerOp {
            server_ms: ms(later.server.saturating_sub(self.server)),
            database_ms: ms(postgres),
            load_generator_ms: ms(later.this.saturating_sub(self.this)),
            machine_ms: ms(later.machine.saturating_sub(self.machine)),
        }
    }
}

/// CPU milliseconds per operation, by who spent them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CpuPerOp {
    /// The server child (on SQLite this includes the database, which runs inside it).
    pub server_ms: f64,
    /// PostgreSQL processes on this machine (0 on SQLite).
    pub database_ms: f64,
    /// This process: the HTTP load generator.
    pub load_generator_ms: f64,
    /// Every core of the machine, whoever spent it.
    pub machine_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_name_and_cpu_ticks() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let (comm, _ticks) = process_ticks("self").expect("own stat");
        assert!(!comm.is_empty());
        assert!(machine_busy_ticks().is_some());
    }

    #[test]
    fn only_backends_of_the_bench_database_and_shared_processes_count_as_the_database() {
        let cases = [
            (
                "postgres: 15/main: postgres bench_1 127.0.0.1(5000) idle\0",
                true,
            ),
            (
                "postgres: 15/main: postgres sb_relay 127.0.0.1(5001) UPDATE waiting\0",
                false,
            ),
            ("postgres: 15/main: postgres other [local] idle\0", false),
            ("postgres: 15/main: walwriter \0", true),
            (
                "/usr/lib/postgresql/15/bin/postgres\0-D\0/var/lib/postgresql/15/main\0",
                true,
            ),
        ];
        for (title, expected) in cases {
            assert_eq!(works_for(title, "bench_1"), expected, "{title}");
        }
    }

    #[test]
    fn memory_fields_are_read_in_kib() {
        let status = "Name:\tstockbook\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(kib_field(status, "VmHWM:"), Some(12345));
        assert_eq!(kib_field(status, "VmSwap:"), None);
    }
}

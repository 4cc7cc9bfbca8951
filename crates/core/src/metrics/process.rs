//! The process's own series, named as every Prometheus client library names them
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...), so the usual dashboards
//! and alerts work unchanged. Read from `/proc/self` at scrape time, on Linux only: elsewhere
//! the collector is not registered and the series are absent. A file that cannot be read or
//! parsed leaves out only the series it would have given.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Linux's `USER_HZ`, the unit of the CPU times and the start time in `/proc/<pid>/stat`.
/// Fixed at 100 by the kernel's user ABI on the architectures this runs on (Prometheus's own
/// procfs library assumes the same), so no `sysconf` call is needed.
const USER_HZ: f64 = 100.0;

/// Registered on the root registry (no `carat_merchant_` prefix).
#[derive(Debug, Default)]
pub(super) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let s = Snapshot::read();
        if let Some(cpu) = s.cpu_seconds {
            let help = "Total user and system CPU time spent in seconds";
            encode(
                &mut encoder,
                "process_cpu_seconds",
                help,
                ConstCounter::new(cpu),
            )?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                s.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                s.virtual_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                s.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors (the soft limit)",
                s.max_fds,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                encode(&mut encoder, name, help, ConstGauge::new(value))?;
            }
        }
        if let Some(started) = s.start_time_seconds {
            let help = "Start time of the process since unix epoch in seconds";
            let gauge = ConstGauge::new(started);
            encode(&mut encoder, "process_start_time_seconds", help, gauge)?;
        }
        Ok(())
    }
}

fn encode(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: impl EncodeMetric,
) -> fmt::Result {
    let metric_encoder = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
    metric.encode(metric_encoder)
}

/// One scrape's reading; `None` where a file could not be read or parsed.
#[derive(Debug, Default, PartialEq)]
struct Snapshot {
    cpu_seconds: Option<f64>,
    start_time_seconds: Option<f64>,
    resident_bytes: Option<i64>,
    virtual_bytes: Option<i64>,
    open_fds: Option<i64>,
    max_fds: Option<i64>,
}

impl Snapshot {
    fn read() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let stat = read("/proc/self/stat").and_then(|text| Stat::parse(&text));
        let boot_time = read("/proc/stat").and_then(|text| boot_time(&text));
        // The directory's own descriptor, open while it is listed, is counted as well, as
        // the Go client counts it.
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as i64);
        Self {
            cpu_seconds: stat.as_ref().map(|s| s.cpu_ticks as f64 / USER_HZ),
            start_time_seconds: stat
                .as_ref()
                .zip(boot_time)
                .map(|(s, boot)| boot as f64 + s.start_ticks as f64 / USER_HZ),
            resident_bytes: read("/proc/self/status").and_then(|text| resident_bytes(&text)),
            virtual_bytes: stat.as_ref().map(|s| s.virtual_bytes),
            open_fds,
            max_fds: read("/proc/self/limits").and_then(|text| max_open_files(&text)),
        }
    }
}

/// What the series need from `/proc/self/stat`.
#[derive(Debug, PartialEq)]
struct Stat {
    /// User plus system time, in `USER_HZ` ticks.
    cpu_ticks: u64,
    /// Ticks from boot to the process's start.
    start_ticks: u64,
    virtual_bytes: i64,
}

impl Stat {
    /// proc(5)'s fields 14 (utime), 15 (stime), 22 (starttime), 23 (vsize). Counted after the
    /// command's closing parenthesis: the command itself may hold spaces and parentheses.
    fn parse(text: &str) -> Option<Self> {
        let (_, after) = text.rsplit_once(')')?;
        // `after` starts with field 3 (state).
        let fields: Vec<&str> = after.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(Self {
            cpu_ticks: field(14)?.checked_add(field(15)?)?,
            start_ticks: field(22)?,
            virtual_bytes: i64::try_from(field(23)?).ok()?,
        })
    }
}

/// `btime` of `/proc/stat`: the boot time, in seconds since the epoch.
fn boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

/// `VmRSS` of `/proc/self/status`, given in kB (KiB), in bytes.
fn resident_bytes(status: &str) -> Option<i64> {
    let value = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kib: i64 = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// The soft limit of "Max open files" in `/proc/self/limits`; `None` when unlimited.
fn max_open_files(limits: &str) -> Option<i64> {
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    line.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_however_it_is_named() {
        let text = "4242 (tokio (rt) 1) S 1 4242 4242 0 -1 4194560 1 0 0 0 \
                    250 51 0 0 20 0 9 0 102708 3133440 359 18446744073709551615 0\n";
        assert_eq!(
            Stat::parse(text),
            Some(Stat {
                cpu_ticks: 301,
                start_ticks: 102708,
                virtual_bytes: 3133440,
            })
        );
        assert_eq!(Stat::parse("4242 (cut short) S 1 2 3"), None);
    }

    #[test]
    fn boot_time_memory_and_the_fd_limit_are_read_from_their_lines() {
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1796584250\nprocesses 9\n"),
            Some(1796584250)
        );
        let status = "Name:\tcarat\nVmSize:\t    3892 kB\nVmRSS:\t    1940 kB\n";
        assert_eq!(resident_bytes(status), Some(1940 * 1024));
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            20000                524288               files     \n";
        assert_eq!(max_open_files(limits), Some(20000));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(max_open_files(unlimited), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_plausibly() {
        let s = Snapshot::read();
        assert!(s.resident_bytes.is_some_and(|b| b > 0), "{s:?}");
        assert!(s.virtual_bytes >= s.resident_bytes, "{s:?}");
        assert!(s.open_fds.is_some_and(|n| n > 0), "{s:?}");
        assert!(
            s.cpu_seconds.is_some() && s.start_time_seconds.is_some(),
            "{s:?}"
        );
    }
}

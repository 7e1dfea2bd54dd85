//! The scenarios, and the one-line result every load generator and client driver prints.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The size of the binary param of the `big` scenario.
pub const BIG_PAYLOAD: usize = 1024 * 1024;

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// One connection, one request at a time.
    Sequential,
    /// One connection, 64 requests in flight.
    Pipelined,
    /// 16 connections, 16 requests in flight on each.
    Connections,
    /// One connection, one request at a time carrying a 1 MiB binary param.
    Big,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::Sequential,
        Scenario::Pipelined,
        Scenario::Connections,
        Scenario::Big,
    ];

    pub fn connections(self) -> usize {
        match self {
            Scenario::Connections => 16,
            _ => 1,
        }
    }

    /// Requests in flight per connection (a power of two).
    pub fn window(self) -> usize {
        match self {
            Scenario::Pipelined => 64,
            Scenario::Connections => 16,
            _ => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Sequential => "seq",
            Scenario::Pipelined => "pipe",
            Scenario::Connections => "conns",
            Scenario::Big => "big",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Scenario::Sequential => "sequential, 1 conn",
            Scenario::Pipelined => "pipelined, 1 conn x 64",
            Scenario::Connections => "16 conns x 16",
            Scenario::Big => "1 MiB param, 1 conn",
        }
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .iter()
            .copied()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| format!("unknown scenario `{}` (seq, pipe, conns, big)", s))
    }
}

/// What a driver measured, printed as one `RESULT ...` line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measurement {
    /// Responses received (and checked) in the measured window.
    pub requests: u64,
    pub seconds: f64,
    /// Latency percentiles, in nanoseconds.
    pub p50_ns: u64,
    pub p99_ns: u64,
    /// Payload bytes carried by those requests.
    pub bytes: u64,
    /// Responses received in the whole run, warm-up included (for CPU time per request).
    pub total: u64,
}

impl Measurement {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    pub fn mib_per_second(&self) -> f64 {
        self.bytes as f64 / self.seconds / (1024.0 * 1024.0)
    }

    /// Builds the measurement from the responses' latencies (nanoseconds).
    pub fn from_latencies(latencies: &mut [u32], seconds: f64, bytes: u64, total: u64) -> Self {
        let pct = |lat: &mut [u32], p: f64| -> u64 {
            if lat.is_empty() {
                return 0;
            }
            let k = ((lat.len() as f64 * p) as usize).min(lat.len() - 1);
            u64::from(*lat.select_nth_unstable(k).1)
        };
        Measurement {
            requests: latencies.len() as u64,
            seconds,
            p50_ns: pct(latencies, 0.50),
            p99_ns: pct(latencies, 0.99),
            bytes,
            total,
        }
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RESULT requests={} seconds={:.6} p50_ns={} p99_ns={} bytes={} total={}",
            self.requests, self.seconds, self.p50_ns, self.p99_ns, self.bytes, self.total
        )
    }
}

impl FromStr for Measurement {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, String> {
        let rest = line
            .trim()
            .strip_prefix("RESULT ")
            .ok_or_else(|| format!("not a result line: {}", line))?;
        let mut m = Measurement::default();
        for field in rest.split_whitespace() {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| format!("bad field {}", field))?;
            let bad = |_| format!("bad value in {}", field);
            match key {
                "requests" => m.requests = value.parse().map_err(bad)?,
                "seconds" => {
                    m.seconds = value
                        .parse()
                        .map_err(|_| format!("bad value in {}", field))?
                }
                "p50_ns" => m.p50_ns = value.parse().map_err(bad)?,
                "p99_ns" => m.p99_ns = value.parse().map_err(bad)?,
                "bytes" => m.bytes = value.parse().map_err(bad)?,
                "total" => m.total = value.parse().map_err(bad)?,
                _ => {}
            }
        }
        Ok(m)
    }
}

/// The options every driver takes: `--addr A --scenario S --duration SECS --warmup SECS`.
#[derive(Debug, Clone)]
pub struct DriverArgs {
    pub addr: std::net::SocketAddr,
    pub scenario: Scenario,
    pub duration: Duration,
    pub warmup: Duration,
}

impl DriverArgs {
    /// Parses the process arguments, or exits with a usage line.
    pub fn from_env() -> Self {
        match Self::parse(std::env::args().skip(1)) {
            Ok(args) => args,
            Err(err) => {
                eprintln!(
                    "error: {}\nusage: DRIVER --addr ADDR --scenario seq|pipe|conns|big [--duration SECS] [--warmup SECS]",
                    err
                );
                std::process::exit(1);
            }
        }
    }

    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut addr = None;
        let mut scenario = None;
        let mut duration = Duration::from_secs(2);
        let mut warmup = Duration::from_millis(300);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{} needs a value", flag));
            match flag.as_str() {
                "--addr" => addr = Some(value()?.parse().map_err(|_| "bad --addr".to_owned())?),
                "--scenario" => scenario = Some(value()?.parse()?),
                "--duration" => duration = secs(&value()?)?,
                "--warmup" => warmup = secs(&value()?)?,
                other => return Err(format!("unknown option {}", other)),
            }
        }
        Ok(DriverArgs {
            addr: addr.ok_or("--addr is required")?,
            scenario: scenario.ok_or("--scenario is required")?,
            duration,
            warmup,
        })
    }
}

fn secs(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("`{}` is not a number of seconds", text))
}

/// Exits with a message that the runner shows as the cause of a failed cell.
pub fn fail(message: &str) -> ! {
    eprintln!("FAILED: {}", message);
    std::process::exit(2);
}

/// The expected sum of the n-th `add` request of a connection, and its params.
pub fn add_params(seq: u32) -> (i64, i64) {
    (i64::from(seq % 100_000) - 50_000, 12_345)
}

//! The child processes: servers pinned to a CPU and killed with the runner, and one
//! driver run to completion.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rmp_rpc_demo_bench::scenario::{Measurement, Scenario};

use crate::die;
use crate::options::Options;

/// A command that dies with the runner (SIGKILL when the runner exits, whatever the cause).
pub fn command(program: &Path, cpu: Option<&str>) -> Command {
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu).arg(program);
            c
        }
        None => Command::new(program),
    };
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

/// A running server; killed when dropped, even on error or panic.
pub struct Running {
    pub server: String,
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: mpsc::Receiver<String>,
}

impl Running {
    /// Starts `program 127.0.0.1:0 ARGS...`, on `cpu` if given.
    pub fn start(program: &Path, args: &[&str], cpu: Option<&str>) -> Running {
        let binary = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let binary = binary.as_str();
        let mut cmd = command(program, cpu);
        cmd.arg("127.0.0.1:0")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|err| die(&format!("cannot start {}: {}", binary, err)));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (line_tx, line_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = line_tx.send(line);
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let (err_tx, err_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let mut running = Running {
            server: binary.to_owned(),
            child,
            addr: "127.0.0.1:0".parse().expect("address"),
            stderr: err_rx,
        };
        let line = match line_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => die(&format!(
                "{} did not print `listening on ADDR` within 20 s{}",
                binary,
                running.errors()
            )),
        };
        running.addr = line
            .split_whitespace()
            .skip_while(|w| *w != "on")
            .nth(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                die(&format!(
                    "{} printed `{}`, not `listening on ADDR`",
                    binary, line
                ))
            });
        running
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote on stderr so far, for error messages.
    pub fn errors(&self) -> String {
        let lines: Vec<String> = self.stderr.try_iter().collect();
        if lines.is_empty() {
            String::new()
        } else {
            format!("; its stderr: {}", lines.join(" | "))
        }
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one driver to completion (or kills it after `limit`), on `cpu` if given; returns
/// its measurement.
pub fn run_driver(
    bin_dir: &Path,
    binary: &str,
    cpu: Option<&str>,
    addr: SocketAddr,
    sc: Scenario,
    o: &Options,
) -> Result<Measurement, String> {
    // The driver must be reaped before this returns, so that its usage is counted.
    let mut cmd = command(&bin_dir.join(binary), cpu);
    cmd.arg("--addr")
        .arg(addr.to_string())
        .arg("--scenario")
        .arg(sc.name())
        .arg("--duration")
        .arg(o.duration.to_string())
        .arg("--warmup")
        .arg(o.warmup.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|err| format!("cannot start {}: {}", binary, err))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let limit = Duration::from_secs_f64(o.duration + o.warmup + 20.0);
    let output = match rx.recv_timeout(limit) {
        Ok(Ok(output)) => output,
        Ok(Err(err)) => return Err(format!("{}: {}", binary, err)),
        Err(_) => {
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            return Err(format!("{} did not finish within {:?}", binary, limit));
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().find(|l| l.starts_with("RESULT ")) {
        Some(line) if output.status.success() => line.parse(),
        _ => Err(format!(
            "{} failed ({}): {}",
            binary,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

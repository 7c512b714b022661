//! Runs a measured child from a small process of its own, so that the peak RSS reported
//! for the child is the child's. On Linux a process's `ru_maxrss` starts at the high-water
//! mark of the address space it was exec'd from, so a child spawned straight from a runner
//! that hosts the simulator reports the runner's peak whenever that is the higher one. A
//! spawner started while its runner is still small keeps that inherited figure to a few MB.

use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::client::{own_peak_kb, usage, Who};

/// The flag that makes a benchmark binary serve as a spawner.
pub const FLAG: &str = "--spawner";

/// One command to run: program, arguments and environment changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Job {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub env_remove: Vec<String>,
}

impl Job {
    /// `program`, run under the tool (and its arguments) that the variable `wrap` names,
    /// if it is set: `SAIL_BENCH_WRAP="perf record -g --"`.
    pub fn wrapped(wrap: &str, program: &str) -> Job {
        let wrap = std::env::var(wrap).unwrap_or_default();
        let mut words = wrap.split_whitespace().map(str::to_owned);
        match words.next() {
            Some(tool) => Job {
                program: tool,
                args: words.chain([program.to_owned()]).collect(),
                ..Job::default()
            },
            None => Job {
                program: program.to_owned(),
                ..Job::default()
            },
        }
    }

    /// Adds arguments.
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Job {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }
}

/// How the child went: its exit code and output, wall time from spawn to exit, CPU (user +
/// system, and system alone) and peak RSS.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub sys_s: f64,
    pub max_rss_kb: i64,
    /// The spawner's own peak RSS (`VmHWM`) when it spawned the child: the least
    /// `max_rss_kb` can be.
    pub spawner_rss_kb: i64,
}

/// A spawner process waiting for its one job.
pub struct Spawner {
    child: Child,
}

impl Spawner {
    /// Starts a spawner (this program with [`FLAG`]). Start it before the caller grows.
    pub fn start() -> anyhow::Result<Spawner> {
        let child = Command::new(std::env::current_exe()?)
            .arg(FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting a spawner")?;
        Ok(Spawner { child })
    }

    /// Runs `job` in the spawner and waits for it.
    pub fn run(mut self, job: &Job) -> anyhow::Result<Ran> {
        let mut stdin = self.child.stdin.take().context("spawner stdin")?;
        writeln!(stdin, "{}", serde_json::to_string(job)?)?;
        drop(stdin);
        let out = self.child.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        match text.lines().last().map(serde_json::from_str::<Ran>) {
            Some(Ok(ran)) if out.status.success() => Ok(ran),
            _ => bail!("the spawner failed for {}: {text}", job.program),
        }
    }
}

/// The spawner's side: reads one [`Job`] from stdin, runs it, prints a [`Ran`]. Ends
/// quietly when stdin closes with no job.
pub fn serve() -> anyhow::Result<()> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Ok(());
    }
    let job: Job = serde_json::from_str(&line)?;
    let mut cmd = Command::new(&job.program);
    cmd.args(&job.args);
    for (k, v) in &job.env {
        cmd.env(k, v);
    }
    for k in &job.env_remove {
        cmd.env_remove(k);
    }
    let spawner_rss_kb = own_peak_kb()?;
    let started = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("running {}", job.program))?;
    let wall_s = started.elapsed().as_secs_f64();
    let children = usage(Who::Children)?;
    let ran = Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        wall_s,
        cpu_s: children.cpu_s,
        sys_s: children.sys_s,
        max_rss_kb: children.max_rss_kb,
        spawner_rss_kb,
    };
    println!("{}", serde_json::to_string(&ran)?);
    Ok(())
}

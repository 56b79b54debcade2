//! Host processes: the real `plaza-host` binary, run on homes made by its
//! own `testnet` command, killed (`kill -9`), paused (SIGSTOP) and started
//! again at will, each one's log kept for the test to read.
//!
//! The binary is the one `cargo test --workspace` builds beside the test
//! binaries (`target/<profile>/plaza-host`); `cargo build -p server-less
//! --bin plaza-host` makes it when only this crate's tests are run.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of a host's log kept at most.
const LOG_LINES: usize = 50_000;

/// The `plaza-host` binary of this build.
pub fn plaza_host_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/plaza-host
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let binary = dir.join("plaza-host");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p server-less --bin plaza-host` \
         (cargo test --workspace builds it)",
        binary.display()
    );
    binary
}

/// `plaza-host --home <home>`, logging at info.
pub fn plaza_host(home: &Path) -> Command {
    let mut command = Command::new(plaza_host_binary());
    command.arg("--home").arg(home).env("RUST_LOG", "info");
    command
}

/// Points the config of the home at `home` at free loopback ports for its
/// join endpoint and sessions; the join address.
pub fn use_free_ports(home: &Path) -> SocketAddr {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (join, session) = (
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    );
    drop((tcp, udp));
    let path = home.join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let operator = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let operator = operator.local_addr().unwrap().port();
    let config = config
        .replace("join_port = 7480", &format!("join_port = {join}"))
        .replace("udp_port = 7481", &format!("udp_port = {session}"))
        .replace("127.0.0.1:7484", &format!("127.0.0.1:{operator}"));
    std::fs::write(&path, config).unwrap();
    SocketAddr::from(([127, 0, 0, 1], join))
}

/// `plaza-host status --json` of the host in `home`, running or not.
pub fn status(home: &Path) -> serde_json::Value {
    let out = plaza_host(home)
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "status of {}: {}",
        home.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A host process on its own home, killed when dropped.
pub struct HostProcess(Child);

impl HostProcess {
    /// Starts `plaza-host run` in `home` and waits until its log says
    /// `ready`.
    pub fn start(home: &Path, ready: &str) -> HostProcess {
        let (lines, log) = std::sync::mpsc::channel();
        // Once the test stops listening the rest is drained unread.
        let child = run(home, move |line| {
            let _ = lines.send(line);
        });
        let said = std::iter::from_fn(|| log.recv_timeout(Duration::from_secs(60)).ok())
            .any(|line| line.contains(ready));
        assert!(said, "the host never said {ready:?}");
        HostProcess(child)
    }

    /// Kills it (`kill -9`).
    pub fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `plaza-host run` in `home`, handing each line it logs to
/// `line` on a thread of its own.
fn run(home: &Path, mut line: impl FnMut(String) + Send + 'static) -> Child {
    let mut child = plaza_host(home)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for text in BufReader::new(stderr).lines().map_while(Result::ok) {
            line(text);
        }
    });
    child
}

/// One host process and its log so far.
struct Running {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

/// A network made by `plaza-host testnet` in a directory of its own: its
/// hosts are numbered from 1, validators first.
pub struct Network {
    dir: tempfile::TempDir,
    base: u16,
    /// Each host's join endpoint.
    joins: Vec<SocketAddr>,
    /// Each host's operator's port.
    operators: Vec<SocketAddr>,
    hosts: Vec<Option<Running>>,
    /// Every line each host has logged, over all its runs.
    logs: Vec<Arc<Mutex<Vec<String>>>>,
}

impl Network {
    /// Makes `validators` validators and `followers` followers on a block
    /// of free ports; none is started.
    pub fn make(validators: usize, followers: usize, chain: &str) -> Network {
        let dir = tempfile::tempdir().unwrap();
        let base = server_less::bench::free_port_block().unwrap();
        let made = plaza_host(&dir.path().join("unused"))
            .args(["testnet", "--hosts", &validators.to_string()])
            .args(["--followers", &followers.to_string()])
            .args(["--chain-id", chain])
            .arg("--dir")
            .arg(dir.path())
            .args(["--base-port", &base.to_string()])
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let count = validators + followers;
        Network {
            dir,
            base,
            joins: (0..count)
                .map(|index| SocketAddr::from(([127, 0, 0, 1], base + 10 * index as u16)))
                .collect(),
            operators: (0..count)
                .map(|index| SocketAddr::from(([127, 0, 0, 1], base + 10 * index as u16 + 4)))
                .collect(),
            hosts: (0..count).map(|_| None).collect(),
            logs: (0..count)
                .map(|_| Arc::new(Mutex::new(Vec::new())))
                .collect(),
        }
    }

    /// Host `n`'s home.
    pub fn home(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("host-{n}"))
    }

    /// Host `n`'s join endpoint.
    pub fn join(&self, n: usize) -> SocketAddr {
        self.joins[n - 1]
    }

    /// Host `n`'s operator's port (metrics and the status page).
    pub fn operator(&self, n: usize) -> SocketAddr {
        self.operators[n - 1]
    }

    /// Makes the next host as a stranger on another machine would: with
    /// `plaza-host init --join` through host `through`'s join endpoint,
    /// trusting the genesis hash `genesis`, listening on `ip` (another
    /// loopback address stands for another machine). Its number, or what
    /// `init` said when it refused.
    pub fn join_network(
        &mut self,
        through: usize,
        genesis: &str,
        ip: std::net::IpAddr,
    ) -> Result<usize, String> {
        self.join_network_with(through, genesis, ip, &[])
            .map(|(n, _)| n)
    }

    /// As [`Network::join_network`], with more arguments to `init`; the
    /// host's number and what `init` printed.
    pub fn join_network_with(
        &mut self,
        through: usize,
        genesis: &str,
        ip: std::net::IpAddr,
        more: &[&str],
    ) -> Result<(usize, String), String> {
        let n = self.hosts.len() + 1;
        // The testnet's block of ports has room after its hosts'.
        let port = self.base + 40;
        let made = plaza_host(&self.home(n))
            .args(["init", "--join", &self.join(through).to_string()])
            .args(["--genesis", genesis])
            .args(["--bind", &ip.to_string()])
            .args(["--port", &port.to_string()])
            .args(more)
            .output()
            .unwrap();
        if !made.status.success() {
            return Err(String::from_utf8_lossy(&made.stderr).into_owned());
        }
        self.hosts.push(None);
        self.logs.push(Arc::new(Mutex::new(Vec::new())));
        self.joins.push(SocketAddr::new(ip, port));
        // The operator's port stays on loopback.
        self.operators
            .push(SocketAddr::from(([127, 0, 0, 1], port + 4)));
        Ok((n, String::from_utf8_lossy(&made.stdout).into_owned()))
    }

    /// `plaza-host status --json` of host `n`, running or not.
    pub fn status(&self, n: usize) -> serde_json::Value {
        status(&self.home(n))
    }

    /// Runs `plaza-host --home <host n> <args>`; its standard output, or
    /// its error.
    pub fn command(&self, n: usize, args: &[&str]) -> Result<String, String> {
        let out = plaza_host(&self.home(n)).args(args).output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The directory the hosts' homes are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Host `n`'s consensus WAL.
    pub fn wal(&self, n: usize) -> PathBuf {
        self.home(n).join("wal").join("consensus.wal")
    }

    /// Starts host `n` and waits until it takes players.
    pub fn start(&mut self, n: usize) {
        self.spawn(n);
        let deadline = Instant::now() + Duration::from_secs(90);
        while !self.said(n, "players can join") {
            if let Some(status) = self.exited(n) {
                panic!(
                    "host {n} exited ({status}) before taking players:\n{}",
                    self.tail(n, 40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "host {n} never took players:\n{}",
                self.tail(n, 40)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts host `n` without waiting for it.
    pub fn spawn(&mut self, n: usize) {
        assert!(self.hosts[n - 1].is_none(), "host {n} is running");
        let log = self.logs[n - 1].clone();
        log.lock().unwrap().push(format!("---- run {n} ----"));
        let keep = log.clone();
        let child = run(&self.home(n), move |line| {
            let mut lines = keep.lock().unwrap();
            if lines.len() >= LOG_LINES {
                lines.remove(0);
            }
            lines.push(line);
        });
        self.hosts[n - 1] = Some(Running { child, log });
    }

    /// Whether host `n`'s current run has logged a line containing `text`.
    pub fn said(&self, n: usize, text: &str) -> bool {
        let Some(running) = &self.hosts[n - 1] else {
            return false;
        };
        let lines = running.log.lock().unwrap();
        lines
            .iter()
            .rev()
            .take_while(|line| !line.starts_with("---- run"))
            .any(|line| line.contains(text))
    }

    /// Lines of host `n`'s log, over all its runs, containing `text`.
    pub fn lines_with(&self, n: usize, text: &str) -> Vec<String> {
        self.logs[n - 1]
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains(text))
            .cloned()
            .collect()
    }

    /// The last `count` lines host `n` logged.
    pub fn tail(&self, n: usize, count: usize) -> String {
        let lines = self.logs[n - 1].lock().unwrap();
        lines[lines.len().saturating_sub(count)..].join("\n")
    }

    /// Host `n`'s exit status, if its process has ended.
    pub fn exited(&mut self, n: usize) -> Option<ExitStatus> {
        let running = self.hosts[n - 1].as_mut()?;
        running.child.try_wait().unwrap()
    }

    /// Waits up to `timeout` for host `n` to exit on its own.
    pub fn wait_exit(&mut self, n: usize, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited(n) {
                self.hosts[n - 1] = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills host `n` as a power cut would: nothing it held in memory is
    /// written.
    pub fn kill(&mut self, n: usize) {
        if let Some(mut running) = self.hosts[n - 1].take() {
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }

    /// Stops host `n` with Ctrl-C (SIGINT) and waits for it to exit.
    pub fn interrupt(&mut self, n: usize) -> ExitStatus {
        self.stop_with(n, "INT")
    }

    /// Stops host `n` as a service manager does (SIGTERM) and waits for it
    /// to exit.
    pub fn terminate(&mut self, n: usize) -> ExitStatus {
        self.stop_with(n, "TERM")
    }

    fn stop_with(&mut self, n: usize, name: &str) -> ExitStatus {
        let running = self.hosts[n - 1].take().unwrap();
        let mut child = running.child;
        assert!(
            signal(&child, name),
            "SIG{name} could not be sent to host {n}"
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("host {n} did not stop within 30 s of SIG{name}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Freezes host `n` (SIGSTOP): its sockets stay open, it answers
    /// nothing.
    pub fn pause(&self, n: usize) {
        assert!(signal(&self.hosts[n - 1].as_ref().unwrap().child, "STOP"));
    }

    /// Lets host `n` run again (SIGCONT).
    pub fn resume(&self, n: usize) {
        assert!(signal(&self.hosts[n - 1].as_ref().unwrap().child, "CONT"));
    }

    /// Whether host `n` is running.
    pub fn is_running(&self, n: usize) -> bool {
        self.hosts[n - 1].is_some()
    }

    /// How many hosts the network has.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether the network has no hosts.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

/// Sends signal `name` to `child`; whether it was delivered.
fn signal(child: &Child, name: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .is_ok_and(|status| status.success())
}

impl Drop for Network {
    fn drop(&mut self) {
        for n in 1..=self.hosts.len() {
            if let Some(running) = &self.hosts[n - 1] {
                // A paused host cannot die until it runs again.
                let _ = signal(&running.child, "CONT");
            }
            self.kill(n);
        }
    }
}

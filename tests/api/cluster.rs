//! A throwaway PostgreSQL cluster, so a test can stop and start "the database server" without
//! touching the shared one. Dropping it stops it and removes its directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Run the PostgreSQL tools as `postgres` (PostgreSQL refuses to run as root).
    as_postgres: bool,
    /// How long `start_new` took (initdb and the first start).
    startup: Duration,
}

impl Cluster {
    /// Makes a cluster in a fresh directory and starts it. Blocks: call it before the service
    /// exists (or inside `spawn_blocking`).
    pub fn start_new() -> Self {
        let began = Instant::now();
        let bin = newest_bin();
        let as_postgres = running_as_root();
        let dir = std::env::temp_dir().join(format!(
            "carat-pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let mut cluster = Self {
            bin,
            dir,
            port: 0,
            as_postgres,
            startup: Duration::ZERO,
        };
        // From here on, a panic drops `cluster`, which removes the directory.
        if as_postgres {
            let chown = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&cluster.dir)
                .output();
            check("chown", chown);
        }
        let data = cluster.data();
        let initdb = cluster
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .output();
        check("initdb", initdb);
        // The port is free when picked, not necessarily when PostgreSQL binds it: try again on a
        // lost race rather than fail the test.
        for attempt in 1..=3 {
            cluster.port = free_port();
            match cluster.run_start() {
                Ok(()) => break,
                Err(e) if attempt < 3 && e.contains("could not bind") => continue,
                Err(e) => panic!("could not start the test cluster: {e}"),
            }
        }
        cluster.startup = began.elapsed();
        // The port names the processes to look for if a test run is killed mid-way.
        eprintln!(
            "test cluster on port {} ({}) up in {:?}",
            cluster.port,
            cluster.dir.display(),
            cluster.startup
        );
        cluster
    }

    /// The server, without a database name (as `Options.database_server` wants it).
    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Stops the server at once, as a crash would (`-m immediate`). Off the runtime's thread,
    /// so the service keeps running meanwhile.
    pub async fn stop(&self) {
        let command = self.stop_command();
        let output = tokio::task::spawn_blocking(move || run(command))
            .await
            .unwrap();
        check("pg_ctl stop", output);
    }

    /// Starts the server again on the same port and directory, waiting until it accepts
    /// connections. Off the runtime's thread, like `stop`.
    pub async fn start(&self) {
        let command = self.start_command();
        let log = self.dir.join("log");
        let output = tokio::task::spawn_blocking(move || run(command))
            .await
            .unwrap();
        if let Err(e) = outcome(output) {
            panic!("pg_ctl start: {e}\n--- server log ---\n{}", tail(&log));
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run_start(&self) -> Result<(), String> {
        outcome(run(self.start_command()))
            .map_err(|e| format!("{e}\n--- server log ---\n{}", tail(&self.dir.join("log"))))
    }

    fn start_command(&self) -> Command {
        // fsync=off only loses data if the machine crashes, not when PostgreSQL is killed, which
        // is what these tests do. Not synchronous_commit=off: an immediate stop would then lose
        // commits the service was told about.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB \
             -c max_connections=60",
            self.port,
            self.dir.display()
        );
        let mut command = self.command("pg_ctl");
        command
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "30", "-o", &options, "start"]);
        command
    }

    fn stop_command(&self) -> Command {
        let mut command = self.command("pg_ctl");
        command
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "-t", "30", "stop"]);
        command
    }

    fn command(&self, tool: &str) -> Command {
        let tool = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(tool);
            c
        } else {
            Command::new(tool)
        };
        // The test's working directory may not be readable by `postgres`.
        command.current_dir(&self.dir);
        command
    }
}

/// A database of a throwaway cluster made to refuse connections (`ALLOW_CONNECTIONS false`,
/// its open ones terminated, so the pool's go too) until [`RefusedConnections::allow`].
pub struct RefusedConnections {
    admin: sqlx::PgConnection,
    name: String,
}

impl RefusedConnections {
    /// `pool`'s database, on `cluster`, refuses connections from now on.
    pub async fn start(cluster: &Cluster, pool: &sqlx::PgPool) -> Self {
        use sqlx::Connection;
        let name: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(pool)
            .await
            .unwrap();
        let admin = sqlx::PgConnection::connect(&format!("{}/postgres", cluster.server_url()))
            .await
            .unwrap();
        let mut gate = Self { admin, name };
        gate.set(false).await;
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&gate.name)
        .execute(&mut gate.admin)
        .await
        .unwrap();
        gate
    }

    /// Lets connections in again.
    pub async fn allow(mut self) {
        use sqlx::Connection;
        self.set(true).await;
        self.admin.close().await.unwrap();
    }

    async fn set(&mut self, allowed: bool) {
        // The database name is the test's own (test_<uuid>): safe to splice, quoted.
        let sql = format!(
            "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS {allowed}",
            self.name
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut self.admin)
            .await
            .unwrap();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Already stopped (by the test) when there is no pid file.
        if self.data().join("postmaster.pid").exists()
            && let Err(e) = outcome(run(self.stop_command()))
        {
            eprintln!("could not stop the test cluster: {e}");
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("could not remove {}: {e}", self.dir.display());
        }
    }
}

/// The `bin` directory of the newest PostgreSQL installed under `/usr/lib/postgresql`.
fn newest_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    match newest {
        Some((_, bin)) => bin,
        // Not a skip: these tests are how an outage is known to be handled, and CI installs
        // PostgreSQL for them.
        None => panic!(
            "no PostgreSQL server binaries (initdb, pg_ctl) under {}/*/bin: install the \
             postgresql package to run the outage tests",
            root.display()
        ),
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let uid = status.lines().find(|l| l.starts_with("Uid:"))?;
            Some(uid.split_whitespace().nth(1)? == "0")
        })
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn run(mut command: Command) -> std::io::Result<Output> {
    command.output()
}

fn outcome(output: std::io::Result<Output>) -> Result<(), String> {
    let output = output.map_err(|e| e.to_string())?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

fn check(what: &str, output: std::io::Result<Output>) {
    if let Err(e) = outcome(output) {
        panic!("{what}: {e}");
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

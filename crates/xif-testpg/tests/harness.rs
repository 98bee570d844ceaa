//! The harness on a real PostgreSQL: databases are apart, a stopped server comes back with its
//! data, and the instance and its folder go when the test process is killed.
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn each_database_is_fresh_and_apart() {
    let pg = xif_testpg::shared();
    let a = xif_testpg::database("apart A");
    let b = xif_testpg::database("apart A");
    assert_ne!(a, b, "two calls, two databases");
    assert!(a.starts_with(&format!("postgres://postgres@127.0.0.1:{}/apart_a_", pg.port())), "{a}");
    let name = |url: &str| url.rsplit('/').next().unwrap_or_default().to_string();
    pg.psql(&name(&a), "CREATE TABLE only_in_a (x bigint); INSERT INTO only_in_a VALUES (9223372036854775807)")
        .expect("create in A");
    assert_eq!(pg.psql(&name(&a), "SELECT x FROM only_in_a").expect("read A"), "9223372036854775807");
    let err = pg.psql(&name(&b), "SELECT x FROM only_in_a").expect_err("absent from B");
    assert!(err.contains("does not exist"), "{err}");
    assert!(pg.bin_dir().join("pg_dump").is_file(), "pg_dump is beside the server");
}

#[test]
fn a_stopped_server_comes_back_with_its_data() {
    let pg = xif_testpg::Postgres::start();
    let url = pg.database("restart");
    let db = url.rsplit('/').next().unwrap_or_default();
    pg.psql(db, "CREATE TABLE kept (x text); INSERT INTO kept VALUES ('still here')").expect("write");
    pg.stop();
    assert!(!pg.is_running());
    assert!(pg.psql(db, "SELECT 1").is_err(), "a stopped server refuses connections");
    pg.start_again();
    assert_eq!(pg.psql(db, "SELECT x FROM kept").expect("read"), "still here");
    let dir = pg.socket_dir().to_path_buf();
    drop(pg);
    assert!(!dir.exists(), "a private instance's folder goes when it is dropped");
}

/// Not a test by itself: the process that `the_instance_dies_with_its_process` kills.
#[test]
fn child_holding_an_instance() {
    if std::env::var_os("XIF_TESTPG_CHILD").is_none() {
        return;
    }
    let pg = xif_testpg::shared();
    let _ = xif_testpg::database("child");
    println!("INSTANCE {} {}", pg.port(), pg.socket_dir().display());
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[test]
fn the_instance_dies_with_its_process() {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "child_holding_an_instance", "--nocapture", "--test-threads=1"])
        .env("XIF_TESTPG_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the child starts");
    let stdout = child.stdout.take().expect("stdout");
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest prints `test NAME ... ` before it, on the same line.
        .find_map(|l| l.split_once("INSTANCE ").map(|(_, rest)| rest.to_string()))
        .expect("the child reports its instance");
    let mut words = line.split_whitespace();
    let port: u16 = words.next().and_then(|p| p.parse().ok()).expect("a port");
    let dir = Path::new(words.next().expect("a folder")).to_path_buf();
    let accepts = || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    assert!(accepts(), "the child's server accepts connections");
    assert!(dir.join("data/postmaster.pid").is_file());

    child.kill().expect("SIGKILL the child");
    child.wait().expect("reaped");
    let started = Instant::now();
    while accepts() || dir.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "10 s after its process was killed, the server still {} and its folder {}",
            if accepts() { "accepts connections" } else { "is gone" },
            if dir.exists() { "is still there" } else { "is gone" },
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

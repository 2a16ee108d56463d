//! The service's own endpoints (health, readiness, metrics) and its command line.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Db, TestApp};
use serde_json::Value;

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let t = TestApp::builder(Db::Postgres).with_redis().start().await;
    let health = t.http.get(t.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let ready = t.http.get(t.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok", "{body}");
    assert_eq!(body["redis"], "ok", "{body}");

    let metrics = t
        .http
        .get(t.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "switchboard_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("switchboard_http_request_duration_seconds_bucket"));
    t.stop().await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let t = TestApp::start(Db::Sqlite).await;
    t.app.store.close().await;
    let ready = t.http.get(t.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert_ne!(body["database"], "ok");
    t.stop().await;
}

fn switchboard(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHBOARD_DATA_DIR", data_dir)
        .env("SWITCHBOARD_LISTEN", "127.0.0.1:0")
        .env("SWITCHBOARD_EVENT_SOCKET", "127.0.0.1:0");
    command
}

/// Starts `switchboard serve` and returns the address it serves on.
fn start_serve(data_dir: &std::path::Path) -> (String, std::process::Child) {
    let mut child = switchboard(data_dir)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addr = None;
    for line in stderr.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listen=").nth(1) {
            addr = Some(rest.split_whitespace().next().unwrap().to_owned());
            break;
        }
    }
    let addr = addr.expect("serve logs the address it listens on");
    // Keep draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || stderr.for_each(drop));
    (addr, child)
}

fn stop(mut child: std::process::Child) -> Vec<String> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "serve exits cleanly on SIGTERM: {exit}");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.lines().map(Result::unwrap).collect()
}

#[tokio::test]
async fn the_first_start_creates_the_main_account_and_saves_its_credentials_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, child) = start_serve(dir.path());
    let printed = stop(child);
    let sid_line = printed
        .iter()
        .find(|l| l.starts_with("AccountSid="))
        .expect("AccountSid printed");
    let token_line = printed
        .iter()
        .find(|l| l.starts_with("AuthToken="))
        .expect("AuthToken printed");

    let credentials_path = dir.path().join("credentials");
    let credentials = std::fs::read_to_string(&credentials_path).unwrap();
    assert_eq!(credentials, format!("{sid_line}\n{token_line}\n"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&credentials_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // The second start prints nothing secret and the credentials still work.
    let (addr2, child) = start_serve(dir.path());
    let (sid, token) = (
        &sid_line["AccountSid=".len()..],
        &token_line["AuthToken=".len()..],
    );
    let response = reqwest::Client::new()
        .get(format!("http://{addr2}/2010-04-01/Accounts/{sid}.json"))
        .basic_auth(sid, Some(token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let printed = stop(child);
    assert!(printed.iter().all(|l| !l.contains(token)), "{printed:?}");
}

#[test]
fn accounts_create_prints_a_usable_sid_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let output = switchboard(dir.path())
        .args(["accounts", "create", "--friendly-name", "Acme"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("AccountSid=AC") && lines[0].len() == "AccountSid=".len() + 34);
    assert!(lines[1].starts_with("AuthToken=") && lines[1].len() == "AuthToken=".len() + 32);
}

#[test]
fn an_invalid_setting_stops_start_up_naming_the_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let output = switchboard(dir.path())
        .env("SWITCHBOARD_MEDIA_NODES", "tcp://fs1:8021")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("invalid SWITCHBOARD_MEDIA_NODES=\"tcp://fs1:8021\""),
        "{stderr}"
    );
}

#[test]
fn version_and_help_are_there() {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("switchboard {}", env!("CARGO_PKG_VERSION"))
    );
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["accounts", "create", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8(output.stdout)
        .unwrap()
        .contains("--friendly-name"));
}

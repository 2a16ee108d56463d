//! Third-party ESL clients, greenswitch (PyPI) and modesl (npm),
//! authenticate, run `api` and `bgapi`, originate a call and receive its
//! events from the switch.
//!
//! The client scripts live in `tests/interop/`. Their packages are installed
//! by `tests/interop/setup.sh` (a virtualenv) and `setup-node.sh` (npm),
//! which these tests run when the packages are missing (that needs PyPI and
//! npm once), under cargo's test temp dir or wherever `VSWITCH_INTEROP_VENV`
//! and `VSWITCH_INTEROP_NODE` point.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::net::TcpListener;

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// The venv's python, created by setup.sh if needed.
fn python() -> PathBuf {
    let venv = std::env::var_os("VSWITCH_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vswitch-interop-venv"));
    let python = venv.join("bin/python");
    let ready = std::process::Command::new(&python)
        .args(["-c", "import greenswitch"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let status = std::process::Command::new("bash")
            .arg(interop_dir().join("setup.sh"))
            .arg(&venv)
            .status()
            .expect("run tests/interop/setup.sh");
        assert!(
            status.success(),
            "tests/interop/setup.sh failed: greenswitch could not be installed"
        );
    }
    python
}

/// The node_modules holding modesl, installed by setup-node.sh if needed.
fn node_modules() -> PathBuf {
    let prefix = std::env::var_os("VSWITCH_INTEROP_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vswitch-interop-node"));
    let modules = prefix.join("node_modules");
    if !modules.join("modesl").is_dir() {
        let status = std::process::Command::new("bash")
            .arg(interop_dir().join("setup-node.sh"))
            .arg(&prefix)
            .status()
            .expect("run tests/interop/setup-node.sh");
        assert!(
            status.success(),
            "tests/interop/setup-node.sh failed: modesl could not be installed"
        );
    }
    modules
}

/// Runs a client script against a fresh switch and checks it reported success.
async fn run_client(mut command: tokio::process::Command, script: &str) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = vswitch::Config {
        speed: 5.0,
        ..vswitch::Config::default()
    };
    let vs = vswitch::start(listener, config).unwrap();
    let port = vs.local_addr().port().to_string();
    let out = command
        .arg(interop_dir().join(script))
        .args(["127.0.0.1", &port])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the client script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("INTEROP OK"),
        "{script} failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    vs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greenswitch_authenticates_originates_and_receives_the_calls_events() {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    run_client(
        tokio::process::Command::new(python),
        "greenswitch_client.py",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modesl_subscribes_in_json_originates_and_receives_the_calls_events() {
    let modules = tokio::task::spawn_blocking(node_modules).await.unwrap();
    let mut node = tokio::process::Command::new("node");
    node.env("NODE_PATH", modules);
    run_client(node, "modesl_client.js").await;
}

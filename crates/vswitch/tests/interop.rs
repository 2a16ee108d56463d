//! A third-party ESL client, greenswitch (PyPI), authenticates, runs `api`
//! and `bgapi`, originates a call and receives its events from the switch.
//!
//! The Python side lives in `tests/interop/`. Its virtualenv is created by
//! `tests/interop/setup.sh` (run here when missing; it needs PyPI) under
//! cargo's test temp dir, or wherever `VSWITCH_INTEROP_VENV` points.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greenswitch_authenticates_originates_and_receives_the_calls_events() {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = vswitch::Config {
        speed: 5.0,
        ..vswitch::Config::default()
    };
    let vs = vswitch::start(listener, config).unwrap();
    let port = vs.local_addr().port().to_string();
    let out = tokio::process::Command::new(python)
        .arg(interop_dir().join("greenswitch_client.py"))
        .args(["127.0.0.1", &port])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the greenswitch client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("INTEROP OK"),
        "greenswitch client failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    vs.shutdown().await;
}

//! The official `twilio` Python helper library against a live Switchboard,
//! with only its base URL changed. `scripts/test` installs the library into
//! a virtual environment and names its interpreter in SWITCHBOARD_TEST_PYTHON.

mod common;

use common::{AppServer, Db, TestApp};
use switchboard::store::{Column, Record};

fn python() -> String {
    std::env::var("SWITCHBOARD_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "SWITCHBOARD_TEST_PYTHON is not set: run the suite with `bash scripts/test`, \
             which installs the twilio package into .venv"
        )
    })
}

async fn the_twilio_helper_library_works_unchanged(db: Db) {
    let t = TestApp::start(db).await;
    let store = &t.app.store;
    let me = store.create_account("Me", None).await.unwrap();
    let other = store.create_account("Other", None).await.unwrap();
    let bulk = store.create_account("Bulk", None).await.unwrap();
    const BULK: usize = 2_500;
    for i in 0..BULK {
        let sid = switchboard::sid::Sid::new(switchboard::sid::Kind::Application);
        let columns = [
            ("friendly_name", Column::Text(Some(format!("app {i}")))),
            ("api_version", Column::Text(Some("2010-04-01".into()))),
            ("voice_method", Column::Text(Some("POST".into()))),
            ("voice_fallback_method", Column::Text(Some("POST".into()))),
            ("status_callback_method", Column::Text(Some("POST".into()))),
            ("voice_caller_id_lookup", Column::Int(0)),
            ("sms_method", Column::Text(Some("POST".into()))),
            ("sms_fallback_method", Column::Text(Some("POST".into()))),
            ("public_application_connect_enabled", Column::Int(0)),
        ];
        let record = Record {
            table: "applications",
            sid: sid.as_str(),
            account_sid: &bulk.sid,
        };
        // Few distinct times, so pages must break ties by sid.
        store
            .insert_record(&record, &columns, 1_700_000_000_000 + (i / 100) as i64)
            .await
            .unwrap();
    }
    let app = AppServer::start().await;
    app.twiml("/hold", r#"<Response><Pause length="60"/></Response>"#);
    app.twiml("/malformed", "<Response><Say>unclosed</Response>");
    app.twiml("/recorded", "<Response><Hangup/></Response>");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/rest_api.py");
    let output = tokio::process::Command::new(python())
        .arg(script)
        .env("SWITCHBOARD_URL", format!("http://{}", t.addr))
        .env("ACCOUNT_SID", &me.sid)
        .env("AUTH_TOKEN", &me.auth_token)
        .env("OTHER_ACCOUNT_SID", &other.sid)
        .env("OTHER_AUTH_TOKEN", &other.auth_token)
        .env("BULK_ACCOUNT_SID", &bulk.sid)
        .env("BULK_AUTH_TOKEN", &bulk.auth_token)
        .env("BULK_COUNT", BULK.to_string())
        .env("APP_URL", app.url(""))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.ends_with("paging ok\n"), "{stdout}");
    t.stop().await;
}

#[tokio::test]
async fn the_twilio_helper_library_works_unchanged_on_sqlite() {
    the_twilio_helper_library_works_unchanged(Db::Sqlite).await;
}

#[tokio::test]
async fn the_twilio_helper_library_works_unchanged_on_postgres() {
    the_twilio_helper_library_works_unchanged(Db::Postgres).await;
}

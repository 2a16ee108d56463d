//! `<Enqueue>`, `<Dial><Queue>` and `<Leave>` over the embedded virtual
//! switch, and the Queues and Members resources.

mod common;

use common::{api, eventually, get, hang_up, place, AppServer, Db, TestApp};
use serde_json::Value;
use switchboard::store::Account;

/// The queue's waiting callers, once there are `n`.
async fn members(t: &TestApp, account: &Account, queue: &str, n: usize) -> Vec<Value> {
    let path = format!("/Queues/{queue}/Members.json");
    eventually(&format!("{n} callers in line"), || async {
        let list = get(t, account, &path).await;
        let items = list["queue_members"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (items.len() == n).then_some(items)
    })
    .await
}

async fn completed(t: &TestApp, account: &Account, call: &str) {
    eventually("the call to complete", || async {
        let call = get(t, account, &format!("/Calls/{call}.json")).await;
        (call["status"] == "completed").then_some(())
    })
    .await;
}

async fn an_agent_dequeues_the_caller_waiting_in_line(db: Db) {
    let t = TestApp::start(db).await;
    let app = AppServer::start().await;
    let acme = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml(
        "/caller",
        r#"<Response><Enqueue action="/queue-result" waitUrl="/wait">support</Enqueue></Response>"#,
    );
    app.twiml(
        "/wait",
        r#"<Response><Say>Please hold</Say><Pause length="1"/></Response>"#,
    );
    app.twiml(
        "/agent",
        r#"<Response><Dial action="/agent-done" timeout="10"><Queue>support</Queue></Dial></Response>"#,
    );
    app.twiml("/agent-done", "<Response><Hangup/></Response>");

    let caller = place(&t, &acme, app.url("/caller")).await;
    let wait = eventually("the wait document", || async {
        app.requests_to("/wait").pop()
    })
    .await;
    assert_eq!(wait.param("CallSid"), Some(caller.as_str()));
    assert_eq!(wait.param("QueuePosition"), Some("1"));
    assert_eq!(wait.param("CurrentQueueSize"), Some("1"));
    assert_eq!(wait.param("MaxQueueSize"), Some("1000"));
    let queue = wait.param("QueueSid").unwrap().to_owned();
    assert!(queue.starts_with("QU"));

    // The queue was made on demand; the caller is at its front.
    let fetched = get(&t, &acme, &format!("/Queues/{queue}.json")).await;
    assert_eq!(fetched["friendly_name"], "support");
    assert_eq!(fetched["current_size"], 1);
    let line = members(&t, &acme, &queue, 1).await;
    assert_eq!(line[0]["call_sid"], caller.as_str());
    assert_eq!(line[0]["position"], 1);
    let front = get(&t, &acme, &format!("/Queues/{queue}/Members/Front.json")).await;
    assert_eq!(front["call_sid"], caller.as_str());

    // The agent takes the caller: they are bridged, and the line is empty.
    let agent = place(&t, &acme, app.url("/agent")).await;
    members(&t, &acme, &queue, 0).await;
    eventually("the two calls bridged", || async {
        let call = get(&t, &acme, &format!("/Calls/{agent}.json")).await;
        (call["status"] == "in-progress").then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.requests_to("/agent-done").is_empty());

    // The caller hangs up (through the API): the agent goes on with the
    // Dial action, naming whom it talked to.
    hang_up(&t, &acme, &caller).await;
    let done = eventually("the agent's Dial action", || async {
        app.requests_to("/agent-done").pop()
    })
    .await;
    assert_eq!(done.param("CallSid"), Some(agent.as_str()));
    assert_eq!(done.param("DialCallStatus"), Some("completed"));
    assert_eq!(done.param("DialCallSid"), Some(caller.as_str()));
    assert_eq!(done.param("QueueSid"), Some(queue.as_str()));
    completed(&t, &acme, &caller).await;
    completed(&t, &acme, &agent).await;
    let fetched = get(&t, &acme, &format!("/Queues/{queue}.json")).await;
    assert_eq!(fetched["current_size"], 0);
    t.stop().await;
}

#[tokio::test]
async fn an_agent_dequeues_the_caller_waiting_in_line_on_sqlite() {
    an_agent_dequeues_the_caller_waiting_in_line(Db::Sqlite).await;
}

#[tokio::test]
async fn an_agent_dequeues_the_caller_waiting_in_line_on_postgres() {
    an_agent_dequeues_the_caller_waiting_in_line(Db::Postgres).await;
}

#[tokio::test]
async fn callers_leave_a_queue_by_leave_by_the_api_or_find_it_full() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let acme = t.app.store.create_account("Acme", None).await.unwrap();
    let other = t.app.store.create_account("Other", None).await.unwrap();
    let post = reqwest::Method::POST;

    // Queues are resources: create, validate, rename.
    let (status, queue) = api(
        &t,
        &acme,
        post.clone(),
        "/Queues.json",
        &[("FriendlyName", "sales"), ("MaxSize", "1")],
    )
    .await;
    assert_eq!(status, 201, "{queue}");
    let sid = queue["sid"].as_str().unwrap().to_owned();
    assert_eq!(queue["max_size"], 1);
    let (status, body) = api(
        &t,
        &acme,
        post.clone(),
        "/Queues.json",
        &[("FriendlyName", "sales")],
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(22003)));
    let (status, _) = api(
        &t,
        &acme,
        post.clone(),
        "/Queues.json",
        &[("FriendlyName", "big"), ("MaxSize", "5001")],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = api(&t, &acme, post.clone(), "/Queues.json", &[]).await;
    assert_eq!(status, 400);
    // Another account may use the same name: its own queue.
    let (status, _) = api(
        &t,
        &other,
        post.clone(),
        "/Queues.json",
        &[("FriendlyName", "sales")],
    )
    .await;
    assert_eq!(status, 201);

    app.twiml(
        "/hold",
        r#"<Response><Enqueue action="/result" waitUrl="/long-wait">sales</Enqueue></Response>"#,
    );
    app.twiml("/long-wait", r#"<Response><Pause length="30"/></Response>"#);
    app.twiml("/result", "<Response><Hangup/></Response>");
    app.twiml(
        "/dequeued",
        "<Response><Say>An agent will call you back</Say></Response>",
    );

    // The first caller waits; the second finds the queue full.
    let first = place(&t, &acme, app.url("/hold")).await;
    members(&t, &acme, &sid, 1).await;
    let second = place(&t, &acme, app.url("/hold")).await;
    let full = eventually("the full queue's result", || async {
        app.requests_to("/result")
            .into_iter()
            .find(|r| r.param("CallSid") == Some(second.as_str()))
    })
    .await;
    assert_eq!(full.param("QueueResult"), Some("queue-full"));
    assert_eq!(full.param("QueueSid"), Some(sid.as_str()));

    // A full queue cannot be deleted; another tenant cannot dequeue.
    let (status, _) = api(
        &t,
        &acme,
        reqwest::Method::DELETE,
        &format!("/Queues/{sid}.json"),
        &[],
    )
    .await;
    assert_eq!(status, 400);
    let dequeue = [("Url", app.url("/dequeued"))];
    let dequeue: Vec<(&str, &str)> = dequeue.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _) = api(
        &t,
        &other,
        post.clone(),
        &format!("/Queues/{sid}/Members/Front.json"),
        &dequeue,
    )
    .await;
    assert_eq!(status, 404);

    // The API dequeues the first caller to another document.
    let (status, member) = api(
        &t,
        &acme,
        post.clone(),
        &format!("/Queues/{sid}/Members/Front.json"),
        &dequeue,
    )
    .await;
    assert_eq!(status, 200, "{member}");
    assert_eq!(member["call_sid"], first.as_str());
    let redirected = eventually("the dequeued caller's document", || async {
        app.requests_to("/dequeued").pop()
    })
    .await;
    assert_eq!(redirected.param("CallSid"), Some(first.as_str()));
    members(&t, &acme, &sid, 0).await;
    completed(&t, &acme, &first).await;

    // A wait document's <Leave> takes the caller out, to the action.
    app.twiml(
        "/leaving",
        r#"<Response><Enqueue action="/result" waitUrl="/leave">sales</Enqueue></Response>"#,
    );
    app.twiml("/leave", "<Response><Leave/></Response>");
    let third = place(&t, &acme, app.url("/leaving")).await;
    let left = eventually("the leaver's result", || async {
        app.requests_to("/result")
            .into_iter()
            .find(|r| r.param("CallSid") == Some(third.as_str()))
    })
    .await;
    assert_eq!(left.param("QueueResult"), Some("leave"));
    completed(&t, &acme, &third).await;

    // Empty now: it can be deleted.
    let (status, _) = api(
        &t,
        &acme,
        reqwest::Method::DELETE,
        &format!("/Queues/{sid}.json"),
        &[],
    )
    .await;
    assert_eq!(status, 204);
    t.stop().await;
}

#[tokio::test]
async fn the_queue_url_is_announced_to_the_dequeued_caller_before_the_bridge() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let acme = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml(
        "/caller",
        r#"<Response><Enqueue action="/queue-result" waitUrl="/wait">support</Enqueue></Response>"#,
    );
    app.twiml("/wait", r#"<Response><Pause length="1"/></Response>"#);
    app.twiml(
        "/agent",
        r#"<Response><Dial action="/agent-done" timeout="10"><Queue url="/announce" method="GET">support</Queue></Dial></Response>"#,
    );
    app.twiml(
        "/announce",
        "<Response><Say>You are connected to an agent</Say></Response>",
    );
    app.twiml("/agent-done", "<Response><Hangup/></Response>");
    app.twiml("/queue-result", "<Response><Hangup/></Response>");

    let caller = place(&t, &acme, app.url("/caller")).await;
    let wait = eventually("the wait document", || async {
        app.requests_to("/wait").pop()
    })
    .await;
    let queue = wait.param("QueueSid").unwrap().to_owned();
    let agent = place(&t, &acme, app.url("/agent")).await;

    // The caller hears the announcement, asked for on their own call.
    let announce = eventually("the announcement", || async {
        app.requests_to("/announce").pop()
    })
    .await;
    assert_eq!(announce.method, "GET");
    assert_eq!(announce.param("CallSid"), Some(caller.as_str()));
    assert_eq!(announce.param("QueueSid"), Some(queue.as_str()));
    assert_eq!(announce.param("DequeingCallSid"), Some(agent.as_str()));
    assert!(announce.param("QueueTime").is_some());

    // Then the two are bridged: ending the caller ends the agent's Dial.
    eventually("the two calls bridged", || async {
        let shown = t.switch().api("show", "bridged_calls as json").await;
        (!shown.contains("\"row_count\": 0") && !shown.contains("\"row_count\":0")).then_some(())
    })
    .await;
    hang_up(&t, &acme, &caller).await;
    let done = eventually("the agent's Dial action", || async {
        app.requests_to("/agent-done").pop()
    })
    .await;
    assert_eq!(done.param("DialCallStatus"), Some("completed"));
    assert_eq!(done.param("DialCallSid"), Some(caller.as_str()));
    let result = eventually("the caller's Enqueue action", || async {
        app.requests_to("/queue-result").pop()
    })
    .await;
    assert_eq!(result.param("QueueResult"), Some("bridged"));
    t.stop().await;
}

#[tokio::test]
async fn a_hangup_in_the_queue_url_screens_the_caller_out() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let acme = t.app.store.create_account("Acme", None).await.unwrap();
    app.twiml(
        "/caller",
        r#"<Response><Enqueue action="/queue-result" waitUrl="/wait">support</Enqueue><Say>Never heard</Say></Response>"#,
    );
    app.twiml("/wait", r#"<Response><Pause length="1"/></Response>"#);
    app.twiml(
        "/agent",
        r#"<Response><Dial timeout="10"><Queue url="/screen">support</Queue></Dial></Response>"#,
    );
    app.twiml("/screen", "<Response><Hangup/></Response>");
    app.twiml(
        "/queue-result",
        "<Response><Say>Never heard</Say></Response>",
    );
    let caller = place(&t, &acme, app.url("/caller")).await;
    eventually("the wait document", || async {
        app.requests_to("/wait").pop()
    })
    .await;
    place(&t, &acme, app.url("/agent")).await;
    let result = eventually("the caller's Enqueue action", || async {
        app.requests_to("/queue-result").pop()
    })
    .await;
    assert_eq!(result.param("CallSid"), Some(caller.as_str()));
    assert_eq!(result.param("QueueResult"), Some("hangup"));
    completed(&t, &acme, &caller).await;
    let screened = app.requests_to("/screen");
    assert_eq!(screened.len(), 1);
    assert_eq!(screened[0].param("CallSid"), Some(caller.as_str()));
    t.stop().await;
}

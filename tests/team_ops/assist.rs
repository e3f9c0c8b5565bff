//! The infra assistant against a scripted OpenAI-protocol server on loopback: a proposal, a
//! correction after tfpilot's errors, a create only on an explicit submit with the
//! conversation kept and exported, and every way the model or its endpoint can fail giving a
//! clear message, with the API key in no output or log.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::cli::{Cli, setup};
use super::home::secrets::ASSISTANT_TEST_KEY;

/// One scripted answer.
#[derive(Clone)]
enum Answer {
    Json(Value),
    Status(u16, Value),
    Slow(Duration),
}

#[derive(Clone, Default)]
struct Model {
    script: Arc<Mutex<VecDeque<Answer>>>,
    received: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

fn tool_call(arguments: Value) -> Answer {
    Answer::Json(
        json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{
        "index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "propose_s3-bucket", "arguments": arguments.to_string()}}]}}]}),
    )
}

fn words(text: &str) -> Answer {
    Answer::Json(json!({"choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": text}}]}))
}

impl Model {
    async fn serve(&self) -> String {
        async fn complete(
            State(model): State<Model>,
            headers: HeaderMap,
            body: axum::Json<Value>,
        ) -> Response {
            model.received.lock().unwrap().push((headers, body.0));
            let next = model.script.lock().unwrap().pop_front();
            match next {
                Some(Answer::Json(value)) => axum::Json(value).into_response(),
                Some(Answer::Status(code, value)) => {
                    (StatusCode::from_u16(code).unwrap(), axum::Json(value)).into_response()
                }
                Some(Answer::Slow(delay)) => {
                    tokio::time::sleep(delay).await;
                    axum::Json(json!({})).into_response()
                }
                None => (StatusCode::INTERNAL_SERVER_ERROR, "no answer scripted").into_response(),
            }
        }
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/v1")
    }

    fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        let mut script = self.script.lock().unwrap();
        script.clear();
        script.extend(answers);
        self.received.lock().unwrap().clear();
    }

    fn received(&self) -> Vec<(HeaderMap, Value)> {
        self.received.lock().unwrap().clone()
    }
}

async fn run(cli: &Cli, url: &str, args: &[&str], extra: &[(&str, &str)]) -> (i32, Value, String) {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let mut command = cli.command("alice", &full);
    command
        .env("TFPILOT_ASSISTANT_URL", url)
        .env("TFPILOT_ASSISTANT_MODEL", "test-model")
        .env("TFPILOT_ASSISTANT_API_KEY", ASSISTANT_TEST_KEY);
    for (key, value) in extra {
        command.env(key, value);
    }
    let output = command.output().await.unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    for text in [&out, &err] {
        super::home::secrets::assert_clean(&format!("tfpilot {args:?}"), text);
    }
    (
        output.status.code().unwrap_or(-1),
        serde_json::from_str(&out).unwrap_or(Value::Null),
        err,
    )
}

const ASK: &str = "I need a versioned bucket for payments logs in dev, 90 days";

async fn a_proposal_is_checked_corrected_and_created_only_on_submit() {
    let Some((bed, cli)) = setup(false).await else {
        return;
    };
    let model = Model::default();
    let url = model.serve().await;
    let good = json!({"project": "payments", "environment": "dev",
        "values": {"bucket_name": "payments-dev-logs", "versioning": true, "lifecycle_days": 90}});
    model.script([
        tool_call(json!({"project": "payments", "environment": "dev",
            "values": {"bucket_name": "Payments Logs!", "versioning": true}})),
        tool_call(good.clone()),
    ]);
    let (code, out, err) = run(&cli, &url, &["assist", ASK], &[]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out["proposal"]["module"], "s3-bucket", "{out}");
    assert_eq!(
        out["proposal"]["values"]["bucket_name"],
        "payments-dev-logs"
    );
    assert!(
        out["created"].is_null(),
        "nothing is created without --create: {out}"
    );
    let received = model.received();
    assert_eq!(received.len(), 2, "one proposal, one correction");
    let (headers, first) = &received[0];
    assert_eq!(
        headers["authorization"],
        format!("Bearer {ASSISTANT_TEST_KEY}").as_str()
    );
    assert_eq!(first["model"], "test-model");
    assert_eq!(first["tools"][0]["function"]["name"], "propose_s3-bucket");
    assert_eq!(first["messages"][0]["role"], "system");
    assert_eq!(first["messages"][1]["content"], ASK);
    let correction = &received[1].1["messages"];
    let tool = correction
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap_or_else(|| panic!("{correction}"));
    assert_eq!(tool["tool_call_id"], "call_1");
    assert!(
        tool["content"].as_str().unwrap().contains("bucket_name"),
        "the errors go back to the model: {tool}"
    );
    let (code, listed, err) = cli.run("alice", &["list"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");

    // An explicit submit creates it, and the conversation stays with the request.
    model.script([tool_call(good)]);
    let (code, out, err) = run(&cli, &url, &["assist", ASK, "--create", "--yes"], &[]).await;
    assert_eq!(code, 0, "{err}");
    let id = out["created"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let kept = bed
        .store
        .get_blob(&format!("assistant/{id}.json"))
        .await
        .unwrap()
        .expect("the conversation is kept");
    let kept: Value = serde_json::from_slice(&kept).unwrap();
    assert_eq!(kept["request_id"], id.as_str());
    assert_eq!(kept["asked_by"], "alice");
    assert_eq!(kept["messages"][0]["content"], ASK);
    let (code, shown, _) = cli.run("alice", &["show", &id]).await;
    assert_eq!(code, 0);
    assert_eq!(shown["assistant"]["question"], ASK, "{shown}");
    let text = cli.command("alice", &["show", &id]).output().await.unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("proposed by test-model from \"I need a versioned bucket"),
        "{text}"
    );
    let (code, exported, _) = cli.run("alice", &["audit-export", &id]).await;
    assert_eq!(code, 0);
    assert_eq!(exported["assistant"]["messages"][0]["content"], ASK);
}

#[test]
fn a_proposal_is_checked_corrected_and_created_only_on_submit_test() {
    super::common::block_on_big_stack(a_proposal_is_checked_corrected_and_created_only_on_submit());
}

#[test]
fn every_failure_of_the_model_or_its_endpoint_is_said_clearly() {
    super::common::block_on_big_stack(async {
        let Some((_bed, cli)) = setup(false).await else {
            return;
        };
        let model = Model::default();
        let url = model.serve().await;
        let cases: Vec<(Vec<Answer>, i32, &str)> = vec![
            (
                vec![words("Which region would you like?")],
                2,
                "without a proposal",
            ),
            (
                vec![
                    tool_call(json!("{not json")),
                    tool_call(json!({"project": "payments"})),
                ],
                2,
                "failed the checks twice",
            ),
            (
                vec![Answer::Status(
                    401,
                    json!({"error": {"message": "Incorrect API key provided"}}),
                )],
                1,
                "check the key",
            ),
            (
                vec![Answer::Status(
                    500,
                    json!({"error": {"message": "overloaded \u{1b}[31m"}}),
                )],
                1,
                "answered 500 Internal Server Error: overloaded \\x1b[31m",
            ),
            (
                vec![Answer::Json(json!({"object": "list"}))],
                1,
                "cannot read",
            ),
            (
                vec![Answer::Slow(Duration::from_secs(5))],
                1,
                "did not answer within 1s",
            ),
        ];
        for (answers, code, expected) in cases {
            model.script(answers);
            let (got, _, err) = run(
                &cli,
                &url,
                &["assist", ASK],
                &[("TFPILOT_ASSISTANT_TIMEOUT_SECS", "1")],
            )
            .await;
            assert_eq!(got, code, "{expected}: {err}");
            assert!(err.contains(expected), "{expected}: {err}");
        }
        // Nobody listening.
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/v1", listener.local_addr().unwrap())
        };
        let (code, _, err) = run(&cli, &closed, &["assist", ASK], &[]).await;
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("could not be reached"), "{err}");
        // Not configured: off, and it says how to turn it on.
        let mut command = cli.command("alice", &["assist", ASK]);
        let output = command.output().await.unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{err}");
        assert!(err.contains("[assistant] url"), "{err}");
        super::home::secrets::assert_clean("the log", &cli.home.log_text());
    });
}

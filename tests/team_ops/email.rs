//! Email notifications against real SMTP servers on loopback (scripts/smtp-test-servers.py,
//! started by scripts/test): one that takes STARTTLS and a login, one behind implicit TLS,
//! one that refuses every message and one that hangs up mid-message. Each transition is
//! emailed once across racing reconcilers; a refused or dropped delivery is retried by the
//! next run and nothing is lost; the password appears in no output, log or file.

use std::path::PathBuf;

use serde_json::Value;

use super::cli::{Cli, setup};
use super::home::secrets::SMTP_TEST_PASSWORD;

/// `scripts/test` writes the servers' ports here and exports its path.
const SERVERS_VAR: &str = "TFPILOT_TEST_SMTP";

struct Servers(Value);

impl Servers {
    /// `None` without the servers outside CI; in CI their absence fails the test.
    fn find() -> Option<Servers> {
        match std::env::var(SERVERS_VAR) {
            Ok(path) if !path.is_empty() => {
                let text = std::fs::read_to_string(&path).unwrap();
                Some(Servers(serde_json::from_str(&text).unwrap()))
            }
            _ if std::env::var_os("CI").is_some() => {
                panic!(
                    "CI is set but {SERVERS_VAR} is not: email tests need scripts/test's SMTP servers"
                )
            }
            _ => {
                eprintln!(
                    "skipping: {SERVERS_VAR} is not set (scripts/test starts the SMTP servers)"
                );
                None
            }
        }
    }

    fn port(&self, name: &str) -> u64 {
        self.0[name].as_u64().unwrap()
    }

    /// What the environment of a reconcile sending through `server` holds.
    fn env(&self, server: &str) -> Vec<(&'static str, String)> {
        let user = self.0["user"].as_str().unwrap();
        let url = match server {
            "starttls" => format!("smtp://{user}@127.0.0.1:{}", self.port(server)),
            "implicit" => format!("smtps://{user}@127.0.0.1:{}", self.port(server)),
            _ => format!("smtp://127.0.0.1:{}?tls=none", self.port(server)),
        };
        vec![
            ("TFPILOT_SMTP_URL", url),
            (
                "TFPILOT_EMAIL_FROM",
                "tfpilot <tfpilot@acme.example>".into(),
            ),
            (
                "TFPILOT_SMTP_CA_FILE",
                self.0["ca_file"].as_str().unwrap().into(),
            ),
        ]
    }

    /// Every message the accepting servers kept that mentions `id`.
    fn mail_for(&self, id: &str) -> Vec<Value> {
        let dir = PathBuf::from(self.0["mail_dir"].as_str().unwrap());
        let mut found: Vec<(String, Value)> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|entry| entry.path().extension().is_some_and(|e| e == "json"))
            .filter_map(|entry| {
                let text = std::fs::read_to_string(entry.path()).ok()?;
                let mail: Value = serde_json::from_str(&text).ok()?;
                mail["subject"]
                    .as_str()?
                    .contains(id)
                    .then(|| (entry.file_name().to_string_lossy().into_owned(), mail))
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.into_iter().map(|(_, mail)| mail).collect()
    }
}

/// `tfpilot --json ARGS` as `login` with `env` beside the store's; the output is scanned for
/// secrets as every CLI test's is.
async fn run_with(
    cli: &Cli,
    login: &str,
    args: &[&str],
    env: &[(&'static str, String)],
) -> (i32, Value, String) {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let mut command = cli.command(login, &full);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().await.unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    for text in [&out, &err] {
        super::home::secrets::assert_clean(&format!("tfpilot {args:?}"), text);
    }
    let json = serde_json::from_str(&out).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), json, err)
}

fn sent(out: &Value) -> usize {
    out["emails"]["sent"].as_array().map_or(0, Vec::len)
}

async fn each_transition_is_emailed_once_and_retried_until_delivered(s3: bool) {
    let Some(servers) = Servers::find() else {
        return;
    };
    let Some((bed, cli)) = setup(s3).await else {
        return;
    };
    bed.store
        .put_once(
            "config/notify.json",
            br#"{"people": {"alice": "alice@acme.example"},
                 "environments": {"dev": ["dev-team@acme.example"]}}"#
                .to_vec(),
        )
        .await
        .unwrap();
    let applied = bed.applied("payments-dev-email").await;
    let mut good = servers.env("starttls");
    good.push(("TFPILOT_SMTP_PASSWORD", SMTP_TEST_PASSWORD.into()));

    // Two reconcilers at once: the plan and the apply are each emailed once.
    let reconcile = ["reconcile"];
    let (first, second) = tokio::join!(
        run_with(&cli, "admin", &reconcile, &good),
        run_with(&cli, "bob", &reconcile, &good)
    );
    for (code, _, err) in [&first, &second] {
        assert_eq!(*code, 0, "{err}");
    }
    assert_eq!(
        sent(&first.1) + sent(&second.1),
        2,
        "{}\n{}",
        first.1,
        second.1
    );
    assert!(first.1.get("notifications").is_none(), "no webhook was set");
    let mail = servers.mail_for(&applied);
    assert_eq!(mail.len(), 2, "{mail:?}");
    let apply = mail
        .iter()
        .find(|m| m["subject"].as_str().unwrap().ends_with("apply succeeded"))
        .unwrap_or_else(|| panic!("{mail:?}"));
    assert_eq!(apply["authenticated"], true, "logged in, after STARTTLS");
    assert_eq!(apply["mail_from"], "tfpilot@acme.example");
    assert_eq!(
        apply["rcpt_to"],
        serde_json::json!(["alice@acme.example", "dev-team@acme.example"])
    );
    assert_eq!(apply["content_type"], "multipart/alternative");
    let text = apply["parts"]["text/plain"].as_str().unwrap();
    let html = apply["parts"]["text/html"].as_str().unwrap();
    for expected in [applied.as_str(), "payments/dev", "Requested by", "applied"] {
        assert!(text.contains(expected), "{expected:?} in {text}");
        assert!(html.contains(expected), "{expected:?} in {html}");
    }
    assert!(
        text.contains("/pull/"),
        "the pull request is linked: {text}"
    );
    let plan = mail
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains("plan succeeded"))
        .unwrap();
    assert!(
        plan["parts"]["text/plain"]
            .as_str()
            .unwrap()
            .contains("this request +"),
        "the plan's counts, this request's and outside: {plan}"
    );

    // Announced: later runs email nothing and write nothing.
    let before = bed.store.get_request(&applied).await.unwrap().value;
    let keys: Vec<&String> = before.notifications.keys().collect();
    assert!(keys.iter().all(|k| k.starts_with("email:")), "{keys:?}");
    let (_, again, _) = run_with(&cli, "admin", &reconcile, &good).await;
    assert_eq!(sent(&again), 0, "{again}");
    assert_eq!(again["emails"]["already"], 2, "{again}");
    let after = bed.store.get_request(&applied).await.unwrap().value;
    assert_eq!(
        before.revision, after.revision,
        "a quiet run writes nothing"
    );

    // A server that refuses, then one that hangs up mid-message: each attempt is recorded as
    // failed, and the next good run delivers the same transition exactly once.
    let retried = bed.create("alice", "payments-dev-email-retry", "dev").await;
    bed.finish_runs();
    for (server, expected) in [("refusing", "554"), ("dropping", "")] {
        let (code, out, err) = run_with(&cli, "admin", &reconcile, &servers.env(server)).await;
        assert_eq!(code, 0, "{err}");
        let failed = out["emails"]["failed"].as_array().unwrap();
        assert_eq!(failed.len(), 1, "{server}: {out}");
        let error = failed[0]["error"].as_str().unwrap();
        assert!(
            error.contains(expected) && error.contains("smtp://127.0.0.1:"),
            "{server}: {failed:?}"
        );
        let claims = bed
            .store
            .get_request(&retried)
            .await
            .unwrap()
            .value
            .notifications;
        let claim = claims.values().next().unwrap();
        assert_eq!(claim.state, "failed", "{claims:?}");
    }
    assert!(servers.mail_for(&retried).is_empty());
    let (code, out, err) = run_with(&cli, "admin", &reconcile, &good).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(sent(&out), 1, "{out}");
    assert_eq!(servers.mail_for(&retried).len(), 1);
    let claims = bed
        .store
        .get_request(&retried)
        .await
        .unwrap()
        .value
        .notifications;
    let claim = claims.values().next().unwrap();
    assert_eq!(
        (claim.state.as_str(), claim.attempts),
        ("sent", 3),
        "{claims:?}"
    );
}

#[test]
fn emails_on_the_local_store() {
    super::common::block_on_big_stack(each_transition_is_emailed_once_and_retried_until_delivered(
        false,
    ));
}

#[test]
fn emails_on_s3() {
    super::common::block_on_big_stack(each_transition_is_emailed_once_and_retried_until_delivered(
        true,
    ));
}

/// The password kept by `login --smtp` (here in the 0600 file: the test home has no keyring)
/// logs in over implicit TLS; settings that cannot work are refused before anything runs.
#[test]
fn the_smtp_password_is_kept_and_bad_settings_are_refused() {
    super::common::block_on_big_stack(async {
        let Some(servers) = Servers::find() else {
            return;
        };
        let Some((bed, cli)) = setup(false).await else {
            return;
        };
        bed.store
            .put_once(
                "config/notify.json",
                br#"{"people": {"alice": "alice@acme.example"}}"#.to_vec(),
            )
            .await
            .unwrap();
        let implicit = servers.env("implicit");

        let (code, _, err) = run_with(&cli, "admin", &["reconcile"], &implicit).await;
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("no password is set") && err.contains("login --smtp"),
            "{err}"
        );

        let mut login = cli.command("admin", &["login", "--smtp"]);
        for (key, value) in &implicit {
            login.env(key, value);
        }
        login.stdin(std::process::Stdio::piped());
        login.stdout(std::process::Stdio::piped());
        login.stderr(std::process::Stdio::piped());
        let mut child = login.spawn().unwrap();
        {
            use tokio::io::AsyncWriteExt as _;
            let mut stdin = child.stdin.take().unwrap();
            stdin
                .write_all(format!("{SMTP_TEST_PASSWORD}\n").as_bytes())
                .await
                .unwrap();
        }
        let output = child.wait_with_output().await.unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{said}");
        assert!(said.contains("smtps://127.0.0.1:"), "{said}");
        super::home::secrets::assert_clean("login --smtp", &said);

        let id = bed.applied("payments-dev-email-implicit").await;
        let (code, out, err) = run_with(&cli, "admin", &["reconcile"], &implicit).await;
        assert_eq!(code, 0, "{err}");
        assert_eq!(sent(&out), 2, "{out}");
        let mail = servers.mail_for(&id);
        assert_eq!(mail.len(), 2, "{mail:?}");
        assert!(mail.iter().all(|m| m["authenticated"] == true));

        // Nobody to tell: carol has no address and dev no list; counted, nothing claimed.
        let nobody = bed
            .create("carol", "payments-dev-email-nobody", "dev")
            .await;
        bed.finish_runs();
        let (_, out, _) = run_with(&cli, "admin", &["reconcile"], &implicit).await;
        assert_eq!(out["emails"]["unaddressed"], 1, "{out}");
        let document = bed.store.get_request(&nobody).await.unwrap().value;
        assert!(
            document.notifications.is_empty(),
            "{:?}",
            document.notifications
        );

        for (env, expected) in [
            (
                vec![(
                    "TFPILOT_SMTP_URL",
                    "smtp://127.0.0.1:25?tls=none".to_string(),
                )],
                "email_from is not",
            ),
            (
                vec![
                    (
                        "TFPILOT_SMTP_URL",
                        format!("smtp://u:{SMTP_TEST_PASSWORD}@mail.example"),
                    ),
                    ("TFPILOT_EMAIL_FROM", "tfpilot@acme.example".into()),
                ],
                "TFPILOT_SMTP_PASSWORD",
            ),
            (
                vec![
                    ("TFPILOT_SMTP_URL", "smtp://127.0.0.1:25?tls=none".into()),
                    ("TFPILOT_EMAIL_FROM", "not an address".into()),
                ],
                "email_from",
            ),
        ] {
            let (code, _, err) = run_with(&cli, "admin", &["reconcile"], &env).await;
            assert_eq!(code, 2, "{err}");
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let log = cli.home.log_text();
        super::home::secrets::assert_clean("the log", &log);
    });
}

//! The real binary, run as users and scripts run it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test or bench: failing loudly and printing are its job

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/store");

/// A sandboxed home: config, cache, state and data directories of its own, no TFPILOT_* leaks.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> Command {
        self.sandboxed(env!("CARGO_BIN_EXE_tfpilot"))
    }

    /// `program` with this home's directories and no TFPILOT_*/AWS_* of the caller.
    fn sandboxed(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        for (key, _) in std::env::vars() {
            if key.starts_with("TFPILOT_") || key.starts_with("AWS_") {
                command.env_remove(key);
            }
        }
        let home = self.path();
        command
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_DATA_HOME", home.join("data"));
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts the exit code and that stderr names the problem; returns stderr.
fn failed_with(output: &Output, code: i32, needle: &str) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    assert!(text.contains(needle), "expected `{needle}` in: {text}");
    text
}

fn json(output: &Output) -> Value {
    assert!(output.status.success(), "failed: {}", stderr(output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(EXAMPLES).join("requests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// A copy of the examples the test may modify.
fn copy_examples(home: &Home) -> PathBuf {
    let target = home.path().join("store");
    for file in example_files() {
        let dest = target.join("requests").join(file.file_name().unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&file, dest).unwrap();
    }
    target
}

#[test]
fn list_json_covers_every_status_in_the_examples() {
    let home = Home::new();
    let items = json(&home.run(&["list", "--store", EXAMPLES, "--json"]));
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), example_files().len());
    for item in items {
        for field in [
            "id",
            "project",
            "environment",
            "module",
            "status",
            "requested_by",
            "updated_at",
        ] {
            assert!(
                item.get(field).is_some_and(|v| !v.is_null()),
                "{field} missing in {item}"
            );
        }
    }
    let mut statuses: Vec<&str> = items
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    statuses.sort();
    statuses.dedup();
    assert_eq!(
        statuses.len(),
        10,
        "every status is represented: {statuses:?}"
    );
}

#[test]
fn list_filters_and_limits() {
    let home = Home::new();
    let failed = json(&home.run(&["list", "--store", EXAMPLES, "--status", "failed", "--json"]));
    let failed = failed.as_array().unwrap();
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|i| i["status"] == "failed"));

    let prod = json(&home.run(&["list", "--store", EXAMPLES, "--env", "prod", "--json"]));
    assert!(
        prod.as_array()
            .unwrap()
            .iter()
            .all(|i| i["environment"] == "prod")
    );

    let limited = json(&home.run(&["--json", "list", "--limit", "3", "--store", EXAMPLES]));
    assert_eq!(limited.as_array().unwrap().len(), 3);

    let text = stdout(&home.run(&["list", "--store", EXAMPLES, "--status", "plan-ready"]));
    assert!(text.starts_with("ID "), "{text}");
    assert!(
        text.lines().skip(1).all(|l| l.contains("plan_ready")),
        "{text}"
    );
}

#[test]
fn unreadable_documents_are_listed_with_their_reason() {
    let home = Home::new();
    let store = copy_examples(&home);
    std::fs::write(store.join("requests/req_broken.json"), "{\"id\": ").unwrap();
    std::fs::write(
        store.join("requests/req_future.json"),
        r#"{"schema_version": 3, "id": "req_future"}"#,
    )
    .unwrap();
    let store_arg = store.to_str().unwrap();

    let items = json(&home.run(&["list", "--store", store_arg, "--json"]));
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), example_files().len() + 2);
    let broken = items.iter().find(|i| i["id"] == "req_broken").unwrap();
    assert!(
        broken["error"].as_str().unwrap().contains("not valid JSON"),
        "{broken}"
    );
    let future = items.iter().find(|i| i["id"] == "req_future").unwrap();
    assert!(
        future["error"]
            .as_str()
            .unwrap()
            .contains("upgrade tfpilot"),
        "{future}"
    );

    let filtered = home.run(&["list", "--store", store_arg, "--env", "prod"]);
    assert!(
        stderr(&filtered).contains("2 unreadable document(s) not shown"),
        "{}",
        stderr(&filtered)
    );
    assert!(!stdout(&filtered).contains("unreadable"));

    let output = home.run(&["list", "--store", store_arg]);
    assert!(output.status.success());
    let text = stdout(&output);
    let line = text.lines().find(|l| l.starts_with("req_future ")).unwrap();
    assert!(
        line.contains("? unreadable: written by a newer tfpilot"),
        "{line}"
    );
}

#[test]
fn show_json_is_the_document_with_its_derived_status() {
    let home = Home::new();
    let items = json(&home.run(&["list", "--store", EXAMPLES, "--json"]));
    for item in items.as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        let shown = json(&home.run(&["show", id, "--store", EXAMPLES, "--json"]));
        assert_eq!(shown["id"], item["id"]);
        assert_eq!(
            shown["status"], item["status"],
            "show and list agree for {id}"
        );
        assert_eq!(
            shown["schema_version"], 1,
            "legacy documents are shown migrated"
        );
        assert!(shown.get("planRun").is_none());
    }
}

#[test]
fn explain_every_example_file() {
    let home = Home::new();
    for file in example_files() {
        let output = home.run(&["explain", "--file", file.to_str().unwrap(), "--json"]);
        let explanation = json(&output);
        assert!(explanation["status"].is_string(), "{explanation}");
        assert!((1..=13).contains(&explanation["rule"]["number"].as_u64().unwrap()));
        let text = stdout(&home.run(&["explain", "--file", file.to_str().unwrap()]));
        assert!(text.contains("rule ") && text.contains("next: "), "{text}");
    }
}

#[test]
fn explain_by_id_matches_explain_by_file() {
    let home = Home::new();
    let file = &example_files()[0];
    let id = file.file_stem().unwrap().to_str().unwrap();
    let by_id = json(&home.run(&["explain", id, "--store", EXAMPLES, "--json"]));
    let by_file = json(&home.run(&["explain", "--file", file.to_str().unwrap(), "--json"]));
    assert_eq!(by_id, by_file);
}

#[test]
fn events_and_show_timeline() {
    let home = Home::new();
    let with_events = std::fs::read_dir(Path::new(EXAMPLES).join("logs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let id = with_events.file_name().into_string().unwrap();
    let events = json(&home.run(&["events", &id, "--store", EXAMPLES, "--json"]));
    let events = events.as_array().unwrap();
    assert!(events.len() >= 3);
    assert_eq!(events[0]["kind"], "created");
    let shown = stdout(&home.run(&["show", &id, "--store", EXAMPLES]));
    assert!(
        shown.contains("timeline:") && shown.contains("• created by"),
        "{shown}"
    );
}

#[test]
fn insights_json() {
    let home = Home::new();
    let insights = json(&home.run(&["insights", "--store", EXAMPLES, "--json"]));
    assert_eq!(insights["total"], example_files().len());
    let by_status: u64 = insights["by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_status, example_files().len() as u64);
    assert_eq!(insights["unreadable"], 0);
}

#[test]
fn usage_errors_exit_2() {
    let home = Home::new();
    for args in [
        vec!["frobnicate"],
        vec!["list", "--status", "bogus"],
        vec!["explain"],
        vec!["list", "--limit", "many"],
    ] {
        let output = home.run(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    failed_with(
        &home.run(&["list", "--status", "bogus"]),
        2,
        "use one of: request_created",
    );
}

/// `--version` names the release, the commit it was built from and the build day.
#[test]
fn version_names_the_commit_and_the_build_date() {
    let output = Home::new().run(&["--version"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let pattern = regex::Regex::new(
        r"^tfpilot \d+\.\d+\.\d+\S* \(commit ([0-9a-f]{7,40}|unknown), built \d{4}-\d{2}-\d{2}\)\n$",
    )
    .unwrap();
    assert!(pattern.is_match(&text), "{text:?}");
    // Built in this repository's checkout, it knows its commit.
    if std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".git")
        .exists()
    {
        assert!(!text.contains("commit unknown"), "{text:?}");
    }
}

#[test]
fn failures_exit_1_and_say_what_to_do() {
    let home = Home::new();
    let cases: [(&[&str], &str); 6] = [
        (
            &["list", "--store", "/nonexistent/tfpilot-store"],
            "no such directory; check --store",
        ),
        (
            &[
                "list",
                "--store",
                concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"),
            ],
            "not a directory",
        ),
        (
            &["show", "req_missing", "--store", EXAMPLES],
            "tfpilot list",
        ),
        (&["list", "--store", "gs://bucket"], "not supported"),
        (
            &["show", "../../etc/passwd", "--store", EXAMPLES],
            "invalid request id",
        ),
        (
            &["explain", "--file", "/nonexistent/doc.json"],
            "cannot read /nonexistent/doc.json",
        ),
    ];
    for (args, expected) in cases {
        let output = home.run(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty());
    }
}

#[test]
fn config_file_and_environment_choose_the_store() {
    let home = Home::new();
    let config = home.path().join("tfpilot.toml");
    std::fs::write(&config, format!("store = \"{EXAMPLES}\"\n")).unwrap();
    let items = json(&home.run(&["list", "--json", "--config", config.to_str().unwrap()]));
    assert_eq!(items.as_array().unwrap().len(), example_files().len());

    // The environment beats the file; the flag beats both.
    let empty = home.path().join("empty-store");
    std::fs::create_dir_all(&empty).unwrap();
    let output = home
        .command()
        .args(["list", "--json", "--config", config.to_str().unwrap()])
        .env("TFPILOT_STORE", &empty)
        .output()
        .unwrap();
    assert_eq!(json(&output), serde_json::json!([]));
    let output = home
        .command()
        .args(["list", "--json", "--store", EXAMPLES])
        .env("TFPILOT_STORE", &empty)
        .output()
        .unwrap();
    assert_eq!(
        json(&output).as_array().unwrap().len(),
        example_files().len()
    );

    std::fs::write(&config, "[sync]\nactive = 1\n").unwrap();
    let output = home.run(&["list", "--config", config.to_str().unwrap()]);
    failed_with(&output, 1, "tfpilot.toml");
}

#[test]
fn default_store_is_an_empty_directory_in_the_data_dir() {
    let home = Home::new();
    let output = home.run(&["list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "No requests.\n");
    assert!(home.path().join("data/tfpilot/store").is_dir());
}

#[test]
fn logs_go_to_the_file_as_json_with_a_correlation_id() {
    let home = Home::new();
    let log = home.path().join("logs/tfpilot.log");
    let output = home.run(&[
        "list",
        "--store",
        EXAMPLES,
        "--log-file",
        log.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    // stderr carries notes for people (how fresh the list is), never a log record.
    let said = stderr(&output);
    assert!(
        said.lines()
            .all(|line| line.starts_with("as the store has them:")),
        "nothing is logged to the terminal: {said}"
    );
    assert!(
        !said.contains("correlation_id") && !said.contains("\"level\""),
        "{said}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["span"]["command"], "list");
    assert_eq!(line["span"]["correlation_id"].as_str().unwrap().len(), 26);

    // Without --log-file, logs land in the state directory.
    let output = home.run(&["list", "--store", EXAMPLES]);
    assert!(output.status.success());
    let state = std::fs::read_dir(home.path().join("state/tfpilot"))
        .unwrap()
        .count();
    assert!(state >= 1);
}

#[test]
fn warm_list_reuses_the_cache_across_processes() {
    let home = Home::new();
    let store = copy_examples(&home);
    let store_arg = store.to_str().unwrap();
    let first = json(&home.run(&["list", "--store", store_arg, "--json"]));
    let cache_dir = home.path().join("cache/tfpilot/list");
    assert_eq!(
        std::fs::read_dir(&cache_dir).unwrap().count(),
        1,
        "one cache file per store"
    );
    // Remove a document: the warm listing notices it is gone.
    let victim = example_files()[0].file_name().unwrap().to_owned();
    std::fs::remove_file(store.join("requests").join(&victim)).unwrap();
    let second = json(&home.run(&["list", "--store", store_arg, "--json"]));
    assert_eq!(
        second.as_array().unwrap().len(),
        first.as_array().unwrap().len() - 1
    );
}

#[test]
fn lists_an_s3_store_through_the_aws_chain() {
    let Some(endpoint) = common::s3_endpoint() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bucket = runtime.block_on(async {
        let (client, bucket) = common::fresh_bucket(&endpoint).await;
        let backend =
            tfpilot::store::S3Store::with_client(client, bucket.clone(), "teams/payments".into());
        let store = tfpilot::store::Store::new(std::sync::Arc::new(backend));
        for file in example_files().iter().take(5) {
            let request = tfpilot::domain::parse_request(&std::fs::read(file).unwrap()).unwrap();
            store.create_request(&request).await.unwrap();
        }
        bucket
    });
    let home = Home::new();
    let log = home.path().join("tfpilot.log");
    let secret = "tfpilot-secret-never-logged";
    let output = home
        .command()
        .args([
            "list",
            "--json",
            "--store",
            &format!("s3://{bucket}/teams/payments"),
        ])
        .arg("--log-file")
        .arg(&log)
        .env("TFPILOT_LOG_LEVEL", "trace")
        .env("TFPILOT_S3_ENDPOINT", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIDTFPILOTTEST")
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", home.path().join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let items = json(&output);
    assert_eq!(items.as_array().unwrap().len(), 5);
    // Even at trace level, where the AWS SDK logs its requests, the secret key never appears.
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.lines().count() > 10, "trace logging was on");
    for (what, text) in [
        ("stdout", stdout(&output)),
        ("stderr", stderr(&output)),
        ("the log", log_text),
    ] {
        assert!(!text.contains(secret), "the AWS secret key reached {what}");
    }
}

/// Runs `list` on an S3 store with an AWS environment of the test's choosing, no files or IMDS.
fn s3_list_with(home: &Home, env: &[(&str, &str)]) -> String {
    let mut command = home.command();
    command
        .args(["list", "--store", "s3://team-bucket/requests"])
        .env("TFPILOT_S3_ENDPOINT", "http://127.0.0.1:9")
        .env("AWS_CONFIG_FILE", home.path().join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied());
    let text = failed_with(&command.output().unwrap(), 1, "s3://team-bucket/requests");
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    text
}

#[test]
fn s3_without_credentials_or_region_says_what_to_set() {
    let home = Home::new();
    let text = s3_list_with(&home, &[("AWS_REGION", "us-east-1")]);
    assert!(
        text.contains("no AWS credentials: set AWS_PROFILE"),
        "{text}"
    );
    let text = s3_list_with(
        &home,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDX"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
        ],
    );
    assert!(text.contains("no AWS region: set AWS_REGION"), "{text}");
    let text = s3_list_with(
        &home,
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDX"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
        ],
    );
    assert!(text.contains("is the endpoint reachable"), "{text}");
}

/// What bash offers for `words` (the last one being completed), through the script
/// `tfpilot completions bash` prints, with tfpilot on PATH as a user would have it.
fn bash_completes(home: &Home, words: &[&str]) -> Vec<String> {
    let script = home.path().join("tfpilot.bash");
    let output = home.run(&["completions", "bash"]);
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::write(&script, &output.stdout).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let current = words.last().copied().unwrap_or("");
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_TYPE=9; \
         _clap_complete_tfpilot tfpilot '{current}' ''; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1
    );
    // The same environment as `home.command()`, with bash in front and tfpilot on PATH.
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_tfpilot")).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(binary_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let output = home
        .sandboxed("bash")
        .env("PATH", path)
        .env("TFPILOT_STORE", home.path().join("store"))
        .args(["--norc", "-c", &program])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
        .lines()
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn bash_completes_request_ids_environments_and_statuses_from_the_store() {
    let home = Home::new();
    let store = copy_examples(&home);
    std::fs::create_dir_all(store.join("config")).unwrap();
    std::fs::copy(
        Path::new(EXAMPLES).join("config/infra-repos.json"),
        store.join("config/infra-repos.json"),
    )
    .unwrap();
    // Commands and flags come from the binary.
    assert!(bash_completes(&home, &["tfpilot", "dri"]).contains(&"drift-check".to_string()));
    assert_eq!(
        bash_completes(&home, &["tfpilot", "list", "--status", "plan_"]),
        ["plan_ready"]
    );
    // No listing cache yet: the first tab lists the store (and leaves the cache for the next).
    let ids = bash_completes(&home, &["tfpilot", "show", "req_01M7X"]);
    assert!(ids.len() > 3, "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with("req_01M7X")), "{ids:?}");
    let mut newest_first = ids.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first);
    // A unique start completes to the whole id, for every command that takes one.
    let one = ids[0].clone();
    for command in ["approve", "logs", "watch", "explain"] {
        assert_eq!(
            bash_completes(&home, &["tfpilot", command, &one[..20]]),
            vec![one.as_str()],
            "{command}"
        );
    }
    // Environments and projects: the registry's and the requests'.
    let environments = bash_completes(&home, &["tfpilot", "list", "--env", ""]);
    for environment in ["dev", "staging", "prod"] {
        assert!(
            environments.contains(&environment.to_string()),
            "{environments:?}"
        );
    }
    assert_eq!(
        bash_completes(&home, &["tfpilot", "create", "--project", "pay"]),
        ["payments"]
    );
}

#[test]
fn completions_and_man_pages_come_from_the_commands() {
    let home = Home::new();
    // A broken config file does not stop them: packagers run these at build time.
    let config = home.path().join("broken.toml");
    std::fs::write(&config, "store = [").unwrap();
    // Each script asks tfpilot on PATH for the words (what follows is the dynamic answer).
    for (shell, marker) in [
        ("bash", "complete -o nospace -o bashdefault"),
        ("zsh", "#compdef tfpilot"),
        (
            "fish",
            "complete --keep-order --exclusive --command tfpilot",
        ),
    ] {
        let output = home
            .command()
            .env("TFPILOT_CONFIG", &config)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(output.status.success(), "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains(&format!("TFPILOT_COMPLETE=\"{shell}\""))
                || script.contains(&format!("TFPILOT_COMPLETE={shell} tfpilot")),
            "{shell}: {script}"
        );
    }
    // Only tfpilot's own variable asks for completions: another tool's COMPLETE is left alone.
    let output = home
        .command()
        .env("COMPLETE", "1")
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("tfpilot "),
        "{}",
        stdout(&output)
    );
    let output = home
        .command()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    failed_with(&output, 2, "invalid value 'tcsh'");

    let output = home.command().arg("man").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let page = stdout(&output);
    assert!(page.contains(".TH tfpilot 1"), "{page}");
    assert!(page.contains("self\\-service control plane"), "{page}");
    let dir = home.path().join("man");
    let output = home
        .command()
        .args(["man", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let doctor = std::fs::read_to_string(dir.join("tfpilot-doctor.1")).unwrap();
    assert!(
        doctor.contains(&format!(
            ".TH tfpilot-doctor 1  \"tfpilot {}\"",
            env!("CARGO_PKG_VERSION")
        )),
        "{doctor}"
    );
    assert!(doctor.contains("exits 1"), "{doctor}");
    assert!(dir.join("tfpilot-template-put.1").exists());
    assert!(dir.join("tfpilot.1").exists());
}

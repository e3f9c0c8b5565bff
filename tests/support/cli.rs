//! The real binary pointed at one store (a directory or a fresh S3 bucket) and the simulator,
//! acting as any login.
#![allow(dead_code)]

use std::sync::Arc;

use serde_json::Value;
use tokio::process::Command;

use super::bed::{self, Bed};
use super::common;
use super::home::Home;

/// Each `async fn NAME(s3: bool)` once on a local directory and once on S3 (skipped without a
/// server, required in CI). The including file declares this module `#[macro_use]`.
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($name:ident),+) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local_store() {
                super::$name(false).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3_store() {
                super::$name(true).await;
            }
        }
    )+};
}

/// The binary pointed at one store and the simulator.
pub struct Cli {
    pub home: Home,
    /// A directory, or `s3://bucket/prefix`.
    pub store: String,
    /// What the store needs in the environment (the S3 endpoint and credentials).
    pub env: Vec<(&'static str, String)>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Cli {
    /// `tfpilot --store STORE ARGS...` as `login`.
    pub fn command(&self, login: &str, args: &[&str]) -> Command {
        let mut command = self.home.command(&self.url);
        command
            .args(["--store", &self.store])
            .args(args)
            .env("GITHUB_TOKEN", format!("sim-{login}"));
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    pub async fn run(&self, login: &str, args: &[&str]) -> (i32, Value, String) {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let output = self.command(login, &full).output().await.unwrap();
        let out = String::from_utf8_lossy(&output.stdout);
        let err = String::from_utf8_lossy(&output.stderr).into_owned();
        let secrets = &super::home::secrets::assert_clean;
        secrets(&format!("the --json output of tfpilot {args:?}"), &out);
        secrets(&format!("the errors of tfpilot {args:?}"), &err);
        let json = serde_json::from_str(&out).unwrap_or(Value::Null);
        (output.status.code().unwrap_or(-1), json, err)
    }
}

/// A bed and the binary on the same store: a local directory, or (`s3`) a fresh bucket on the
/// test S3 server; `None` when S3 is asked for and no server is configured.
pub async fn setup(s3: bool) -> Option<(Bed, Cli)> {
    let home = Home::new();
    let (backend, store, env, dir): (Arc<dyn tfpilot::store::ObjectStore>, _, _, _) = if s3 {
        let endpoint = common::s3_endpoint()?;
        let (client, bucket) = common::fresh_bucket(&endpoint).await;
        let backend = tfpilot::store::S3Store::with_client(client, bucket.clone(), "team-a".into());
        let env = vec![
            ("TFPILOT_S3_ENDPOINT", endpoint),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            (
                "AWS_SECRET_ACCESS_KEY",
                super::home::secrets::AWS_TEST_SECRET.to_string(),
            ),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            (
                "AWS_CONFIG_FILE",
                home.path().join("no-aws-config").display().to_string(),
            ),
        ];
        (
            Arc::new(backend),
            format!("s3://{bucket}/team-a"),
            env,
            None,
        )
    } else {
        let (dir, backend) = common::local_backend();
        let store = dir.path().join("store").display().to_string();
        (backend, store, Vec::new(), Some(dir))
    };
    let bed = bed::bed(backend).await;
    let cli = Cli {
        home,
        store,
        env,
        url: bed.sim.base_url().to_string(),
        _dir: dir,
    };
    Some((bed, cli))
}

use serde_json::json;

use super::*;
use crate::domain::Timestamp;
use crate::domain::notify::notices;

fn at(text: &str) -> Timestamp {
    Timestamp(chrono::DateTime::parse_from_rfc3339(text).unwrap().into())
}

fn directory() -> EmailDirectory {
    EmailDirectory::parse(
        r#"{
            "people": {"Alice": "alice@acme.example", "bob": " bob@acme.example "},
            "environments": {"prod": ["platform-oncall@acme.example"], "*": ["audit@acme.example"]}
        }"#,
        NOTIFY_KEY,
    )
    .unwrap()
}

fn applied(environment: &str) -> Request {
    let mut request = Request::new(
        "req_1",
        "payments",
        environment,
        "s3-bucket",
        "alice",
        at("2026-11-26T10:00:00Z"),
    );
    request.pr = Some(Box::new(
        serde_json::from_value(
            json!({"number": 16, "url": "https://github.com/acme/infra-live/pull/16",
            "state": "closed", "merged": true}),
        )
        .unwrap(),
    ));
    request.apply_run = Some(Box::new(
        serde_json::from_value(json!({"id": 2006, "status": "completed",
            "conclusion": "success", "html_url": "https://github.com/acme/infra-live/actions/runs/2006",
            "updated_at": "2026-11-26T11:00:00Z"}))
        .unwrap(),
    ));
    request
}

#[test]
fn the_requester_and_the_environments_lists_hear_of_a_transition() {
    let request = applied("prod");
    let notice = notices(&request, at("2026-11-26T00:00:00Z")).pop().unwrap();
    assert_eq!(
        directory().recipients(&notice, &request),
        [
            "alice@acme.example",
            "audit@acme.example",
            "platform-oncall@acme.example"
        ],
        "logins compare case-insensitively; sorted, each once"
    );
    let dev = applied("dev");
    assert_eq!(
        directory().recipients(&notice, &dev),
        ["alice@acme.example", "audit@acme.example"]
    );
    let mut stranger = applied("dev");
    stranger.requested_by = "mallory".into();
    assert_eq!(
        directory().recipients(&notice, &stranger),
        ["audit@acme.example"],
        "a login without an address reaches only the lists"
    );
    assert!(
        EmailDirectory::default()
            .recipients(&notice, &stranger)
            .is_empty()
    );
}

#[test]
fn a_run_waiting_for_review_reaches_its_reviewers_not_the_requester() {
    let mut request = applied("dev");
    request.apply_run = Some(Box::new(
        serde_json::from_value(json!({"id": 2007, "status": "waiting",
            "updated_at": "2026-11-26T12:00:00Z",
            "deployment_review": {"environment": "dev", "reviewers": ["BOB", "team:platform", "carol"]}}))
        .unwrap(),
    ));
    let notice = notices(&request, at("2026-11-26T11:30:00Z"))
        .into_iter()
        .find(|notice| notice.kind == "deployment_review_requested")
        .unwrap();
    assert_eq!(
        directory().recipients(&notice, &request),
        ["audit@acme.example", "bob@acme.example"]
    );
}

#[test]
fn the_message_names_the_request_its_plan_and_links_in_text_and_html() {
    let mut request = applied("dev");
    request.plan = Some(Box::new(
        serde_json::from_value(json!({"request": {"add": 2, "change": 0, "destroy": 0},
            "outside": {"add": 0, "change": 1, "destroy": 0,
                        "addresses": ["aws_iam_role.shared"]}}))
        .unwrap(),
    ));
    let notice = notices(&request, at("2026-11-26T00:00:00Z")).pop().unwrap();
    let email = email_notice(&notice, &request, vec!["alice@acme.example".into()]);
    assert_eq!(
        email.subject,
        "[tfpilot] req_1 (s3-bucket in payments/dev, by alice): apply succeeded"
    );
    for part in [&email.text, &email.html] {
        for expected in [
            "req_1",
            "s3-bucket",
            "payments/dev",
            "alice",
            "this request +2 ~0 -0; outside it +0 ~1 -0 (1 resource",
            "https://github.com/acme/infra-live/actions/runs/2006",
            "https://github.com/acme/infra-live/pull/16",
            "tfpilot show req_1",
        ] {
            assert!(part.contains(expected), "{expected:?} missing from {part}");
        }
    }
    assert!(
        email
            .html
            .contains("<a href=\"https://github.com/acme/infra-live/pull/16\">")
    );
}

#[test]
fn text_from_a_document_cannot_break_a_header_or_the_html() {
    let mut request = applied("dev");
    request.module = "s3<script>\r\nBcc: everyone@evil.example\u{1b}]0;x\u{7}".into();
    request.pr = Some(Box::new(
        serde_json::from_value(json!({"number": 16, "url": "javascript:alert(1)"})).unwrap(),
    ));
    let notice = notices(&request, at("2026-11-26T00:00:00Z")).pop().unwrap();
    let email = email_notice(&notice, &request, vec!["alice@acme.example".into()]);
    assert!(
        !email.subject.contains(['\r', '\n', '\u{1b}', '\u{7}']),
        "{:?}",
        email.subject
    );
    assert!(!email.text.contains(['\r', '\u{1b}', '\u{7}']));
    assert!(!email.html.contains("<script>"), "{}", email.html);
    assert!(email.html.contains("s3&lt;script&gt;"));
    assert!(!email.text.contains("javascript:") && !email.html.contains("javascript:"));
    let long = "x".repeat(500);
    let mut notice = notice;
    notice.summary = long;
    assert_eq!(
        email_notice(&notice, &request, Vec::new())
            .subject
            .chars()
            .count(),
        200
    );
}

#[test]
fn the_directory_refuses_what_is_not_an_address() {
    for (text, expected) in [
        (r#"{"people": {"alice": "alice"}}"#, "people.alice"),
        (
            r#"{"people": {"alice": "a@x.example, b@y.example"}}"#,
            "not an email address",
        ),
        (
            r#"{"environments": {"prod": ["oncall@acme.example", "<x>@y"]}}"#,
            "environments.prod",
        ),
        (r#"{"people": {}, "lists": {}}"#, "lists"),
        (r#"{"people": ["alice@acme.example"]}"#, "expected a map"),
    ] {
        let error = EmailDirectory::parse(text, NOTIFY_KEY)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(expected) && error.contains(NOTIFY_KEY),
            "{text}: {error}"
        );
    }
}

#[test]
fn the_example_directory_is_usable() {
    let directory = EmailDirectory::parse(
        include_str!("../../examples/store/config/notify.json"),
        NOTIFY_KEY,
    )
    .unwrap();
    assert_eq!(directory.address_of("Alice"), Some("alice@example.com"));
    assert_eq!(
        directory.environments["prod"],
        ["platform-oncall@example.com"]
    );
}

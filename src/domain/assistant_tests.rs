use serde_json::json;

use super::*;

struct Team {
    modules: Vec<ModuleDef>,
    templates: Vec<Template>,
    registry: InfraRepos,
    policy: ValidationPolicy,
}

impl Team {
    fn example() -> Team {
        let module = |text: &str| ModuleDef::parse(text, "example").unwrap();
        let template = |text: &str| Template::parse(text, "example").unwrap();
        Team {
            modules: vec![
                module(include_str!(
                    "../../examples/store/config/modules/rds-postgres.json"
                )),
                module(include_str!(
                    "../../examples/store/config/modules/s3-bucket.json"
                )),
            ],
            templates: vec![template(include_str!(
                "../../examples/store/templates/logs-bucket.json"
            ))],
            registry: InfraRepos::parse(
                include_str!("../../examples/store/config/infra-repos.json"),
                "example",
            )
            .unwrap(),
            policy: ValidationPolicy::parse(
                include_str!("../../examples/store/config/policy.json"),
                "example",
            )
            .unwrap(),
        }
    }

    fn catalog(&self) -> Catalog<'_> {
        Catalog {
            modules: &self.modules,
            templates: &self.templates,
            registry: Some(&self.registry),
            policy: &self.policy,
        }
    }
}

#[test]
fn each_module_is_a_tool_whose_schema_holds_its_fields_but_no_secret() {
    let team = Team::example();
    let tools = tools(&team.catalog());
    assert_eq!(tools.len(), 2);
    let rds = &tools[0]["function"];
    assert_eq!(rds["name"], "propose_rds-postgres");
    let fields = &rds["parameters"]["properties"]["values"]["properties"];
    assert!(fields.get("master_password").is_none(), "{fields}");
    assert!(
        !tools
            .iter()
            .any(|t| t.to_string().contains("master_password\"")),
        "a sensitive field is in no tool"
    );
    let s3 = &tools[1]["function"];
    let values = &s3["parameters"]["properties"]["values"];
    assert_eq!(values["additionalProperties"], false);
    assert_eq!(values["properties"]["versioning"]["type"], "boolean");
    assert_eq!(values["properties"]["tags"]["type"], "object");
    assert!(
        values["properties"]["bucket_name"]["pattern"].is_string(),
        "{values}"
    );
    let projects = &s3["parameters"]["properties"]["project"]["enum"];
    assert!(projects.as_array().unwrap().contains(&json!("payments")));
    let template = &s3["parameters"]["properties"]["template"];
    assert_eq!(template["enum"], json!(["logs-bucket"]));
    assert!(
        rds["parameters"]["properties"].get("template").is_none(),
        "no template for rds here"
    );
}

#[test]
fn the_prompt_states_the_rules_the_schema_cannot() {
    let team = Team::example();
    let prompt = system_prompt(&team.catalog());
    assert!(
        prompt.contains("Team naming rule: the field bucket_name"),
        "{prompt}"
    );
    assert!(
        prompt.contains("<project>-<environment>-<purpose>"),
        "{prompt}"
    );
    assert!(
        prompt.contains("Allowed values of the field region"),
        "{prompt}"
    );
    assert!(
        prompt.contains("Template logs-bucket (module s3-bucket)"),
        "{prompt}"
    );
    assert!(prompt.contains("- payments: "), "{prompt}");
}

#[test]
fn a_tool_call_reads_into_a_proposal_without_sensitive_values() {
    let team = Team::example();
    let proposal = read_proposal(
        &team.catalog(),
        "propose_rds-postgres",
        &json!({"project": "payments", "environment": "dev",
                "values": {"identifier": "ledger", "master_password": "hunter2hunter2"}})
        .to_string(),
    )
    .unwrap();
    assert_eq!(proposal.module, "rds-postgres");
    assert_eq!(
        proposal.values,
        json!({"identifier": "ledger"}).as_object().unwrap().clone()
    );
    assert_eq!(proposal.notes.len(), 1);
    assert!(proposal.notes[0].starts_with("master_password is sensitive"));

    for (name, arguments, expected) in [
        ("delete_everything", "{}", "not one of tfpilot's tools"),
        ("propose_lambda", "{}", "catalog does not have"),
        ("propose_s3-bucket", "{not json", "not valid JSON"),
        (
            "propose_s3-bucket",
            r#"{"environment": "dev"}"#,
            "no project",
        ),
        (
            "propose_s3-bucket",
            r#"{"project": "payments", "environment": "dev", "values": []}"#,
            "not an object",
        ),
    ] {
        let error = read_proposal(&team.catalog(), name, arguments).unwrap_err();
        assert!(error.contains(expected), "{name} {arguments}: {error}");
    }
}

#[test]
fn a_conversation_names_its_question() {
    let conversation = Conversation {
        model: "m".into(),
        endpoint: "http://127.0.0.1".into(),
        asked_by: "alice".into(),
        at: Timestamp(chrono::Utc::now()),
        messages: vec![json!({"role": "user", "content": "a bucket"})],
        proposal: None,
        request_id: None,
    };
    assert_eq!(conversation.question(), Some("a bucket"));
    assert_eq!(conversation_key("req_1"), "assistant/req_1.json");
}

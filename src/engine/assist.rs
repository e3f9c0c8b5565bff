//! The infra assistant: a chat model proposes a request from a sentence, tfpilot checks the
//! proposal with the same rules as a create, sends the errors back for one more round, and
//! hands the result to a person to review. Nothing is created here.

use serde_json::{Value, json};

use super::{CreateInput, Engine, EngineError};
use crate::assistant::{ChatModel, ChatReply};
use crate::domain::access::Subject;
use crate::domain::assistant::{
    Catalog, Conversation, Proposal, read_proposal, system_prompt, tools,
};
use crate::domain::operation::Operation;

/// Rounds a model gets: its proposal, then one correction after tfpilot's errors.
const ROUNDS: usize = 2;

/// A proposal that passed every check a create makes, and how it came about.
#[derive(Debug, Clone)]
pub struct Assisted {
    pub proposal: Proposal,
    pub conversation: Conversation,
}

impl Assisted {
    /// The create this proposal stands for, carrying its conversation.
    pub fn create_input(&self) -> CreateInput {
        CreateInput {
            project: self.proposal.project.clone(),
            environment: self.proposal.environment.clone(),
            module: self.proposal.module.clone(),
            values: self.proposal.values.clone(),
            template: self.proposal.template.clone(),
            assistant: Some(self.conversation.clone()),
            ..CreateInput::default()
        }
    }
}

impl Engine {
    fn assistant_catalog(&self) -> Catalog<'_> {
        Catalog {
            modules: &self.team.modules,
            templates: &self.team.templates,
            registry: self.team.infra_repos.as_ref(),
            policy: &self.team.policy,
        }
    }

    /// Asks `model` for a request matching `ask`.
    pub async fn assist(&self, model: &dyn ChatModel, ask: &str) -> Result<Assisted, EngineError> {
        self.require(Operation::Create, Subject::new_request(&self.actor))?;
        let ask = ask.trim();
        if ask.is_empty() {
            return Err(EngineError::Invalid {
                message:
                    "say what you need, e.g. \"a private bucket for payments logs in dev, 90 days\""
                        .into(),
            });
        }
        let catalog = self.assistant_catalog();
        if catalog.modules.is_empty() {
            return Err(EngineError::Config {
                message: "the module catalog is empty: there is nothing to propose".into(),
            });
        }
        let tools = tools(&catalog);
        let system = json!({"role": "system", "content": system_prompt(&catalog)});
        let mut messages: Vec<Value> = vec![json!({"role": "user", "content": ask})];
        let mut last_problem = String::new();
        for _ in 0..ROUNDS {
            let mut sent = Vec::with_capacity(messages.len() + 1);
            sent.push(system.clone());
            sent.extend(messages.iter().cloned());
            let reply =
                model
                    .complete(&sent, &tools)
                    .await
                    .map_err(|error| EngineError::Config {
                        message: error.to_string(),
                    })?;
            let (message, id, name, arguments) = match reply {
                ChatReply::Text { text, .. } => {
                    let words: String = text.chars().take(500).collect();
                    return Err(EngineError::Invalid {
                        message: format!(
                            "the assistant answered without a proposal: {:?}; say which module, project and environment you need and ask again",
                            words.trim()
                        ),
                    });
                }
                ChatReply::ToolCall {
                    message,
                    id,
                    name,
                    arguments,
                } => (message, id, name, arguments),
            };
            messages.push(message);
            let problem = match read_proposal(&catalog, &name, &arguments) {
                Ok(proposal) => match self.check_create(&proposal_input(&proposal)) {
                    Ok(()) => {
                        let conversation = Conversation {
                            model: model.model().to_string(),
                            endpoint: model.endpoint().to_string(),
                            asked_by: self.actor.clone(),
                            at: self.now(),
                            messages,
                            proposal: Some(proposal.clone()),
                            request_id: None,
                        };
                        return Ok(Assisted {
                            proposal,
                            conversation,
                        });
                    }
                    Err(error) => error.to_string(),
                },
                Err(reason) => reason,
            };
            messages.push(json!({
                "role": "tool",
                "tool_call_id": id,
                "content": format!("tfpilot refused this proposal: {problem}. Call the tool again with corrected values."),
            }));
            last_problem = problem;
        }
        Err(EngineError::Invalid {
            message: format!(
                "the assistant's proposal failed the checks twice (last: {last_problem}); fill in the request yourself, or ask again with more detail"
            ),
        })
    }
}

fn proposal_input(proposal: &Proposal) -> CreateInput {
    CreateInput {
        project: proposal.project.clone(),
        environment: proposal.environment.clone(),
        module: proposal.module.clone(),
        values: proposal.values.clone(),
        template: proposal.template.clone(),
        ..CreateInput::default()
    }
}

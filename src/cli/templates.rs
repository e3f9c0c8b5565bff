//! `tfpilot template`: everyone may list and show templates; put, delete and seed are for
//! admins (the engine decides, with the reason).

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::args::TemplateCommand;
use super::input_file::read_input;
use super::ops::engine;
use super::{Invocation, print, print_json};
use crate::domain::template::{Template, find_template};

/// A template is a small JSON document; a megabyte is far past any real one.
const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

pub async fn run(context: &Invocation, command: TemplateCommand) -> Result<()> {
    match command {
        TemplateCommand::List => list(context).await,
        TemplateCommand::Show { id } => show(context, &id).await,
        TemplateCommand::Put { file } => put(context, &file).await,
        TemplateCommand::Delete { id } => delete(context, &id).await,
        TemplateCommand::Seed => seed(context).await,
    }
}

async fn list(context: &Invocation) -> Result<()> {
    let store = context.store().await?;
    let team = store.load_team_config().await?;
    if context.json {
        return print_json(&json!({
            "templates": team.templates,
            "problems": team.template_problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
    }
    let mut text = String::new();
    for template in &team.templates {
        let environments = if template.environments.is_empty() {
            "any environment".to_string()
        } else {
            template.environments.join(", ")
        };
        text.push_str(&format!(
            "{:<20} {:<14} {:<20} {}\n",
            template.id, template.module, environments, template.description
        ));
    }
    if team.templates.is_empty() {
        text.push_str(
            "No templates yet: an admin adds them with `tfpilot template put FILE` or `tfpilot template seed`.\n",
        );
    }
    for problem in &team.template_problems {
        text.push_str(&format!("problem: {problem}\n"));
    }
    print(&text)
}

async fn show(context: &Invocation, id: &str) -> Result<()> {
    let store = context.store().await?;
    let team = store.load_team_config().await?;
    let template = match find_template(&team.templates, id) {
        Ok(template) => template,
        Err(error) => {
            if let Some(problem) = team
                .template_problems
                .iter()
                .find(|p| p.to_string().contains(&format!("templates/{id}.json")))
            {
                anyhow::bail!("{problem}");
            }
            return Err(error.into());
        }
    };
    if context.json {
        return print_json(&serde_json::to_value(template)?);
    }
    let mut text = format!(
        "{}  ({})\n{}\n",
        template.id, template.module, template.description
    );
    let environments = if template.environments.is_empty() {
        "any".to_string()
    } else {
        template.environments.join(", ")
    };
    text.push_str(&format!("environments: {environments}\n"));
    for (title, values) in [("preset", &template.preset), ("locked", &template.locked)] {
        if values.is_empty() {
            continue;
        }
        text.push_str(&format!("{title}:\n"));
        for (name, value) in values {
            text.push_str(&format!("  {name} = {value}\n"));
        }
    }
    if let (Some(by), Some(at)) = (&template.updated_by, &template.updated_at) {
        text.push_str(&format!("updated by {by} at {}\n", at.to_rfc3339()));
    }
    print(&text)
}

async fn put(context: &Invocation, file: &Path) -> Result<()> {
    let text = read_input(file, MAX_TEMPLATE_BYTES, "the template")?;
    // Named as a file, not a store key: a local path under templates/ is no stored object.
    let template = Template::parse(&text, &format!("file {}", file.display()))?;
    let engine = engine(context).await?;
    let (write, stored) = engine.put_template(template).await?;
    if context.json {
        return print_json(&json!({"result": write, "template": stored}));
    }
    let verb = match write {
        crate::store::TemplateWrite::Created => "created",
        crate::store::TemplateWrite::Replaced => "replaced",
        crate::store::TemplateWrite::Unchanged => "unchanged:",
    };
    print(&format!("{verb} template {}\n", stored.id))
}

async fn delete(context: &Invocation, id: &str) -> Result<()> {
    let engine = engine(context).await?;
    engine.delete_template(id).await?;
    if context.json {
        return print_json(&json!({"result": "deleted", "id": id}));
    }
    print(&format!("deleted template {id}\n"))
}

async fn seed(context: &Invocation) -> Result<()> {
    let engine = engine(context).await?;
    let results = engine.seed_templates().await?;
    if context.json {
        return print_json(&json!({ "templates": results }));
    }
    let mut text = String::new();
    for result in &results {
        text.push_str(&format!(
            "{:<8} {:<20} {}\n",
            result.outcome, result.id, result.detail
        ));
    }
    print(&text)
}

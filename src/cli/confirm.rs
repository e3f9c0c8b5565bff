//! Asking before an operation that needs confirmation (`Operation::needs_confirmation`): the
//! same words as the dashboard's dialog, on stderr, answered on stdin. Without a terminal to
//! ask on, `--yes` says it for the script.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result};

use crate::domain::access::Decision;
use crate::domain::operation::{Operation, Readiness, readiness};
use crate::domain::presentation::{ConfirmationText, confirmation};
use crate::domain::untrusted::for_terminal;
use crate::engine::{Engine, EngineError};

/// Whether to go on with `operation` on `id`. Operations the policy or the request's facts
/// refuse are not asked about: the engine refuses them with its own reason and exit code.
pub async fn go_ahead(engine: &Engine, operation: Operation, id: &str, yes: bool) -> Result<bool> {
    if yes || !operation.needs_confirmation() {
        return Ok(true);
    }
    let request = engine.store().get_request(id).await?.value;
    let refused = !matches!(engine.authorize(operation, &request), Decision::Allowed)
        || !matches!(readiness(operation, &request), Readiness::Ready);
    if refused {
        return Ok(true);
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(EngineError::Invalid {
            message: format!(
                "{} {id} needs confirmation: pass --yes when tfpilot does not run in a terminal",
                operation.verb()
            ),
        }
        .into());
    }
    let text = confirmation(&request, operation, &engine.team().access);
    let id = id.to_string();
    tokio::task::spawn_blocking(move || {
        ask(
            &text,
            &id,
            &mut std::io::stdin().lock(),
            &mut std::io::stderr().lock(),
        )
    })
    .await
    .context("asking for confirmation")?
    .context("asking for confirmation")
}

/// Shows `text` and reads one answer: `yes` (or `y`), or the request id where it must be typed.
pub fn ask(
    text: &ConfirmationText,
    id: &str,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> std::io::Result<bool> {
    // The words quote the document (project, environment, module): neutralised like all output.
    writeln!(output, "{}", for_terminal(&text.title))?;
    for line in &text.lines {
        writeln!(output, "  {}", for_terminal(line))?;
    }
    if text.type_the_id {
        write!(
            output,
            "Type the request id ({}) to go on: ",
            for_terminal(id)
        )?;
    } else {
        write!(output, "Go on? [y/N] ")?;
    }
    output.flush()?;
    let mut answer = String::new();
    input.read_line(&mut answer)?;
    let answer = answer.trim();
    Ok(if text.type_the_id {
        answer == id
    } else {
        answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::untrusted::is_hazard;

    fn text(type_the_id: bool) -> ConfirmationText {
        ConfirmationText {
            title: "apply req_1?".into(),
            lines: vec!["Runs terraform apply on the merged commit.".into()],
            type_the_id,
        }
    }

    fn answer(text: &ConfirmationText, typed: &str) -> (bool, String) {
        let mut output = Vec::new();
        let agreed = ask(text, "req_1", &mut typed.as_bytes(), &mut output).unwrap();
        (agreed, String::from_utf8(output).unwrap())
    }

    #[test]
    fn only_yes_goes_on() {
        let (agreed, shown) = answer(&text(false), "y\n");
        assert!(agreed);
        assert!(
            shown.starts_with("apply req_1?\n  Runs terraform apply"),
            "{shown}"
        );
        assert!(answer(&text(false), "YES\n").0);
        for no in ["\n", "n\n", "yess\n", ""] {
            assert!(!answer(&text(false), no).0, "{no:?}");
        }
    }

    #[test]
    fn the_prompt_quotes_the_document_neutralised() {
        let text = ConfirmationText {
            title: "apply req_1?".into(),
            lines: vec!["req_1 in pay\u{1b}]0;pwned\u{7}/dev (s3-bucket\u{202e})".into()],
            type_the_id: false,
        };
        let (_, shown) = answer(&text, "n\n");
        assert!(!shown.chars().any(is_hazard), "{shown:?}");
        assert!(shown.contains("pay\\x1b]0;pwned\\x07"), "{shown}");
    }

    #[test]
    fn destroying_in_prod_wants_the_id() {
        assert!(!answer(&text(true), "y\n").0);
        let (agreed, shown) = answer(&text(true), "req_1\n");
        assert!(agreed);
        assert!(shown.contains("Type the request id (req_1)"), "{shown}");
    }
}

//! Modals, drawn over everything: help, palette, prompts, pickers, confirmations.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::domain::operation::Operation;

use super::super::keymap::{Binding, Context};
use super::super::state::State;
use super::super::state::line_input::LineInput;
use super::super::state::modal::{Confirmation, Discard, Modal, Picker, PromptPurpose};
use super::super::state::palette::{Palette, PaletteEntry};
use super::super::state::viewport::{Viewport, window_showing};
use super::super::theme::{Role, Theme};
use super::layout::centered;
use super::{line_input, styled};

fn boxed<'a>(title: String, theme: &Theme, role: Role) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(role))
        .title(Line::styled(title, theme.style(Role::Title)))
}

pub fn render(state: &State, modal: &Modal, theme: &Theme, frame: &mut Frame, body: Rect) {
    match modal {
        Modal::Help { viewport } => help(state, *viewport, theme, frame, body),
        Modal::Palette(palette) => palette_box(state, palette, theme, frame, body),
        Modal::Prompt { purpose, input, .. } => prompt(*purpose, input, theme, frame, body),
        Modal::Picker(picker) => picker_box(picker, theme, frame, body),
        Modal::Confirm(confirmation) => confirm(confirmation, theme, frame, body),
        Modal::Discard(form) => discard(form, theme, frame, body),
        Modal::Create(form) => super::forms::create(form, theme, frame, body),
        Modal::Edit(form) => super::forms::edit(form, theme, frame, body),
    }
}

/// The help's sections: the context in use first, then global, then the rest, each with its
/// bindings; empty ones left out.
fn help_sections(state: &State) -> Vec<(Context, Vec<Binding>)> {
    let here = help_context(state);
    let mut order = vec![here, Context::Global];
    for context in Context::ALL {
        if !order.contains(&context) {
            order.push(context);
        }
    }
    order
        .into_iter()
        .map(|context| (context, state.keymap.describe(context)))
        .filter(|(_, bindings)| !bindings.is_empty())
        .collect()
}

/// The context whose keys the help starts with: the one under the help.
fn help_context(state: &State) -> Context {
    match state.context() {
        Context::Help => match state.screen {
            super::super::state::Screen::Main => Context::Main,
            super::super::state::Screen::Plan => Context::Plan,
            super::super::state::Screen::Insights => Context::Insights,
            super::super::state::Screen::Events
            | super::super::state::Screen::Activity
            | super::super::state::Screen::Diff => Context::Events,
        },
        other => other,
    }
}

/// Lines the help has (a heading and a blank line per section, the note at the end), for
/// scrolling it no further than its end.
pub fn help_len(state: &State) -> usize {
    help_sections(state)
        .iter()
        .map(|(_, bindings)| bindings.len() + 2)
        .sum::<usize>()
        + 1
}

fn help(state: &State, viewport: Viewport, theme: &Theme, frame: &mut Frame, body: Rect) {
    let area = centered(body, 76, body.height);
    let mut lines: Vec<Line> = Vec::new();
    let here = help_context(state);
    for (context, bindings) in help_sections(state) {
        let heading = if context == here {
            format!("{} (here)", context.as_str())
        } else {
            context.as_str().to_string()
        };
        lines.push(Line::styled(heading, theme.style(Role::Title)));
        for Binding { keys, command } in bindings {
            let role = if command.is_dangerous() {
                Role::Danger
            } else {
                Role::Text
            };
            let keys = keys
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            let description = command.description();
            lines.push(Line::from(vec![
                styled(format!("  {keys:<22}"), theme.style(Role::Key)),
                styled(description, theme.style(role)),
            ]));
        }
        lines.push(Line::default());
    }
    lines.push(Line::styled(
        "Keys come from the keymap: ~/.config/tfpilot/keymap.toml overrides the defaults.",
        theme.style(Role::Muted),
    ));
    debug_assert_eq!(lines.len(), help_len(state));
    let offset = viewport.offset.min(lines.len().saturating_sub(1)) as u16;
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(boxed(
                " help: keys (esc closes) ".into(),
                theme,
                Role::BorderFocused,
            ))
            .scroll((offset, 0)),
        area,
    );
}

fn palette_box(state: &State, palette: &Palette, theme: &Theme, frame: &mut Frame, body: Rect) {
    let matches = &palette.matches;
    let height = (matches.len() as u16 + 3).clamp(5, body.height.min(18));
    let width = 76.min(body.width);
    let area = Rect::new(
        body.x + body.width.saturating_sub(width) / 2,
        body.y + 1.min(body.height),
        width,
        height,
    );
    let visible = height.saturating_sub(3) as usize;
    let start = window_showing(palette.selected, matches.len(), visible);
    let mut first = vec![styled(": ", theme.style(Role::Accent))];
    first.extend(line_input(
        &palette.query,
        area.width.saturating_sub(4) as usize,
        theme.style(Role::Text),
    ));
    let mut lines = vec![Line::from(first)];
    if matches.is_empty() {
        lines.push(Line::styled(
            "  nothing matches: a command, a request id, a status, env or project",
            theme.style(Role::Muted),
        ));
    }
    let room = area.width.saturating_sub(2) as usize;
    for (index, entry) in matches.iter().enumerate().skip(start).take(visible) {
        let mut denied = false;
        let (text, dangerous) = match entry {
            PaletteEntry::Command(command) => {
                let key = state
                    .keymap
                    .keys_for(Context::Main, *command)
                    .first()
                    .map(|k| k.to_string())
                    .unwrap_or_default();
                match state.denial(*command) {
                    // Greyed, with the policy's reason where the description was.
                    Some(reason) => {
                        denied = true;
                        (format!(" {:<20}denied: {reason}", command.name()), false)
                    }
                    None => (
                        format!(
                            " {:<20}{:<40}{key:>8} ",
                            command.name(),
                            command.description()
                        ),
                        command.is_dangerous(),
                    ),
                }
            }
            PaletteEntry::Request { id, summary } => (format!(" → {id}  {summary}"), false),
            PaletteEntry::Status(status) => (
                format!(" filter: status {} {}", status.symbol(), status.as_str()),
                false,
            ),
            PaletteEntry::Environment(environment) => {
                (format!(" filter: env {environment}"), false)
            }
            PaletteEntry::Project(project) => (format!(" filter: project {project}"), false),
        };
        let style = if index == palette.selected {
            theme.style(Role::Selection)
        } else if denied {
            theme.style(Role::Muted)
        } else if dangerous {
            theme.style(Role::Danger)
        } else {
            theme.style(Role::Text)
        };
        lines.push(Line::styled(clip_end(&text, room), style));
    }
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(boxed(
            " command palette: commands, requests, filters ".into(),
            theme,
            Role::BorderFocused,
        )),
        area,
    );
}

/// `text` cut to `width` characters.
fn clip_end(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

fn prompt(purpose: PromptPurpose, input: &LineInput, theme: &Theme, frame: &mut Frame, body: Rect) {
    let (label, title) = match purpose {
        PromptPurpose::Filter => ("/", " filter: id, project, env, module, user, status "),
        PromptPurpose::Search => ("/", " search the plan "),
    };
    let area = Rect::new(
        body.x,
        body.y + body.height.saturating_sub(3),
        body.width,
        3.min(body.height),
    );
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(Line::from(
            [styled(label, theme.style(Role::Accent))]
                .into_iter()
                .chain(line_input(
                    input,
                    area.width.saturating_sub(3) as usize,
                    theme.style(Role::Text),
                ))
                .collect::<Vec<_>>(),
        ))
        .block(boxed(title.into(), theme, Role::BorderFocused)),
        area,
    );
}

fn confirm(confirmation: &Confirmation, theme: &Theme, frame: &mut Frame, body: Rect) {
    let mut lines: Vec<Line> = confirmation
        .lines
        .iter()
        .map(|line| Line::styled(line.clone(), theme.style(Role::Text)))
        .collect();
    lines.push(Line::default());
    match &confirmation.typed {
        Some(typed) => {
            lines.push(Line::styled(
                format!("Type the request id to {}:", confirmation.operation.verb()),
                theme.style(Role::Danger),
            ));
            let role = if confirmation.satisfied() {
                Role::Success
            } else {
                Role::Text
            };
            let mut line = vec![styled("> ", theme.style(Role::Accent))];
            line.extend(line_input(typed, 58, theme.style(role)));
            lines.push(Line::from(line));
            lines.push(Line::styled(
                "enter confirms once it matches · esc cancels",
                theme.style(Role::Muted),
            ));
        }
        None if confirmation.comment.is_some() => {
            let prompt = if confirmation.operation == Operation::Withdraw {
                "Reason (recorded with the withdrawal and in the audit trail):"
            } else if confirmation.operation == Operation::OverridePolicy {
                "Reason (required; kept with the override and in the audit trail):"
            } else {
                "Comment (recorded on GitHub and in the audit trail):"
            };
            lines.push(Line::styled(prompt, theme.style(Role::Text)));
            let mut line = vec![styled("> ", theme.style(Role::Accent))];
            if let Some(comment) = &confirmation.comment {
                line.extend(line_input(comment, 58, theme.style(Role::Text)));
            }
            lines.push(Line::from(line));
            lines.push(Line::from(vec![
                styled("enter", theme.style(Role::Key)),
                styled(
                    format!(" {}   ", confirmation.operation.verb()),
                    theme.style(Role::Danger),
                ),
                styled("esc", theme.style(Role::Key)),
                styled(" cancel", theme.style(Role::Muted)),
            ]));
        }
        None => lines.push(Line::from(vec![
            styled("y", theme.style(Role::Key)),
            styled(
                format!(" {}   ", confirmation.operation.verb()),
                theme.style(Role::Danger),
            ),
            styled("n", theme.style(Role::Key)),
            styled(" / esc cancel", theme.style(Role::Muted)),
        ])),
    }
    let height = (lines.len() as u16 + 2).min(body.height);
    let area = centered(body, 64, height);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(boxed(
                format!(" {} ", confirmation.title),
                theme,
                Role::Danger,
            )),
        area,
    );
}

fn discard(form: &Discard, theme: &Theme, frame: &mut Frame, body: Rect) {
    let lines = vec![
        Line::styled(
            "What you typed is lost if you close the form now.",
            theme.style(Role::Text),
        ),
        Line::default(),
        Line::from(vec![
            styled("y", theme.style(Role::Key)),
            styled(" discard   ", theme.style(Role::Danger)),
            styled("n", theme.style(Role::Key)),
            styled(" / esc keep editing", theme.style(Role::Muted)),
        ]),
    ];
    let area = centered(body, 56, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(boxed(form.title(), theme, Role::Warning)),
        area,
    );
}

fn picker_box(picker: &Picker, theme: &Theme, frame: &mut Frame, body: Rect) {
    let matches = picker.matches();
    let height = (matches.len().max(1) as u16 + 3).min(body.height);
    let area = centered(body, 44, height);
    let visible = height.saturating_sub(3) as usize;
    let start = window_showing(picker.selected, matches.len(), visible);
    let mut first = vec![styled("> ", theme.style(Role::Accent))];
    first.extend(line_input(
        &picker.query,
        area.width.saturating_sub(4) as usize,
        theme.style(Role::Text),
    ));
    let mut lines = vec![Line::from(first)];
    if matches.is_empty() {
        lines.push(Line::styled(" nothing matches", theme.style(Role::Muted)));
    }
    lines.extend(
        matches
            .iter()
            .enumerate()
            .skip(start)
            .take(visible)
            .map(|(index, option)| {
                let style = if index == picker.selected {
                    theme.style(Role::Selection)
                } else {
                    theme.style(Role::Text)
                };
                Line::styled(format!(" {}", option.label), style)
            }),
    );
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(boxed(picker.heading(), theme, Role::BorderFocused)),
        area,
    );
}

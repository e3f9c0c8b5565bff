//! The create form (fields from the module schema, inline errors, the HCL block it will write)
//! and the config editor (the values as text, with the diff of the block).

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::super::state::editor::EditForm;
use super::super::state::form::{CreateForm, Input};
use super::super::theme::{Role, Theme};
use super::{line_input, styled};

fn area_for(body: Rect) -> Rect {
    let width = body.width.saturating_sub(4).max(1);
    let height = body.height.saturating_sub(2).max(1);
    Rect::new(
        body.x + (body.width - width) / 2,
        body.y + (body.height - height) / 2,
        width,
        height,
    )
}

fn split(area: Rect) -> (Rect, Rect) {
    let direction = if area.width >= 110 {
        Direction::Horizontal
    } else {
        Direction::Vertical
    };
    let [left, right] = Layout::default()
        .direction(direction)
        .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
        .areas(area);
    (left, right)
}

fn framed<'a>(title: String, theme: &Theme, role: Role) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(role))
        .title(Line::styled(title, theme.style(Role::Title)))
}

fn input_text(input: &Input) -> String {
    match input {
        Input::Text(line) => line.text().to_string(),
        Input::Toggle(on) => format!("[{}] {on}", if *on { "x" } else { " " }),
        Input::Choice { options, selected } => {
            let choice = options.get(*selected).map(String::as_str).unwrap_or("");
            let shown = if choice.is_empty() { "(none)" } else { choice };
            if options.len() > 1 {
                format!("‹ {shown} › {}/{}", selected + 1, options.len())
            } else {
                shown.to_string()
            }
        }
    }
}

pub fn create(form: &CreateForm, theme: &Theme, frame: &mut Frame, body: Rect) {
    let area = area_for(body);
    frame.render_widget(Clear, area);
    let title = if form.sending {
        " create a request: sending… ".to_string()
    } else {
        " create a request (enter creates, esc cancels) ".to_string()
    };
    let outer = framed(title, theme, Role::BorderFocused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let (fields_area, preview_area) = split(inner);

    let mut lines: Vec<Line> = Vec::new();
    let mut focus_line = 0;
    if let Some(ask) = &form.ask {
        let room = (fields_area.width as usize).saturating_sub(8);
        let mut spans = vec![styled("ask› ".to_string(), theme.style(Role::Selection))];
        spans.extend(line_input(ask, room, theme.style(Role::Accent)));
        lines.push(Line::from(spans));
        lines.push(Line::styled(
            if form.asking {
                "asking the assistant… (the form stays as it is until it answers)"
            } else {
                "say what you need · enter asks · esc closes this line · secrets are never sent"
            },
            theme.style(Role::Muted),
        ));
        lines.push(Line::default());
    } else if let Some(conversation) = &form.conversation {
        lines.push(Line::styled(
            format!(
                "filled by {} from your words: review each value before enter",
                conversation.model
            ),
            theme.style(Role::Muted),
        ));
        lines.push(Line::default());
    }
    let asking = form.ask.is_some();
    for (index, field) in form.fields.iter().enumerate() {
        let focused = index == form.focus && !asking;
        if focused {
            focus_line = lines.len();
        }
        let mark = if field.required { "*" } else { " " };
        let label = format!(
            "{}{:<20}",
            if focused { "›" } else { " " },
            format!("{}{mark}", field.name)
        );
        let label_role = if focused { Role::Selection } else { Role::Text };
        let kind = if field.kind.is_empty() {
            String::new()
        } else {
            format!("{:<12}", field.kind)
        };
        let mut spans = vec![
            styled(label, theme.style(label_role)),
            styled(format!(" {kind}"), theme.style(Role::Muted)),
        ];
        match &field.input {
            Input::Text(line) if focused && !field.locked => {
                let room = (fields_area.width as usize).saturating_sub(35);
                spans.extend(line_input(line, room, theme.style(Role::Accent)));
            }
            input => spans.push(styled(input_text(input), theme.style(Role::Accent))),
        }
        if field.locked {
            spans.push(styled(" (locked)", theme.style(Role::Muted)));
        }
        lines.push(Line::from(spans));
        if let Some(error) = form.error_of(&field.name) {
            lines.push(Line::styled(
                format!("    ✖ {error}"),
                theme.style(Role::Danger),
            ));
        }
    }
    if let Some(field) = form.fields.get(form.focus)
        && !field.description.is_empty()
    {
        lines.push(Line::default());
        lines.push(Line::styled(
            field.description.clone(),
            theme.style(Role::Muted),
        ));
    }
    lines.push(Line::styled(
        "tab/↑↓ move · ←→ cycle · type to pick · * required · ctrl-o asks the assistant",
        theme.style(Role::Muted),
    ));
    let visible = fields_area.height as usize;
    let scroll = focus_line.saturating_sub(visible.saturating_sub(3)) as u16;
    frame.render_widget(
        // Wrapped, so a long error or description is read in full rather than cut.
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(
                Block::default()
                    .borders(Borders::RIGHT)
                    .border_style(theme.style(Role::Border)),
            ),
        fields_area,
    );

    let preview: Vec<Line> = match &form.preview {
        Ok(block) => block
            .lines()
            .map(|line| Line::styled(line.to_string(), theme.style(Role::PlanAdd)))
            .collect(),
        Err(reason) => vec![Line::styled(reason.clone(), theme.style(Role::Muted))],
    };
    let title = if form.preview.is_ok() {
        format!(" the block for {}/{} ", form.project(), form.environment())
    } else {
        " the block (not valid yet) ".to_string()
    };
    frame.render_widget(
        Paragraph::new(preview)
            .wrap(Wrap { trim: false })
            .block(Block::default().title(Line::styled(title, theme.style(Role::Title)))),
        preview_area,
    );
}

/// The loud line over a diff that replaces the resource: a `force_new` field changed.
fn replaces_lines<'a>(form: &EditForm, theme: &Theme) -> Vec<Line<'a>> {
    if form.replaces.is_empty() {
        return Vec::new();
    }
    vec![
        Line::styled(
            format!(
                "! changing {} REPLACES the resource: Terraform destroys it and creates it again",
                form.replaces.join(", ")
            ),
            theme.style(Role::Danger),
        ),
        Line::default(),
    ]
}

pub fn edit(form: &EditForm, theme: &Theme, frame: &mut Frame, body: Rect) {
    let area = area_for(body);
    frame.render_widget(Clear, area);
    let title = match (form.sending, form.change) {
        (true, false) => format!(" edit {}: saving and planning… ", form.id),
        (true, true) => format!(" change {}: opening a change request… ", form.id),
        (false, false) => format!(
            " edit {} (ctrl-s saves and plans again, esc cancels) ",
            form.id
        ),
        (false, true) => format!(
            " change {}: ctrl-s opens a change request (plan, approve, merge, apply), esc cancels ",
            form.id
        ),
    };
    let outer = framed(title, theme, Role::BorderFocused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let (editor_area, diff_area) = split(inner);
    frame.render_widget(&form.editor, editor_area);

    let (title, lines): (String, Vec<Line>) = match &form.outcome {
        Err(errors) => (
            " not valid ".into(),
            errors
                .iter()
                .map(|e| {
                    Line::styled(
                        format!("✖ {}: {}", e.field, e.message),
                        theme.style(Role::Danger),
                    )
                })
                .collect(),
        ),
        Ok(_) if !form.changes() => (
            " no change yet ".into(),
            vec![Line::styled(
                "the block would stay as it is",
                theme.style(Role::Muted),
            )],
        ),
        Ok(_) => (
            " the block will change ".into(),
            replaces_lines(form, theme)
                .into_iter()
                .chain(form.diff.iter().map(|(mark, line)| {
                    let role = match mark {
                        '+' => Role::PlanAdd,
                        '-' => Role::PlanDestroy,
                        _ => Role::Muted,
                    };
                    Line::styled(format!("{mark} {line}"), theme.style(role))
                }))
                .collect(),
        ),
    };
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::LEFT | Borders::TOP)
                .border_style(theme.style(Role::Border))
                .title(Line::styled(title, theme.style(Role::Title))),
        ),
        diff_area,
    );
}

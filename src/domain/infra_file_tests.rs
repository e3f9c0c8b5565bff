use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn block(id: &str, values: Vec<(&str, HclValue)>) -> ModuleBlock {
    ModuleBlock {
        request_id: id.to_string(),
        source: "git::https://github.com/acme/modules.git//s3-bucket".to_string(),
        version: Some("v1.4.0".to_string()),
        values: values
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
    }
}

fn text(value: &str) -> HclValue {
    HclValue::String(value.to_string())
}

const EXISTING: &str = "terraform {\n  required_version = \">= 1.5\"\n}\n\nprovider \"aws\" {\n  region = var.region\n}\n";

#[test]
fn renders_a_module_block() {
    let rendered = render_block(&block(
        "req_01",
        vec![
            ("bucket_name", text("payments-logs")),
            ("versioning", HclValue::Bool(true)),
            (
                "tags",
                HclValue::Map(BTreeMap::from([("team".into(), "payments".into())])),
            ),
        ],
    ))
    .unwrap();
    assert_eq!(
        rendered,
        "# tfpilot:begin/req_01\n\
         module \"tfpilot_req_01\" {\n\
         \x20 source      = \"git::https://github.com/acme/modules.git//s3-bucket?ref=v1.4.0\"\n\
         \n\
         \x20 bucket_name = \"payments-logs\"\n\
         \x20 versioning  = true\n\
         \x20 tags        = {\n\
         \x20   \"team\" = \"payments\"\n\
         \x20 }\n\
         }\n\
         # tfpilot:end/req_01\n"
    );
}

#[test]
fn appends_then_replaces_in_place() {
    let first = upsert_block(EXISTING, "main.tf", &block("req_1", vec![("a", text("x"))])).unwrap();
    assert!(first.starts_with(EXISTING));
    assert!(first[EXISTING.len()..].starts_with("\n# tfpilot:begin/req_1\n"));
    let trailer = "\nresource \"null_resource\" \"after\" {}\n";
    let with_trailer = format!("{first}{trailer}");
    let second = upsert_block(
        &with_trailer,
        "main.tf",
        &block("req_1", vec![("a", text("y"))]),
    )
    .unwrap();
    assert!(second.starts_with(EXISTING));
    assert!(second.ends_with(trailer));
    assert!(second.contains("a      = \"y\""), "{second}");
    assert!(!second.contains("\"x\""));
}

#[test]
fn appends_to_a_file_without_a_final_newline() {
    let out = upsert_block("locals {}", "main.tf", &block("r", vec![])).unwrap();
    assert!(out.starts_with("locals {}\n\n# tfpilot:begin/r\n"));
    let out = upsert_block("", "main.tf", &block("r", vec![])).unwrap();
    assert!(out.starts_with("# tfpilot:begin/r\n"));
}

#[test]
fn keeps_crlf_files_crlf() {
    let file = "locals {}\r\n";
    let out = upsert_block(file, "main.tf", &block("r", vec![("a", text("b"))])).unwrap();
    assert!(out.starts_with("locals {}\r\n\r\n# tfpilot:begin/r\r\n"));
    assert_eq!(out.matches('\n').count(), out.matches("\r\n").count());
    let again = upsert_block(&out, "main.tf", &block("r", vec![("a", text("b"))])).unwrap();
    assert_eq!(again, out);
}

#[test]
fn a_lone_carriage_return_does_not_flip_line_endings() {
    // Found by the fuzz target: appending to "\r" makes the first line "\r\n".
    let once = upsert_block("\r", "main.tf", &block("r", vec![])).unwrap();
    let twice = upsert_block(&once, "main.tf", &block("r", vec![])).unwrap();
    assert_eq!(twice, once);
}

#[test]
fn other_requests_and_lookalike_markers_are_left_alone() {
    let other = upsert_block(EXISTING, "main.tf", &block("req_12", vec![])).unwrap();
    let mention = format!("{other}# see # tfpilot:begin/req_1 in the docs\n");
    let out = upsert_block(&mention, "main.tf", &block("req_1", vec![])).unwrap();
    assert!(out.starts_with(&mention));
    assert_eq!(out.matches("# tfpilot:begin/req_1\n").count(), 1);
    assert_eq!(out.matches("# tfpilot:begin/req_12\n").count(), 1);
}

#[test]
fn refuses_broken_marker_layouts() {
    let begin = "# tfpilot:begin/r\n";
    let end = "# tfpilot:end/r\n";
    let cases = [
        (
            format!("{begin}{begin}{end}"),
            "2 `# tfpilot:begin/r` markers",
        ),
        (format!("{begin}{end}{end}"), "2 `# tfpilot:end/r` markers"),
        (
            format!("x\n{begin}"),
            "line 2: begin marker without an end marker",
        ),
        (end.to_string(), "line 1: end marker without a begin marker"),
        (
            format!("{end}{begin}"),
            "end marker before the begin marker",
        ),
        (
            format!("{begin}# tfpilot:begin/other\n# tfpilot:end/other\n{end}"),
            "marker for other on line 2",
        ),
    ];
    for (file, expected) in cases {
        let error = upsert_block(&file, "envs/dev/main.tf", &block("r", vec![])).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(message.contains("envs/dev/main.tf"), "{message}");
        assert!(remove_block(&file, "envs/dev/main.tf", "r").is_err());
    }
}

#[test]
fn indented_markers_count_as_markers() {
    let file = "  # tfpilot:begin/r\nold\n  # tfpilot:end/r\nrest\n";
    let out = upsert_block(file, "main.tf", &block("r", vec![])).unwrap();
    assert!(out.starts_with("# tfpilot:begin/r\n"));
    assert!(out.ends_with("# tfpilot:end/r\nrest\n"));
}

#[test]
fn removes_only_the_block() {
    let with = upsert_block(EXISTING, "main.tf", &block("r", vec![])).unwrap();
    let removed = remove_block(&with, "main.tf", "r").unwrap().unwrap();
    assert_eq!(removed, format!("{EXISTING}\n"));
    assert_eq!(remove_block(&removed, "main.tf", "r").unwrap(), None);
}

#[test]
fn refuses_bad_names() {
    let bad_field = block("r", vec![("not valid", text("x"))]);
    assert!(
        render_block(&bad_field)
            .unwrap_err()
            .to_string()
            .contains("not an HCL identifier")
    );
    let shadowing = block("r", vec![("source", text("x"))]);
    assert!(
        render_block(&shadowing)
            .unwrap_err()
            .to_string()
            .contains("given twice")
    );
    let bad_id = block("r\n# tfpilot:end/r", vec![]);
    assert!(render_block(&bad_id).is_err());
}

#[test]
fn labels_are_identifiers() {
    assert_eq!(module_label("req_01J.x-y"), "tfpilot_req_01J_x_y");
    assert!(crate::domain::hcl::is_identifier(&module_label("9.9")));
}

/// Strings rich in what could break out: quotes, backslashes, template
/// openers, line breaks, marker text, control and non-ASCII characters.
fn tricky_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        proptest::sample::select(vec![
            "\"",
            "\\",
            "${",
            "%{",
            "$",
            "%",
            "$$",
            "{",
            "}",
            "\n",
            "\r",
            "\t",
            "\u{0}",
            "\u{2028}",
            "\u{202E}",
            "# tfpilot:end/r",
            "# tfpilot:begin/r",
            "é",
            "🦀",
        ])
        .prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

fn arbitrary_value() -> impl Strategy<Value = HclValue> {
    prop_oneof![
        tricky_text().prop_map(HclValue::String),
        any::<bool>().prop_map(HclValue::Bool),
        any::<i64>().prop_map(|n| HclValue::Number(n.into())),
        proptest::collection::vec(tricky_text(), 0..4).prop_map(HclValue::List),
        proptest::collection::btree_map(tricky_text(), tricky_text(), 0..4).prop_map(HclValue::Map),
    ]
}

fn arbitrary_block(id: &'static str) -> impl Strategy<Value = ModuleBlock> {
    (
        tricky_text(),
        proptest::collection::vec(arbitrary_value(), 0..5),
    )
        .prop_map(move |(source, values)| ModuleBlock {
            request_id: id.to_string(),
            source,
            version: None,
            values: values
                .into_iter()
                .enumerate()
                .map(|(index, value)| (format!("field_{index}"), value))
                .collect(),
        })
}

/// Text around the block: arbitrary lines, never a marker line for `r`.
fn surrounding_text() -> impl Strategy<Value = String> {
    proptest::collection::vec("[ -~]{0,30}", 0..6).prop_map(|lines| {
        lines
            .into_iter()
            .filter(|line| !line.trim().starts_with("# tfpilot:"))
            .map(|line| format!("{line}\n"))
            .collect()
    })
}

proptest! {
    #[test]
    fn values_never_forge_markers_or_leave_their_strings(block in arbitrary_block("r")) {
        let rendered = render_block(&block).unwrap();
        let marker_lines: Vec<&str> = rendered
            .lines()
            .filter(|line| line.trim().starts_with("# tfpilot:"))
            .collect();
        prop_assert_eq!(marker_lines, vec!["# tfpilot:begin/r", "# tfpilot:end/r"]);
        prop_assert!(rendered.is_ascii());
        // Each value line is `name = <literal>`; unescaped quotes come in pairs and
        // template openers only appear in their escaped, doubled form.
        for line in rendered.lines() {
            let unescaped_quotes = line
                .char_indices()
                .filter(|(index, c)| *c == '"' && !escaped_at(line, *index))
                .count();
            prop_assert_eq!(unescaped_quotes % 2, 0, "{}", line);
        }
        prop_assert_eq!(unescape_all(&rendered, &block), true);
    }

    #[test]
    fn upsert_preserves_outside_bytes_and_is_idempotent(
        before in surrounding_text(),
        after in surrounding_text(),
        old in arbitrary_block("r"),
        new in arbitrary_block("r"),
    ) {
        let old_rendered = render_block(&old).unwrap();
        let file = format!("{before}{old_rendered}{after}");
        let once = upsert_block(&file, "main.tf", &new).unwrap();
        let new_rendered = render_block(&new).unwrap();
        prop_assert_eq!(&once, &format!("{before}{new_rendered}{after}"));
        let twice = upsert_block(&once, "main.tf", &new).unwrap();
        prop_assert_eq!(&twice, &once);
        let removed = remove_block(&once, "main.tf", "r").unwrap().unwrap();
        prop_assert_eq!(removed, format!("{before}{after}"));
    }

    #[test]
    fn appending_keeps_the_original_as_prefix(before in surrounding_text(), new in arbitrary_block("r")) {
        let once = upsert_block(&before, "main.tf", &new).unwrap();
        prop_assert!(once.starts_with(&before));
        prop_assert_eq!(upsert_block(&once, "main.tf", &new).unwrap(), once);
    }

    #[test]
    fn the_writer_never_panics(file in any::<String>(), id in "[a-z0-9_.-]{1,8}") {
        let _ = find_block(&file, "f", &id);
        let _ = remove_block(&file, "f", &id);
        let _ = upsert_block(&file, "f", &block(&id, vec![]));
    }
}

fn escaped_at(line: &str, index: usize) -> bool {
    let backslashes = line[..index]
        .chars()
        .rev()
        .take_while(|c| *c == '\\')
        .count();
    backslashes % 2 == 1
}

/// Decode every string literal of the rendered block and check that the strings
/// of the block (source, values, map keys) all come back exactly.
fn unescape_all(rendered: &str, block: &ModuleBlock) -> bool {
    let decoded: Vec<String> = rendered.lines().flat_map(string_literals).collect();
    let mut expected = vec![block.source.clone()];
    for (_, value) in &block.values {
        match value {
            HclValue::String(text) => expected.push(text.clone()),
            HclValue::List(items) => expected.extend(items.iter().cloned()),
            HclValue::Map(entries) => {
                for (key, item) in entries {
                    expected.push(key.clone());
                    expected.push(item.clone());
                }
            }
            HclValue::Bool(_) | HclValue::Number(_) => {}
        }
    }
    // The module label is the first literal on its line.
    let decoded: Vec<String> = decoded.into_iter().skip(1).collect();
    decoded == expected
}

/// The HCL string literals on one line, decoded.
fn string_literals(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some('t') => value.push('\t'),
                    Some('u') => value.push(hex_char(&mut chars, 4)),
                    Some('U') => value.push(hex_char(&mut chars, 8)),
                    Some(other) => value.push(other),
                    None => {}
                },
                '$' | '%' if chars.peek() == Some(&c) => {
                    chars.next();
                    assert_eq!(
                        chars.peek(),
                        Some(&'{'),
                        "doubled sign outside an escape: {line}"
                    );
                    value.push(c);
                }
                '$' | '%' if chars.peek() == Some(&'{') => panic!("live template in {line}"),
                other => value.push(other),
            }
        }
        out.push(value);
    }
    out
}

fn hex_char(chars: &mut impl Iterator<Item = char>, digits: usize) -> char {
    let hex: String = chars.take(digits).collect();
    char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap()
}

#[test]
fn a_version_is_written_the_way_terraform_takes_it_for_the_source() {
    use super::pinned_source;
    let git = "git::https://github.com/acme/modules.git//s3-bucket";
    assert_eq!(
        pinned_source(git, Some("v5.2.4")).unwrap(),
        (format!("{git}?ref=v5.2.4"), None)
    );
    assert_eq!(
        pinned_source("git::https://h/m.git?depth=1", Some("v1"))
            .unwrap()
            .0,
        "git::https://h/m.git?depth=1&ref=v1"
    );
    assert_eq!(
        pinned_source("terraform-aws-modules/s3-bucket/aws", Some("4.1.0")).unwrap(),
        (
            "terraform-aws-modules/s3-bucket/aws".to_string(),
            Some("4.1.0")
        )
    );
    assert_eq!(
        pinned_source("app.terraform.io/acme/vpc/aws", Some("1.0.0"))
            .unwrap()
            .1,
        Some("1.0.0")
    );
    assert!(pinned_source("./modules/vpc", Some("1")).is_err());
    assert!(pinned_source("https://example.com/vpc.zip", Some("1")).is_err());
    assert!(pinned_source(&format!("{git}?ref=v1"), Some("v2")).is_err());
    assert_eq!(
        pinned_source("./modules/vpc", None).unwrap().0,
        "./modules/vpc"
    );
}

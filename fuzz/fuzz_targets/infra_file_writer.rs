//! Fuzz the infra-repo writer: arbitrary file text around arbitrary values.
//! Whatever the input, the writer must not panic; when it accepts a file, the
//! bytes outside the block are preserved, the block is found again, a second
//! upsert changes nothing and removing the block gives back the outside bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tfpilot::domain::hcl::HclValue;
use tfpilot::domain::infra_file::{ModuleBlock, find_block, remove_block, upsert_block};

const ID: &str = "req_fuzz";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Before the first NUL: the file. After it: the values, split at \u{1}.
    let (file, values) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let block = ModuleBlock {
        request_id: ID.to_string(),
        source: values.lines().next().unwrap_or_default().to_string(),
        version: None,
        values: values
            .split('\u{1}')
            .enumerate()
            .map(|(index, value)| (format!("v{index}"), HclValue::String(value.to_string())))
            .collect(),
    };
    let Ok(once) = upsert_block(file, "fuzz.tf", &block) else {
        return;
    };
    let range = find_block(&once, "fuzz.tf", ID)
        .expect("the written file is well formed")
        .expect("the written block is found");
    let twice = upsert_block(&once, "fuzz.tf", &block).expect("upsert twice");
    assert_eq!(twice, once, "upsert is idempotent");
    let outside = format!("{}{}", &once[..range.start], &once[range.end..]);
    let removed = remove_block(&once, "fuzz.tf", ID)
        .expect("remove")
        .expect("block present");
    assert_eq!(removed, outside);
    match find_block(file, "fuzz.tf", ID).expect("accepted before") {
        Some(original) => {
            assert_eq!(&once[..range.start], &file[..original.start]);
            assert_eq!(&once[range.end..], &file[original.end..]);
        }
        None => assert!(once.starts_with(file)),
    }
});

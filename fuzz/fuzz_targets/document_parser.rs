//! Fuzz the request document parser: whatever bytes sit in the store, reading them must not
//! panic; a document it accepts must render and read back as the same document, and render the
//! same bytes a second time. The listing index's decoder gets the same bytes (it must refuse,
//! not panic).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tfpilot::domain::{parse_request, render_request};
use tfpilot::store::requests::parse_stored_request;
use tfpilot::store::shared_index;

fuzz_target!(|data: &[u8]| {
    let _ = shared_index::decode(data);
    let Ok(request) = parse_request(data) else {
        return;
    };
    let rendered = render_request(&request);
    let again = parse_request(&rendered).expect("a rendered document reads back");
    assert_eq!(again, request, "the document survives a round trip");
    assert_eq!(render_request(&again), rendered, "rendering is stable");
    let key = format!("requests/{}.json", request.id);
    let stored = parse_stored_request(&key, &rendered).expect("read under its own key");
    assert_eq!(stored, request);
});

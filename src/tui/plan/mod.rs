//! Plans and run logs for the plan view: parsed into resource blocks and highlighted once,
//! off the UI loop.

pub mod document;
pub mod highlight;

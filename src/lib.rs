//! tfpilot: a Terraform self-service control plane for the terminal.
//!
//! Layers, with dependencies pointing down only: `cli`, `tui`, `sandbox` and `sim` (edges) -> `engine`
//! (orchestration) -> `store`, `github`, `secrets`, `webhook`, `email` and `assistant` (adapters) -> `domain` (pure). See docs/architecture.md.

pub mod assistant;
mod aws;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod domain;
pub mod email;
pub mod engine;
mod error_text;
pub mod github;
pub mod logging;
mod private_files;
pub mod rego;
pub mod sandbox;
pub mod secrets;
pub mod sim;
pub mod store;
pub mod tui;
pub mod webhook;

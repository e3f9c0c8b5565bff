//! Team operations through the real binary and engine, against the simulator and both stores:
//! templates, cost estimates, scheduled drift, notifications, doctor.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test: failing loudly and printing are its job

#[path = "../support/engine.rs"]
mod bed;
#[path = "../support/cli.rs"]
mod cli;
#[path = "../common/mod.rs"]
mod common;
#[path = "../support/home.rs"]
mod home;
#[path = "../support/sim.rs"]
mod sim;

mod assist;
mod cost;
mod doctor;
mod drift;
mod email;
mod notify;
mod templates;

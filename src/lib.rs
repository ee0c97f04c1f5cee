//! gander: the on-call console for multi-service compliance promotion.
//!
//! Layers, one direction (README "Architecture"; `tests/layering.rs` checks it):
//! `cli` and `app`+`ui` (the two front ends) call `ops` (the use cases), which call
//! `io` (store, HTTP, Prometheus, processes, archives, the demo fleet), which sits on
//! `engine` (pure: rules, authority, chain format) and the readers (`evidence`,
//! `metrics`, `yaml`, `diag`).

pub mod app;
pub mod cli;
pub mod diag;
pub mod engine;
pub mod evidence;
pub mod io;
pub mod metrics;
pub mod ops;
pub mod theme;
pub mod ui;
pub mod yaml;

//! gander: the on-call console for multi-service compliance promotion.
//!
//! `engine` is pure (no I/O, no clock reads except where a time is passed in);
//! `io` reads and writes files; `cli` holds one module per subcommand.

pub mod app;
pub mod cli;
pub mod engine;
pub mod evidence;
pub mod io;
pub mod metrics;
pub mod ops;
pub mod ui;

//! One file per panel (and per popup).

pub mod alerts;
pub mod approvals;
pub mod detail;
pub mod dialog;
pub mod graph;
pub mod grid;
pub mod help;
pub mod log;
pub mod packages;
pub mod pipeline;
pub mod runbooks;
pub mod walk;

//! The pure promotion engine: configuration model, validation, dependency
//! resolution, the compliance state machine and promotion gates.

pub mod alerts;
pub mod authority;
pub mod chain;
pub mod config;
pub mod facts;
pub mod folded;
pub mod gates;
pub mod identity;
pub mod ledger;
pub mod live;
pub mod load;
pub mod names;
pub mod package;
pub mod plan;
pub mod policy;
pub mod resolver;
pub mod runbook;
pub mod state_machine;
pub mod walk;

// Diagnostics and the YAML adapter live below the engine; these names keep their paths.
pub use crate::diag;
pub use crate::yaml;
pub use crate::yaml::de as yaml_de;

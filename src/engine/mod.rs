//! The pure promotion engine: configuration model, validation, dependency
//! resolution, the compliance state machine and promotion gates.

pub mod diag;
pub mod yaml;
pub mod yaml_de;
pub mod config;
pub mod facts;
pub mod policy;
pub mod resolver;

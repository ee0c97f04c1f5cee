//! The console: a model, an update function, a keymap, and the runtime that ties them
//! to the terminal and to io.

pub mod commands;
pub mod keymap;
pub mod model;
pub mod runtime;
pub mod update;

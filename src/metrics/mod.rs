//! Metrics pages: parsing (pure) and what gander derives from them.

pub mod derive;
pub mod text;

//! What the screen asks of the model beyond its rows: the selection, the walks the
//! Runbooks panel lists, and whether anything shown counts seconds.

use super::{Model, Panel};

impl Model {
    /// Does the screen show an age in seconds (a source down or stale, a panel of
    /// ages), so that it must be drawn again each second? A steady grid is not.
    pub fn shows_seconds(&self) -> bool {
        let limit = 2 * self.poll_interval_secs as i64 + 2;
        let live = self.last_poll.is_none()
            || self
                .board
                .services
                .values()
                .filter_map(|l| l.last_good)
                .max()
                .is_some_and(|t| (self.now - t).num_seconds() <= limit);
        self.store_down.is_some()
            || self.prom_error.is_some()
            || !live
            || matches!(
                self.panel,
                Panel::Pipeline | Panel::Alerts | Panel::Approvals | Panel::Log
            )
    }

    /// The walks the Runbooks panel lists below the runbooks, newest first.
    pub fn walk_rows(&self) -> Vec<&crate::engine::walk::Walk> {
        self.store.walks.iter().rev().take(50).collect()
    }

    /// The service under the cursor, in the Grid or the Graph.
    pub fn selected_service(&self) -> Option<String> {
        match self.panel {
            Panel::Grid => self.rows().get(self.cursor()).map(|s| s.service.clone()),
            Panel::Graph => self.graph_order().get(self.cursor()).map(|s| s.to_string()),
            Panel::Pipeline => self
                .pipeline()
                .get(self.cursor())
                .map(|p| p.service.clone()),
            Panel::Approvals => self
                .open_promotions()
                .get(self.cursor())
                .map(|p| p.service.clone()),
            Panel::Alerts => self
                .alerts()
                .get(self.cursor())
                .map(|a| a.service.clone())
                .filter(|s| !s.is_empty()),
            Panel::Log | Panel::Runbooks | Panel::Packages => None,
        }
    }
}

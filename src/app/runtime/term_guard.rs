//! The terminal as the console holds it: raw mode and the alternate screen while a
//! [`TerminalGuard`] lives, restored when it drops, and by a panic hook that restores
//! first and then chains to the hook that was there before.

use crossterm::{cursor, execute, terminal};
use std::io::Write;

/// Put the terminal back as it was. Safe to call twice.
pub fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let mut out = std::io::stdout();
    let _ = execute!(
        out,
        terminal::EndSynchronizedUpdate,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = out.flush();
}

/// Raw mode and the alternate screen, for as long as it lives.
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Enter raw mode and the alternate screen, after installing a panic hook that
    /// restores the terminal before the previous hook prints the panic.
    pub fn enter() -> Result<TerminalGuard, String> {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            prev(info);
        }));
        if let Err(e) = terminal::enable_raw_mode() {
            return Err(format!("this is not a terminal ({e}); try `gander status`"));
        }
        let guard = TerminalGuard { _private: () };
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )
        .map_err(|e| e.to_string())?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

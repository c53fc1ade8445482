//! client commands (being filled in).

use super::CommandSpec;

/// The client commands.
pub static COMMANDS: &[CommandSpec] = &[];

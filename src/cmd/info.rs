//! info commands (being filled in).

use super::CommandSpec;

/// The info commands.
pub static COMMANDS: &[CommandSpec] = &[];

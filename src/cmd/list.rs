//! list commands (being filled in).

use super::CommandSpec;

/// The list commands.
pub static COMMANDS: &[CommandSpec] = &[];

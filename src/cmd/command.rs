//! command commands (being filled in).

use super::CommandSpec;

/// The command commands.
pub static COMMANDS: &[CommandSpec] = &[];

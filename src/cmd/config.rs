//! config commands (being filled in).

use super::CommandSpec;

/// The config commands.
pub static COMMANDS: &[CommandSpec] = &[];

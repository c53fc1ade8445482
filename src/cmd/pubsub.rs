//! pubsub commands (being filled in).

use super::CommandSpec;

/// The pubsub commands.
pub static COMMANDS: &[CommandSpec] = &[];

//! Lua scripting (temporary placeholder until the scripting engine lands).

pub mod lib;

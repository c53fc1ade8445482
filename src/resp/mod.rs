//! The wire protocol, and nothing else: a resumable request parser and a reply encoder.
//!
//! This module knows bytes and frames only. It has no tokio, no keyspace and no commands, so it
//! can be fuzzed and benchmarked on its own (`benches/resp_parser.rs`, `fuzz/`).

mod encode;
mod parser;
mod reply;

pub use encode::{encode, format_double, Protocol};
pub use parser::{parse_i64_strict as parse_i64, split_inline_args, ParserLimits, ProtocolError, RequestParser};
pub use reply::Reply;

//! Typed readers for command arguments, with Redis's error texts.

use crate::resp::{parse_i64, Reply};
use bytes::Bytes;

/// An argument that could not be read; converts to the reply Redis gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// `ERR value is not an integer or out of range`.
    NotInteger,
    /// `ERR value is not a valid float`.
    NotFloat,
    /// `ERR syntax error`.
    Syntax,
    /// Any other error text, code included.
    Other(String),
}

impl From<ArgError> for Reply {
    fn from(error: ArgError) -> Reply {
        match error {
            ArgError::NotInteger => Reply::error("ERR value is not an integer or out of range"),
            ArgError::NotFloat => Reply::error("ERR value is not a valid float"),
            ArgError::Syntax => Reply::error("ERR syntax error"),
            ArgError::Other(text) => Reply::error(text),
        }
    }
}

/// Reads a signed 64-bit integer as Redis's `string2ll` does.
pub fn int(arg: &[u8]) -> Result<i64, ArgError> {
    parse_i64(arg).ok_or(ArgError::NotInteger)
}

/// Reads a double as Redis's `string2d`/`strtold` does: no spaces, no NaN.
pub fn float(arg: &[u8]) -> Result<f64, ArgError> {
    let text = std::str::from_utf8(arg).map_err(|_| ArgError::NotFloat)?;
    if text.is_empty() || text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
        return Err(ArgError::NotFloat);
    }
    let value = match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => text.parse::<f64>().map_err(|_| ArgError::NotFloat)?,
    };
    if value.is_nan() {
        return Err(ArgError::NotFloat);
    }
    Ok(value)
}

/// Whether `arg` equals `word`, ignoring ASCII case (option names).
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// The argument at `index`, or `ERR syntax error` if there is none.
pub fn at(args: &[Bytes], index: usize) -> Result<&Bytes, ArgError> {
    args.get(index).ok_or(ArgError::Syntax)
}

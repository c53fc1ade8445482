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

/// Reads the `numkeys key [key ...] <direction> [COUNT count]` tail that LMPOP, ZMPOP, BLMPOP
/// and BZMPOP share (after any timeout): the keys, the direction `direction` reads (LEFT|RIGHT
/// or MIN|MAX), and the count, 1 if absent.
/// Errors: `ERR numkeys should be greater than 0`, `ERR count should be greater than 0`,
/// `ERR syntax error`.
pub fn multi_pop<D>(args: &[Bytes], direction: impl Fn(&[u8]) -> Option<D>) -> Result<(Vec<Bytes>, D, usize), Reply> {
    let numkeys_error = || Reply::error("ERR numkeys should be greater than 0");
    let numkeys = args.first().and_then(|a| parse_i64(a)).ok_or_else(numkeys_error)?;
    if numkeys < 1 {
        return Err(numkeys_error());
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > args.len().saturating_sub(2) {
        return Err(super::errors::syntax());
    }
    let keys = args.get(1..=numkeys).ok_or_else(super::errors::syntax)?.to_vec();
    let direction = args.get(numkeys + 1).and_then(|a| direction(a)).ok_or_else(super::errors::syntax)?;
    let mut count = None;
    let mut i = numkeys + 2;
    while let Some(option) = args.get(i) {
        if !is(option, "count") || count.is_some() {
            return Err(super::errors::syntax());
        }
        let value = args.get(i + 1).ok_or_else(super::errors::syntax)?;
        match parse_i64(value) {
            Some(n) if n >= 1 => count = Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Err(Reply::error("ERR count should be greater than 0")),
        }
        i += 2;
    }
    Ok((keys, direction, count.unwrap_or(1)))
}

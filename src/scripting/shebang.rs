//! `#!lua flags=...` on the first line of a script, parsed as Redis 7 does.

/// The flags a script declares in its shebang.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// The script had a shebang at all. Without one, Redis runs it in compatibility mode:
    /// writes are allowed and checked command by command.
    pub shebang: bool,
    /// `no-writes`: the script may not call write commands, and may run from EVAL_RO.
    pub no_writes: bool,
    /// `allow-oom`.
    pub allow_oom: bool,
    /// `allow-stale`.
    pub allow_stale: bool,
    /// `no-cluster`.
    pub no_cluster: bool,
    /// `allow-cross-slot-keys`.
    pub allow_cross_slot_keys: bool,
}

/// Splits a shebang line into words as `sdssplitargs` does for plain and double-quoted words.
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            loop {
                match chars.next() {
                    Some(c) if c == first => break,
                    Some(c) => word.push(c),
                    None => return None,
                }
            }
            if chars.peek().is_some_and(|c| !c.is_ascii_whitespace()) {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_ascii_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Some(words)
}

/// Parses the flags of a script body. Without a shebang: compatibility flags. Errors (the
/// reply's text): `ERR Invalid script shebang`, `ERR Unexpected engine in script shebang: ...`,
/// `ERR Unknown lua shebang option: ...`, `ERR Unexpected flag in script shebang: ...`.
pub fn parse(body: &[u8]) -> Result<Flags, String> {
    if !body.starts_with(b"#!") {
        return Ok(Flags::default());
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(body.get(..end).unwrap_or_default()).into_owned();
    let Some(words) = split_words(&line) else {
        return Err("ERR Invalid script shebang".into());
    };
    let mut words = words.into_iter();
    let engine = words.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = Flags { shebang: true, ..Flags::default() };
    for word in words {
        let Some(list) = word.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {word}"));
        };
        apply_flag_list(&mut flags, list.split(',').filter(|f| !f.is_empty()))
            .map_err(|flag| format!("ERR Unexpected flag in script shebang: {flag}"))?;
    }
    Ok(flags)
}

/// Sets the named flags; `Err(name)` for the first unknown one. Shared with
/// `redis.register_function`'s `flags`.
pub fn apply_flag_list<'a>(flags: &mut Flags, names: impl Iterator<Item = &'a str>) -> Result<(), &'a str> {
    for name in names {
        match name {
            "no-writes" => flags.no_writes = true,
            "allow-oom" => flags.allow_oom = true,
            "allow-stale" => flags.allow_stale = true,
            "no-cluster" => flags.no_cluster = true,
            "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
            other => return Err(other),
        }
    }
    Ok(())
}

/// The body as the interpreter compiles it: a shebang line turned into a comment, so line
/// numbers stay those of the text the client sent.
pub fn compiled_body(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match body.strip_prefix(b"#!") {
        Some(rest) => {
            let mut text = Vec::with_capacity(body.len());
            text.extend_from_slice(b"--");
            text.extend_from_slice(rest);
            std::borrow::Cow::Owned(text)
        }
        None => std::borrow::Cow::Borrowed(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_without_shebang_runs_in_compatibility_mode() {
        assert_eq!(parse(b"return 1"), Ok(Flags::default()));
    }

    #[test]
    fn flags_are_read_from_the_shebang() {
        let flags = parse(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap_or_default();
        assert!(flags.shebang && flags.no_writes && flags.allow_oom && !flags.allow_stale);
    }

    #[test]
    fn shebang_errors_are_worded_as_redis_words_them() {
        assert_eq!(parse(b"#!lua"), Err("ERR Invalid script shebang".into()));
        assert_eq!(parse(b"#!luax\n"), Err("ERR Unexpected engine in script shebang: #!luax".into()));
        assert_eq!(parse(b"#!lua name=f\n"), Err("ERR Unknown lua shebang option: name=f".into()));
        assert_eq!(parse(b"#!lua flags=bad\n"), Err("ERR Unexpected flag in script shebang: bad".into()));
    }
}

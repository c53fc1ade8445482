//! Redis's glob-style matcher (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
//!
//! Used by KEYS, SCAN MATCH, CONFIG GET and pattern subscriptions. Unlike Redis's recursive
//! version this one backtracks only to the last `*`, so a hostile pattern such as
//! `a*a*a*a*...b` costs O(pattern × subject), never exponential time.

/// Whether `subject` matches `pattern`.
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    matches_with_case(pattern, subject, false)
}

/// Whether `subject` matches `pattern`, optionally ignoring ASCII case.
pub fn matches_with_case(pattern: &[u8], subject: &[u8], nocase: bool) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after it, subject index it covers to).
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if let Some(&pc) = pattern.get(p) {
            if pc == b'*' {
                while pattern.get(p) == Some(&b'*') {
                    p += 1;
                }
                if p == pattern.len() {
                    return true;
                }
                backtrack = Some((p, s));
                continue;
            }
            if let Some(&sc) = subject.get(s) {
                if let Some(next) = match_one(pattern, p, sc, nocase) {
                    p = next;
                    s += 1;
                    continue;
                }
            }
        } else if s == subject.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more byte, or fail.
        match backtrack {
            Some((bp, bs)) if bs < subject.len() => {
                backtrack = Some((bp, bs + 1));
                p = bp;
                s = bs + 1;
            }
            _ => return false,
        }
    }
}

/// Matches the single token at `pattern[p]` (not a `*`) against `c`. Returns the index after
/// the token on a match.
fn match_one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<usize> {
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    match pattern.get(p)? {
        b'?' => Some(p + 1),
        b'\\' if p + 1 < pattern.len() => eq(*pattern.get(p + 1)?, c).then_some(p + 2),
        b'[' => {
            let mut i = p + 1;
            let negate = pattern.get(i) == Some(&b'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            loop {
                match pattern.get(i) {
                    // An unterminated class ends with the pattern, as in Redis.
                    None => break,
                    Some(b']') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < pattern.len() => {
                        if eq(*pattern.get(i + 1)?, c) {
                            matched = true;
                        }
                        i += 2;
                    }
                    Some(&low) if pattern.get(i + 1) == Some(&b'-') && i + 2 < pattern.len() => {
                        let high = *pattern.get(i + 2)?;
                        let (mut low, mut high) = if low > high { (high, low) } else { (low, high) };
                        let mut c = c;
                        if nocase {
                            low = low.to_ascii_lowercase();
                            high = high.to_ascii_lowercase();
                            c = c.to_ascii_lowercase();
                        }
                        if low <= c && c <= high {
                            matched = true;
                        }
                        i += 3;
                    }
                    Some(&other) => {
                        if eq(other, c) {
                            matched = true;
                        }
                        i += 1;
                    }
                }
            }
            (matched != negate).then_some(i)
        }
        &other => eq(other, c).then_some(p + 1),
    }
}

/// The literal bytes every subject matching `pattern` must start with (up to its first
/// special character). Pattern subscriptions index on it.
pub fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let end = pattern.iter().position(|c| matches!(c, b'*' | b'?' | b'[' | b'\\')).unwrap_or(pattern.len());
    pattern.get(..end).unwrap_or(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_questions() {
        assert!(matches(b"*", b""));
        assert!(matches(b"h?llo", b"hello"));
        assert!(matches(b"h*llo", b"hllo"));
        assert!(matches(b"h*llo", b"heeeello"));
        assert!(!matches(b"h*llo", b"hellx"));
        assert!(matches(b"*a*b", b"xxaxxb"));
        assert!(!matches(b"a", b"ab"));
    }

    #[test]
    fn classes_ranges_and_escapes() {
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"h[b-a]llo", b"hallo"));
        assert!(matches(b"h\\*llo", b"h*llo"));
        assert!(!matches(b"h\\*llo", b"hello"));
        assert!(matches(b"[\\]]", b"]"));
        assert!(matches(b"[abc", b"a"));
    }

    #[test]
    fn hostile_patterns_finish_quickly() {
        let pattern = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let subject = vec![b'a'; 5000];
        assert!(!matches(pattern, &subject));
    }

    #[test]
    fn literal_prefixes_stop_at_specials() {
        assert_eq!(literal_prefix(b"news.*"), b"news.");
        assert_eq!(literal_prefix(b"a?c"), b"a");
        assert_eq!(literal_prefix(b"plain"), b"plain");
    }
}

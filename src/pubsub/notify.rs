//! Keyspace notifications: the `notify-keyspace-events` flags and the messages commands'
//! events turn into.
//!
//! Commands record events with [`crate::keyspace::Keyspace::notify`] (class letter, Redis's
//! event name, key); after each command the connection drains them and [`publish_events`]
//! publishes `__keyspace@<db>__:<key>` (message: the event) and `__keyevent@<db>__:<event>`
//! (message: the key) for the classes the flags enable, keyspace first, as Redis does.

use super::Hub;
use crate::config::BufferLimit;
use crate::keyspace::KeyEvent;
use std::fmt;
use std::sync::atomic::AtomicU64;

/// The `notify-keyspace-events` flag set, one bit per Redis letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NotifyFlags(u16);

/// `K`: publish on `__keyspace@<db>__:<key>`.
const KEYSPACE: u16 = 1 << 0;
/// `E`: publish on `__keyevent@<db>__:<event>`.
const KEYEVENT: u16 = 1 << 1;
/// The event classes, in the order CONFIG GET prints them.
const CLASSES: [(char, u16); 11] = [
    ('g', 1 << 2),  // generic: DEL, EXPIRE, RENAME, ...
    ('$', 1 << 3),  // strings
    ('l', 1 << 4),  // lists
    ('s', 1 << 5),  // sets
    ('h', 1 << 6),  // hashes
    ('z', 1 << 7),  // sorted sets
    ('x', 1 << 8),  // expired
    ('e', 1 << 9),  // evicted
    ('t', 1 << 10), // streams
    ('d', 1 << 11), // module key type events
    ('n', 1 << 12), // new key (not part of `A`)
];
/// `m`: key misses (not part of `A`).
const KEY_MISS: u16 = 1 << 13;
/// `A`: `g$lshzxetd`.
const ALL: u16 = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11);

/// The CONFIG SET error for a letter Redis does not know.
pub const INVALID_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

impl NotifyFlags {
    /// Parses Redis's letters (`KEA`, `Kx`, `""`...). Errors with [`INVALID_CLASS`].
    pub fn parse(text: &str) -> Result<NotifyFlags, String> {
        let mut bits = 0u16;
        for letter in text.chars() {
            bits |= match letter {
                'A' => ALL,
                'K' => KEYSPACE,
                'E' => KEYEVENT,
                'm' => KEY_MISS,
                other => CLASSES.iter().find(|(c, _)| *c == other).map(|(_, bit)| *bit).ok_or_else(|| INVALID_CLASS.to_string())?,
            };
        }
        Ok(NotifyFlags(bits))
    }

    /// Whether any notification can be published (needs `K` or `E`, and a class).
    pub fn enabled(self) -> bool {
        self.0 & (KEYSPACE | KEYEVENT) != 0 && self.0 & !(KEYSPACE | KEYEVENT) != 0
    }

    /// Whether events of class `letter` (as commands pass to `notify`) are published.
    pub fn wants(self, letter: char) -> bool {
        let bit = match letter {
            'm' => KEY_MISS,
            other => CLASSES.iter().find(|(c, _)| *c == other).map_or(0, |(_, bit)| *bit),
        };
        self.0 & bit != 0
    }
}

impl fmt::Display for NotifyFlags {
    /// Redis's canonical form: `A` for the whole set (which then hides `n`, as Redis does),
    /// otherwise the class letters, then `K`, `E`, `m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        if self.0 & ALL == ALL {
            text.push('A');
        } else {
            text.extend(CLASSES.iter().filter(|(_, bit)| self.0 & bit != 0).map(|(c, _)| *c));
        }
        for (bit, letter) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
            if self.0 & bit != 0 {
                text.push(letter);
            }
        }
        f.write_str(&text)
    }
}

/// Publishes the notifications `events` call for under `flags`. Runs with the keyspace locked,
/// right after the command that raised them, so they keep the command order.
pub fn publish_events(hub: &Hub, flags: NotifyFlags, limit: BufferLimit, dropped: &AtomicU64, events: &[KeyEvent]) {
    if !flags.enabled() {
        return;
    }
    let mut channel = Vec::with_capacity(64);
    for event in events.iter().filter(|e| flags.wants(e.class)) {
        if flags.0 & KEYSPACE != 0 {
            channel.clear();
            channel.extend_from_slice(b"__keyspace@");
            channel.extend_from_slice(itoa::Buffer::new().format(event.db).as_bytes());
            channel.extend_from_slice(b"__:");
            channel.extend_from_slice(&event.key);
            hub.publish(&channel, event.event.as_bytes(), limit, dropped);
        }
        if flags.0 & KEYEVENT != 0 {
            channel.clear();
            channel.extend_from_slice(b"__keyevent@");
            channel.extend_from_slice(itoa::Buffer::new().format(event.db).as_bytes());
            channel.extend_from_slice(b"__:");
            channel.extend_from_slice(event.event.as_bytes());
            hub.publish(&channel, &event.key, limit, dropped);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn canonical(text: &str) -> String {
        NotifyFlags::parse(text).unwrap().to_string()
    }

    #[test]
    fn config_get_shows_redis_canonical_letters() {
        assert_eq!(canonical("AKE"), "AKE");
        assert_eq!(canonical("KEA"), "AKE");
        assert_eq!(canonical("KA"), "AK");
        assert_eq!(canonical("Kd"), "dK");
        assert_eq!(canonical("ng$"), "g$n");
        assert_eq!(canonical("Kmn"), "nKm");
        assert_eq!(canonical("AKEn"), "AKE");
        assert_eq!(canonical("Ag$lshzxetdKEmn"), "AKEm");
        assert_eq!(canonical("$lshzxetdm"), "$lshzxetdm");
        assert_eq!(canonical(""), "");
    }

    #[test]
    fn unknown_letters_are_rejected_with_redis_text() {
        assert_eq!(NotifyFlags::parse("Kq"), Err(INVALID_CLASS.to_string()));
    }

    #[test]
    fn a_class_without_k_or_e_publishes_nothing() {
        assert!(!NotifyFlags::parse("A").unwrap().enabled());
        assert!(!NotifyFlags::parse("KE").unwrap().enabled());
        assert!(NotifyFlags::parse("Kx").unwrap().enabled());
        assert!(NotifyFlags::parse("AKE").unwrap().wants('x'));
        assert!(!NotifyFlags::parse("AKE").unwrap().wants('m'));
        assert!(NotifyFlags::parse("AKEn").unwrap().wants('n'));
    }
}

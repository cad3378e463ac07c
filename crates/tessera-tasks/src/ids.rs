//! Task ids: random (version 4) UUIDs, so ids reveal neither order nor count.

use ring::rand::{SecureRandom as _, SystemRandom};

/// A new random UUID in its canonical lower-case hyphenated form.
pub(crate) fn new_task_id() -> String {
    let mut bytes = [0u8; 16];
    // The OS random source does not fail on the platforms we build for; if it ever did, a
    // panic (caught and answered as a 500) is better than a predictable id.
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the OS random source failed");
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_version_4_uuids() {
        let a = new_task_id();
        let b = new_task_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }
}

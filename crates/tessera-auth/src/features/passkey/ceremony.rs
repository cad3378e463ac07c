//! The WebAuthn checks, by webauthn-rs (its core crate), over Better Auth's stored formats.
//!
//! Why `webauthn-rs-core` and not the high-level `webauthn-rs`: `webauthn-rs` keeps a ceremony
//! in its own opaque state (`PasskeyRegistration`, `PasskeyAuthentication`) and a credential as
//! its own serialised `Passkey`. Better Auth keeps neither: a ceremony is a `verification` row
//! holding `{"type", "expectedChallenge", "userData"}`, and a credential is a `passkey` row
//! holding the COSE public key as base64 with the counter and flags in their own columns. To
//! adopt a Better Auth database in place (and to run side by side with one), Tessera must read
//! and write those, so it takes the core crate's verification (`register_credential`,
//! `authenticate_single_credential`: client data, origin, RP id hash, flags, attestation,
//! signature, counter) and builds the core's state around the stored challenge: the state is
//! made by the core's own builder and only its challenge is replaced, through the state's serde
//! form, by the one Better Auth stored ([`with_challenge`]).
//!
//! The options sent to the browser are Better Auth's (`@simplewebauthn/server`'s JSON), built
//! here: webauthn-rs's `CreationChallengeResponse` has another shape.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use serde::de::DeserializeOwned;
use serde::{Deserialize as _, Serialize};
use serde_json::{Value, json};
use url::Url;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::internals::AuthenticatorData;
use webauthn_rs_core::proto::{
    AttestationFormat, COSEAlgorithm, COSEKey, Credential, ParsedAttestation, PublicKeyCredential,
    RegisterPublicKeyCredential, RegisteredExtensions, Registration, UserVerificationPolicy,
};

use super::store::Passkey;

/// The algorithms offered and accepted at registration: ES256 and RS256. Better Auth also
/// offers EdDSA (-8) first, but webauthn-rs cannot verify Ed25519 signatures, so an
/// authenticator that would pick it (a security key) is steered to ES256 instead of making a
/// passkey that could never sign in (docs/compatibility.md).
const ALGORITHMS: [COSEAlgorithm; 2] = [COSEAlgorithm::ES256, COSEAlgorithm::RS256];

/// `@simplewebauthn/server`'s default `timeout`, in milliseconds.
const TIMEOUT_MS: u64 = 60_000;

/// Why a ceremony's response was refused.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// The response is not a WebAuthn response of the expected shape.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The signature over the assertion does not verify with the stored key.
    #[error("signature does not verify")]
    BadSignature,
    /// The stored signature counter did not go up (a cloned authenticator, or a replay).
    #[error("signature counter did not increase")]
    CounterRegressed,
    /// Any other check failed (challenge, origin, RP id, flags, algorithm, attestation).
    #[error("check failed: {0:?}")]
    Refused(WebauthnError),
}

impl From<WebauthnError> for CeremonyError {
    fn from(error: WebauthnError) -> Self {
        match error {
            WebauthnError::AuthenticationFailure => Self::BadSignature,
            WebauthnError::CredentialPossibleCompromise => Self::CounterRegressed,
            other => Self::Refused(other),
        }
    }
}

/// A credential a registration proved, in the `passkey` table's formats.
#[derive(Debug)]
pub struct Registered {
    /// base64url (unpadded) credential id.
    pub credential_id: String,
    /// Standard base64 of the COSE public key.
    pub public_key: String,
    /// The signature counter the authenticator started at.
    pub counter: u32,
    /// `multiDevice` when backup-eligible, else `singleDevice`.
    pub device_type: &'static str,
    /// The backup-state flag.
    pub backed_up: bool,
    /// The authenticator's AAGUID, as a lower-case UUID.
    pub aaguid: String,
}

/// The relying party: webauthn-rs's core with this deployment's RP id, name and origin.
pub struct Ceremony {
    core: WebauthnCore,
    rp_id: String,
    rp_name: String,
}

impl std::fmt::Debug for Ceremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ceremony")
            .field("rp_id", &self.rp_id)
            .field("rp_name", &self.rp_name)
            .finish_non_exhaustive()
    }
}

impl Ceremony {
    /// A relying party `rp_id` named `rp_name` whose pages are served from `origin`.
    pub fn new(rp_id: &str, rp_name: &str, origin: &Url) -> Self {
        let core = WebauthnCore::new_unsafe_experts_only(
            rp_name,
            rp_id,
            vec![origin.clone()],
            Duration::from_millis(TIMEOUT_MS),
            None,
            None,
        );
        Self {
            core,
            rp_id: rp_id.to_owned(),
            rp_name: rp_name.to_owned(),
        }
    }

    /// The RP id.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// `generateRegistrationOptions`'s answer as Better Auth configures it, with a fresh
    /// challenge (also returned, base64url, for the verification row).
    pub fn registration_options(
        &self,
        user_name: &str,
        display_name: &str,
        exclude: &[Passkey],
        attachment: Option<&str>,
    ) -> (Value, String) {
        let challenge = URL_SAFE_NO_PAD.encode(random::<32>());
        // Better Auth's user handle: a fresh random 32-character string, as UTF-8 bytes (its
        // alphabet is [a-z0-9], this one [A-Za-z0-9]; nothing reads the handle back).
        let user_id = URL_SAFE_NO_PAD.encode(crate::ids::generate_id(32));
        let mut selection = serde_json::Map::new();
        selection.insert("residentKey".into(), json!("preferred"));
        selection.insert("userVerification".into(), json!("preferred"));
        if let Some(attachment) = attachment {
            selection.insert("authenticatorAttachment".into(), json!(attachment));
        }
        selection.insert("requireResidentKey".into(), json!(false));
        let params: Vec<Value> = ALGORITHMS
            .iter()
            .map(|alg| json!({ "alg": *alg as i64, "type": "public-key" }))
            .collect();
        let options = json!({
            "challenge": challenge,
            "rp": { "name": self.rp_name, "id": self.rp_id },
            "user": { "id": user_id, "name": user_name, "displayName": display_name },
            "pubKeyCredParams": params,
            "timeout": TIMEOUT_MS,
            "attestation": "none",
            "excludeCredentials": descriptors(exclude),
            "authenticatorSelection": selection,
            "extensions": { "credProps": true },
            "hints": [],
        });
        (options, challenge)
    }

    /// `generateAuthenticationOptions`'s answer as Better Auth configures it: the signed-in
    /// user's passkeys as `allowCredentials` (none for a discoverable sign-in).
    pub fn authentication_options(&self, allow: &[Passkey]) -> (Value, String) {
        let challenge = URL_SAFE_NO_PAD.encode(random::<32>());
        let mut options = serde_json::Map::new();
        options.insert("rpId".into(), json!(self.rp_id));
        options.insert("challenge".into(), json!(challenge));
        if !allow.is_empty() {
            options.insert("allowCredentials".into(), descriptors(allow));
        }
        options.insert("timeout".into(), json!(TIMEOUT_MS));
        options.insert("userVerification".into(), json!("preferred"));
        (Value::Object(options), challenge)
    }

    /// Verifies a registration response (`navigator.credentials.create()`'s, as JSON) against
    /// the challenge Better Auth stored. User verification is not required, as in Better Auth.
    pub fn verify_registration(
        &self,
        response: &Value,
        expected_challenge: &str,
    ) -> Result<Registered, CeremonyError> {
        let credential: RegisterPublicKeyCredential = serde_json::from_value(response.clone())
            .map_err(|e| CeremonyError::Malformed(e.to_string()))?;
        let builder = self
            .core
            .new_challenge_register_builder(b"user", "user", "user")?
            .attestation(webauthn_rs_core::proto::AttestationConveyancePreference::None)
            .user_verification_policy(UserVerificationPolicy::Preferred)
            .credential_algorithms(ALGORITHMS.to_vec());
        let (_, state) = self.core.generate_challenge_register(builder)?;
        let state = with_challenge(&state, expected_challenge)?;
        let verified = self.core.register_credential(&credential, &state, None)?;
        // The core returns the key parsed; Better Auth stores the COSE bytes, so they are read
        // from the (now verified) authenticator data.
        let (aaguid, cose) = attested_key(&credential.response.attestation_object)?;
        Ok(Registered {
            credential_id: URL_SAFE_NO_PAD.encode(&verified.cred_id),
            public_key: STANDARD.encode(cose),
            counter: verified.counter,
            device_type: if verified.backup_eligible {
                "multiDevice"
            } else {
                "singleDevice"
            },
            backed_up: verified.backup_state,
            aaguid: uuid_form(&aaguid),
        })
    }

    /// Verifies an assertion (`navigator.credentials.get()`'s, as JSON) by `passkey` against
    /// the stored challenge; the new signature counter. A counter that did not increase (when
    /// either is non-zero) is refused, as Better Auth refuses it.
    pub fn verify_authentication(
        &self,
        response: &PublicKeyCredential,
        expected_challenge: &str,
        passkey: &Passkey,
    ) -> Result<u32, CeremonyError> {
        let credential = stored_credential(passkey)?;
        let builder = self
            .core
            .new_challenge_authenticate_builder(
                vec![credential.clone()],
                Some(UserVerificationPolicy::Preferred),
            )?
            .allow_backup_eligible_upgrade(true);
        let (_, state) = self.core.generate_challenge_authenticate(builder)?;
        let state = with_challenge(&state, expected_challenge)?;
        let result = self
            .core
            .authenticate_single_credential(response, &state, &credential)?;
        Ok(result.counter())
    }
}

/// `count` random bytes from the OS.
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        // Unrecoverable, as for session tokens: never fall back to a weak source.
        panic!("operating system random number generator failed");
    }
    bytes
}

/// Credential descriptors as `@simplewebauthn/server` writes them: `{id, transports?, type}`.
fn descriptors(passkeys: &[Passkey]) -> Value {
    passkeys
        .iter()
        .map(|p| {
            let mut entry = serde_json::Map::new();
            entry.insert("id".into(), json!(p.credential_id.trim_end_matches('=')));
            if let Some(transports) = p.transport_list() {
                entry.insert("transports".into(), json!(transports));
            }
            entry.insert("type".into(), json!("public-key"));
            Value::Object(entry)
        })
        .collect()
}

/// The core's own state (from its builder) with its challenge replaced by Better Auth's: the
/// state's fields are private, its serde form is the one way to set the challenge.
fn with_challenge<S: Serialize + DeserializeOwned>(
    state: &S,
    challenge: &str,
) -> Result<S, CeremonyError> {
    let malformed = |e: serde_json::Error| CeremonyError::Malformed(e.to_string());
    let mut value = serde_json::to_value(state).map_err(malformed)?;
    let Some(slot) = value.get_mut("challenge") else {
        return Err(CeremonyError::Malformed("state has no challenge".into()));
    };
    *slot = Value::String(challenge.to_owned());
    serde_json::from_value(value).map_err(malformed)
}

/// The AAGUID and the COSE public key bytes of a registration's attested credential data.
fn attested_key(attestation_object: &[u8]) -> Result<([u8; 16], Vec<u8>), CeremonyError> {
    use serde_cbor_2::Value as Cbor;
    let malformed = |what: &str| CeremonyError::Malformed(what.to_owned());
    let object: Cbor =
        serde_cbor_2::from_slice(attestation_object).map_err(|_| malformed("attestation"))?;
    let Cbor::Map(map) = object else {
        return Err(malformed("attestation"));
    };
    let Some(Cbor::Bytes(auth_data)) = map.get(&Cbor::Text("authData".into())) else {
        return Err(malformed("authData"));
    };
    let data = AuthenticatorData::<Registration>::try_from(auth_data.as_slice())?;
    let acd = data.acd.ok_or_else(|| malformed("attested credential"))?;
    // The key's own bytes, as the authenticator encoded them (Better Auth stores those): after
    // the RP id hash (32), flags (1), counter (4), AAGUID (16), id length (2) and the id, one
    // CBOR item, possibly followed by extensions.
    let start = 32 + 1 + 4 + 16 + 2 + acd.credential_id.len();
    let rest = auth_data.get(start..).ok_or_else(|| malformed("key"))?;
    let mut reader = serde_cbor_2::Deserializer::from_slice(rest);
    serde::de::IgnoredAny::deserialize(&mut reader).map_err(|_| malformed("key"))?;
    let cose = rest[..reader.byte_offset()].to_vec();
    Ok((acd.aaguid, cose))
}

/// The core's credential for a stored passkey: its id, COSE key, counter and flags.
fn stored_credential(passkey: &Passkey) -> Result<Credential, CeremonyError> {
    let malformed = |what: &str| CeremonyError::Malformed(format!("stored passkey: {what}"));
    let cred_id = URL_SAFE_NO_PAD
        .decode(passkey.credential_id.trim_end_matches('='))
        .map_err(|_| malformed("credentialID"))?;
    let key_bytes = STANDARD
        .decode(&passkey.public_key)
        .map_err(|_| malformed("publicKey"))?;
    let key: serde_cbor_2::Value =
        serde_cbor_2::from_slice(&key_bytes).map_err(|_| malformed("publicKey"))?;
    let cred = COSEKey::try_from(&key)?;
    Ok(Credential {
        cred_id,
        cred,
        counter: u32::try_from(passkey.counter).map_err(|_| malformed("counter"))?,
        transports: None,
        // Better Auth records no per-credential UV; it never requires it.
        user_verified: false,
        backup_eligible: passkey.device_type == "multiDevice",
        backup_state: passkey.backed_up,
        registration_policy: UserVerificationPolicy::Preferred,
        extensions: RegisteredExtensions::none(),
        attestation: ParsedAttestation::default(),
        attestation_format: AttestationFormat::None,
    })
}

/// 16 bytes as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case.
fn uuid_form(bytes: &[u8; 16]) -> String {
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

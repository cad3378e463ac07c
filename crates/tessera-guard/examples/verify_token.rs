//! Verifies one JWT the way a resource server using the guard would: keys from a JWKS URL
//! (fetched and cached by [`RemoteJwks`]), issuer and audience pinned.
//!
//! ```sh
//! echo "$JWT" | cargo run -p tessera-guard --example verify_token -- \
//!     --jwks-url http://127.0.0.1:3000/api/auth/jwks \
//!     --issuer http://127.0.0.1:3000 --audience http://127.0.0.1:3000
//! ```
//!
//! Prints the verified claims as JSON and exits 0, or prints the guard's answer and exits 1.
//! The compatibility tests (`interop/diff/adoption.mjs`) use it to check that a JWT minted by
//! Better Auth before a switch still verifies once the JWKS comes from Tessera.

use std::io::Read as _;
use std::process::ExitCode;

use tessera_guard::Guard;
use tessera_guard::keys::RemoteJwks;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(jwks_url), Some(issuer), Some(audience)) =
        (flag("--jwks-url"), flag("--issuer"), flag("--audience"))
    else {
        eprintln!("usage: verify_token --jwks-url URL --issuer ISS --audience AUD < token");
        return ExitCode::from(2);
    };
    let mut token = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut token) {
        eprintln!("reading the token from stdin: {e}");
        return ExitCode::from(2);
    }
    let source = match RemoteJwks::remote(&jwks_url) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("bad JWKS URL: {e}");
            return ExitCode::from(2);
        }
    };
    let guard = Guard::builder(source)
        .issuer(issuer)
        .audience(audience)
        .build();
    match guard.verify(token.trim()).await {
        Ok(user) => {
            println!("{}", serde_json::Value::Object(user.claims().clone()));
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("rejected: {e}");
            ExitCode::FAILURE
        }
    }
}

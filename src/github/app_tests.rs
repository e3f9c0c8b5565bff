use super::*;

fn key_pair() -> (String, String) {
    crate::sim::apps::generate_key_pair().expect("a key pair")
}

/// The RSAPrivateKey (PKCS#1) inside a PKCS#8 PrivateKeyInfo: the last element of the outer
/// SEQUENCE, an OCTET STRING.
fn pkcs1_of(pkcs8: &[u8]) -> Vec<u8> {
    fn header(bytes: &[u8]) -> (usize, usize) {
        // (length of the header, length of the content)
        let first = bytes[1];
        if first < 0x80 {
            return (2, first as usize);
        }
        let count = (first & 0x7f) as usize;
        let mut length = 0usize;
        for byte in &bytes[2..2 + count] {
            length = (length << 8) | *byte as usize;
        }
        (2 + count, length)
    }
    let (outer, _) = header(pkcs8);
    let mut at = outer;
    for _ in 0..2 {
        let (head, length) = header(&pkcs8[at..]);
        at += head + length;
    }
    assert_eq!(pkcs8[at], 0x04, "an OCTET STRING");
    let (head, length) = header(&pkcs8[at..]);
    pkcs8[at + head..at + head + length].to_vec()
}

fn der_of(pem: &str) -> Vec<u8> {
    pem_block(pem).expect("a PEM block").1
}

fn claims_of(jwt: &str) -> Value {
    let claims = jwt.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("base64url")).expect("JSON")
}

fn verifies(jwt: &str, public_pem: &str) -> bool {
    let (signed, signature) = jwt.rsplit_once('.').expect("a signature");
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        der_of(public_pem),
    )
    .verify(
        signed.as_bytes(),
        &URL_SAFE_NO_PAD.decode(signature).expect("base64url"),
    )
    .is_ok()
}

#[test]
fn a_jwt_is_rs256_signed_by_the_key_for_nine_minutes_from_a_minute_ago() {
    let (private, public) = key_pair();
    let signer = AppSigner::with_clock(123, AppKey::from_pem(&private).unwrap(), || 1_765_000_000);
    let jwt = signer.jwt().unwrap();
    assert!(verifies(&jwt, &public));
    let header = jwt.split('.').next().unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap(),
        json!({"alg": "RS256", "typ": "JWT"})
    );
    assert_eq!(
        claims_of(&jwt),
        json!({"iat": 1_765_000_000 - 60, "exp": 1_765_000_000 + 540, "iss": "123"})
    );
    // Another key's signature does not verify.
    let (_, other_public) = key_pair();
    assert!(!verifies(&jwt, &other_public));
}

#[test]
fn github_keys_in_pkcs1_and_pkcs8_both_load_and_sign_alike() {
    let (private, public) = key_pair();
    let pkcs1 = pkcs1_of(&der_of(&private));
    let rsa_pem = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        STANDARD.encode(pkcs1)
    );
    let signer = AppSigner::new(7, AppKey::from_pem(&rsa_pem).unwrap());
    assert!(verifies(&signer.jwt().unwrap(), &public));
}

#[test]
fn what_is_not_a_private_key_says_what_it_is() {
    let (_, public) = key_pair();
    for (text, expected) in [
        ("hello", "no -----BEGIN line"),
        (public.as_str(), "a PEM block of \"PUBLIC KEY\""),
        (
            "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
            "its base64 does not decode",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n",
            "no -----END PRIVATE KEY----- line",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "the key was rejected",
        ),
    ] {
        let error = AppKey::from_pem(text).unwrap_err();
        assert!(error.contains(expected), "{text}: {error}");
    }
}

#[test]
fn the_key_file_is_read_bounded_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let error = AppKey::read(dir.path()).unwrap_err().to_string();
    assert!(error.contains("not a regular file"), "{error}");
    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'A'; 70 * 1024]).unwrap();
    let error = AppKey::read(&big).unwrap_err().to_string();
    assert!(error.contains("more than any key file"), "{error}");
    let (private, _) = key_pair();
    let good = dir.path().join("app.pem");
    std::fs::write(&good, &private).unwrap();
    let key = AppKey::read(&good).unwrap();
    assert_eq!(format!("{key:?}"), "AppKey(***)");
    let signer = AppSigner::new(9, key);
    let shown = format!("{signer:?}");
    assert!(
        !shown.contains("PRIVATE") && shown.contains("app_id: 9"),
        "{shown}"
    );
}

#[test]
fn a_date_far_from_the_local_clock_moves_the_jwt_onto_githubs_time() {
    let (private, _) = key_pair();
    let signer = AppSigner::with_clock(1, AppKey::from_pem(&private).unwrap(), || 1_765_000_000);
    let reply = |date: &str| {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::DATE, date.parse().unwrap());
        Reply {
            status: StatusCode::UNAUTHORIZED,
            headers,
            body: bytes::Bytes::new(),
            truncated: false,
        }
    };
    // 1_765_000_000 is Sat, 06 Dec 2025 05:46:40 GMT; GitHub says an hour later.
    assert!(signer.observe_date(&reply("Sat, 06 Dec 2025 06:46:40 GMT")));
    assert_eq!(signer.github_now(), 1_765_003_600);
    assert_eq!(claims_of(&signer.jwt().unwrap())["iat"], 1_765_003_600 - 60);
    // The same again moves nothing worth a retry.
    assert!(!signer.observe_date(&reply("Sat, 06 Dec 2025 06:46:45 GMT")));
}

#[test]
fn a_kept_private_key_gives_back_its_public_key() {
    let (private, public) = key_pair();
    assert_eq!(crate::sim::apps::public_key_of(&private).unwrap(), public);
    assert!(crate::sim::apps::public_key_of("not a key").is_err());
}

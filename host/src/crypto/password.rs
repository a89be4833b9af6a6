//! Password hashes (WIT `crypto.verify-password`): argon2 PHC strings,
//! bcrypt, and PBKDF2-SHA-256/512 in both its PHC and its passlib form.
//!
//! The format is told by the prefix; an unknown prefix, a malformed string or
//! a cost above the limits below is `false` (never an error, never a panic).
//! The comparisons are the crates' constant-time ones.
//!
//! Cost limits: a hash comes from a policy's data, and one verification runs
//! on a broker thread, so a hash asking for more than these is refused rather
//! than computed: argon2 `m` ≤ 256 MiB, `t` ≤ 16, `p` ≤ 16; bcrypt cost ≤ 16;
//! PBKDF2 ≤ 5,000,000 iterations. A PBKDF2 hash field shorter than 16
//! bytes is refused too (PBKDF2 output cut short would match its prefix).

use std::panic::{catch_unwind, AssertUnwindSafe};

use argon2::password_hash::{phc, PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use pbkdf2::Pbkdf2;

/// Argon2 memory cost limit, in KiB (256 MiB).
const ARGON2_MAX_M_KIB: u32 = 256 * 1024;
/// Argon2 passes limit.
const ARGON2_MAX_T: u32 = 16;
/// Argon2 lanes limit.
const ARGON2_MAX_P: u32 = 16;
/// bcrypt cost limit (2^16 rounds, about 64 times cost 10).
const BCRYPT_MAX_COST: u32 = 16;
/// PBKDF2 iterations limit (about 8 times the crate's 600,000 default).
const PBKDF2_MAX_ROUNDS: u32 = 5_000_000;
/// Shortest PBKDF2 hash field accepted: 16 bytes in base64.
const PBKDF2_MIN_HASH_CHARS: usize = 22;

/// Whether `password` matches `hash`. Accepted forms (see the module docs
/// for the cost limits):
///
/// - argon2 PHC strings: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`
///   (also `$argon2i$` and `$argon2d$`; salt and hash in unpadded standard
///   base64), as made by [`hash_password_argon2id`], the `argon2` npm
///   package, PHP's `password_hash` or passlib.
/// - bcrypt: `$2b$10$<22 chars salt><31 chars hash>` (also `$2a$`, `$2y$`).
///   bcrypt only reads the first 72 bytes of a password.
/// - PBKDF2, PHC form (the `pbkdf2` crate's):
///   `$pbkdf2-sha256$i=600000,l=32$<salt>$<hash>` (unpadded standard
///   base64; `l` is optional; also `$pbkdf2-sha512$`).
/// - PBKDF2, passlib form (`passlib.hash.pbkdf2_sha256`):
///   `$pbkdf2-sha256$29000$<salt>$<hash>`, rounds as a bare number and
///   passlib's "adapted base64" (`.` for `+`); also `$pbkdf2-sha512$`.
///
/// Leading and trailing whitespace around `hash` is ignored.
pub fn verify_password(password: &[u8], hash: &str) -> bool {
    let hash = hash.trim();
    // The crates reject malformed input with errors; the catch is a second
    // line so a bug in one of them is a refusal, not a broker crash.
    catch_unwind(AssertUnwindSafe(|| {
        if hash.starts_with("$argon2") {
            verify_argon2(password, hash)
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
            verify_bcrypt(password, hash)
        } else if hash.starts_with("$pbkdf2-sha256$") || hash.starts_with("$pbkdf2-sha512$") {
            verify_pbkdf2(password, hash)
        } else {
            false
        }
    }))
    .unwrap_or(false)
}

/// An argon2id PHC string of `password` with a random salt and the `argon2`
/// crate's default parameters (`m=19456,t=2,p=1`, the OWASP minimum), e.g.
/// `$argon2id$v=19$m=19456,t=2,p=1$<22 chars salt>$<43 chars hash>`.
pub fn hash_password_argon2id(password: &[u8]) -> String {
    Argon2::default()
        .hash_password(password)
        .expect("argon2id with default parameters and an OS-random salt")
        .to_string()
}

fn verify_argon2(password: &[u8], hash: &str) -> bool {
    let Ok(parsed) = phc::PasswordHash::new(hash) else {
        return false;
    };
    if !matches!(
        parsed.algorithm.as_str(),
        "argon2id" | "argon2i" | "argon2d"
    ) {
        return false;
    }
    let within = |name: &str, max: u32| {
        parsed
            .params
            .get_decimal(name)
            .is_some_and(|value| value <= max)
    };
    if !(within("m", ARGON2_MAX_M_KIB) && within("t", ARGON2_MAX_T) && within("p", ARGON2_MAX_P)) {
        return false;
    }
    Argon2::default().verify_password(password, &parsed).is_ok()
}

fn verify_bcrypt(password: &[u8], hash: &str) -> bool {
    // `$2b$10$...`: the cost is the two digits after the second `$`.
    let cost = hash.get(4..6).and_then(|c| c.parse::<u32>().ok());
    if cost.is_none_or(|c| c > BCRYPT_MAX_COST) {
        return false;
    }
    bcrypt::verify(password, hash).unwrap_or(false)
}

fn verify_pbkdf2(password: &[u8], hash: &str) -> bool {
    // `$pbkdf2-sha256$<params>$...`: PHC params are `name=value` pairs,
    // passlib's are the bare number of rounds.
    let Some(params) = hash.split('$').nth(2) else {
        return false;
    };
    // PBKDF2 output is a stream: a hash cut short still matches its own
    // prefix, and the crate compares only the bytes given. Below 16 bytes
    // (22 base64 characters) a guess could match, so such hashes are refused.
    if hash
        .rsplit('$')
        .next()
        .is_none_or(|h| h.len() < PBKDF2_MIN_HASH_CHARS)
    {
        return false;
    }
    if params.contains('=') {
        let Ok(parsed) = phc::PasswordHash::new(hash) else {
            return false;
        };
        if parsed
            .params
            .get_decimal("i")
            .is_none_or(|rounds| rounds > PBKDF2_MAX_ROUNDS)
        {
            return false;
        }
        Pbkdf2::default().verify_password(password, &parsed).is_ok()
    } else {
        if !params
            .parse::<u32>()
            .is_ok_and(|rounds| rounds <= PBKDF2_MAX_ROUNDS)
        {
            return false;
        }
        let Ok(parsed) = pbkdf2::mcf::PasswordHashRef::new(hash) else {
            return false;
        };
        Pbkdf2::default().verify_password(password, parsed).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbkdf2::password_hash::CustomizedPasswordHasher;

    /// A PHC PBKDF2-SHA-256 hash of `password` with `rounds` iterations.
    fn pbkdf2_phc(password: &[u8], rounds: u32) -> String {
        let params = pbkdf2::Params::new(rounds).expect("pbkdf2 params");
        let hash: phc::PasswordHash = Pbkdf2::default()
            .hash_password_customized(password, b"saltsaltsaltsalt", None, None, params)
            .expect("pbkdf2 hash");
        hash.to_string()
    }

    #[test]
    fn argon2id_made_here_verifies() {
        let hash = hash_password_argon2id(b"hunter42");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(b"hunter42", &hash));
        assert!(!verify_password(b"hunter43", &hash));
        assert!(!verify_password(b"", &hash));
        // A fresh salt every time.
        assert_ne!(hash, hash_password_argon2id(b"hunter42"));
    }

    #[test]
    fn argon2_reference_strings_verify() {
        // The argon2 crate's known-answer PHC strings (password "password",
        // salt "somesalt"), and an argon2d string made by the crate.
        let argon2id = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        let argon2i =
            "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA";
        let argon2d = Argon2::new(
            argon2::Algorithm::Argon2d,
            argon2::Version::V0x13,
            argon2::Params::new(1024, 2, 1, None).expect("argon2 params"),
        )
        .hash_password(b"password")
        .expect("argon2d hash")
        .to_string();
        assert!(
            argon2d.starts_with("$argon2d$v=19$m=1024,t=2,p=1$"),
            "{argon2d}"
        );
        for hash in [argon2id, argon2i, argon2d.as_str()] {
            assert!(verify_password(b"password", hash), "{hash}");
            assert!(!verify_password(b"passwore", hash), "{hash}");
        }
    }

    #[test]
    fn bcrypt_verifies_every_prefix() {
        // The classic OpenBSD / bcrypt test vector ("U*U", cost 5) and a
        // cost-10 hash made by the crate, under each accepted prefix.
        let classic = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert!(verify_password(b"U*U", classic));
        assert!(!verify_password(b"U*V", classic));

        let made = bcrypt::hash(b"s3cret", 10).expect("bcrypt hash");
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let hash = format!("{prefix}{}", &made[4..]);
            assert!(verify_password(b"s3cret", &hash), "{hash}");
            assert!(!verify_password(b"s3cres", &hash), "{hash}");
        }
        // `$2x$` (the buggy-implementation marker) is not accepted.
        assert!(!verify_password(b"s3cret", &format!("$2x${}", &made[4..])));
    }

    #[test]
    fn pbkdf2_phc_form_verifies() {
        // The pbkdf2 crate's PHC vector: 4096 rounds, 40-byte output.
        let vector = "$pbkdf2-sha256$i=4096,l=40\
            $c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0\
            $NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+HGNVGMfaxH6Q";
        assert!(verify_password(b"passwordPASSWORDpassword", vector));
        assert!(!verify_password(b"passwordPASSWORDpasswore", vector));

        let made = pbkdf2_phc(b"hunter42", 10_000);
        assert!(made.starts_with("$pbkdf2-sha256$i=10000,l=32$"), "{made}");
        assert!(verify_password(b"hunter42", &made));
        assert!(!verify_password(b"hunter43", &made));
    }

    #[test]
    fn pbkdf2_passlib_form_verifies() {
        // passlib's documented examples (pbkdf2_sha256 and pbkdf2_sha512).
        let sha256 =
            "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE";
        assert!(verify_password(b"password", sha256));
        assert!(!verify_password(b"passworc", sha256));
        let sha512 = "$pbkdf2-sha512$25000$O4fwPmdMyRmDUIrx/h9jTA$Xlp267ZwEbG4aOpN3Bve/ATo3rFA7WH8iMdS16Xbe9rc6P5welk1yiXEMPy7.BFp0qsncipHumaW1trCWVvq/A";
        assert!(verify_password(b"abcdefghijklmnop", sha512));
        assert!(!verify_password(b"abcdefghijklmnoq", sha512));
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let classic = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert!(verify_password(b"U*U", &format!("  {classic}\n")));
    }

    #[test]
    fn unknown_and_malformed_hashes_are_false() {
        let argon2id = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        let bcrypt = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        let pbkdf2 =
            "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE";
        let mut bad: Vec<String> = [
            "",
            "password",
            "$",
            "$$$$",
            "$argon2id$",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$",
            "$argon2id$v=19$m=65536,t=2,p=1$$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=x,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2xx$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$2b$",
            "$2b$10$",
            "$2b$xx$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
            "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWé",
            "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyO!!",
            "$2b$02$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$pbkdf2-sha256$",
            "$pbkdf2-sha256$8000$",
            "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$",
            "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE$x",
            "$pbkdf2-sha256$i=x$c2FsdHNhbHQ$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
            "$pbkdf2-sha256$i=8000$$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
            "$pbkdf2-sha1$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
            "$pbkdf2$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
            "pbkdf2_sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
            "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
            "$5$rounds=5000$saltsalt$Gcm6FsVtF/Qa77ZKD.iwsJlCVPY0XSMgLJL0Hnww/c1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every prefix of the good hashes — for PBKDF2, up to a 21-character
        // hash field (a longer cut still holds 16 bytes of its output, and
        // PBKDF2 output cut short matches its own prefix).
        for (good, keep) in [(argon2id, 0), (bcrypt, 0), (pbkdf2, 43 - 21)] {
            for end in 0..good.len() - keep {
                bad.push(good[..end].to_string());
            }
        }
        for hash in &bad {
            assert!(!verify_password(b"password", hash), "{hash:?}");
            assert!(!verify_password(b"U*U", hash), "{hash:?}");
        }
    }

    #[test]
    fn costs_above_the_limits_are_refused_without_computing() {
        // Each would take hours or gigabytes if computed: the test finishing
        // at all shows they are refused from their parameters.
        let hashes = [
            "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=100000,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=255$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$pbkdf2-sha256$4000000000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
            "$pbkdf2-sha256$i=4000000000,l=32$c2FsdHNhbHQ$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
        ];
        for hash in hashes {
            assert!(!verify_password(b"password", hash), "{hash}");
        }
    }
}

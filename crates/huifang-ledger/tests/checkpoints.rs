//! Signed notes, key strings and checkpoints, including known answers from
//! the Go `sumdb/note` package's own tests.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use huifang_ledger::{
    Checkpoint, LedgerError, Signer, Verifier, ed25519_key_id, leaf_hash, open_checkpoint,
    open_note, root, sign_note,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

// Keys and notes published in the tests of golang.org/x/mod/sumdb/note.
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter() -> Verifier {
    Verifier::from_key_string(PETER_VKEY).unwrap()
}

fn signer(name: &str, seed: u64) -> Signer {
    Signer::generate(name, &mut StdRng::seed_from_u64(seed)).unwrap()
}

fn checkpoint() -> Checkpoint {
    let leaves: Vec<_> = (0u32..1000).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    Checkpoint::new("huifang.example/ledger", 1000, root(&leaves))
}

// --- Known answers ----------------------------------------------------------

#[test]
fn go_note_opens_with_go_key() {
    let note = format!("{TEXT}\n{PETER_SIG}");
    assert_eq!(open_note(&note, &peter()).unwrap(), TEXT);
}

#[test]
fn go_key_strings_and_key_id() {
    let verifier = peter();
    assert_eq!(verifier.name(), "PeterNeumann");
    assert_eq!(verifier.key_id(), 0xc74f20a3);
    assert_eq!(
        ed25519_key_id("PeterNeumann", &verifier.public_key()),
        0xc74f20a3
    );
    assert_eq!(verifier.to_key_string(), PETER_VKEY);
    assert_eq!(verifier.to_string(), PETER_VKEY);
    assert_eq!(PETER_VKEY.parse::<Verifier>().unwrap(), verifier);

    let signer = Signer::from_key_string(PETER_SKEY).unwrap();
    assert_eq!(signer.key_id(), 0xc74f20a3);
    assert_eq!(signer.to_key_string(), PETER_SKEY);
    assert_eq!(signer.verifier_key_string(), PETER_VKEY);
    assert_eq!(signer.verifier(), verifier);

    let enoch = Verifier::from_key_string(ENOCH_VKEY).unwrap();
    assert_eq!(enoch.key_id(), 0xaf0cfe78);
    assert_eq!(ed25519_key_id("EnochRoot", &enoch.public_key()), 0xaf0cfe78);
}

#[test]
fn signing_reproduces_go_output_byte_for_byte() {
    let signer = Signer::from_key_string(PETER_SKEY).unwrap();
    assert_eq!(
        signer.sign_note(TEXT).unwrap(),
        format!("{TEXT}\n{PETER_SIG}")
    );
    assert_eq!(
        sign_note(TEXT, &signer).unwrap(),
        format!("{TEXT}\n{PETER_SIG}")
    );
}

#[test]
fn go_notes_with_several_signatures() {
    let enoch = Verifier::from_key_string(ENOCH_VKEY).unwrap();
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(open_note(&both, &peter()).unwrap(), TEXT);
    assert_eq!(open_note(&both, &enoch).unwrap(), TEXT);

    let only_enoch = format!("{TEXT}\n{ENOCH_SIG}");
    assert!(matches!(
        open_note(&only_enoch, &peter()),
        Err(LedgerError::NoSignatureFromKey {
            key_id: 0xc74f20a3,
            ..
        })
    ));

    // A corrupted signature by the known key rejects the whole note, even
    // next to a good one.
    let corrupted = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    for note in [
        format!("{TEXT}\n{corrupted}"),
        format!("{TEXT}\n{PETER_SIG}{corrupted}"),
    ] {
        assert!(matches!(
            open_note(&note, &peter()),
            Err(LedgerError::BadSignature {
                key_id: 0xc74f20a3,
                ..
            })
        ));
    }
    // Unknown keys' lines, even corrupted or repeated, are ignored.
    let enoch_corrupted = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let note = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_corrupted}");
    assert_eq!(open_note(&note, &peter()).unwrap(), TEXT);
    // Same name, other id; same id, other name: other keys.
    let renamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
    assert!(matches!(
        open_note(&format!("{TEXT}\n{renamed}"), &peter()),
        Err(LedgerError::NoSignatureFromKey { .. })
    ));
    let other_id = PETER_SIG.replace("x08g", "xxxx");
    assert!(matches!(
        open_note(&format!("{TEXT}\n{other_id}"), &peter()),
        Err(LedgerError::NoSignatureFromKey { .. })
    ));
}

#[test]
fn malformed_notes_from_go_tests() {
    let bad = [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!(
            "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
        format!("{TEXT}\n{}", PETER_SIG.repeat(101)),
        format!("{TEXT}\n— PeterNeumann\n"),
        format!("{TEXT}\n— PeterNeumann \n"),
        format!("{TEXT}\n— PeterNeumann AAAA\n"),
        format!("{TEXT}\n— PeterNeumann !!!!\n"),
        format!(
            "{TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        ),
        format!("{TEXT}\r\n{PETER_SIG}"),
    ];
    for note in &bad {
        let result = open_note(note, &peter());
        assert!(
            matches!(result, Err(LedgerError::MalformedNote(_))),
            "{note:?} gave {result:?}"
        );
    }
    // 100 lines are fine (C2SP requires accepting at least 16).
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(100));
    assert_eq!(open_note(&many, &peter()).unwrap(), TEXT);
}

#[test]
fn mangled_key_strings_are_rejected() {
    // Every proper substring and every single-byte increment, as in the Go tests.
    for key in [PETER_VKEY, PETER_SKEY] {
        let parse = |s: &str| {
            if key.starts_with("PRIVATE") {
                Signer::from_key_string(s).map(|_| ())
            } else {
                Verifier::from_key_string(s).map(|_| ())
            }
        };
        assert!(parse(key).is_ok());
        let bytes = key.as_bytes();
        for i in 0..=bytes.len() {
            for j in i + 1..=bytes.len() {
                if i != 0 || j != bytes.len() {
                    let part = std::str::from_utf8(&bytes[i..j]).unwrap();
                    assert!(parse(part).is_err(), "{part:?} accepted");
                }
            }
        }
        for i in 0..bytes.len() {
            let mut mangled = bytes.to_vec();
            mangled[i] += 1;
            let mangled = String::from_utf8(mangled).unwrap();
            assert!(parse(&mangled).is_err(), "{mangled:?} accepted");
        }
    }
    // Wrong key length and unknown algorithm, with matching key ids.
    assert!(matches!(
        Verifier::from_key_string(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(LedgerError::MalformedKey(_))
    ));
    assert!(matches!(
        Verifier::from_key_string(
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        ),
        Err(LedgerError::UnsupportedAlgorithm(0x65))
    ));
    assert!(matches!(
        Verifier::from_key_string(
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        ),
        Err(LedgerError::KeyIdMismatch {
            declared: 0xc74f20a4,
            computed: 0xc74f20a3
        })
    ));
}

// --- Keys ---------------------------------------------------------------------

#[test]
fn key_string_round_trip() {
    for seed in 0..20 {
        let s = signer("huifang.example/ledger", seed);
        let restored = Signer::from_key_string(&s.to_key_string()).unwrap();
        assert_eq!(restored.to_key_string(), s.to_key_string());
        assert_eq!(restored.key_id(), s.key_id());
        let v = Verifier::from_key_string(&s.verifier_key_string()).unwrap();
        assert_eq!(v, s.verifier());
        assert_eq!(v.key_id(), ed25519_key_id(s.name(), &v.public_key()));
        assert_eq!(Verifier::new(s.name(), &v.public_key()).unwrap(), v);
        assert!(
            s.to_key_string()
                .starts_with("PRIVATE+KEY+huifang.example/ledger+")
        );
    }
    // The same key under two names has two ids.
    let a = Signer::from_seed("a", &[1; 32]).unwrap();
    let b = Signer::from_seed("b", &[1; 32]).unwrap();
    assert_ne!(a.key_id(), b.key_id());
}

#[test]
fn invalid_key_names_are_rejected() {
    for name in ["", "with space", "with+plus", "tab\there", "new\nline"] {
        assert!(matches!(
            Signer::from_seed(name, &[3; 32]),
            Err(LedgerError::InvalidKeyName(_))
        ));
        assert!(Signer::generate(name, &mut StdRng::seed_from_u64(0)).is_err());
    }
}

// --- Checkpoints --------------------------------------------------------------

#[test]
fn checkpoint_round_trip() {
    let s = signer("huifang.example/ledger", 42);
    let v = s.verifier();
    let cp = checkpoint();
    let note = cp.sign(&s).unwrap();
    let body = format!("huifang.example/ledger\n1000\n{}\n", BASE64.encode(cp.root));
    assert!(
        note.starts_with(&format!("{body}\n— huifang.example/ledger ")),
        "{note}"
    );
    assert!(note.ends_with('\n'));
    assert_eq!(cp.to_note_text().unwrap(), body);
    assert_eq!(open_checkpoint(&note, &v).unwrap(), cp);

    for cp in [
        Checkpoint::new("o", 0, huifang_ledger::EMPTY_ROOT),
        Checkpoint::new("ö/ü", u64::MAX, [0xff; 32]),
    ] {
        assert_eq!(open_checkpoint(&cp.sign(&s).unwrap(), &v).unwrap(), cp);
    }
}

#[test]
fn checkpoint_text_matches_the_c2sp_example() {
    let root: [u8; 32] = BASE64
        .decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
        .unwrap()
        .try_into()
        .unwrap();
    let cp = Checkpoint::new("example.com/behind-the-sofa", 20852163, root);
    let text =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_eq!(cp.to_note_text().unwrap(), text);
    assert_eq!(Checkpoint::from_note_text(text).unwrap(), cp);
}

#[test]
fn tampered_checkpoints_are_rejected() {
    let s = signer("huifang.example/ledger", 7);
    let v = s.verifier();
    let cp = checkpoint();
    let note = cp.sign(&s).unwrap();
    let root_b64 = BASE64.encode(cp.root);

    let mut other_root = cp.root;
    other_root[31] ^= 1;
    let tampered = [
        note.replace("\n1000\n", "\n1001\n"),
        note.replace("\n1000\n", "\n999\n"),
        note.replace(&root_b64, &BASE64.encode(other_root)),
        note.replacen("huifang.example/ledger\n", "huifang.example/ledgeR\n", 1),
        note.replacen(
            "huifang.example/ledger\n",
            "huifang.example/ledger\nextension\n",
            1,
        ),
    ];
    for bad in &tampered {
        assert_ne!(bad, &note);
        assert!(
            matches!(
                open_checkpoint(bad, &v),
                Err(LedgerError::BadSignature { .. })
            ),
            "{bad:?} gave {:?}",
            open_checkpoint(bad, &v)
        );
    }

    // Every bit of the signature itself, and of the key id.
    let (head, sig_line) = note.rsplit_once("— huifang.example/ledger ").unwrap();
    let raw = BASE64.decode(sig_line.trim_end()).unwrap();
    for bit in 0..raw.len() * 8 {
        let mut flipped = raw.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let bad = format!(
            "{head}— huifang.example/ledger {}\n",
            BASE64.encode(&flipped)
        );
        let result = open_checkpoint(&bad, &v);
        if bit < 32 {
            assert!(
                matches!(result, Err(LedgerError::NoSignatureFromKey { .. })),
                "bit {bit}"
            );
        } else {
            assert!(
                matches!(result, Err(LedgerError::BadSignature { .. })),
                "bit {bit}"
            );
        }
    }
    // Truncated or extended signature.
    for len in [5, 67] {
        let bad = format!(
            "{head}— huifang.example/ledger {}\n",
            BASE64.encode(&raw[..len])
        );
        assert!(matches!(
            open_checkpoint(&bad, &v),
            Err(LedgerError::BadSignature { .. })
        ));
    }
    let mut longer = raw.clone();
    longer.push(0);
    let bad = format!(
        "{head}— huifang.example/ledger {}\n",
        BASE64.encode(&longer)
    );
    assert!(matches!(
        open_checkpoint(&bad, &v),
        Err(LedgerError::BadSignature { .. })
    ));
}

#[test]
fn unknown_keys_alone_are_rejected_and_cosignatures_accepted() {
    let log = signer("huifang.example/ledger", 1);
    let impostor = signer("huifang.example/ledger", 2); // same name, other key
    let witness = signer("witness.example/w1", 3);
    let cp = checkpoint();

    let by_impostor = cp.sign(&impostor).unwrap();
    assert!(matches!(
        open_checkpoint(&by_impostor, &log.verifier()),
        Err(LedgerError::NoSignatureFromKey { .. })
    ));

    // A note signed by the log and cosigned by a witness opens with either key.
    let by_log = cp.sign(&log).unwrap();
    let witness_line = cp
        .sign(&witness)
        .unwrap()
        .rsplit_once("\n\n")
        .unwrap()
        .1
        .to_owned();
    for cosigned in [format!("{by_log}{witness_line}"), {
        let (body, log_line) = by_log.rsplit_once("\n\n").unwrap();
        format!("{body}\n\n{witness_line}{log_line}")
    }] {
        assert_eq!(open_checkpoint(&cosigned, &log.verifier()).unwrap(), cp);
        assert_eq!(open_checkpoint(&cosigned, &witness.verifier()).unwrap(), cp);
        assert!(open_checkpoint(&cosigned, &impostor.verifier()).is_err());
    }
}

#[test]
fn malformed_checkpoint_bodies_are_rejected() {
    let s = signer("log", 5);
    let v = s.verifier();
    let root_b64 = BASE64.encode([7u8; 32]);
    let bad_bodies = [
        format!("\n5\n{root_b64}\n"),
        "log\n5\n".to_owned(),
        "log\n".to_owned(),
        format!("log\n05\n{root_b64}\n"),
        format!("log\n+5\n{root_b64}\n"),
        format!("log\n-5\n{root_b64}\n"),
        format!("log\n 5\n{root_b64}\n"),
        format!("log\n5 \n{root_b64}\n"),
        format!("log\n\n{root_b64}\n"),
        format!("log\n0x5\n{root_b64}\n"),
        format!("log\n18446744073709551616\n{root_b64}\n"),
        "log\n5\nnot-base64\n".to_owned(),
        format!("log\n5\n{}\n", root_b64.trim_end_matches('=')),
        format!("log\n5\n{}\n", BASE64.encode([7u8; 31])),
        format!("log\n5\n{}\n", BASE64.encode([7u8; 33])),
        format!("log\n5\n{}\n", hex::encode([7u8; 32])),
        format!("log\n5\n{root_b64}\n\nextension\n"),
    ];
    for body in &bad_bodies {
        assert!(
            matches!(
                Checkpoint::from_note_text(body),
                Err(LedgerError::MalformedCheckpoint(_))
            ),
            "{body:?}"
        );
        // Validly signed, still rejected.
        if let Ok(note) = s.sign_note(body) {
            assert!(open_checkpoint(&note, &v).is_err(), "{body:?}");
        }
    }
    // Extension lines are allowed and do not change the checkpoint.
    let with_extension = format!("log\n5\n{root_b64}\nextension one\nextension two\n");
    let note = s.sign_note(&with_extension).unwrap();
    assert_eq!(
        open_checkpoint(&note, &v).unwrap(),
        Checkpoint::new("log", 5, [7; 32])
    );

    // Origins that cannot be written.
    for origin in ["", "two\nlines", "tab\tin"] {
        assert!(matches!(
            Checkpoint::new(origin, 1, [0; 32]).sign(&s),
            Err(LedgerError::InvalidOrigin(_))
        ));
    }
    assert!(s.sign_note("no final newline").is_err());
}

#[test]
fn error_messages_are_readable() {
    let v = peter();
    let err = open_note(&format!("{TEXT}\n{ENOCH_SIG}"), &v).unwrap_err();
    assert_eq!(
        err.to_string(),
        "note has no signature from key PeterNeumann+c74f20a3"
    );
    let err = Checkpoint::from_note_text("log\n007\nAAAA\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed checkpoint: tree size must be a decimal number without sign or leading zeros"
    );
}

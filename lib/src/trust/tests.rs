//! Signatures and freshness, table-driven with keys made on the spot.

use super::*;
use crate::graph::UpdateGraph;

struct Signer {
    pk: minisign::PublicKey,
    sk: minisign::SecretKey,
}

fn signer() -> Signer {
    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    Signer {
        pk: kp.pk,
        sk: kp.sk,
    }
}

impl Signer {
    fn sign(&self, bytes: &[u8]) -> Vec<u8> {
        minisign::sign(Some(&self.pk), &self.sk, Cursor::new(bytes), None, None)
            .unwrap()
            .to_string()
            .into_bytes()
    }

    fn keys(&self) -> Keys {
        Keys::from_text("test.pub", &self.pk.to_base64()).unwrap()
    }
}

const GRAPH: &[u8] = b"apiVersion: bootc-checkpoint/v1\nkind: UpdateGraph\n";

#[test]
fn signatures() {
    let good = signer();
    let other = signer();
    let sig = good.sign(GRAPH);
    let keys = good.keys();
    assert!(matches!(
        verify("s", GRAPH, Some(&sig), &keys, true),
        Ok(Verdict::Signed { .. })
    ));
    assert_eq!(
        verify("s", GRAPH, None, &keys, false),
        Ok(Verdict::Unsigned)
    );
    let cases: Vec<(&str, Result<Verdict, TrustError>, &str)> = vec![
        (
            "unsigned, required",
            verify("s", GRAPH, None, &keys, true),
            "is not signed",
        ),
        (
            "other key",
            verify("s", GRAPH, Some(&other.sign(GRAPH)), &keys, false),
            "not among the trusted keys",
        ),
        (
            "tampered bytes",
            verify("s", b"apiVersion: x\n", Some(&sig), &keys, false),
            "signature is not valid",
        ),
        (
            "garbage",
            verify("s", GRAPH, Some(b"hello"), &keys, false),
            "not a minisign signature",
        ),
        (
            "non-UTF-8",
            verify("s", GRAPH, Some(&[0xff, 0xfe]), &keys, false),
            "not UTF-8",
        ),
    ];
    for (name, got, want) in cases {
        let e = got.expect_err(name).to_string();
        assert!(e.contains(want), "{name}: {e}");
    }
}

fn graph(serial: Option<u64>, checkpoints: &[&str], expires: Option<&str>) -> UpdateGraph {
    let mut text = String::from(
        "apiVersion: bootc-checkpoint/v1\nkind: UpdateGraph\nmetadata:\n  stream: s\n",
    );
    if let Some(s) = serial {
        text.push_str(&format!("  serial: {s}\n"));
    }
    if let Some(e) = expires {
        text.push_str(&format!("  expires: {e}\n"));
    }
    text.push_str("releases:\n");
    for v in ["1", "2", "3"] {
        text.push_str(&format!(
            "  - version: \"{v}\"\n    commit: {}\n",
            v.repeat(64)
        ));
        if checkpoints.contains(&v) {
            text.push_str("    checkpoint: {reason: https://x}\n");
        }
    }
    UpdateGraph::parse(text.as_bytes(), "t").unwrap().graph
}

#[test]
fn freshness() {
    let now: DateTime<Utc> = "2026-12-04T00:00:00Z".parse().unwrap();
    let prev = Previous {
        serial: Some(5),
        digest: "sha256:prev".into(),
        checkpoints: vec!["2".into()],
    };
    let signed = Verdict::Signed { key_id: "X".into() };
    let unsigned = Verdict::Unsigned;
    let ok = |g: &UpdateGraph, v: &Verdict, d: &str| check_fresh("s", g, d, v, Some(&prev), now);
    assert_eq!(
        ok(&graph(Some(6), &["2"], None), &unsigned, "sha256:new"),
        Ok(())
    );
    // The same bytes again are fine, whatever the serial says.
    assert_eq!(
        ok(&graph(Some(5), &["2"], None), &unsigned, "sha256:prev"),
        Ok(())
    );
    assert_eq!(
        ok(&graph(Some(6), &[], None), &signed, "sha256:new"),
        Ok(())
    );
    let refused = [
        (
            ok(&graph(Some(4), &["2"], None), &signed, "sha256:new"),
            "serial 4 is below 5",
        ),
        (
            ok(&graph(None, &["2"], None), &signed, "sha256:new"),
            "serial (none) is below 5",
        ),
        (
            ok(&graph(Some(5), &["2"], None), &signed, "sha256:new"),
            "already accepted",
        ),
        (
            ok(&graph(Some(6), &[], None), &unsigned, "sha256:new"),
            "drops checkpoint(s) 2",
        ),
        (
            ok(
                &graph(Some(6), &["2"], Some("2026-12-03T00:00:00Z")),
                &signed,
                "sha256:new",
            ),
            "expired at 2026-12-03",
        ),
    ];
    for (got, want) in refused {
        let e = got.expect_err(want).to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
    // No previous graph: only expiry applies.
    assert_eq!(
        check_fresh("s", &graph(Some(1), &[], None), "d", &unsigned, None, now),
        Ok(())
    );
}

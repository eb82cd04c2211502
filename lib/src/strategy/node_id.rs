//! The node's FleetLock `node_uuid`: an application-specific id derived from `/etc/machine-id`
//! exactly as systemd's `sd_id128_get_machine_app_specific()` does (and Zincati, with its own
//! application id), so the machine id itself never leaves the host and
//! `systemd-id128 machine-id --app-specific=APP_ID` prints the same value.

use std::path::Path;

use anyhow::{Context, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// bootc-checkpoint's application id (fixed forever; changing it would make every node look
/// new to the lock server). Zincati's is `de35106b6ec24688b63afddaa156679b`.
pub const APP_ID: &str = "baf8d1dcbf854344a7de7cef18a4c275";

/// Parse a machine id: 32 hex digits, surrounding whitespace allowed.
pub fn parse_id128(text: &str) -> Result<[u8; 16], String> {
    let s = text.trim();
    let mut id = [0u8; 16];
    if s.len() != 32 || hex::decode_to_slice(s, &mut id).is_err() {
        return Err(format!("{s:?} is not a 128-bit id in 32 hex digits"));
    }
    Ok(id)
}

/// HMAC-SHA256 keyed with the machine id over the app id, first 16 bytes, marked as a
/// version-4 UUID; 32 lowercase hex digits.
pub fn app_specific(machine_id: [u8; 16], app_id: [u8; 16]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&machine_id).expect("HMAC takes any key length");
    mac.update(&app_id);
    let digest = mac.finalize().into_bytes();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    hex::encode(id)
}

/// The `node_uuid` of the host whose machine id is in `machine_id_file`.
pub fn node_uuid(machine_id_file: &Path) -> Result<String> {
    let text = std::fs::read_to_string(machine_id_file)
        .with_context(|| format!("reading the machine id {}", machine_id_file.display()))?;
    let machine = parse_id128(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("machine id {}", machine_id_file.display()))?;
    let app = parse_id128(APP_ID).expect("APP_ID is a valid id");
    Ok(app_specific(machine, app))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values printed by `systemd-id128 machine-id --app-specific=APP` (systemd 252)
    /// on a host with that machine id.
    #[test]
    fn matches_systemd() {
        let table = [
            (
                "3d1219c7c4c5404aaa1f6d2a48adfda4",
                APP_ID,
                "2f1e83a8eda0401987166e65011b9b67",
            ),
            (
                "3d1219c7c4c5404aaa1f6d2a48adfda4",
                "de35106b6ec24688b63afddaa156679b",
                "975228d46dc94622b9bbe16671e2b58d",
            ),
        ];
        for (machine, app, want) in table {
            let got = app_specific(parse_id128(machine).unwrap(), parse_id128(app).unwrap());
            assert_eq!(got, want, "{machine} / {app}");
        }
    }

    #[test]
    fn machine_ids_are_checked() {
        for (text, ok) in [
            ("3d1219c7c4c5404aaa1f6d2a48adfda4\n", true),
            ("  3D1219C7C4C5404AAA1F6D2A48ADFDA4 ", true),
            ("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4", false),
            ("", false),
            ("uninitialized\n", false),
            ("3d1219c7c4c5404aaa1f6d2a48adfdaz", false),
        ] {
            assert_eq!(parse_id128(text).is_ok(), ok, "{text:?}");
        }
    }
}

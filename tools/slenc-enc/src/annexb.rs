// SPDX-License-Identifier: GPL-2.0
//! A look at the Annex-B payload the driver returns: which NAL units it holds, so the tool can
//! say when a frame's bytes disagree with the frame type it asked for.

/// NAL unit types we name.
pub const NAL_SLICE: u8 = 1;
pub const NAL_IDR: u8 = 5;
#[cfg(test)]
pub const NAL_SPS: u8 = 7;
#[cfg(test)]
pub const NAL_PPS: u8 = 8;

/// The `nal_unit_type` of every NAL unit in an Annex-B byte stream (3- or 4-byte start codes).
/// Bytes before the first start code are ignored; an empty result means no start code at all.
pub fn nal_types(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            if let Some(&h) = data.get(i + 3) {
                out.push(h & 0x1f);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// Checks a CAPTURE payload against the frame type asked for: it must start with a start code
/// and carry exactly the slice kind of the frame (IDR slices for an IDR, non-IDR ones for a P
/// frame). Returns a description of the problem, if any.
pub fn check_frame(data: &[u8], idr: bool) -> Option<String> {
    if data.is_empty() {
        return Some("empty payload".into());
    }
    if !(data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1])) {
        return Some(format!(
            "payload does not start with an Annex-B start code (first bytes {:02x?})",
            &data[..data.len().min(4)]
        ));
    }
    let types = nal_types(data);
    let want = if idr { NAL_IDR } else { NAL_SLICE };
    let other = if idr { NAL_SLICE } else { NAL_IDR };
    if !types.contains(&want) {
        return Some(format!(
            "no {} slice NAL unit in the payload (NAL types {:?})",
            if idr { "IDR" } else { "non-IDR" },
            types
        ));
    }
    if types.contains(&other) {
        return Some(format!(
            "mixed IDR and non-IDR slices (NAL types {types:?})"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nal_types() {
        let s = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 0x88, 0, 0, 3, 1,
        ];
        assert_eq!(nal_types(&s), vec![NAL_SPS, NAL_PPS, NAL_IDR]);
        assert_eq!(nal_types(&[1, 2, 3]), Vec::<u8>::new());
    }

    #[test]
    fn checks_frames() {
        let idr = [0, 0, 0, 1, 0x67, 0, 0, 1, 0x68, 0, 0, 1, 0x65, 0x88];
        let p = [0, 0, 0, 1, 0x41, 0x9a];
        assert_eq!(check_frame(&idr, true), None);
        assert_eq!(check_frame(&p, false), None);
        assert!(check_frame(&p, true).unwrap().contains("IDR"));
        assert!(check_frame(&idr, false).unwrap().contains("non-IDR"));
        assert!(check_frame(&[0x41, 0x9a], false)
            .unwrap()
            .contains("start code"));
        assert!(check_frame(&[], false).unwrap().contains("empty"));
    }
}

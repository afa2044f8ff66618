//! Hooks for the cargo-fuzz targets in `fuzz/`. Each panics only on a real bug.

use crate::filter::unescape_filter_value;
use crate::{PpolicyResponse, ad_data_code, ad_verdict, escape_filter_value};

/// AD diagnostic parser: never panics, and a parsed code is consistent with the text.
pub fn ad_diagnostic(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let code = ad_data_code(&text);
    let _ = ad_verdict(&text);
    if code.is_some() {
        assert!(text.contains("data "));
    }
}

/// Password-policy control: decode; anything decoded encodes to bytes that decode to the same
/// value.
pub fn ppolicy_control(data: &[u8]) {
    if let Ok(value) = PpolicyResponse::decode(data) {
        let mut buf = Vec::new();
        value.encode(&mut buf);
        assert_eq!(PpolicyResponse::decode(&buf), Ok(value));
    }
}

/// Filter escaping: the output has no filter metacharacters and unescapes to the input.
pub fn filter_escape(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let escaped = escape_filter_value(&text);
    assert!(!escaped.contains(['*', '(', ')', '\0']));
    assert_eq!(unescape_filter_value(&escaped).as_deref(), Some(&*text));
}

//! Hooks for the cargo-fuzz targets in `fuzz/`. Each panics only on a real bug.

use crate::dn::{unescape_dn_value, unescaped_special};
use crate::filter::unescape_filter_value;
use crate::{
    DnTemplate, PpolicyResponse, ad_data_code, ad_verdict, escape_dn_value, escape_filter_value,
};

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

/// DN templates and RFC 4514 escaping: parsing any template never panics; the escaped login
/// unescapes to the input and has no unescaped structural character; a template built from
/// the input's first line puts the login in exactly one value.
pub fn dn_template(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (template, login) = text.split_once('\n').unwrap_or((&text, "alice"));
    let escaped = escape_dn_value(login);
    assert_eq!(unescape_dn_value(&escaped).as_deref(), Some(login));
    assert_eq!(unescaped_special(&escaped), None, "{escaped:?}");
    if let Ok(t) = DnTemplate::parse(template) {
        match t.dn_for(login) {
            None => assert!(login.is_empty()),
            Some(dn) => {
                let at = template.find(crate::LOGIN_PLACEHOLDER);
                assert!(at.is_some_and(|at| dn.get(at..at + escaped.len()) == Some(&*escaped)));
                assert_eq!(
                    dn.len(),
                    template.len() - crate::LOGIN_PLACEHOLDER.len() + escaped.len()
                );
            }
        }
    }
}

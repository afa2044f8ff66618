//! RFC 4515 escaping of assertion values in search filters.

/// Escapes `value` for use as an assertion value in an LDAP search filter (RFC 4515
/// section 3): `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c` and `\00`, so a
/// login such as `*` or `alice)(uid=*` matches only an entry with exactly that value.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`escape_filter_value`] (only the escapes it produces), for tests and fuzzing.
pub(crate) fn unescape_filter_value(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code {
            "2a" => '*',
            "28" => '(',
            "29" => ')',
            "5c" => '\\',
            "00" => '\0',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn injection_attempts_are_neutralised() {
        assert_eq!(escape_filter_value("*"), "\\2a");
        assert_eq!(escape_filter_value("alice)(uid=*"), "alice\\29\\28uid=\\2a");
        assert_eq!(escape_filter_value("a\0"), "a\\00");
        assert_eq!(
            escape_filter_value("*)(|(mail=*"),
            "\\2a\\29\\28|\\28mail=\\2a"
        );
        assert_eq!(escape_filter_value("C:\\x"), "C:\\5cx");
        assert_eq!(
            escape_filter_value("bjørn@example.test"),
            "bjørn@example.test"
        );
    }

    proptest! {
        #[test]
        fn escaped_values_have_no_special_characters_and_round_trip(s in ".*") {
            let e = escape_filter_value(&s);
            prop_assert!(!e.contains(['*', '(', ')', '\0']));
            prop_assert_eq!(unescape_filter_value(&e), Some(s));
        }
    }
}

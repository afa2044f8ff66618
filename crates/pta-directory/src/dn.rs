//! RFC 4514 escaping of attribute values in distinguished names, and DN templates.

use crate::{DirectoryError, Misconfiguration};

/// The placeholder a [`DnTemplate`] replaces with the escaped login.
pub const LOGIN_PLACEHOLDER: &str = "{login}";

/// Escapes `value` for use as an attribute value in a distinguished name (RFC 4514 section
/// 2.4): `"`, `+`, `,`, `;`, `<`, `>`, `\` and `=` get a backslash, a leading space or `#`
/// and a trailing space get one too, and NUL becomes `\00`. So a login such as
/// `alice,ou=admins` stays one attribute value and can never name another entry.
pub fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut chars = value.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let edge = first || chars.peek().is_none();
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            '#' if first => out.push_str("\\#"),
            ' ' if edge => out.push_str("\\ "),
            c => out.push(c),
        }
        first = false;
    }
    out
}

/// The first character of `escaped` that would end or split the attribute value (`,`, `+`,
/// `=`, `;`, `"`, `<`, `>`, NUL) without a backslash before it; `None` when there is none.
/// For tests and fuzzing.
pub(crate) fn unescaped_special(escaped: &str) -> Option<char> {
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let _ = chars.next();
            }
            ',' | '+' | '=' | ';' | '"' | '<' | '>' | '\0' => return Some(c),
            _ => {}
        }
    }
    None
}

/// Reverses [`escape_dn_value`] (only the escapes it produces), for tests and fuzzing.
pub(crate) fn unescape_dn_value(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '0' => {
                if chars.next()? != '0' {
                    return None;
                }
                out.push('\0');
            }
            c @ ('"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' | '#' | ' ') => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// A bind DN with one `{login}` placeholder, such as `uid={login},ou=people,dc=example,dc=org`:
/// the login, escaped as a DN attribute value, takes the placeholder's place. It lets a
/// directory whose users' DNs follow from their login check a password with one bind, without
/// a search or a service account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DnTemplate {
    prefix: String,
    suffix: String,
}

impl DnTemplate {
    /// Checks `template`: exactly one `{login}`, which must be a whole attribute value
    /// (right after `=`, followed by `,`, `+` or the end), and no other brace.
    ///
    /// # Errors
    ///
    /// [`DirectoryError::Misconfigured`] with [`Misconfiguration::BadDnTemplate`].
    pub fn parse(template: &str) -> Result<Self, DirectoryError> {
        let bad = || DirectoryError::Misconfigured(Misconfiguration::BadDnTemplate);
        let at = template.find(LOGIN_PLACEHOLDER).ok_or_else(bad)?;
        let prefix = &template[..at];
        let suffix = &template[at + LOGIN_PLACEHOLDER.len()..];
        if prefix.contains(['{', '}']) || suffix.contains(['{', '}']) {
            return Err(bad());
        }
        let type_before = prefix
            .strip_suffix('=')
            .map(|p| p.rsplit([',', '+']).next().unwrap_or(p).trim());
        if !type_before.is_some_and(|t| !t.is_empty() && !t.contains(['=', ' ']))
            || !(suffix.is_empty() || suffix.starts_with([',', '+']))
        {
            return Err(bad());
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The DN for `login`; `None` for an empty login, which names no entry.
    pub fn dn_for(&self, login: &str) -> Option<String> {
        if login.is_empty() {
            return None;
        }
        let value = escape_dn_value(login);
        let mut dn = String::with_capacity(self.prefix.len() + value.len() + self.suffix.len());
        dn.push_str(&self.prefix);
        dn.push_str(&value);
        dn.push_str(&self.suffix);
        Some(dn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn structure_characters_are_escaped() {
        assert_eq!(escape_dn_value("alice"), "alice");
        assert_eq!(escape_dn_value("alice,ou=admins"), "alice\\,ou\\=admins");
        assert_eq!(escape_dn_value("a+cn=b"), "a\\+cn\\=b");
        assert_eq!(escape_dn_value("#1"), "\\#1");
        assert_eq!(escape_dn_value("a#1"), "a#1");
        assert_eq!(escape_dn_value(" a "), "\\ a\\ ");
        assert_eq!(escape_dn_value(" "), "\\ ");
        assert_eq!(escape_dn_value("a b"), "a b");
        assert_eq!(escape_dn_value("x\0"), "x\\00");
        assert_eq!(escape_dn_value("\"<;>\\"), "\\\"\\<\\;\\>\\\\");
        assert_eq!(escape_dn_value("bjørn"), "bjørn");
        assert_eq!(unescaped_special("a,b"), Some(','));
        assert_eq!(unescaped_special("a\\\\+b"), Some('+'));
        assert_eq!(unescaped_special("a\\,b\\+c\\00"), None);
    }

    #[test]
    fn templates_are_checked() {
        let t = DnTemplate::parse("uid={login},ou=people,dc=example,dc=test").unwrap();
        assert_eq!(
            t.dn_for("alice").as_deref(),
            Some("uid=alice,ou=people,dc=example,dc=test")
        );
        assert_eq!(
            t.dn_for("alice,ou=admins").as_deref(),
            Some("uid=alice\\,ou\\=admins,ou=people,dc=example,dc=test")
        );
        assert_eq!(t.dn_for(""), None);
        let t = DnTemplate::parse("cn={login}").unwrap();
        assert_eq!(t.dn_for("x").as_deref(), Some("cn=x"));
        assert!(DnTemplate::parse("cn=a+uid={login},dc=test").is_ok());
        for bad in [
            "",
            "uid=alice,dc=test",
            "{login}",
            "{login},dc=test",
            "uid={login}{login},dc=test",
            "uid={login},cn={login}",
            "uid=x{login},dc=test",
            "uid={login}x,dc=test",
            "uid={login},cn={user}",
            "={login},dc=test",
            "ou=a,={login}",
            "u id={login}",
            "uid={LOGIN},dc=test",
        ] {
            assert!(
                matches!(
                    DnTemplate::parse(bad),
                    Err(DirectoryError::Misconfigured(
                        Misconfiguration::BadDnTemplate
                    ))
                ),
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn escaping_round_trips_and_keeps_one_value(value in "\\PC{0,40}|[ #,+=;<>\"\\\\a\\x00]{0,12}") {
            let escaped = escape_dn_value(&value);
            prop_assert_eq!(unescape_dn_value(&escaped), Some(value.clone()));
            // Every structural character is escaped: a DN parser splitting on unescaped ',' or
            // '+' sees one value.
            prop_assert_eq!(unescaped_special(&escaped), None, "{:?}", escaped);
            prop_assert!(!escaped.starts_with([' ', '#']));
            prop_assert!(!escaped.ends_with(' ') || escaped.ends_with("\\ "));
        }
    }
}

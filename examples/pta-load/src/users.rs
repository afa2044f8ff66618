//! Login lists: a pattern with one numeric range, or a file.

use std::sync::Arc;

/// Logins to cycle through.
#[derive(Clone)]
pub(crate) struct UserSet {
    logins: Arc<Vec<String>>,
}

/// At most this many logins from one pattern or file.
const MAX_USERS: u64 = 1_000_000;

impl UserSet {
    /// `pre{00000..00299}post` (zero-padded to the width of the first bound), a plain login,
    /// or `@FILE` with one login per line.
    pub(crate) fn parse(spec: &str) -> Result<Self, String> {
        let logins = if let Some(path) = spec.strip_prefix('@') {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        } else {
            expand(spec)?
        };
        if logins.is_empty() {
            return Err(format!("no logins in {spec}"));
        }
        if logins.len() as u64 > MAX_USERS {
            return Err(format!("more than {MAX_USERS} logins in {spec}"));
        }
        Ok(Self {
            logins: Arc::new(logins),
        })
    }

    /// Login `i` modulo the set's size.
    pub(crate) fn get(&self, i: u64) -> (usize, &str) {
        let n = (i % self.logins.len() as u64) as usize;
        (n, self.logins.get(n).map_or("", String::as_str))
    }
}

fn expand(spec: &str) -> Result<Vec<String>, String> {
    let Some(open) = spec.find('{') else {
        return Ok(vec![spec.to_owned()]);
    };
    let close = spec[open..]
        .find('}')
        .map(|c| open + c)
        .ok_or_else(|| format!("unclosed {{ in {spec}"))?;
    let range = &spec[open + 1..close];
    let (lo, hi) = range
        .split_once("..")
        .ok_or_else(|| format!("expected {{LOW..HIGH}} in {spec}"))?;
    let width = lo.len();
    let lo: u64 = lo.parse().map_err(|_| format!("bad range in {spec}"))?;
    let hi: u64 = hi.parse().map_err(|_| format!("bad range in {spec}"))?;
    if hi < lo || hi - lo >= MAX_USERS {
        return Err(format!("range empty or over {MAX_USERS} in {spec}"));
    }
    let (pre, post) = (&spec[..open], &spec[close + 1..]);
    Ok((lo..=hi)
        .map(|i| format!("{pre}{i:0width$}{post}"))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pattern_expands_with_padding() {
        let set = UserSet::parse("uid=bulk{00008..00011},ou=bulk").unwrap();
        assert_eq!(set.logins.len(), 4);
        assert_eq!(set.get(0).1, "uid=bulk00008,ou=bulk");
        assert_eq!(set.get(3).1, "uid=bulk00011,ou=bulk");
        assert_eq!(set.get(4).1, "uid=bulk00008,ou=bulk");
        assert!(UserSet::parse("a{5..1}").is_err());
        assert!(UserSet::parse("a{1..").is_err());
        assert_eq!(UserSet::parse("alice").unwrap().get(7).1, "alice");
    }
}

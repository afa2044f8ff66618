//! The sign-in request and its JSON body (docs/SERVICE.md, "Sign-in request").

use std::io::Write;
use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::Password;

/// One sign-in to check: `{"login", "password", "client_ip", "location"?}`. Borrows its parts,
/// so a load generator builds one per request without copying the password.
#[derive(Clone, Copy, Debug)]
pub struct SignIn<'a> {
    login: &'a str,
    password: &'a Password,
    client_ip: IpAddr,
    location: Option<&'a str>,
}

impl<'a> SignIn<'a> {
    /// `login` signing in with `password` from `client_ip` (the end user's address as the front
    /// end saw it: the lockout source).
    pub fn new(login: &'a str, password: &'a Password, client_ip: IpAddr) -> Self {
        Self {
            login,
            password,
            client_ip,
            location: None,
        }
    }

    /// A location key (device id, network; 1 to 256 bytes); without one the service uses the
    /// client address.
    pub fn with_location(mut self, location: &'a str) -> Self {
        self.location = Some(location);
        self
    }

    /// The JSON body, in a buffer sized once (no reallocation leaves a copy of the password
    /// behind) and wiped when dropped.
    pub fn body(&self) -> Zeroizing<Vec<u8>> {
        // A JSON-escaped character takes at most 6 bytes (`\u001f`).
        let strings = self.login.len() + self.password.expose().len();
        let capacity = 6 * (strings + self.location.map_or(0, str::len)) + 128;
        let mut out = Zeroizing::new(Vec::with_capacity(capacity));
        self.encode(&mut out);
        out
    }

    /// Appends the JSON body to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"login\":");
        json_string(out, self.login);
        out.extend_from_slice(b",\"password\":");
        json_string(out, self.password.expose());
        out.extend_from_slice(b",\"client_ip\":\"");
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{}", self.client_ip);
        out.push(b'"');
        if let Some(location) = self.location {
            out.extend_from_slice(b",\"location\":");
            json_string(out, location);
        }
        out.push(b'}');
    }
}

/// Appends `s` as a JSON string.
fn json_string(out: &mut Vec<u8>, s: &str) {
    // Serialising a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_documented_json() {
        let password = Password::new("Pa\"ss w\\ord-1\u{1}");
        let ip: IpAddr = "198.51.100.4".parse().unwrap();
        let request = SignIn::new("alice@demo.test", &password, ip).with_location("device-17");
        let body = request.body();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "login": "alice@demo.test",
                "password": "Pa\"ss w\\ord-1\u{1}",
                "client_ip": "198.51.100.4",
                "location": "device-17",
            })
        );
        assert!(body.len() <= body.capacity());
    }

    #[test]
    fn without_a_location_the_field_is_absent() {
        let password = Password::new("pw");
        let request = SignIn::new("bob", &password, "2001:db8::1".parse().unwrap());
        assert_eq!(
            &request.body()[..],
            br#"{"login":"bob","password":"pw","client_ip":"2001:db8::1"}"#
        );
    }

    #[test]
    fn the_buffer_never_grows_even_for_escaped_text() {
        // Control characters escape to six bytes each: the worst case.
        let password = Password::new("\u{1}".repeat(100));
        let login = "\u{2}".repeat(50);
        let request =
            SignIn::new(&login, &password, "10.0.0.1".parse().unwrap()).with_location("\u{3}");
        let body = request.body();
        let capacity = 6 * (100 + 50 + 1) + 128;
        assert_eq!(body.capacity(), capacity);
        assert!(body.len() <= capacity);
    }
}

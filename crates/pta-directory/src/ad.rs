//! Active Directory's account-state sub-codes.

use crate::Verdict;

/// The `data XXX` sub-code Active Directory puts in the diagnostic message of result 49
/// (invalidCredentials): `80090308: LdapErr: DSID-..., comment: AcceptSecurityContext error,
/// data 775, v1db1`. The number is hexadecimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AdCode {
    /// `525`: no such user.
    NoSuchUser,
    /// `52e`: wrong password (or unknown user, or empty password).
    LogonFailure,
    /// `530`: not permitted to log on at this time.
    InvalidLogonHours,
    /// `531`: not permitted to log on from this workstation.
    InvalidWorkstation,
    /// `532`: password expired.
    PasswordExpired,
    /// `533`: account disabled.
    AccountDisabled,
    /// `701`: account expired.
    AccountExpired,
    /// `773`: the user must reset the password.
    PasswordMustChange,
    /// `775`: account locked out.
    AccountLocked,
    /// Any other sub-code.
    Other(u32),
}

impl AdCode {
    /// The code for a sub-code number.
    pub fn from_number(n: u32) -> Self {
        match n {
            0x525 => AdCode::NoSuchUser,
            0x52e => AdCode::LogonFailure,
            0x530 => AdCode::InvalidLogonHours,
            0x531 => AdCode::InvalidWorkstation,
            0x532 => AdCode::PasswordExpired,
            0x533 => AdCode::AccountDisabled,
            0x701 => AdCode::AccountExpired,
            0x773 => AdCode::PasswordMustChange,
            0x775 => AdCode::AccountLocked,
            n => AdCode::Other(n),
        }
    }
}

/// The `data XXX` sub-code in an AD diagnostic message, if there is one. Only `data `
/// followed by 1 to 8 hexadecimal digits counts; anything else gives `None`.
pub fn ad_data_code(message: &str) -> Option<u32> {
    let mut rest = message;
    while let Some(at) = rest.find("data ") {
        rest = &rest[at + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        if (1..=8).contains(&digits) {
            return u32::from_str_radix(&rest[..digits], 16).ok();
        }
    }
    None
}

/// The verdict for a result-49 diagnostic message from Active Directory. Unknown and missing
/// sub-codes are invalid credentials: result 49 means the bind was refused.
pub fn ad_verdict(message: &str) -> Verdict {
    match ad_data_code(message).map(AdCode::from_number) {
        Some(AdCode::InvalidLogonHours) => Verdict::LogonHoursRestricted,
        Some(AdCode::InvalidWorkstation) => Verdict::WorkstationRestricted,
        Some(AdCode::PasswordExpired) => Verdict::PasswordExpired,
        Some(AdCode::AccountDisabled) => Verdict::AccountDisabled,
        Some(AdCode::AccountExpired) => Verdict::AccountExpired,
        Some(AdCode::PasswordMustChange) => Verdict::MustChangePassword,
        Some(AdCode::AccountLocked) => Verdict::AccountLocked,
        _ => Verdict::InvalidCredentials,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(code: &str) -> String {
        format!(
            "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data {code}, v1db1"
        )
    }

    #[test]
    fn every_documented_code_maps() {
        let table = [
            ("525", Verdict::InvalidCredentials),
            ("52e", Verdict::InvalidCredentials),
            ("530", Verdict::LogonHoursRestricted),
            ("531", Verdict::WorkstationRestricted),
            ("532", Verdict::PasswordExpired),
            ("533", Verdict::AccountDisabled),
            ("701", Verdict::AccountExpired),
            ("773", Verdict::MustChangePassword),
            ("775", Verdict::AccountLocked),
            ("52f", Verdict::InvalidCredentials),
        ];
        for (code, verdict) in table {
            assert_eq!(ad_verdict(&msg(code)), verdict, "data {code}");
        }
    }

    #[test]
    fn parser_is_strict() {
        assert_eq!(ad_data_code(&msg("775")), Some(0x775));
        assert_eq!(ad_data_code("data , data 533"), Some(0x533));
        assert_eq!(ad_data_code("no code"), None);
        assert_eq!(ad_data_code("data xyz"), None);
        assert_eq!(ad_data_code("data 123456789"), None);
        assert_eq!(ad_data_code("data ffffffff"), Some(0xffff_ffff));
        assert_eq!(ad_verdict(""), Verdict::InvalidCredentials);
    }
}

#!/usr/bin/python3
"""Populates a freshly provisioned pta-testkit Samba AD domain.

Run with Debian's /usr/bin/python3 (Samba's modules live there):

    setup.py SMB_CONF users UPN_SUFFIX SPEC...  # domain policy, UPN suffix, PSO, user matrix

SPEC is name:password:upn:mail:kind, kind one of good, disabled, account-expired,
password-expired, must-change.
    setup.py SMB_CONF set-password NAME PASSWORD   # run under faketime to date a password back

Works on sam.ldb directly; no Samba server needs to run.
"""
import sys

import ldb
from samba import param
from samba.auth import system_session
from samba.samdb import SamDB
from samba.dsdb import UF_ACCOUNTDISABLE


def open_samdb(conf):
    lp = param.LoadParm()
    lp.load(conf)
    return SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp)


def modify(samdb, dn, **attrs):
    msg = ldb.Message()
    msg.dn = ldb.Dn(samdb, str(dn))
    for name, value in attrs.items():
        name = name.replace("_", "-")
        values = value if isinstance(value, list) else [value]
        msg[name] = ldb.MessageElement([str(v) for v in values], ldb.FLAG_MOD_REPLACE, name)
    samdb.modify(msg)


def user_dn(samdb, name):
    res = samdb.search(base=samdb.domain_dn(), scope=ldb.SCOPE_SUBTREE,
                       expression="(sAMAccountName=%s)" % ldb.binary_encode(name), attrs=["dn"])
    if len(res) != 1:
        raise SystemExit("user %s: %d matches" % (name, len(res)))
    return res[0].dn


def setup_users(samdb, upn_suffix, spec):
    domain_dn = samdb.domain_dn()
    # Domain policy: lockout after 3 bad passwords, long lockout so the pre-locked user stays
    # locked for the life of a pristine copy, passwords that never expire by default.
    modify(samdb, domain_dn,
           lockoutThreshold="3",
           lockoutDuration=str(-99999 * 60 * 10**7),
           lockOutObservationWindow=str(-99999 * 60 * 10**7),
           maxPwdAge="-9223372036854775808",
           minPwdAge="0",
           pwdProperties="0")

    # Alternate UPN suffix for the forest.
    partitions = "CN=Partitions,%s" % samdb.get_config_basedn()
    modify(samdb, partitions, uPNSuffixes=[upn_suffix])

    # Fine-grained policy that expires passwords after 2 days (shorter counts as never).
    pso_container = "CN=Password Settings Container,CN=System,%s" % domain_dn
    samdb.add({
        "dn": "CN=pta-expiring,%s" % pso_container,
        "objectClass": "msDS-PasswordSettings",
        "msDS-PasswordSettingsPrecedence": "1",
        "msDS-PasswordReversibleEncryptionEnabled": "FALSE",
        "msDS-PasswordHistoryLength": "0",
        "msDS-PasswordComplexityEnabled": "FALSE",
        "msDS-MinimumPasswordLength": "0",
        "msDS-MinimumPasswordAge": "0",
        "msDS-MaximumPasswordAge": str(-2 * 86400 * 10**7),
        "msDS-LockoutThreshold": "3",
        "msDS-LockoutObservationWindow": str(-99999 * 60 * 10**7),
        "msDS-LockoutDuration": str(-99999 * 60 * 10**7),
    })

    for entry in spec:
        name, password, upn, mail, kind = entry.split(":", 4)
        samdb.newuser(name, password,
                      force_password_change_at_next_login_req=(kind == "must-change"),
                      useusernameascn=True,
                      mailaddress=mail or None,
                      givenname=name, surname="Test")
        dn = user_dn(samdb, name)
        if upn:
            modify(samdb, dn, userPrincipalName=upn)
        if kind == "disabled":
            samdb.disable_account("(sAMAccountName=%s)" % ldb.binary_encode(name))
        elif kind == "account-expired":
            # 2020-01-01T00:00:00Z as Windows FILETIME.
            modify(samdb, dn, accountExpires=str(132223104000000000))
        elif kind == "password-expired":
            modify(samdb, "CN=pta-expiring,%s" % pso_container, msDS_PSOAppliesTo=str(dn))


def set_password(samdb, name, password):
    samdb.setpassword("(sAMAccountName=%s)" % ldb.binary_encode(name), password)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    samdb = open_samdb(sys.argv[1])
    if sys.argv[2] == "users" and len(sys.argv) >= 4:
        setup_users(samdb, sys.argv[3], sys.argv[4:])
    elif sys.argv[2] == "set-password" and len(sys.argv) == 5:
        set_password(samdb, sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine, idempotently and non-interactively.
# Packages are installed without letting them start daemons of their own (no slapd or smbd on
# public interfaces): the test fixtures start their own private instances on 127.0.0.1.
set -euo pipefail

DEB_PACKAGES=(
  slapd ldap-utils
  samba samba-ad-dc samba-ad-provision krb5-user
  faketime openssl tinyproxy
  redis-server postgresql nats-server
  python3 python3-cbor2 python3-jwcrypto
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages: ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # slapd must not build a default database (its postinst would start slapd on all interfaces).
  echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections
  # krb5-user asks for a default realm; an empty answer is fine (the fixtures bring their own).
  echo 'krb5-config krb5-config/default_realm string EXAMPLE.TEST' | debconf-set-selections
  # postgresql-common must not create Debian's own cluster (the fixture runs initdb in a
  # temporary directory); an existing one is never started by these scripts.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/pta-no-main-cluster.conf
  # Block every daemon start during installation. Keep an existing policy-rc.d untouched.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  cleanup() { if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi; }
  trap cleanup EXIT
  apt-get update -qq
  apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >/dev/null
  cleanup
  trap - EXIT
fi

for cmd in slapd slapadd ldapsearch samba samba-tool openssl faketime tinyproxy redis-server nats-server; do
  p=$(command -v "$cmd" || true)
  [ -n "$p" ] || [ -x "/usr/sbin/$cmd" ] || { echo "install-deps: $cmd not found after install" >&2; exit 1; }
done
# PostgreSQL's server binaries live in a per-version directory off the PATH.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "install-deps: initdb not found under /usr/lib/postgresql after install" >&2
  exit 1
fi
echo "install-deps: all Debian prerequisites present"

#!/usr/bin/env bash
# End-to-end benchmark on this machine (see BENCHMARKS.md, "End to end"): a private slapd
# ({SSHA} bulk users) from pta-testkit, the pta-service binary (HTTPS API), 1 then 3 pta-agent
# processes on that slapd, and pta-load. Measures in one run: raw ldap3 rebinds/s against the
# same slapd, end-to-end sign-ins/s at saturation, latency at 50 % of that rate, CPU per
# sign-in of the service and the agents (utime+stime from /proc/PID/stat, directory excluded),
# then the same against Samba AD (unless SKIP_SAMBA=1). Prints a markdown table.
#
# Usage: scripts/bench.sh [OUTPUT_DIR]      (release build; about 4 to 6 minutes in all)
# Environment: SAT_SECS (15), HALF_SECS (10), RAW_SECS (10), SAT_WORKERS (32),
#   SKIP_SAMBA (0), BULK_USERS (1000), INSTR (1 where `perf stat` counts instructions:
#   a column of instructions per sign-in), CARGO_TARGET_DIR, BIN (a folder with the four release
#   binaries, to compare builds: nothing is built then); PROFILE=1 also records `perf` profiles
#   of the service and the agent during an extra 1-agent saturation run (perf-*.txt in OUT);
#   SCALE=0 skips the 1,000-connection test (pta-service's ignored `rt_scale` test, release);
#   DIRECT=0 skips the slapd-1-agent-direct row (1 agent binding the user's DN directly,
#   `resolution = "direct"`, logins given as DNs: one LDAP operation per sign-in instead of
#   the search-then-bind of the other slapd rows); TEMPLATE=0 skips the
#   slapd-1-agent-template row (1 agent, uid logins as in the search rows, bound as
#   `dn_template = "uid={login},ou=bulk,..."`: one LDAP operation, no search); SEARCH=0 skips
#   the two search-then-bind slapd rows (and the profile run, which is one of them);
#   PTA_BENCH_PG=0 skips the slapd-1-agent-pg-redis row (a second pta-service node whose state
#   is in PostgreSQL and lockout state in Redis, both pta-fixture servers on 127.0.0.1, with 1
#   agent and the load of slapd-1-agent: compare the two rows; the service CPU column counts
#   the service process only, not PostgreSQL or Redis).
set -euo pipefail
umask 077
cd "$(dirname "$0")/.."

SAT_SECS=${SAT_SECS:-15}
HALF_SECS=${HALF_SECS:-10}
RAW_SECS=${RAW_SECS:-10}
SAT_WORKERS=${SAT_WORKERS:-32}
BULK_USERS=${BULK_USERS:-1000}
SKIP_SAMBA=${SKIP_SAMBA:-0}
PROFILE=${PROFILE:-0}
SCALE=${SCALE:-1}
DIRECT=${DIRECT:-1}
TEMPLATE=${TEMPLATE:-1}
SEARCH=${SEARCH:-1}
PTA_BENCH_PG=${PTA_BENCH_PG:-1}
# Instructions per sign-in (perf stat; steadier than CPU time on a shared host) when perf can
# count them here.
if [ -z "${INSTR:-}" ]; then
    # Some virtual machines have no hardware counters: perf then prints "<not supported>".
    if perf stat -x, -e instructions true 2>&1 | grep -q '^[0-9]'; then INSTR=1; else INSTR=0; fi
fi
OUT=${1:-$(mktemp -d /tmp/pta-bench.XXXXXX)}
mkdir -p "$OUT"
# Everything this script starts stops within this bound, whatever happens.
TOTAL_LIMIT=${TOTAL_LIMIT:-570}

if [ -z "${BIN:-}" ]; then
    cargo build --release --locked -p pta-service-cli -p pta-agent-cli -p pta-load \
        -p pta-testkit --bins
    BIN=${CARGO_TARGET_DIR:-target}/release
fi
if [ "$SCALE" = 1 ]; then
    cargo test --release --locked -p pta-service --test integration --no-run
fi
HZ=$(getconf CLK_TCK)

PIDS=()
FIXTURE_FD=""
# Fixtures beside the directory one (PostgreSQL, Redis): their stdin FIFOs and PIDs.
AUX_FDS=()
AUX_PIDS=()
cleanup() {
    local pid fd
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    for fd in "${AUX_FDS[@]}"; do exec {fd}>&-; done
    for pid in "${AUX_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    AUX_FDS=()
    AUX_PIDS=()
    if [ -n "$FIXTURE_FD" ]; then
        exec {FIXTURE_FD}>&-
        FIXTURE_FD=""
        wait "$FIXTURE_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
( sleep "$TOTAL_LIMIT"; echo "bench.sh: over ${TOTAL_LIMIT}s, stopping" >&2; kill -TERM $$ ) &
WATCHDOG=$!
trap 'cleanup; kill $WATCHDOG 2>/dev/null || true' EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))" "$@"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
cpu_of() { local t=0 p; for p in "$@"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }

# Starts a fixture (slapd|samba); its JSON lands in $OUT/$1.json; stays up until cleanup.
start_fixture() {
    local kind=$1; shift
    rm -f "$OUT/$kind.fifo" "$OUT/$kind.json"
    mkfifo "$OUT/$kind.fifo"
    if [ -n "$FIXTURE_FD" ]; then
        # Another fixture runs (start_aux): this one must not hold its FIFO open.
        "$BIN/pta-fixture" "$kind" "$@" < "$OUT/$kind.fifo" > "$OUT/$kind.json" \
            2> "$OUT/$kind.log" {FIXTURE_FD}>&- &
    else
        "$BIN/pta-fixture" "$kind" "$@" < "$OUT/$kind.fifo" > "$OUT/$kind.json" \
            2> "$OUT/$kind.log" &
    fi
    FIXTURE_PID=$!
    exec {FIXTURE_FD}> "$OUT/$kind.fifo"
    for _ in $(seq 1 600); do
        [ -s "$OUT/$kind.json" ] && return 0
        kill -0 "$FIXTURE_PID" 2>/dev/null || { cat "$OUT/$kind.log" >&2; return 1; }
        sleep 0.2
    done
    echo "bench.sh: $kind fixture did not start" >&2; return 1
}

# start_aux KIND: a fixture (postgres|redis) beside the directory fixture, until cleanup.
start_aux() {
    local fd=$FIXTURE_FD pid=${FIXTURE_PID:-}
    start_fixture "$1"
    AUX_FDS+=("$FIXTURE_FD"); AUX_PIDS+=("$FIXTURE_PID")
    FIXTURE_FD=$fd; FIXTURE_PID=$pid
}

# --- service ------------------------------------------------------------------------------
SVC=$OUT/service; mkdir -p "$SVC"
AGENT_PORT=$(free_port); REG_PORT=$(free_port); API_PORT=$(free_port)
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$SVC/admin-token"
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$SVC/api-keys"
# curl reads the admin token from a file: no secret on any command line.
printf 'Authorization: Bearer %s\n' "$(cat "$SVC/admin-token")" > "$SVC/admin-header"
chmod 600 "$SVC/admin-token" "$SVC/api-keys" "$SVC/admin-header"
cat > "$SVC/pta-service.toml" <<TOML
data_dir = "$SVC/data"
[agent]
listen = "127.0.0.1:$AGENT_PORT"
[registration]
listen = "127.0.0.1:$REG_PORT"
rate_limit_per_minute = 60
rate_limit_burst = 10
[api]
listen = "127.0.0.1:$API_PORT"
tls = true
[tenants]
ca_key_bits = 2048
[log]
level = "warn"
[secrets]
admin_token_file = "$SVC/admin-token"
api_keys_file = "$SVC/api-keys"
TOML
"$BIN/pta-service" tenant create bench --config "$SVC/pta-service.toml" > /dev/null
"$BIN/pta-service" tenant create bench-ad --config "$SVC/pta-service.toml" > /dev/null
"$BIN/pta-service" tenant create bench-direct --config "$SVC/pta-service.toml" > /dev/null
"$BIN/pta-service" tenant create bench-template --config "$SVC/pta-service.toml" > /dev/null
"$BIN/pta-service" serve --config "$SVC/pta-service.toml" > "$SVC/stdout" 2> "$SVC/stderr" &
SVC_PID=$!; PIDS+=("$SVC_PID")
for _ in $(seq 1 100); do grep -q '^api:' "$SVC/stdout" 2>/dev/null && break; sleep 0.1; done
grep -q '^api:' "$SVC/stdout" || { cat "$SVC/stderr" >&2; exit 1; }

AGENT_PIDS=()
# start_agent NAME TENANT DIRECTORY_TOML
start_agent() {
    local dir=$OUT/agent-$1
    mkdir -p "$dir"
    "$BIN/pta-service" token create --tenant "$2" --config "$SVC/pta-service.toml" > "$dir/token"
    chmod 600 "$dir/token"
    printf '%s\n[limits]\nkey_bits = 2048\nmax_in_flight = 256\n[log]\nlevel = "warn"\n' "$3" > "$dir/agent.toml"
    "$BIN/pta-agent" register --service "https://127.0.0.1:$REG_PORT" --state-dir "$dir/state" \
        --token-file "$dir/token" --config "$dir/agent.toml" > "$dir/register.log" 2>&1
    "$BIN/pta-agent" run --state-dir "$dir/state" --config "$dir/agent.toml" \
        > "$dir/stdout" 2> "$dir/stderr" &
    AGENT_PIDS+=($!); PIDS+=($!)
    SERVICE_CA=$dir/state/service-ca.pem
}

# stop_agents: SIGTERM to every running agent, wait for each
stop_agents() {
    local pid
    for pid in "${AGENT_PIDS[@]}"; do kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; done
    AGENT_PIDS=()
}

# load NAME TENANT ARGS...: pta-load sign-in; JSON in $OUT/NAME.json, CPU ticks in $OUT/NAME.cpu
load() {
    local name=$1 tenant=$2; shift 2
    local s0 a0 s1 a1 p1="" p2=""
    if [ "$INSTR" = 1 ]; then
        perf stat -x, -e instructions -o "$OUT/$name.instr-service" -p "$SVC_PID" \
            > /dev/null 2>&1 & p1=$!
        perf stat -x, -e instructions -o "$OUT/$name.instr-agents" \
            -p "$(IFS=,; echo "${AGENT_PIDS[*]}")" > /dev/null 2>&1 & p2=$!
    fi
    s0=$(cpu_of "$SVC_PID"); a0=$(cpu_of "${AGENT_PIDS[@]}")
    PTA_LOAD_API_KEY=$(cat "$SVC/api-keys") PTA_LOAD_PASSWORD=$PASSWORD \
        "$BIN/pta-load" sign-in --url "https://127.0.0.1:$API_PORT" --ca "$SERVICE_CA" \
        --tenant "$tenant" --json --threads 1 "$@" > "$OUT/$name.json" \
        || { echo "bench.sh: $name had errors:" >&2; cat "$OUT/$name.json" >&2; }
    s1=$(cpu_of "$SVC_PID"); a1=$(cpu_of "${AGENT_PIDS[@]}")
    echo "$((s1 - s0)) $((a1 - a0))" > "$OUT/$name.cpu"
    if [ -n "$p1" ]; then kill -INT "$p1" "$p2" 2>/dev/null || true; wait "$p1" "$p2" || true; fi
}

# wait_agents N TENANT: until N agents of the tenant hold a connection
wait_agents() {
    for _ in $(seq 1 150); do
        local n
        n=$(curl -sf --cacert "$SERVICE_CA" -H "@$SVC/admin-header" \
            "https://127.0.0.1:$API_PORT/v1/tenants/$2/agents" \
            | jq '[.agents[] | select(.connections > 0)] | length' 2>/dev/null || echo 0)
        [ "$n" -ge "$1" ] && return 0
        sleep 0.2
    done
    echo "bench.sh: agents of $2 did not connect" >&2; return 1
}

ROWS=()
# measure LABEL TENANT RAW_JSON LOAD_ARGS...: saturation, then 50 %, then a table row
measure() {
    local label=$1 tenant=$2 raw=$3; shift 3
    load "$label-warmup" "$tenant" --workers 4 --duration 2s "$@" || true
    load "$label-sat" "$tenant" --workers "$SAT_WORKERS" --duration "${SAT_SECS}s" "$@"
    local tput half
    tput=$(json "$OUT/$label-sat.json" 'd["throughput"]')
    half=$(python3 -c "print(max(1.0, round($tput / 2, 1)))")
    load "$label-half" "$tenant" --workers 64 --rate "$half" --duration "${HALF_SECS}s" "$@"
    ROWS+=("$(python3 - "$OUT" "$label" "$raw" "$HZ" <<'PY'
import json, sys
out, label, raw, hz = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sat = json.load(open(f"{out}/{label}-sat.json")); half = json.load(open(f"{out}/{label}-half.json"))
raw = json.load(open(raw))
s, a = map(int, open(f"{out}/{label}-sat.cpu").read().split())
n = sat["requests"]
us = lambda ticks: ticks / hz * 1e6 / max(n, 1)
lat = lambda d, k: d["latency_us"][k] / 1000
def instr(who):
    # perf stat -x, output: the count is the first field of the "instructions" line.
    try:
        for line in open(f"{out}/{label}-sat.instr-{who}"):
            f = line.split(",")
            if len(f) > 2 and f[2].startswith("instructions") and f[0].isdigit():
                return f"{int(f[0]) / max(n, 1) / 1000:.0f}"
    except OSError:
        pass
    return "-"
errs = sum(sat["errors"].values()) + sum(half["errors"].values()) + sat["mismatches"] + half["mismatches"]
print(f"| {label} | {raw['throughput']:,.0f} | {sat['throughput']:,.0f} | {sat['throughput']/raw['throughput']:.2f} "
      f"| {lat(sat,'p50'):.1f} / {lat(sat,'p99'):.1f} | {half['throughput']:,.0f} "
      f"| {lat(half,'p50'):.2f} / {lat(half,'p90'):.2f} / {lat(half,'p99'):.2f} / {lat(half,'max'):.1f} "
      f"| {us(s):.0f} | {us(a):.0f} | {instr('service')} / {instr('agents')} | {errs} |")
PY
)")
}

# --- OpenLDAP ----------------------------------------------------------------------------
start_fixture slapd --bulk-users "$BULK_USERS"
LDAP_URL=$(json "$OUT/slapd.json" 'd["ldap_url"]')
LDAP_CA=$(json "$OUT/slapd.json" 'd["ca_file"]')
PASSWORD=$(json "$OUT/slapd.json" 'd["bulk_password"]')
json "$OUT/slapd.json" 'd["service_password"]' > "$OUT/slapd-bind-password"
chmod 600 "$OUT/slapd-bind-password"
LAST=$((BULK_USERS - 1))
SLAPD_DIR="[directory.ldap]
urls = [\"$LDAP_URL\"]
ca_file = \"$LDAP_CA\"
dialect = \"openldap\"
resolution = \"search\"
bind_dn = \"$(json "$OUT/slapd.json" 'd["service_dn"]')\"
bind_password_file = \"$OUT/slapd-bind-password\"
base_dn = \"$(json "$OUT/slapd.json" 'd["base_dn"]')\"
bind_pool_size = 8"

PTA_LOAD_PASSWORD=$PASSWORD "$BIN/pta-load" raw-ldap --url "$LDAP_URL" --ca "$LDAP_CA" \
    --users "uid=bulk{00000..$(printf %05d $LAST)},ou=bulk,dc=example,dc=test" \
    --workers 8 --duration "${RAW_SECS}s" --json > "$OUT/slapd-raw.json"

SLAPD_LOAD=(--users "bulk{00000..$(printf %05d $((LAST * 9 / 10)))}"
    --bad-users "bulk{$(printf %05d $((LAST * 9 / 10 + 1)))..$(printf %05d $LAST)}" --bad-ratio 0.1)
if [ "$SEARCH" = 1 ]; then
    start_agent ldap1 bench "$SLAPD_DIR"
    wait_agents 1 bench
    measure "slapd-1-agent" bench "$OUT/slapd-raw.json" "${SLAPD_LOAD[@]}"
    if [ "$PROFILE" = 1 ]; then
        perf record -F 499 -g -o "$OUT/perf-service.data" -p "$SVC_PID" -- sleep 10 \
            > /dev/null 2>&1 &
        P1=$!
        perf record -F 499 -g -o "$OUT/perf-agent.data" -p "${AGENT_PIDS[0]}" -- sleep 10 \
            > /dev/null 2>&1 &
        P2=$!
        load "slapd-profile" bench --workers "$SAT_WORKERS" --duration 10s "${SLAPD_LOAD[@]}"
        wait "$P1" "$P2" || true
        for w in service agent; do
            perf report -i "$OUT/perf-$w.data" --no-children --sort symbol --stdio 2>/dev/null \
                | grep -v '^$' | grep -v '^#' | grep '%' | head -40 > "$OUT/perf-$w.txt" || true
            perf report -i "$OUT/perf-$w.data" --no-children --sort dso --stdio 2>/dev/null \
                | grep '%' | head -15 > "$OUT/perf-$w-dso.txt" || true
        done
    fi
    start_agent ldap2 bench "$SLAPD_DIR"
    start_agent ldap3 bench "$SLAPD_DIR"
    wait_agents 3 bench
    measure "slapd-3-agents" bench "$OUT/slapd-raw.json" "${SLAPD_LOAD[@]}"
    stop_agents
fi
if [ "$PTA_BENCH_PG" = 1 ]; then
    # The same node, its state in PostgreSQL and its lockout state in Redis: a second service
    # process with its own tenant and agent, measured with the load of slapd-1-agent.
    # initdb and the server run as the postgres user when this runs as root: the fixture's
    # files must be readable by it, which the script's umask 077 would prevent.
    umask 022
    start_aux postgres
    umask 077
    start_aux redis
    SVC2=$OUT/service-pg; mkdir -p "$SVC2"
    cp "$SVC/admin-token" "$SVC/api-keys" "$SVC/admin-header" "$SVC2/"
    json "$OUT/postgres.json" 'd["password"]' | tr -d '\n' > "$SVC2/pg-password"
    head -c 32 /dev/urandom > "$SVC2/lockout.key"
    chmod 600 "$SVC2/pg-password" "$SVC2/lockout.key"
    PG_URL="postgres://$(json "$OUT/postgres.json" 'd["role"]')@127.0.0.1:$(json "$OUT/postgres.json" 'd["port"]')/$(json "$OUT/postgres.json" 'd["database"]')"
    AGENT_PORT2=$(free_port); REG_PORT2=$(free_port); API_PORT2=$(free_port)
    sed -e "s|^data_dir = .*|data_dir = \"$SVC2/data\"|" \
        -e "s|127.0.0.1:$AGENT_PORT\"|127.0.0.1:$AGENT_PORT2\"|" \
        -e "s|127.0.0.1:$REG_PORT\"|127.0.0.1:$REG_PORT2\"|" \
        -e "s|127.0.0.1:$API_PORT\"|127.0.0.1:$API_PORT2\"|" \
        -e "s|$SVC/|$SVC2/|g" "$SVC/pta-service.toml" > "$SVC2/pta-service.toml"
    cat >> "$SVC2/pta-service.toml" <<TOML
[store]
url = "$PG_URL"
password_file = "$SVC2/pg-password"
[lockout]
redis_url = "$(json "$OUT/redis.json" 'd["url"]')"
secret_file = "$SVC2/lockout.key"
TOML
    "$BIN/pta-service" tenant create bench --config "$SVC2/pta-service.toml" > /dev/null
    # Not holding the directory fixture's FIFO open (it stops when the script closes it).
    "$BIN/pta-service" serve --config "$SVC2/pta-service.toml" > "$SVC2/stdout" \
        2> "$SVC2/stderr" {FIXTURE_FD}>&- &
    SVC2_PID=$!; PIDS+=("$SVC2_PID")
    for _ in $(seq 1 100); do grep -q '^api:' "$SVC2/stdout" 2>/dev/null && break; sleep 0.1; done
    grep -q '^api:' "$SVC2/stdout" || { cat "$SVC2/stderr" >&2; exit 1; }
    # The helpers act on the service in SVC, REG_PORT, API_PORT and SVC_PID.
    SAVED=("$SVC" "$REG_PORT" "$API_PORT" "$SVC_PID")
    SVC=$SVC2; REG_PORT=$REG_PORT2; API_PORT=$API_PORT2; SVC_PID=$SVC2_PID
    start_agent pg1 bench "$SLAPD_DIR"
    wait_agents 1 bench
    measure "slapd-1-agent-pg-redis" bench "$OUT/slapd-raw.json" "${SLAPD_LOAD[@]}"
    stop_agents
    SVC=${SAVED[0]}; REG_PORT=${SAVED[1]}; API_PORT=${SAVED[2]}; SVC_PID=${SAVED[3]}
fi
if [ "$DIRECT" = 1 ]; then
    # One LDAP operation per sign-in: the login is the user's DN, bound as given.
    start_agent direct1 bench-direct "[directory.ldap]
urls = [\"$LDAP_URL\"]
ca_file = \"$LDAP_CA\"
dialect = \"openldap\"
resolution = \"direct\"
bind_pool_size = 8"
    wait_agents 1 bench-direct
    DN="ou=bulk,dc=example,dc=test"
    measure "slapd-1-agent-direct" bench-direct "$OUT/slapd-raw.json" \
        --users "uid=bulk{00000..$(printf %05d $((LAST * 9 / 10)))},$DN" \
        --bad-users "uid=bulk{$(printf %05d $((LAST * 9 / 10 + 1)))..$(printf %05d $LAST)},$DN" \
        --bad-ratio 0.1
    stop_agents
fi
if [ "$TEMPLATE" = 1 ]; then
    # One LDAP operation per sign-in with uid logins: the DN comes from a template.
    start_agent template1 bench-template "[directory.ldap]
urls = [\"$LDAP_URL\"]
ca_file = \"$LDAP_CA\"
dialect = \"openldap\"
resolution = \"template\"
dn_template = \"uid={login},ou=bulk,dc=example,dc=test\"
bind_pool_size = 8"
    wait_agents 1 bench-template
    measure "slapd-1-agent-template" bench-template "$OUT/slapd-raw.json" "${SLAPD_LOAD[@]}"
    stop_agents
fi
cleanup_fixture() { exec {FIXTURE_FD}>&-; FIXTURE_FD=""; wait "$FIXTURE_PID" 2>/dev/null || true; }
cleanup_fixture

# --- Samba AD ----------------------------------------------------------------------------
if [ "$SKIP_SAMBA" != 1 ]; then
    start_fixture samba
    AD_URL=$(json "$OUT/samba.json" 'd["ldap_url"]')
    AD_CA=$(json "$OUT/samba.json" 'd["ca_file"]')
    PASSWORD=$(json "$OUT/samba.json" 'd["good_password"]')
    AD_LOGIN=$(json "$OUT/samba.json" 'd["good_login"]')
    PTA_LOAD_PASSWORD=$PASSWORD "$BIN/pta-load" raw-ldap --url "$AD_URL" --ca "$AD_CA" \
        --users "$AD_LOGIN" --workers 8 --duration "${RAW_SECS}s" --json > "$OUT/samba-raw.json"
    start_agent ad1 bench-ad "[directory.ldap]
urls = [\"$AD_URL\"]
ca_file = \"$AD_CA\"
dialect = \"ad\"
resolution = \"direct\""
    wait_agents 1 bench-ad
    measure "samba-1-agent" bench-ad "$OUT/samba-raw.json" --users "$AD_LOGIN"
fi

if [ "$SCALE" = 1 ]; then
    cleanup
    timeout 480 cargo test --release --locked -p pta-service --test integration -- \
        --ignored --nocapture rt_scale 2>&1 | grep -E '^rt_scale|test result' \
        | tee "$OUT/scale.txt"
fi

{
echo "| run | raw binds/s | e2e sign-ins/s (saturation) | e2e / raw | sat. p50 / p99 ms | 50 % rate achieved/s | at 50 %: p50 / p90 / p99 / max ms | service CPU us/sign-in | agents CPU us/sign-in | k instructions/sign-in, service / agents | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for r in "${ROWS[@]}"; do echo "$r"; done
} | tee "$OUT/table.md"
echo "raw data: $OUT" >&2

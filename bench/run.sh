#!/bin/sh
# Runs every kioskd benchmark and prints one table (bench/README.md explains
# each figure). `make bench` at the top level calls it through bench/Makefile
# after building ./build/kioskd, out/slowfsync.so and out/commit_rate.
#
# It never fails because a figure is low; it fails only when something broke
# (a daemon that does not start, crashes or does not exit 0 on SIGTERM, a load
# generator that cannot run, a run with no successful answer at all).
# All traffic goes to 127.0.0.1. Everything it writes (databases, logs, raw
# wrk output, the table as table.txt) stays in bench/out/run.XXXXXX.
#
# Knobs (environment): BENCH_SECONDS (each write run, default 10),
# BENCH_GET_SECONDS (the /healthz versus nginx runs, default 5),
# BENCH_CONNECTIONS (writers, default 64), SLOWFSYNC_MS (default 20),
# HEALTHZ_PACE_MS (pause between /healthz requests of the side load; default
# 0 = as fast as it can), BENCH_TICKETS (tickets per check-in run).
# For a KIOSKD that is a script starting another program (bench/arm64.py:
# build/arm64/kioskd-qemu): KIOSKD_FILE (the binary whose size is shown),
# BENCH_STRIP (its strip), KIOSKD_SLOWLIB (the slow-fsync library preloaded
# into the daemon, built for its architecture).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
KIOSKD=${KIOSKD:-$here/../build/rel/kioskd}
SECS=${BENCH_SECONDS:-10}
GET_SECS=${BENCH_GET_SECONDS:-5}
CONNS=${BENCH_CONNECTIONS:-64}
SLOW_MS=${SLOWFSYNC_MS:-20}
HEALTHZ_PACE_MS=${HEALTHZ_PACE_MS:-0}
# Check-ins of the daemon's own tickets compare a kept digest (no ECDSA), so
# they are bounded by HTTP and the writer: 4,000 tickets per second of run.
TICKETS=${BENCH_TICKETS:-$((SECS * 4000))}
SLOWLIB=$here/out/slowfsync.so
KIOSKD_SLOWLIB=${KIOSKD_SLOWLIB:-$SLOWLIB}
KIOSKD_FILE=${KIOSKD_FILE:-$KIOSKD}
BENCH_STRIP=${BENCH_STRIP:-strip}
COMMIT_RATE=$here/out/commit_rate
BENCH_LUA=$here/lua
export BENCH_LUA
# shellcheck disable=SC1091 # peakrss.sh is beside this script
. "$here/peakrss.sh"

die() {
    echo "bench: $*" >&2
    exit 1
}
note() { echo "bench: $*" >&2; }

for tool in wrk nginx curl python3; do
    command -v $tool >/dev/null 2>&1 || die "$tool is missing (make bench installs it: tools/deps.sh bench)"
done
[ -x "$KIOSKD" ] || die "$KIOSKD is missing; run make bench from the top level"
if [ ! -f "$SLOWLIB" ] || [ ! -x "$COMMIT_RATE" ]; then
    die "build the helpers first (make -C bench helpers)"
fi

mkdir -p "$here/out"
# keep the two previous runs (each holds a few hundred MB of request logs)
# shellcheck disable=SC2012 # the names are ours (run.XXXXXX)
ls -dt "$here"/out/run.* 2>/dev/null | tail -n +3 | while read -r old; do rm -rf "$old"; done
run=$(mktemp -d "$here/out/run.XXXXXX")
ln -sfn "$(basename "$run")" "$here/out/latest"

kpid="" npid="" bgpid=""
cleanup() {
    for p in $bgpid $npid $kpid; do
        kill "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- small helpers -----------------------------------------------------------

# The value of KEY=... in the RESULT line of a wrk output file.
res() { sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p" "$2"; }
# A sample's value in a Prometheus text file (0 when absent).
prom() { awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }' "$2"; }
# awk arithmetic and formatting: calc FORMAT EXPR
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
# a / b with FORMAT, or "-" when b is 0
ratio() { awk -v a="$2" -v b="$3" "BEGIN { if (b + 0 == 0) print \"-\"; else printf \"$1\", a / b }"; }
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

# make_data DIR: a data folder with its INI; with "seed", one long community
# event open for check-in (starts in 30 minutes, lasts 20 hours) and a staff
# account B001 (PIN 123456).
make_data() {
    mkdir -p "$1"
    cat >"$1/kioskd.ini" <<EOF
[http]
listen = 127.0.0.1:0
rate_limit = 0
[store]
path = $1/kioskd.db
key_file = $1/kioskd.key
[tickets]
key_file = $1/ticket.pem
[kiosk]
signups_per_minute = 0
EOF
    [ "${2:-}" = seed ] || return 0
    starts=$(date -d '+30 minutes' +%Y-%m-%dT%H:%M:%S%:z)
    ends=$(date -d '+20 hours' +%Y-%m-%dT%H:%M:%S%:z)
    printf 'title,kind,starts_at,ends_at,venue,capacity\nBench,community,%s,%s,Bench hall,1000000\n' \
        "$starts" "$ends" >"$1/events.csv"
    "$KIOSKD" import events "$1/events.csv" -c "$1/kioskd.ini" >"$1/setup.log" 2>&1 ||
        die "importing the bench event failed; see $1/setup.log"
    echo 123456 | "$KIOSKD" staff add B001 --name Bench --role staff -c "$1/kioskd.ini" \
        >>"$1/setup.log" 2>&1 || die "adding the bench staff account failed; see $1/setup.log"
}

# start_kioskd DIR NAME [slow]: starts the daemon on DIR's INI (log NAME.log),
# with the slow-fsync library preloaded when asked; sets kpid and base.
start_kioskd() {
    log=$run/$2.log
    if [ "${3:-}" = slow ]; then
        LD_PRELOAD=$KIOSKD_SLOWLIB SLOWFSYNC_MS=$SLOW_MS SLOWFSYNC_COUNT=$run/$2.fsyncs \
            "$KIOSKD" serve -c "$1/kioskd.ini" 2>"$log" &
    else
        "$KIOSKD" serve -c "$1/kioskd.ini" 2>"$log" &
    fi
    kpid=$!
    i=0
    while :; do
        port=$(sed -n 's/.*event=listening .*port=\([0-9][0-9]*\).*/\1/p' "$log")
        [ -n "$port" ] && break
        kill -0 "$kpid" 2>/dev/null || die "kioskd exited at start; see $log"
        i=$((i + 1))
        [ $i -lt 400 ] || die "kioskd did not log its port within 20 s; see $log"
        sleep 0.05
    done
    base=http://127.0.0.1:$port
    curl -sf "$base/healthz" >/dev/null || die "kioskd does not answer GET /healthz; see $log"
}

alive() {
    kill -0 "$kpid" 2>/dev/null && return 0
    grep -q 'event=stopping' "$log" &&
        die "kioskd (pid $kpid) was stopped by a signal during $1, not sent by the benchmark (another process on this machine?); see $log"
    die "kioskd (pid $kpid) died during $1; see $log"
}

stop_kioskd() {
    peak_rss "run.sh $(basename "$log" .log)" "$kpid"
    kill -TERM "$kpid"
    rc=0
    wait "$kpid" || rc=$?
    kpid=""
    [ "$rc" = 0 ] || die "kioskd exited with status $rc after SIGTERM; see $log"
}

# rss PID FIELD: VmRSS / VmHWM in MiB
rss() { awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

login() {
    curl -sf -H 'Content-Type: application/json' \
        -d '{"staff_id":"B001","pin":"123456","device":"bench"}' "$base/api/v1/staff/login" |
        sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}

# load NAME LUA PATH: CONNS connections of LUA against PATH for SECS seconds,
# with wrk -t1 -c4 on GET /healthz beside it; metrics scraped before and after.
load() {
    curl -sf "$base/metrics" >"$run/$1.before.prom" || die "GET /metrics failed before $1"
    # the loop thread (the main thread): CPU time and time spent runnable but
    # waiting for a CPU, in ns (/proc/PID/task/PID/schedstat)
    cat "/proc/$kpid/task/$kpid/schedstat" >"$run/$1.sched"
    PACE_MS=$HEALTHZ_PACE_MS wrk -t1 -c4 -d"${SECS}s" --timeout 10s --latency \
        -s "$BENCH_LUA/get.lua" "$base/healthz" >"$run/$1.healthz.txt" 2>&1 &
    bgpid=$!
    wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout 10s --latency -s "$BENCH_LUA/$2" "$base$3" -- 1 \
        >"$run/$1.txt" 2>&1 || die "wrk failed in $1; see $run/$1.txt"
    wait "$bgpid" || die "wrk on /healthz failed in $1; see $run/$1.healthz.txt"
    bgpid=""
    alive "$1"
    cat "/proc/$kpid/task/$kpid/schedstat" >>"$run/$1.sched"
    curl -sf "$base/metrics" >"$run/$1.after.prom" || die "GET /metrics failed after $1"
    grep -q '^RESULT' "$run/$1.txt" || die "no result from wrk in $1; see $run/$1.txt"
    [ "$(res requests "$run/$1.txt")" -gt "$(res non2xx "$run/$1.txt")" ] ||
        die "$1: not one successful answer; see $run/$1.txt and $log"
}

# delta NAME METRIC: growth of a metric over load NAME
delta() { echo "$(prom "$2" "$run/$1.after.prom") $(prom "$2" "$run/$1.before.prom")" | awk '{ print $1 - $2 }'; }

# setv NAME VALUE: assigns VALUE to the variable called NAME.
setv() { eval "$1=\$2"; }
ms() { calc "$1" "$(res "$2" "$3")"; }

# Figures of load NAME as shell variables NAME_*: from its wrk output, the
# /healthz wrk beside it, and the growth of the daemon's metrics over the run.
collect() {
    f=$run/$1.txt h=$run/$1.healthz.txt
    batches=$(delta "$1" kioskd_store_batch_size_count)
    setv "$1_rps" "$(ms '%.0f' rps "$f")"
    setv "$1_p50" "$(ms '%.1f' p50_ms "$f")"
    setv "$1_p99" "$(ms '%.1f' p99_ms "$f")"
    setv "$1_max" "$(ms '%.1f' max_ms "$f")"
    setv "$1_non2xx" "$(res non2xx "$f")"
    setv "$1_statuses" "$(res statuses "$f")"
    setv "$1_sockerr" "$(calc '%d' "$(res connect "$f") + $(res read "$f") + $(res write "$f") + $(res timeout "$f")")"
    setv "$1_hp99" "$(ms '%.2f' p99_ms "$h")"
    setv "$1_hmax" "$(ms '%.1f' max_ms "$h")"
    setv "$1_hrps" "$(ms '%.0f' rps "$h")"
    setv "$1_hnon2xx" "$(res non2xx "$h")"
    setv "$1_batch" "$(ratio '%.1f' "$(delta "$1" kioskd_store_batch_size_sum)" "$batches")"
    setv "$1_commit_ms" "$(ratio '%.2f' "$(calc '%.6f' "$(delta "$1" kioskd_store_commit_seconds_sum) * 1000")" "$batches")"
    setv "$1_commits_s" "$(calc '%.0f' "$batches / $SECS")"
    setv "$1_failed" "$(delta "$1" kioskd_store_jobs_failed_total)"
    setv "$1_cfailed" "$(delta "$1" kioskd_store_commits_failed_total)"
    setv "$1_loop" "$(awk 'NR == 1 { c = $1; w = $2 } NR == 2 { printf "%.1f / %.2f", ($1 - c) / 1e9, ($2 - w) / 1e9 }' "$run/$1.sched")"
}

# --- 1. the disk's own rate: one commit per write -----------------------------

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
note "run folder $run"
note "disk: single-row commits (3 s each, normal then +${SLOW_MS} ms per fsync)"
"$COMMIT_RATE" "$run/commit.db" 3 >"$run/commit_normal.txt" || die "commit_rate failed"
LD_PRELOAD=$SLOWLIB SLOWFSYNC_MS=$SLOW_MS "$COMMIT_RATE" "$run/commit.db" 3 >"$run/commit_slow.txt" ||
    die "commit_rate under slowfsync failed"
commit_normal=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' "$run/commit_normal.txt")
commit_slow=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' "$run/commit_slow.txt")

# --- 2. foundation ------------------------------------------------------------

note "foundation: size, start-up, idle memory, GET /healthz versus nginx"
bin_size=$(stat -L -c %s "$KIOSKD_FILE")
$BENCH_STRIP -o "$run/kioskd.stripped" "$KIOSKD_FILE" 2>/dev/null && bin_stripped=$(stat -c %s "$run/kioskd.stripped") ||
    bin_stripped="-"
rm -f "$run/kioskd.stripped"
for i in 1 2 3; do
    make_data "$run/fresh$i"
    python3 "$here/startup.py" "$KIOSKD" "$run/fresh$i/kioskd.ini" "$run/startup_fresh$i.log" >>"$run/startup_fresh.txt" ||
        die "start-up on a fresh database failed"
done
start_fresh=$(sed -n 's/startup_ms=//p' "$run/startup_fresh.txt" | median)

data=$run/data
make_data "$data" seed
start_kioskd "$data" kioskd_normal
sleep 1
rss_idle=$(rss "$kpid" VmRSS)
healthz_body=$(curl -sf "$base/healthz")

ng=$run/nginx
mkdir -p "$ng/tmp" "$ng/www/api/v1"
chmod 755 "$run" "$ng" # nginx's worker (user nobody) reads the event list's copy
# the same bytes as kioskd's event list, for nginx to serve from a file
curl -sf "$base/api/v1/events" >"$ng/www/api/v1/events" || die "kioskd does not answer GET /api/v1/events"
nport=$(free_port)
cat >"$ng/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    server {
        listen 127.0.0.1:$nport;
        root $ng/www;
        location = /api/v1/events { default_type application/json; }
        location = /healthz {
            default_type application/json;
            return 200 '$healthz_body';
        }
    }
}
EOF
nginx -p "$ng" -c "$ng/nginx.conf" -e "$ng/error.log" 2>"$ng/stderr.log" &
npid=$!
i=0
until curl -sf "http://127.0.0.1:$nport/healthz" >/dev/null 2>&1; do
    kill -0 "$npid" 2>/dev/null || die "nginx did not start; see $ng/error.log and $ng/stderr.log"
    i=$((i + 1))
    [ $i -lt 200 ] || die "nginx did not answer within 10 s"
    sleep 0.05
done
# Two alternating rounds; the better of each side counts (other load on the
# machine only ever lowers a figure).
for round in 1 2; do
    wrk -t1 -c32 -d"${GET_SECS}s" --latency -s "$BENCH_LUA/get.lua" "$base/healthz" \
        >"$run/get_kioskd.$round.txt" 2>&1 || die "wrk on kioskd's /healthz failed"
    alive "GET /healthz"
    wrk -t1 -c32 -d"${GET_SECS}s" --latency -s "$BENCH_LUA/get.lua" "http://127.0.0.1:$nport/healthz" \
        >"$run/get_nginx.$round.txt" 2>&1 || die "wrk on nginx failed"
    # the kiosk's event list: a cached JSON answer, beside /healthz as its limit
    wrk -t1 -c32 -d"${GET_SECS}s" --latency -s "$BENCH_LUA/get.lua" "$base/api/v1/events" \
        >"$run/get_events.$round.txt" 2>&1 || die "wrk on kioskd's /api/v1/events failed"
    alive "GET /api/v1/events"
    wrk -t1 -c32 -d"${GET_SECS}s" --latency -s "$BENCH_LUA/get.lua" "http://127.0.0.1:$nport/api/v1/events" \
        >"$run/get_nginx_events.$round.txt" 2>&1 || die "wrk on nginx's /api/v1/events failed"
done
kill -TERM "$npid"
wait "$npid" || true
npid=""
# best NAME: the round of NAME with the most requests/s
best() {
    for f in "$run/$1".*.txt; do echo "$(res rps "$f") $f"; done | sort -n | tail -n 1 | cut -d' ' -f2
}
get_kf=$(best get_kioskd) get_nf=$(best get_nginx)
get_k=$(ms '%.0f' rps "$get_kf") get_n=$(ms '%.0f' rps "$get_nf")
get_ef=$(best get_events) get_nef=$(best get_nginx_events)
get_e=$(ms '%.0f' rps "$get_ef") get_ne=$(ms '%.0f' rps "$get_nef")
events_bytes=$(wc -c <"$ng/www/api/v1/events")

# --- 3. durable writes and check-ins, normal disk -----------------------------

note "sign-ups, normal disk: $CONNS connections, ${SECS} s, wrk -t1 -c4 on /healthz beside"
PHONE_PREFIX=139 load signup_normal signup.lua /api/v1/events/1/signups
collect signup_normal

note "pre-creating $((2 * TICKETS)) tickets for the check-in runs"
mkdir -p "$run/tickets"
t0=$(date +%s.%N)
PHONE_PREFIX=137 TICKETS_OUT=$run/tickets QUOTA=$((2 * TICKETS)) \
    wrk -t1 -c"$CONNS" -d600s --timeout 10s -s "$BENCH_LUA/signup.lua" "$base/api/v1/events/1/signups" \
    >"$run/loader.txt" 2>&1 &
bgpid=$!
# a deadline by the clock: a loaded machine made 1,200 polls take 9 minutes
deadline=$(($(date +%s) + 120))
while :; do
    have=$(cat "$run"/tickets/tickets.* 2>/dev/null | wc -l)
    [ "$have" -ge $((2 * TICKETS)) ] && break
    kill -0 "$bgpid" 2>/dev/null || die "the ticket loader stopped early; see $run/loader.txt"
    alive "the ticket loader"
    [ "$(date +%s)" -lt "$deadline" ] || break # 2 minutes at most; the check-in runs report any shortfall
    sleep 0.1
done
kill "$bgpid" 2>/dev/null || true
wait "$bgpid" 2>/dev/null || true
bgpid=""
load_secs=$(calc '%.1f' "$(date +%s.%N) - $t0")
cat "$run"/tickets/tickets.* >"$run/tickets/all"
have=$(wc -l <"$run/tickets/all")
[ "$have" -gt 1 ] || die "the ticket loader made no tickets; see $run/loader.txt"
half=$((have / 2))
head -n "$half" "$run/tickets/all" >"$run/tickets/normal"
tail -n +"$((half + 1))" "$run/tickets/all" >"$run/tickets/slow"

# memory high-water mark before the first staff login (argon2id takes 19 MiB)
rss_writes=$(rss "$kpid" VmHWM)

note "check-ins, normal disk"
TOKEN=$(login)
[ -n "$TOKEN" ] || die "staff login failed; see $log"
TOKEN=$TOKEN TICKETS=$run/tickets/normal load checkin_normal checkin.lua /api/v1/checkins
collect checkin_normal
checkin_normal_already=$(res already "$run/checkin_normal.txt")
checkin_normal_wrapped=$(res wrapped "$run/checkin_normal.txt")
rss_after=$(rss "$kpid" VmRSS)
rss_peak=$(rss "$kpid" VmHWM)
stop_kioskd

# --- 4. the same on the slowed disk -------------------------------------------

note "sign-ups and check-ins with +${SLOW_MS} ms per fsync (LD_PRELOAD=slowfsync.so)"
start_kioskd "$data" kioskd_slow slow
PHONE_PREFIX=138 load signup_slow signup.lua /api/v1/events/1/signups
collect signup_slow
TOKEN=$(login)
[ -n "$TOKEN" ] || die "staff login failed; see $log"
TOKEN=$TOKEN TICKETS=$run/tickets/slow load checkin_slow checkin.lua /api/v1/checkins
collect checkin_slow
checkin_slow_already=$(res already "$run/checkin_slow.txt")
checkin_slow_wrapped=$(res wrapped "$run/checkin_slow.txt")
slow_batches=$(prom kioskd_store_batch_size_count "$run/checkin_slow.after.prom")
rss_slow_peak=$(rss "$kpid" VmHWM)
stop_kioskd
slow_flushes=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); n += kv[2] } } END { print n + 0 }' \
    "$run/kioskd_slow.fsyncs" 2>/dev/null || echo 0)

note "start-up with the existing database"
python3 "$here/startup.py" "$KIOSKD" "$data/kioskd.ini" "$run/startup_existing.log" 3 >"$run/startup_existing.txt" ||
    die "start-up on the existing database failed"
start_existing=$(sed -n 's/startup_ms=//p' "$run/startup_existing.txt" | median)
signups_in_db=$(($(res created "$run/signup_normal.txt") + $(res created "$run/signup_slow.txt") + have))

# --- the table ----------------------------------------------------------------

stripped_kib=-
[ "$bin_stripped" = - ] || stripped_kib=$(calc '(%.0f KiB)' "$bin_stripped / 1024")
if [ "$HEALTHZ_PACE_MS" -gt 0 ]; then beside="paced, ${HEALTHZ_PACE_MS} ms between requests"; else beside="unpaced"; fi
row() { printf '  %-44s %18s %18s\n' "$1" "$2" "${3:-}"; }
x() { ratio '%.1fx' "$1" "$2"; }
# shellcheck disable=SC2154 # the NAME_* figures are set by collect (eval)
{
    echo
    echo "kioskd benchmarks  $(date '+%Y-%m-%d %H:%M %Z')  $(nproc) cores  $("$KIOSKD" version 2>/dev/null | head -n 1)"
    echo "load average before the run: $load_before (anything else running skews every figure)"
    echo "raw output: bench/out/$(basename "$run")"
    echo
    echo "Foundation"
    row "binary size (stripped)" "$(calc '%.0f KiB' "$bin_size / 1024")" "$stripped_kib"
    row "RSS idle after start / after the loads" "$rss_idle MiB" "$rss_after MiB"
    row "RSS peak: sign-ups / with a staff login" "$rss_writes MiB" "$rss_peak MiB"
    row "RSS peak of the slowed-disk daemon" "$rss_slow_peak MiB"
    row "start-up to first /healthz: fresh / existing" "$start_fresh ms" "$start_existing ms"
    row "  (existing = the bench database, rows)" "" "$signups_in_db sign-ups"
    echo
    printf '  %-44s %18s %18s %10s\n' "GET /healthz, wrk -t1 -c32 -d${GET_SECS}s, best of 2" "kioskd" "nginx (1 worker)" "ratio"
    printf '  %-44s %18s %18s %10s\n' "  requests/s" "$get_k" "$get_n" "$(ratio '%.2f' "$get_k" "$get_n")"
    printf '  %-44s %18s %18s\n' "  p99 latency (ms)" "$(ms '%.2f' p99_ms "$get_kf")" "$(ms '%.2f' p99_ms "$get_nf")"
    printf '  %-44s %18s %18s\n' "  non-2xx" "$(res non2xx "$get_kf")" "$(res non2xx "$get_nf")"
    printf '  %-44s %18s %18s %10s\n' "GET /api/v1/events, same runs, best of 2" "events" "/healthz" "ratio"
    printf '  %-44s %18s %18s %10s\n' "  requests/s" "$get_e" "$get_k" "$(ratio '%.2f' "$get_e" "$get_k")"
    printf '  %-44s %18s %18s\n' "  p99 latency (ms), non-2xx" "$(ms '%.2f' p99_ms "$get_ef"), $(res non2xx "$get_ef")" "$(ms '%.2f' p99_ms "$get_kf")"
    printf '  %-44s %18s %18s %10s\n' "  beside nginx, the same $events_bytes bytes" "kioskd" "nginx (a file)" "ratio"
    printf '  %-44s %18s %18s %10s\n' "  requests/s" "$get_e" "$get_ne" "$(ratio '%.2f' "$get_e" "$get_ne")"
    printf '  %-44s %18s %18s\n' "  p99 latency (ms)" "$(ms '%.2f' p99_ms "$get_ef")" "$(ms '%.2f' p99_ms "$get_nef")"
    echo
    row "" "normal disk" "+${SLOW_MS} ms/fsync"
    echo "Disk (WAL, synchronous=FULL, 1 row per commit)"
    row "one commit per write: commits/s" "$(calc '%.0f' "$commit_normal")" "$(calc '%.1f' "$commit_slow")"
    echo
    echo "Sign-ups: $CONNS connections, ${SECS} s, distinct phones; /healthz beside: wrk -t1 -c4, $beside"
    row "sign-ups/s" "$signup_normal_rps" "$signup_slow_rps"
    row "  ratio to one commit per write (goal: 30x, slow disk)" "$(x "$signup_normal_rps" "$commit_normal")" "$(x "$signup_slow_rps" "$commit_slow")"
    row "  latency p50 / p99 (ms)" "$signup_normal_p50 / $signup_normal_p99" "$signup_slow_p50 / $signup_slow_p99"
    row "  latency max (ms)" "$signup_normal_max" "$signup_slow_max"
    row "  non-2xx answers / socket errors" "$signup_normal_non2xx / $signup_normal_sockerr" "$signup_slow_non2xx / $signup_slow_sockerr"
    row "  answers by status" "$signup_normal_statuses" "$signup_slow_statuses"
    row "  commits/s, avg batch (jobs/commit)" "$signup_normal_commits_s, $signup_normal_batch" "$signup_slow_commits_s, $signup_slow_batch"
    row "  avg commit time (run batch + COMMIT, ms)" "$signup_normal_commit_ms" "$signup_slow_commit_ms"
    row "  store jobs / commits failed" "$signup_normal_failed / $signup_normal_cfailed" "$signup_slow_failed / $signup_slow_cfailed"
    row "  loop thread: CPU s / waiting for a CPU s" "$signup_normal_loop" "$signup_slow_loop"
    row "  /healthz beside (-c4) p99 ms (goal: <10)" "$signup_normal_hp99" "$signup_slow_hp99"
    row "  /healthz beside: req/s, max ms, non-2xx" "$signup_normal_hrps, $signup_normal_hmax, $signup_normal_hnon2xx" "$signup_slow_hrps, $signup_slow_hmax, $signup_slow_hnon2xx"
    echo
    echo "Check-ins: $CONNS connections, ${SECS} s, distinct tickets (first check-in each); /healthz beside"
    row "check-ins/s" "$checkin_normal_rps" "$checkin_slow_rps"
    row "  ratio to one commit per write" "$(x "$checkin_normal_rps" "$commit_normal")" "$(x "$checkin_slow_rps" "$commit_slow")"
    row "  latency p50 / p99 (ms)" "$checkin_normal_p50 / $checkin_normal_p99" "$checkin_slow_p50 / $checkin_slow_p99"
    row "  latency max (ms)" "$checkin_normal_max" "$checkin_slow_max"
    row "  already_checked_in answers (expect 0)" "$checkin_normal_already" "$checkin_slow_already"
    row "  tickets available / times reused all" "$half / $checkin_normal_wrapped" "$((have - half)) / $checkin_slow_wrapped"
    row "  non-2xx answers / socket errors" "$checkin_normal_non2xx / $checkin_normal_sockerr" "$checkin_slow_non2xx / $checkin_slow_sockerr"
    row "  answers by status" "$checkin_normal_statuses" "$checkin_slow_statuses"
    row "  commits/s, avg batch (jobs/commit)" "$checkin_normal_commits_s, $checkin_normal_batch" "$checkin_slow_commits_s, $checkin_slow_batch"
    row "  avg commit time (run batch + COMMIT, ms)" "$checkin_normal_commit_ms" "$checkin_slow_commit_ms"
    row "  store jobs / commits failed" "$checkin_normal_failed / $checkin_normal_cfailed" "$checkin_slow_failed / $checkin_slow_cfailed"
    row "  loop thread: CPU s / waiting for a CPU s" "$checkin_normal_loop" "$checkin_slow_loop"
    row "  /healthz beside (-c4) p99 ms" "$checkin_normal_hp99" "$checkin_slow_hp99"
    row "  /healthz beside: req/s, max ms, non-2xx" "$checkin_normal_hrps, $checkin_normal_hmax, $checkin_normal_hnon2xx" "$checkin_slow_hrps, $checkin_slow_hmax, $checkin_slow_hnon2xx"
    echo
    row "flushes / commits, slowed daemon lifetime" "" "$slow_flushes / $slow_batches"
    row "tickets pre-created (normal disk)" "$have ($load_secs s)"
    echo
    echo "How to read these figures: bench/README.md"
} >"$run/table.txt"
cat "$run/table.txt"

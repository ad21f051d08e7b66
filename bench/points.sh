#!/bin/sh
# Points lookups on a branch-sized database: imports MEMBERS (100,000)
# generated members (timed), gives every tenth one points through a check-in,
# then runs wrk -t1 -c32 on GET /api/v1/members/{no}/points (staff, audited:
# each answer waits for its audit line's commit). Prints the import time and
# lookups per second with p50/p99. All traffic goes to 127.0.0.1; everything
# stays in bench/out/points.XXXXXX. Fails only when something broke.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
KIOSKD=${KIOSKD:-$here/../build/rel/kioskd}
SECS=${BENCH_SECONDS:-10}
MEMBERS=${MEMBERS:-100000}
BENCH_LUA=$here/lua
export BENCH_LUA MEMBERS
# shellcheck disable=SC1091 # peakrss.sh is beside this script
. "$here/peakrss.sh"

die() {
    echo "bench: $*" >&2
    exit 1
}
for tool in wrk curl python3; do
    command -v $tool >/dev/null 2>&1 || die "$tool is missing (make bench installs it)"
done
mkdir -p "$here/out"
ls -dt "$here"/out/points.* 2>/dev/null | tail -n +3 | while read -r old; do rm -rf "$old"; done
run=$(mktemp -d "$here/out/points.XXXXXX")
kpid=""
trap '[ -z "$kpid" ] || kill "$kpid" 2>/dev/null || true' EXIT

cat >"$run/kioskd.ini" <<EOF2
[http]
listen = 127.0.0.1:0
rate_limit = 0
[store]
path = $run/kioskd.db
key_file = $run/kioskd.key
[tickets]
key_file = $run/ticket.pem
EOF2
python3 - "$run/members.csv" "$MEMBERS" <<'EOF2'
import sys
surnames, given = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨", ["一", "二三", "四", "五六", "七", "八九"]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("member_no,name,phone,aum,birthday,household,last_txn\n")
    for i in range(int(sys.argv[2])):
        f.write(f"B{i:06d},{surnames[i % 16]}{given[i % 6]},139{i:08d},{(i * 7919) % 9000000}.{i % 100:02d},"
                f"19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d},{'H' + str(i // 3) if i % 2 else ''},\n")
EOF2
import_out=$("$KIOSKD" import members "$run/members.csv" -c "$run/kioskd.ini" 2>&1) ||
    die "the import failed: $import_out"
echo 123456 | "$KIOSKD" staff add B001 --name Bench --role staff -c "$run/kioskd.ini" \
    >"$run/setup.log" 2>&1 || die "adding the staff account failed; see $run/setup.log"

"$KIOSKD" serve -c "$run/kioskd.ini" 2>"$run/kioskd.log" &
kpid=$!
i=0
while :; do
    port=$(sed -n 's/.*event=listening .*port=\([0-9][0-9]*\).*/\1/p' "$run/kioskd.log")
    [ -n "$port" ] && break
    kill -0 "$kpid" 2>/dev/null || die "kioskd exited at start; see $run/kioskd.log"
    i=$((i + 1))
    [ $i -lt 400 ] || die "kioskd did not start; see $run/kioskd.log"
    sleep 0.05
done
base=http://127.0.0.1:$port
TOKEN=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"staff_id":"B001","pin":"123456","device":"bench"}' "$base/api/v1/staff/login" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || die "login failed"
export TOKEN
# give members points: walk-ins of every 1000th member at an open event
starts=$(date -d '-10 minutes' +%Y-%m-%dT%H:%M:%S%:z)
ends=$(date -d '+20 hours' +%Y-%m-%dT%H:%M:%S%:z)
printf 'title,kind,starts_at,ends_at,venue,capacity\nBench,community,%s,%s,Bench hall,1000000\n' \
    "$starts" "$ends" >"$run/events.csv"
"$KIOSKD" import events "$run/events.csv" -c "$run/kioskd.ini" >>"$run/setup.log" 2>&1 ||
    die "importing the event failed; see $run/setup.log"
n=0
while [ $n -lt "$MEMBERS" ]; do
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d "{\"name\":\"测试\",\"phone\":\"139$(printf %08d $n)\",\"consent\":true}" \
        "$base/api/v1/events/1/walkins" || die "a walk-in failed"
    n=$((n + 1000))
done
wrk -t1 -c32 -d"${SECS}s" --latency -s "$BENCH_LUA/points.lua" "$base/" >"$run/points.txt" 2>&1 ||
    die "wrk failed; see $run/points.txt"
peak_rss "points.sh kioskd serve" "$kpid"
kill -TERM "$kpid"
rc=0
wait "$kpid" || rc=$?
kpid=""
[ "$rc" = 0 ] || die "kioskd exited with $rc after SIGTERM; see $run/kioskd.log"
res() { sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p" "$run/points.txt"; }
[ "$(res requests)" -gt 0 ] 2>/dev/null || die "no answer; see $run/points.txt"
{
    echo "Points ($MEMBERS members; $run)"
    echo "  import:  $import_out"
    printf '  lookups: %s/s, p50 %s ms, p99 %s ms, statuses %s (wrk -t1 -c32 -d%ss)\n' \
        "$(res rps)" "$(res p50_ms)" "$(res p99_ms)" "$(res statuses)" "$SECS"
} | tee "$run/table.txt"

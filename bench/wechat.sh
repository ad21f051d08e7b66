#!/bin/sh
# 积分 from a bound member over the WeChat callback (POST /wechat), a new
# MsgId per request, in plain and in safe (AES) mode: kioskd beside
# node-webot's `wechat` middleware on express (node/wechat_server.cjs, npm
# packages pinned in node/package-lock.json) answering the same text from
# memory, in the same run, with the same token, appid and key.
#
# kioskd runs with [bot] per_minute = 0 (no per-sender limit); the member is
# bound through the real flow (a staff bind code, then 绑定 over /wechat).
# Each mode runs wrk -t1 -c$WX_CONNECTIONS for $WX_SECONDS against kioskd,
# then node, twice alternating; the better round counts. In safe mode
# lua/wechat.lua seals each request itself (libcrypto through LuaJIT's FFI:
# its own MsgId, nonce, timestamp and msg_signature), so no delivery repeats.
# Prints requests/s and p99 per server and mode, and kioskd's ratio to node.
# WX_KIOSKD_B=path: another kioskd build (say one built from main) runs on a
# copy of the same data beside it, in the same rounds (ours, B, node, ...),
# its rows and kioskd's ratio to it printed too. WX_ROUNDS: rounds (2).
# All traffic goes to 127.0.0.1; everything stays in bench/out/wechat.XXXXXX.
# Fails only when something broke.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
KIOSKD=${KIOSKD:-$here/../build/rel/kioskd}
SECS=${WX_SECONDS:-5}
CONNS=${WX_CONNECTIONS:-32}
ROUNDS=${WX_ROUNDS:-2}
KIOSKD_B=${WX_KIOSKD_B:-}
BENCH_LUA=$here/lua
WX_TOKEN=benchToken
WX_APPID=wx49f0ab532d5d035a
WX_AES_KEY=kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR
WX_OPENID=oBench_openid_0001
export BENCH_LUA WX_TOKEN WX_APPID WX_AES_KEY WX_OPENID
# shellcheck disable=SC1091 # peakrss.sh is beside this script
. "$here/peakrss.sh"

die() {
    echo "bench: $*" >&2
    exit 1
}
for tool in wrk curl python3 node npm; do
    command -v $tool >/dev/null 2>&1 || die "$tool is missing"
done
test "$here/node/node_modules/.package-lock.json" -nt "$here/node/package-lock.json" 2>/dev/null ||
    npm ci --prefix "$here/node" --no-audit --no-fund --loglevel=error >/dev/null ||
    die "npm ci in bench/node failed"
mkdir -p "$here/out"
ls -dt "$here"/out/wechat.* 2>/dev/null | tail -n +3 | while read -r old; do rm -rf "$old"; done
run=$(mktemp -d "$here/out/wechat.XXXXXX")
kpid="" npid="" bpid=""
trap 'for p in "$kpid" "$npid" "$bpid"; do [ -z "$p" ] || kill "$p" 2>/dev/null || true; done' EXIT

cat >"$run/kioskd.ini" <<EOF2
[http]
listen = 127.0.0.1:0
rate_limit = 0
[store]
path = $run/kioskd.db
key_file = $run/kioskd.key
[tickets]
key_file = $run/ticket.pem
[wechat]
token = $WX_TOKEN
appid = $WX_APPID
encoding_aes_key = $WX_AES_KEY
[bot]
per_minute = 0
EOF2
{
    echo "member_no,name,phone,aum,birthday,household,last_txn"
    echo "W000001,王小明,13900000001,352000.50,1960-03-01,H1,"
    echo "W000002,李小红,13900000002,80000,1962-04-02,H1,"
    echo "W000003,赵大海,13900000003,1200000,1958-05-03,,"
} >"$run/members.csv"
"$KIOSKD" import members "$run/members.csv" -c "$run/kioskd.ini" >"$run/setup.log" 2>&1 ||
    die "the import failed; see $run/setup.log"
echo 123456 | "$KIOSKD" staff add B001 --name Bench --role staff -c "$run/kioskd.ini" \
    >>"$run/setup.log" 2>&1 || die "adding the staff account failed; see $run/setup.log"

# the port a server started as PID (NAME) logs to LOG, as the sed expression SED
# prints it: port=
wait_port() {
    i=0
    while :; do
        port=$(sed -n "$4" "$2")
        [ -n "$port" ] && break
        kill -0 "$1" 2>/dev/null || die "$3 exited at start; see $2"
        i=$((i + 1))
        [ $i -lt 400 ] || die "$3 did not start; see $2"
        sleep 0.05
    done
}
KIOSKD_PORT='s/.*event=listening .*port=\([0-9][0-9]*\).*/\1/p'
"$KIOSKD" serve -c "$run/kioskd.ini" 2>"$run/kioskd.log" &
kpid=$!
wait_port "$kpid" "$run/kioskd.log" kioskd "$KIOSKD_PORT"
kbase=http://127.0.0.1:$port
TOKEN=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"staff_id":"B001","pin":"123456","device":"bench"}' "$kbase/api/v1/staff/login" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || die "login failed"
code=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{}' \
    "$kbase/api/v1/members/W000001/bind_code" |
    sed -n 's/.*"code":"\([0-9]*\)".*/\1/p')
[ -n "$code" ] || die "no bind code"
bound=$(python3 "$here/wechat_msgs.py" say "$kbase/wechat" "$WX_OPENID" 1 "绑定 13900000001 $code") ||
    die "binding over /wechat failed"
case $bound in 绑定成功*) ;; *) die "binding refused: $bound" ;; esac
python3 "$here/wechat_msgs.py" say "$kbase/wechat" "$WX_OPENID" 2 "积分" >"$run/reply.txt" ||
    die "积分 over /wechat failed"
grep -q '积分：' "$run/reply.txt" || die "积分 did not answer with points: $(cat "$run/reply.txt")"

node "$here/node/wechat_server.cjs" 0 "$run/reply.txt" >"$run/node.log" 2>&1 &
npid=$!
wait_port "$npid" "$run/node.log" node 's/^listening \([0-9][0-9]*\)$/\1/p'
nbase=http://127.0.0.1:$port
same=$(python3 "$here/wechat_msgs.py" say "$nbase/wechat" "$WX_OPENID" 3 "积分") ||
    die "积分 to node failed; see $run/node.log"
[ "$same" = "$(cat "$run/reply.txt")" ] || die "node answers another text: $same"

# the other build, on a copy of the data as it is now (the member bound)
if [ -n "$KIOSKD_B" ]; then
    python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
        "$run/kioskd.db" "$run/b.db" && chmod 600 "$run/b.db" || die "copying the data for B failed"
    sed "s#^path = .*#path = $run/b.db#" "$run/kioskd.ini" >"$run/b.ini"
    "$KIOSKD_B" serve -c "$run/b.ini" 2>"$run/b.log" &
    bpid=$!
    wait_port "$bpid" "$run/b.log" kioskd "$KIOSKD_PORT"
    bbase=http://127.0.0.1:$port
fi

# one wrk run: NAME BASE MODE ROUND (MsgIds start 2 * ROUND plain, one more
# safe: each run's own, none seen before)
load() {
    out="$run/$1-$3-$4.txt"
    prefix=$((2 * $4))
    [ "$3" = plain ] || prefix=$((2 * $4 + 1))
    WX_MODE=$3 WX_QUERY=$(python3 "$here/wechat_msgs.py" query) WX_PREFIX=$prefix \
        wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$BENCH_LUA/wechat.lua" "$2/wechat" \
        >"$out" 2>&1 || die "wrk failed; see $out"
    got=$(sed -n 's/^RESULT.* replied=\([0-9]*\).*/\1/p' "$out")
    [ "${got:-0}" -gt 0 ] || die "no reply from $1 in $3 mode; see $out"
}
round=1
while [ $round -le "$ROUNDS" ]; do
    for mode in plain safe; do
        load kioskd "$kbase" $mode $round
        kill -0 "$kpid" 2>/dev/null || die "kioskd died; see $run/kioskd.log"
        if [ -n "$KIOSKD_B" ]; then
            load kioskd_b "$bbase" $mode $round
            kill -0 "$bpid" 2>/dev/null || die "kioskd B died; see $run/b.log"
        fi
        load node "$nbase" $mode $round
        kill -0 "$npid" 2>/dev/null || die "node died; see $run/node.log"
    done
    round=$((round + 1))
done

peak_rss "wechat.sh kioskd serve" "$kpid"
kill -TERM "$kpid"
rc=0
wait "$kpid" || rc=$?
kpid=""
[ "$rc" = 0 ] || die "kioskd exited with $rc after SIGTERM; see $run/kioskd.log"
kill -TERM "$npid" 2>/dev/null || true
wait "$npid" 2>/dev/null || true
npid=""
if [ -n "$bpid" ]; then
    kill -TERM "$bpid" 2>/dev/null || true
    wait "$bpid" 2>/dev/null || true
    bpid=""
fi

# field NAME MODE ROUND KEY
field() { sed -n "s/^RESULT.* $4=\([^ ]*\).*/\1/p" "$run/$1-$2-$3.txt"; }
# the best round of NAME MODE: "rps p99 statuses replied reused"
best() {
    r=1 i=2
    while [ $i -le "$ROUNDS" ]; do
        r=$(awk -v a="$(field "$1" "$2" $r rps)" -v b="$(field "$1" "$2" $i rps)" -v r=$r -v i=$i \
            'BEGIN { print (b > a) ? i : r }')
        i=$((i + 1))
    done
    echo "$(field "$1" "$2" "$r" rps) $(field "$1" "$2" "$r" p99_ms) $(field "$1" "$2" "$r" statuses)" \
        "$(field "$1" "$2" "$r" replied) $(field "$1" "$2" "$r" reused)"
}
{
    echo "WeChat 积分 from a bound member, new MsgId each (wrk -t1 -c$CONNS, best of $ROUNDS x ${SECS}s," \
        "load $(cut -d' ' -f1-3 /proc/loadavg); $run)"
    printf '  %-6s %-26s %10s %9s  %s\n' mode server requests/s p99 "statuses (replied, reused)"
    for mode in plain safe; do
        set -- $(best kioskd $mode)
        k_rps=$1
        printf '  %-6s %-26s %10.0f %6.1f ms  %s (%s, %s)\n' $mode kioskd "$1" "$2" "$3" "$4" "$5"
        if [ -n "$KIOSKD_B" ]; then
            set -- $(best kioskd_b $mode)
            b_rps=$1
            printf '  %-6s %-26s %10.0f %6.1f ms  %s (%s, %s)\n' $mode "kioskd B" "$1" "$2" "$3" "$4" "$5"
            awk -v k="$k_rps" -v b="$b_rps" -v m=$mode \
                'BEGIN { printf "  %-6s %-26s %10.2f x\n", m, "ratio kioskd / kioskd B", k / b }'
        fi
        set -- $(best node $mode)
        n_rps=$1
        printf '  %-6s %-26s %10.0f %6.1f ms  %s (%s, %s)\n' $mode \
            "wechat $(node -p 'require(process.argv[1]).version' "$here/node/node_modules/wechat/package.json")/express $(node -p 'require(process.argv[1]).version' "$here/node/node_modules/express/package.json")" \
            "$1" "$2" "$3" "$4" "$5"
        awk -v k="$k_rps" -v n="$n_rps" -v m=$mode \
            'BEGIN { printf "  %-6s %-26s %10.2f x\n", m, "ratio kioskd / node", k / n }'
    done
} | tee "$run/table.txt"

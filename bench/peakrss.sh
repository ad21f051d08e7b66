# shellcheck shell=sh
# Sourced by the shell benchmarks: peak_rss NAME PID notes a running
# daemon's peak RSS (VmHWM) just before it is stopped, as peakrss.py does
# for the Python ones (printed, and appended to $BENCH_RSS_LOG when set).
peak_rss() {
    _kib=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$2/status" 2>/dev/null) || _kib=""
    [ -n "$_kib" ] || return 0
    echo "bench: $1: peak RSS $(awk -v k="$_kib" 'BEGIN { printf "%.1f", k / 1024 }') MiB" >&2
    [ -z "${BENCH_RSS_LOG:-}" ] || echo "$_kib $1" >>"$BENCH_RSS_LOG"
}

#!/bin/sh
# Renders per second of a confirmation-like template (Chinese text, 6 variables,
# one section over 2 guests): kioskd's renderer (out/render_rate, core/mustache.c
# at -O2) beside mustache.js (node/, npm `mustache` pinned in its lock file),
# in the same run, after checking that both print the same bytes. Run by hand
# (`make -C bench render`), not by `make bench` or `make test`.
#
#   RENDER_SECONDS (default 3) per measurement; each runs twice, alternating,
#   and the better of the two counts.
set -eu
cd "$(dirname "$0")"
secs=${RENDER_SECONDS:-3}
tpl=render/confirmation.mustache
data=render/data.json

test node/node_modules/.package-lock.json -nt node/package-lock.json 2>/dev/null ||
  npm ci --prefix node --no-audit --no-fund --loglevel=error

c_out=$(./out/render_rate "$tpl" "$data" 0)
js_out=$(node node/render_rate.mjs "$tpl" "$data" 0)
if [ "$c_out" != "$js_out" ]; then
  echo "render.sh: kioskd and mustache.js disagree on the output" >&2
  printf '%s\n--- mustache.js:\n%s\n' "$c_out" "$js_out" >&2
  exit 1
fi

rate() { sed -n 's/.*rate=\([0-9]*\).*/\1/p'; }
best_c=0 best_js=0
for round in 1 2; do
  r=$(./out/render_rate "$tpl" "$data" "$secs" | rate)
  [ "$r" -gt "$best_c" ] && best_c=$r
  r=$(node node/render_rate.mjs "$tpl" "$data" "$secs" | rate)
  [ "$r" -gt "$best_js" ] && best_js=$r
done
bytes=$(printf '%s\n' "$c_out" | wc -c)
echo "confirmation template ($bytes bytes of output), best of 2 x ${secs} s, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  kioskd (core/mustache.c)  %10d renders/s\n' "$best_c"
printf '  mustache.js %-13s %10d renders/s (node %s)\n' \
  "$(node -p 'require("./node/node_modules/mustache/package.json").version')" "$best_js" "$(node --version)"
awk -v c="$best_c" -v j="$best_js" 'BEGIN { printf "  ratio                     %10.2f x\n", c / j }'

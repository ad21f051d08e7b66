// mustache.js (npm `mustache`, pinned in package-lock.json) on the same template
// and data as out/render_rate: node render_rate.mjs TEMPLATE DATA_JSON [SECONDS].
// Prints `renders=N seconds=S rate=R bytes=B`, or with SECONDS 0 the text once.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const Mustache = createRequire(import.meta.url)("mustache");
const [tplPath, dataPath, secArg] = process.argv.slice(2);
const template = readFileSync(tplPath, "utf8");
const data = JSON.parse(readFileSync(dataPath, "utf8"));
const seconds = secArg === undefined ? 3 : Number(secArg);

Mustache.parse(template); // parsed once and cached, as kioskd does
if (seconds === 0) {
  process.stdout.write(Mustache.render(template, data));
} else {
  let n = 0, out = "";
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  do {
    for (let i = 0; i < 1000; i++) out = Mustache.render(template, data);
    n += 1000;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (elapsed < seconds);
  const bytes = Buffer.byteLength(out, "utf8");
  console.log(`renders=${n} seconds=${elapsed.toFixed(2)} rate=${(n / elapsed).toFixed(0)} bytes=${bytes}`);
}

// Row 4: N sequential updates through the official Polytomic TypeScript SDK
// (polytomic 1.18.1, API version 2024-02-08) against the benchmark's stub.
//
//   node update.js BASE_URL SYNC_ID BODY_JSON_FILE N
//   prints "<seconds for N> <failures>"
"use strict";
const fs = require("fs");
const { PolytomicClient } = require("polytomic");

async function main() {
  const [baseUrl, id, bodyFile, count] = process.argv.slice(2);
  const n = parseInt(count, 10);
  const body = JSON.parse(fs.readFileSync(bodyFile, "utf8"));
  const client = new PolytomicClient({
    environment: baseUrl,
    token: "bench-token",
    version: "2024-02-08",
  });
  let failures = 0;
  const one = async () => {
    try {
      const res = await client.bulkSync.update(id, body);
      if (!res || !res.data) failures++;
    } catch (e) {
      failures++;
    }
  };
  // The first request opens the connection and loads the SDK's lazy
  // modules; it is not timed, as in the other rows.
  await one();
  failures = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await one();
  const t1 = process.hrtime.bigint();
  process.stdout.write(`${(Number(t1 - t0) / 1e9).toFixed(6)} ${failures}\n`);
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + "\n");
  process.exit(1);
});

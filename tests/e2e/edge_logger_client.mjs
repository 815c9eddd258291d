// The real @baselime/edge-logger, pointed at the local server: `node edge_logger_client.mjs <json config>`.
// Config: {baseUrl, apiKey, dataset, requestId[, baselimeUrl]} (baselimeUrl: the logger's own option,
// default `${baseUrl}/v1`; the logger posts to `${baselimeUrl}/${dataset}`). Prints one JSON line: the HTTP status of every
// request the logger made (fetch is observed, not changed) and anything it reported as a failure.
import { BaselimeLogger } from "@baselime/edge-logger";

const config = JSON.parse(process.argv[2]);
const { baseUrl, apiKey, dataset, requestId } = config;
const baselimeUrl = config.baselimeUrl ?? `${baseUrl}/v1`;

const statuses = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const response = await realFetch(...args);
  statuses.push(response.status);
  return response;
};
const failures = [];
const realLog = console.log;
const realError = console.error;
console.log = (...args) => failures.push(args.join(" "));
console.error = (...args) => failures.push(args.join(" "));

// What a worker's ExecutionContext does: keep the promises it is handed.
const pending = [];
const ctx = { waitUntil: (promise) => pending.push(promise) };

// 1. service and namespace set; the third line reaches flushAfterLogs and flushes by itself.
const logger = new BaselimeLogger({
  ctx,
  apiKey,
  dataset,
  service: "checkout",
  namespace: "edge-worker",
  baselimeUrl,
  requestId,
  flushAfterLogs: 3,
  flushAfterMs: 60_000,
});
logger.info("first line", { step: 1, user: { id: 42, tags: ["a", "b"] } });
logger.warn("second line", { step: 2 });
logger.error(new Error("third line"), { step: 3 });
await Promise.all(pending);
logger.debug("fourth line", { step: 4 });
logger.info("fifth line é 🚀", { step: 5 });
await logger.flush();

// 2. nothing set: the logger sends the literal header values "undefined".
const bare = new BaselimeLogger({ ctx, apiKey, dataset, baselimeUrl, requestId: `${requestId}-bare` });
bare.info("no service, no namespace", { step: 6 });
ctx.waitUntil(bare.flush());
await Promise.all(pending);

console.log = realLog;
console.error = realError;
console.log(JSON.stringify({ statuses, failures }));
// The loggers' idle flush timers would keep the process alive for flushAfterMs.
process.exit(0);

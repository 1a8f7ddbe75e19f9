// abuse: the scaler under hostile traffic, as it ships (the bundle, `dind-k8s serve`, the shipped Role): 10,000
// hostile requests — missing, bad and garbage signatures, random headers up to the header limit, truncated bodies,
// 10 MB bodies (declared and chunked), slow senders, signed deliveries of another account — interleaved with 200
// valid signed deliveries. Measured: valid ones recorded, Pods written for hostile ones, /metrics series before and
// after, the scaler's RSS growth (after a scrape, where the unbounded labels used to cost it), and the valid
// deliveries' p99 against 200 sent the same way without the flood.
import { connect } from "node:net";
import { CoreV1Api } from "@kubernetes/client-node";
import type { TestEnv } from "../test/env/types.ts";
import { hostileRequest, metricSeries, sendHostile } from "../test/helpers/hostile.ts";
import { deliver, workflowJobPayload } from "../test/helpers/webhooks.ts";
import { atRate, fixed, percentile, postQueued, rssMb, SECRET, startBenchScaler } from "./scaler.ts";

const HOSTILE = 10_000;
const VALID = 200;
/** Slow senders open at once, each declaring 1 MB: half the scaler's 32 MB body budget. */
const SLOW_AT_ONCE = 16;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `head` (and then whatever `after` writes) on a raw socket; resolves when the server closes it. */
function raw(url: string, head: string, after?: (socket: ReturnType<typeof connect>) => void): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.on("error", () => {});
    socket.on("data", () => {});
    socket.on("close", () => resolve());
    socket.write(head);
    after?.(socket);
  });
}

function head(headers: Record<string, string | number>): string {
  const lines = Object.entries({ host: "scaler", ...headers }).map(([name, value]) => `${name}: ${value}`);
  return `POST /webhook HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

const SIGNED_LOOKING = {
  "content-type": "application/json",
  "x-github-event": "workflow_job",
  "x-hub-signature-256": `sha256=${"ab".repeat(32)}`,
};

/** A body that stops short of its Content-Length, then the connection drops. */
const truncated = (url: string) =>
  raw(url, head({ ...SIGNED_LOOKING, "content-length": 4096 }), (socket) => {
    socket.write("{".repeat(100));
    setTimeout(() => socket.destroy(), 50);
  });

/** 10 MB declared: refused on the headers; the sender keeps writing until the server closes. */
const declaredHuge = (url: string) =>
  raw(url, head({ ...SIGNED_LOOKING, "content-length": 10 * 1024 * 1024 }), (socket) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      if (socket.destroyed || socket.writableEnded) return;
      if (socket.write(chunk)) setImmediate(pump);
      else socket.once("drain", pump);
    };
    pump();
    setTimeout(() => socket.destroy(), 2_000);
  });

/** 10 MB chunked: no length to refuse on; refused once past the 1 MB limit. */
const chunkedHuge = (url: string) =>
  raw(url, head({ ...SIGNED_LOOKING, "transfer-encoding": "chunked" }), (socket) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      if (socket.destroyed || sent >= 10 * 1024 * 1024) return;
      sent += chunk.length;
      const ok = socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString()}\r\n`);
      if (ok) setImmediate(pump);
      else socket.once("drain", pump);
    };
    pump();
    setTimeout(() => socket.destroy(), 5_000);
  });

/** 1 MB declared, a byte every 200 ms: the server's request timeout ends it. */
const slow = (url: string) =>
  raw(url, head({ ...SIGNED_LOOKING, "content-length": 1024 * 1024 }), (socket) => {
    const trickle = setInterval(() => {
      if (socket.destroyed) clearInterval(trickle);
      else socket.write("{");
    }, 200);
    socket.on("close", () => clearInterval(trickle));
  });

/** Signed with the real secret (another installation of the App shares it), for a repository of another account. */
async function foreign(url: string, jobId: number): Promise<void> {
  const payload = {
    ...workflowJobPayload({ action: "queued", jobId, repository: "other-org/app" }),
    installation: { id: 999 },
  };
  await deliver(url, "workflow_job", payload, { secret: SECRET }).catch(() => {});
}

export async function benchAbuse(env: TestEnv): Promise<string> {
  const scaler = await startBenchScaler(env, { maxRunners: 0, latencyMs: 0, prefix: "bench-abuse" });
  try {
    const { url } = scaler;
    const series = async () => metricSeries(await (await fetch(`${url}/metrics`)).text()).length;
    // Without the flood: the baseline p99, at the rate the valid ones are sent during it.
    await atRate(20, 20, (i) => postQueued(url, 29_000_000 + i));
    const quiet = await atRate(VALID, 50, (i) => postQueued(url, 30_000_000 + i));
    // One of each kind first: the series their answers add (from fixed label sets) exist before counting.
    for (let n = 0; n < 7; n++) await sendHostile(url, hostileRequest(n));
    await foreign(url, 39_999_999);
    await declaredHuge(url);
    await sleep(500);
    const seriesBefore = await series();
    const rssBefore = await rssMb(scaler.pid);

    const valid: Promise<{ status: number; ms: number }>[] = [];
    const slowOnes = new Set<Promise<void>>();
    let next = 0;
    const worker = async () => {
      while (next < HOSTILE) {
        const n = next++;
        // Every 50th hostile request, a valid one goes out too: 200 spread over the flood.
        if (n % (HOSTILE / VALID) === 0) valid.push(postQueued(url, 31_000_000 + valid.length));
        const kind = n % 100;
        if (n % 1000 === 999) await chunkedHuge(url);
        else if (kind < 70)
          await sendHostile(url, hostileRequest(n, { headerBytes: 7_000, jobId: 50_000_000 + n }));
        else if (kind < 85) await foreign(url, 40_000_000 + n);
        else if (kind < 90) await truncated(url);
        else if (kind < 95) await declaredHuge(url);
        else if (slowOnes.size < SLOW_AT_ONCE) {
          const sending = slow(url).finally(() => slowOnes.delete(sending));
          slowOnes.add(sending);
        } else await sendHostile(url, hostileRequest(n, { jobId: 50_000_000 + n }));
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: 24 }, worker));
    const flood = await Promise.all(valid);
    const floodS = (performance.now() - started) / 1000;
    await Promise.all(slowOnes);

    const exposition = await (await fetch(`${url}/metrics`)).text();
    const seriesAfter = metricSeries(exposition).length;
    // How the scaler answered (node:http's own 408s and 431s aren't in its metrics).
    const answered = (outcome: string) =>
      [
        ...exposition.matchAll(
          new RegExp(`^dind_k8s_webhook_deliveries_total\\{[^}]*outcome="${outcome}"\\} (\\S+)$`, "gm"),
        ),
      ]
        .map((match) => Number(match[1]))
        .reduce((sum, value) => sum + value, 0);
    await sleep(1_000);
    const rssAfter = await rssMb(scaler.pid);

    const pods = (await scaler.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: scaler.ns })).items;
    const jobIds = pods.map((pod) => Number(pod.metadata?.labels?.["dind-k8s.io/job-id"]));
    const isValid = (id: number) =>
      (id >= 29_000_000 && id < 30_000_000 + VALID) || (id >= 31_000_000 && id < 31_000_000 + VALID);
    const recorded = jobIds.filter((id) => id >= 31_000_000 && id < 31_000_000 + VALID).length;
    const hostileWrites = jobIds.filter((id) => !isValid(id)).length;
    const p99Valid = percentile(
      flood.map((result) => result.ms),
      99,
    );
    const p99Quiet = percentile(
      quiet.map((result) => result.ms),
      99,
    );
    return `abuse: valid_recorded=${recorded}/${VALID} hostile_writes=${hostileWrites} series_before=${seriesBefore} series_after=${seriesAfter} rss_growth_mb=${fixed(rssAfter - rssBefore, 1)} p99_valid_ms=${fixed(p99Valid)} p99_quiet_ms=${fixed(p99Quiet)} ratio=${fixed(p99Valid / p99Quiet)} hostile=${HOSTILE} flood_s=${fixed(floodS, 1)} rss_before_mb=${fixed(rssBefore, 1)} unauthorized=${answered("unauthorized")} unsupported_media_type=${answered("unsupported-media-type")} bad_request=${answered("bad-request")} too_large=${answered("too-large")} foreign=${answered("foreign")} busy=${answered("busy")}`;
  } finally {
    await scaler.stop();
  }
}

// `dind-k8s serve` with GitHub black-holed: a stand-in that accepts connections and never answers. SIGTERM must
// abort the GitHub calls in flight (the redelivery sweep, a release's JIT registration, the readiness probe)
// and exit 0 well inside the chart's 30 s grace period, not wait for request timeouts and retries.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestNamespace, type TestNamespace } from "../helpers/kube.ts";
import { listeningUrl, runnerSetYaml, serveArgs, writeServeFiles } from "../helpers/scaler.ts";
import { deliver, workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");
const cli = join(import.meta.dirname, "../../src/cli.ts");
const SECRET = "shutdown-test-secret";

let ns: TestNamespace;
let blackHole: Server;
const sockets = new Set<Socket>();
let dir: string;
let scaler: ChildProcess;
let url: string;
let stderr = "";

beforeAll(async () => {
  ns = await createTestNamespace(env, "shutdown", { podSecurity: "privileged" });
  // Reads what it is sent and never writes a byte back, as a host behind a dropping firewall would behave
  // after the handshake.
  blackHole = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  blackHole.listen(0, "127.0.0.1");
  await once(blackHole, "listening");
  const address = blackHole.address();
  if (address === null || typeof address === "string") throw new Error("black hole has no port");

  dir = await mkdtemp(join(tmpdir(), "dind-k8s-shutdown-"));
  const files = await writeServeFiles(env, {
    namespace: ns.name,
    dir,
    sets: runnerSetYaml("dind-k8s", 2),
    token: "ghp_shutdown",
    secrets: [SECRET],
    githubApiUrl: `http://127.0.0.1:${address.port}`,
  });
  scaler = spawn(process.execPath, [cli, ...serveArgs(files)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  scaler.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  url = await listeningUrl(scaler).catch((error: unknown) => {
    throw new Error(`${String(error)}: ${stderr}`);
  });
});

afterAll(async () => {
  if (scaler && scaler.exitCode === null) scaler.kill("SIGKILL");
  for (const socket of sockets) socket.destroy();
  blackHole?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function waitFor(what: string, condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; scaler stderr: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("dind-k8s serve with GitHub black-holed", () => {
  it("exits 0 within 10 s of SIGTERM while GitHub calls hang", async () => {
    const { status } = await deliver(
      url,
      "workflow_job",
      workflowJobPayload({ action: "queued", jobId: 8001 }),
      {
        secret: SECRET,
      },
    );
    // Intake makes no GitHub call: the job is recorded although GitHub never answers.
    expect(status).toBe(201);
    // Readiness asks only what intake needs (Kubernetes): ready while GitHub hangs.
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // And a probe in flight as the drain starts must not hold it.
    const readiness = fetch(`${url}/readyz`).then(
      (response) => response.status,
      () => 0,
    );
    // The leader's first pass sweeps deliveries and releases the job: both hang on the black hole.
    await waitFor("GitHub calls in flight", () => sockets.size >= 2, 15_000);

    const exited = new Promise<number | null>((resolve) => scaler.on("exit", resolve));
    const started = Date.now();
    scaler.kill("SIGTERM");
    const code = await Promise.race([
      exited,
      new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 10_000)),
    ]);
    expect(code, `scaler stderr: ${stderr}`).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The probe in flight was answered (ready) or its connection closed by the drain; it did not hang.
    expect([0, 200]).toContain(await readiness);
  }, 40_000);
});

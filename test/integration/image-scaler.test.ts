// The Dockerfile, built with the run's dockerd (docker.io 20.10, classic builder). That daemon can't pull
// node:24-slim, so the test makes an equivalent base from the Node 24 binary the repo already has
// (node_modules/node) plus the shared libraries it links, and passes it as NODE_IMAGE. Then the image must run
// `dind-k8s --help`, run as a non-root user, hold nothing beyond the base but the bundle, and validate the chart's
// configuration on a read-only root filesystem as the chart runs it.
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import {
  chmod,
  chown,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rm,
  writeFile,
} from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { dirname, join } from "node:path";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { promisify } from "node:util";
import { CoordinationV1Api, CoreV1Api, type V1Deployment } from "@kubernetes/client-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { SCALER_LEASE_NAME } from "../../src/scaler/kube/rbac.ts";
import { findObject, installChart, renderChart, VALUES_FIXTURES } from "../helpers/chart.ts";
import { docker } from "../helpers/docker.ts";
import { eventually as poll } from "../helpers/eventually.ts";
import { startGitHubStandIn } from "../helpers/github-standin.ts";
import { adminKubeConfig } from "../helpers/kube.ts";
import { imageNodeFlags } from "../helpers/scaler.ts";
import { workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");
const execFileAsync = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const BASE = "dind-k8s-test/node-base:24";
const IMAGE = "dind-k8s-test/scaler:test";

/** Runs docker and fails the test with its output when it exits non-zero. */
async function mustDocker(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await docker(env, args, extraEnv);
  if (result.code !== 0)
    throw new Error(`docker ${args.join(" ")} → ${result.code}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** The files of a tar stream's listing, without the runtime's own mount points and files. */
async function exportedFiles(container: string): Promise<Set<string>> {
  const tar = join(env.runDir, `${container}.tar`);
  await mustDocker(["export", "--output", tar, container]);
  const { stdout } = await execFileAsync("tar", ["-tf", tar], { maxBuffer: 64 * 1024 * 1024 });
  await rm(tar);
  const runtime = /^(\.dockerenv|dev\/|proc\/|sys\/|etc\/(hosts|hostname|resolv\.conf|mtab)$|etc\/$)/;
  return new Set(
    stdout
      .split("\n")
      .map((line) => line.replace(/^\.\//, ""))
      .filter((line) => line !== "" && !runtime.test(line)),
  );
}

let baseFiles: Set<string>;

beforeAll(async () => {
  // A base like node:24-slim as far as the image cares: `node` on PATH and the libraries it links.
  const rootfs = join(env.runDir, "node-base-rootfs");
  await rm(rootfs, { recursive: true, force: true });
  const node = await realpath(join(root, "node_modules", "node", "bin", "node"));
  const { stdout: ldd } = await execFileAsync("ldd", [node]);
  const libraries = [...ldd.matchAll(/(\/\S+\.so[.\d]*)/g)].map((match) => match[1]!);
  for (const file of libraries) {
    await mkdir(join(rootfs, dirname(file)), { recursive: true });
    await copyFile(await realpath(file), join(rootfs, file));
  }
  await mkdir(join(rootfs, "usr/local/bin"), { recursive: true });
  await copyFile(node, join(rootfs, "usr/local/bin/node"));
  await mkdir(join(rootfs, "tmp"), { recursive: true, mode: 0o1777 });
  const tar = join(env.runDir, "node-base.tar");
  await execFileAsync("tar", ["-C", rootfs, "-cf", tar, "."]);
  await mustDocker(["import", "--change", "ENV PATH=/usr/local/bin:/usr/bin:/bin", tar, BASE]);
  await rm(tar);
  await rm(rootfs, { recursive: true, force: true });
  await mustDocker(["create", "--name", "dind-k8s-test-base", BASE, "node"]);
  baseFiles = await exportedFiles("dind-k8s-test-base");
  await mustDocker(["rm", "dind-k8s-test-base"]);

  // The classic builder, as docker.io 20.10 has it (no BuildKit needed).
  await mustDocker(["build", "--build-arg", `NODE_IMAGE=${BASE}`, "--tag", IMAGE, root], {
    DOCKER_BUILDKIT: "0",
  });
}, 240_000);

describe("the scaler image", () => {
  it("runs dind-k8s --help (the default command)", async () => {
    const result = await docker(env, ["run", "--rm", IMAGE]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: dind-k8s/);
    expect(result.stdout).toContain("check-config");
  });

  it("runs as uid/gid 65532 (not root), with node and the flags the benchmarks use as the entrypoint", async () => {
    const [config] = JSON.parse(await mustDocker(["image", "inspect", IMAGE])) as {
      Config: { User: string; Entrypoint: string[]; Cmd: string[]; ExposedPorts: Record<string, unknown> };
    }[];
    expect(config!.Config.User).toBe("65532:65532");
    expect(config!.Config.Entrypoint).toEqual(["node", ...(await imageNodeFlags()), "/opt/dind-k8s/cli.js"]);
    expect(await imageNodeFlags()).toContain("--optimize-for-size");
    expect(Object.keys(config!.Config.ExposedPorts).sort()).toEqual(["8080/tcp", "8081/tcp"]);
    const ids = await mustDocker([
      "run",
      "--rm",
      "--entrypoint",
      "node",
      IMAGE,
      "-e",
      "console.log(process.getuid(), process.getgid())",
    ]);
    expect(ids.trim()).toBe("65532 65532");
  });

  it("adds exactly the bundle to its base", async () => {
    await mustDocker(["create", "--name", "dind-k8s-test-scaler", IMAGE]);
    const files = await exportedFiles("dind-k8s-test-scaler");
    await mustDocker(["rm", "dind-k8s-test-scaler"]);
    const added = [...files].filter((file) => !baseFiles.has(file)).sort();
    const bundle = (await readdir(join(root, "dist", "scaler"))).map((file) => `opt/dind-k8s/${file}`);
    expect(added).toEqual(["opt/", "opt/dind-k8s/", ...bundle].sort());
  });

  it("validates the chart's configuration as the chart runs it: read-only root, no capabilities, uid 65532", async () => {
    const objects = await renderChart(env, {
      release: "ci",
      namespace: "dind-k8s",
      files: [join(VALUES_FIXTURES, "profiles.yaml")],
    });
    const configMap = findObject<{ kind: string; data: Record<string, string> }>(objects, "ConfigMap");
    const dir = join(env.runDir, "image-config");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "config.yaml"), configMap.data["config.yaml"]!);
    const result = await docker(env, [
      "run",
      "--rm",
      "--read-only",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "--volume",
      `${dir}:/etc/dind-k8s/config:ro`,
      IMAGE,
      "check-config",
      "--config",
      "/etc/dind-k8s/config/config.yaml",
    ]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("/etc/dind-k8s/config/config.yaml: valid.");
    expect(result.code).toBe(0);
  });
});

/**
 * A TCP relay on `host` (the containers' bridge gateway) to 127.0.0.1:`port`, where the apiserver and the GitHub
 * stand-in listen. Containers then reach them on the bridge, so the scaler needs no host network (a host-network
 * container leaves dockerd's netns mount behind in the run's directory).
 */
async function relay(host: string, port: number): Promise<Server> {
  const server = createServer((socket) => {
    const upstream = connect(port, "127.0.0.1");
    socket.on("error", () => upstream.destroy());
    upstream.on("error", () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return server;
}

/**
 * A TLS relay on `host` to the plain-http stand-in on 127.0.0.1:`port`, with a self-signed certificate for `host`
 * made with openssl in `dir`; the container trusts it through NODE_EXTRA_CA_CERTS.
 */
async function tlsRelay(
  host: string,
  port: number,
  dir: string,
): Promise<{ server: TlsServer; caFile: string }> {
  const key = join(dir, "github-relay.key");
  const caFile = join(dir, "github-relay.pem");
  await execFileAsync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    caFile,
    "-days",
    "1",
    "-subj",
    "/CN=github-standin",
    "-addext",
    `subjectAltName=IP:${host}`,
  ]);
  await chmod(caFile, 0o644);
  const server = createTlsServer({ key: await readFile(key), cert: await readFile(caFile) }, (socket) => {
    const upstream = connect(port, "127.0.0.1");
    socket.on("error", () => upstream.destroy());
    upstream.on("error", () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, caFile };
}

const portOf = (server: Server | TlsServer) => (server.address() as { port: number }).port;

/** The container stopped: waiting longer can't help. */
class ScalerExited extends Error {}

const eventually = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000) =>
  poll(what, probe, { timeoutMs, intervalMs: 100, fatal: (error) => error instanceof ScalerExited });

describe("the image running the chart's Deployment", () => {
  it("serves as the Pod would: in-cluster token of the chart's ServiceAccount, the chart's files, App auth; a queued job becomes a released runner Pod; SIGTERM exits 0", async () => {
    const APP_ID = 123456; // github.auth.appId of test/fixtures/values/minimal.yaml
    const keys = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
    });
    const installed = await installChart(env, {
      prefix: "image-serve",
      values: { runnerSets: [{ name: "dind-k8s", labels: ["dind-k8s"], maxRunners: 2, minIdle: 0 }] },
    });
    const github = await startGitHubStandIn({
      target: { kind: "org", org: "my-org" },
      appId: APP_ID,
      appPublicKeyPem: keys.publicKey,
      installationId: 42,
    });
    const deployment = findObject<V1Deployment>(installed.objects, "Deployment");
    const podSpec = deployment.spec!.template.spec!;
    const container = podSpec.containers[0]!;
    const fsGroup = podSpec.securityContext!.fsGroup!;

    // The Pod's filesystem, volume by volume as the Deployment declares it. Secret files are what the kubelet
    // makes of them: root's, group fsGroup, defaultMode; the Secrets' contents are the ones a user would create.
    const secretData: Record<string, string> = {
      "webhook-secret": "image-serve-secret\n",
      "private-key": keys.privateKey,
    };
    const work = await mkdtemp(join(env.runDir, "image-serve-"));
    await chmod(work, 0o755);
    // The apiserver as in a cluster: the kubernetes.default.svc name (in its certificate) on the Service address.
    const gateway = (
      await mustDocker(["network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"])
    ).trim();
    const apiserver = await relay(gateway, Number(new URL(env.kube.server).port));
    // GitHub as the scaler meets it: https with a certificate it trusts (the scaler sends credentials over plain
    // http only to a loopback address, and the bridge isn't one), in front of the stand-in.
    const githubUrl = new URL(github.url);
    const githubRelay = await tlsRelay(gateway, Number(githubUrl.port), work);
    const githubApiUrl = `https://${gateway}:${portOf(githubRelay.server)}${githubUrl.pathname.replace(/\/$/, "")}`;
    const mounts: string[] = [];
    for (const mount of container.volumeMounts ?? []) {
      const volume = podSpec.volumes!.find((v) => v.name === mount.name)!;
      if (volume.emptyDir) {
        mounts.push("--tmpfs", mount.mountPath);
        continue;
      }
      const dir = join(work, mount.name);
      await mkdir(dir, { mode: 0o755 });
      if (volume.configMap) {
        const configMap = findObject<{ kind: string; data: Record<string, string> }>(
          installed.objects,
          "ConfigMap",
        );
        for (const [key, value] of Object.entries(configMap.data)) {
          // The stand-in's API URL and a faster loop, through the configuration as a user would set them.
          const text =
            key === "config.yaml"
              ? `${value.replace(/^github:\n/m, `github:\n  apiUrl: ${githubApiUrl}\n`)}\ntuning: {"reconciler": {"resyncMs": 200, "debounceMs": 10}}\n`
              : value;
          await writeFile(join(dir, key), text, { mode: 0o644 });
        }
      } else if (volume.secret) {
        for (const item of volume.secret.items ?? []) {
          const file = join(dir, item.path);
          await writeFile(file, secretData[item.key] ?? "");
          await chown(file, 0, fsGroup);
          await chmod(file, volume.secret.defaultMode!);
        }
      } else throw new Error(`volume ${volume.name}: not modelled by this test`);
      mounts.push("--volume", `${dir}:${mount.mountPath}:ro`);
    }
    // What the kubelet mounts for automountServiceAccountToken: true, and the Service env in-cluster clients use.
    const serviceAccountDir = join(work, "serviceaccount");
    await mkdir(serviceAccountDir, { mode: 0o755 });
    await writeFile(join(serviceAccountDir, "token"), installed.token, { mode: 0o644 });
    await writeFile(join(serviceAccountDir, "ca.crt"), env.kube.caPem, { mode: 0o644 });
    await writeFile(join(serviceAccountDir, "namespace"), installed.releaseNamespace, { mode: 0o644 });
    mounts.push("--volume", `${serviceAccountDir}:/var/run/secrets/kubernetes.io/serviceaccount:ro`);
    const name = `dind-k8s-test-serve-${process.pid}`;
    const context = podSpec.securityContext!;
    await mustDocker([
      "run",
      "--detach",
      "--name",
      name,
      // The Pod's name, as Kubernetes sets the hostname: the Lease's holder is named after it.
      "--hostname",
      "dind-k8s-scaler-7d9f",
      "--publish",
      "127.0.0.1::8080",
      "--publish",
      "127.0.0.1::8081",
      "--add-host",
      `kubernetes.default.svc:${gateway}`,
      "--read-only",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "--user",
      `${context.runAsUser}:${context.runAsGroup}`,
      "--group-add",
      String(fsGroup),
      "--env",
      "KUBERNETES_SERVICE_HOST=kubernetes.default.svc",
      "--env",
      `KUBERNETES_SERVICE_PORT=${portOf(apiserver)}`,
      "--volume",
      `${githubRelay.caFile}:/etc/dind-k8s-test/github-ca.pem:ro`,
      "--env",
      "NODE_EXTRA_CA_CERTS=/etc/dind-k8s-test/github-ca.pem",
      ...mounts,
      IMAGE,
      // The Deployment's own arguments, port 8080 included.
      ...(container.args ?? []),
    ]);
    const logs = async () => {
      const result = await docker(env, ["logs", name]);
      return result.stdout + result.stderr;
    };
    const stillRunning = async () => {
      const state = JSON.parse(await mustDocker(["inspect", "--format", "{{json .State}}", name])) as {
        Running: boolean;
      };
      if (!state.Running) throw new ScalerExited(`the scaler exited:\n${await logs()}`);
    };
    try {
      const published = (port: number) =>
        eventually(`the scaler to listen on its published port ${port}`, async () => {
          await stillRunning();
          const address = (await mustDocker(["port", name, `${port}/tcp`])).trim().split("\n")[0]!;
          return `http://${address}`;
        });
      const base = await published(8080);
      const ops = await published(8081);
      await eventually("/readyz to answer 200", async () => {
        await stillRunning();
        return (await fetch(`${ops}/readyz`)).status === 200;
      });
      expect((await fetch(`${ops}/healthz`)).status).toBe(200);
      // The webhook port (the one the Ingress reaches) serves only the webhook.
      expect((await fetch(`${base}/metrics`)).status).toBe(404);

      github.setHook({ url: `${base}/webhook`, secret: "image-serve-secret" });
      const payload = workflowJobPayload({
        action: "queued",
        jobId: 4242,
        labels: ["self-hosted", "dind-k8s"],
        repository: "my-org/app",
      });
      expect((await github.deliver("workflow_job", payload)).statusCode).toBe(201);
      const admin = adminKubeConfig(env);
      const core = admin.makeApiClient(CoreV1Api);
      const pod = await eventually("the runner Pod to be released", async () => {
        const found = await core.readNamespacedPod({
          name: "dind-k8s-4242-1",
          namespace: installed.runnerNamespace,
        });
        return (found.spec?.schedulingGates ?? []).length === 0 ? found : undefined;
      });
      expect(pod.spec?.serviceAccountName).toBe("ci-dind-k8s-runner");
      await core.readNamespacedSecret({ name: "dind-k8s-4242-1", namespace: installed.runnerNamespace });
      const lease = await admin.makeApiClient(CoordinationV1Api).readNamespacedLease({
        name: SCALER_LEASE_NAME,
        namespace: installed.runnerNamespace,
      });
      // The holder is this replica: its hostname and a random suffix that tells restarts apart.
      expect(lease.spec?.holderIdentity).toMatch(/^dind-k8s-scaler-7d9f-[0-9a-f]{6}$/);
      expect(github.runners().map((runner) => runner.name)).toEqual(["dind-k8s-4242-1"]);
      expect(github.violations).toEqual([]);

      // Kubernetes stops a Pod with SIGTERM: the scaler drains and exits 0.
      await mustDocker(["stop", "--time", "20", name]);
      const exitCode = await mustDocker(["inspect", "--format", "{{.State.ExitCode}}", name]);
      expect(exitCode.trim(), await logs()).toBe("0");
    } finally {
      await docker(env, ["rm", "--force", name]);
      await github.close();
      apiserver.close();
      githubRelay.server.close();
    }
  }, 90_000);
});

// The runner Pod's guards against being turned on its node: the daemon's listeners, the containers' security
// contexts, resource defaults. Built from the profiles fixture, like build-runner-pod.test.ts.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { RunnerSet } from "../../../src/scaler/config/load.ts";
import { quantityAbove } from "../../../src/scaler/model/quantity.ts";
import type { RunnerTarget } from "../../../src/scaler/model/target.ts";
import { buildJitSecret, buildRunnerPod } from "../../../src/scaler/runner-pod/build-runner-pod.ts";
import { assertDaemonOnSocket } from "../../../src/scaler/runner-pod/security.ts";
import {
  profilesConfig as config,
  containerNamed as container,
  profileSet as set,
} from "../../helpers/profiles.ts";

const job: RunnerTarget = { kind: "job", jobId: 7, runAttempt: 1, repository: "o/r" };
const build = (s: RunnerSet, sidecars: "native" | "legacy" = "native") =>
  buildRunnerPod(s, job, { namespace: "runners", sidecars }).pod;

describe("the daemon listens on the Pod's unix socket only", () => {
  const SOCKET = "/var/run/docker.sock";
  const withDind = (change: (dind: V1Container) => void): V1Pod => {
    const pod = structuredClone(build(set("default")));
    change(container(pod, "dind"));
    return pod;
  };

  it("every Pod the builder makes passes the check (it runs inside buildRunnerPod)", () => {
    for (const s of config.runnerSets) {
      expect(() => build(s, "native")).not.toThrow();
      expect(() => build(s, "legacy")).not.toThrow();
    }
  });

  it.each([
    ["a second --host", ["--host=tcp://0.0.0.0:2375"], "expected no -H/--host argument"],
    ["-H joined to a TCP address", ["-Htcp://0.0.0.0:2375"], "expected no -H/--host argument"],
    ["-H grouped behind -D", ["-DH", "tcp://0.0.0.0:2375"], "expected no -H/--host argument"],
    ["--host with its value apart", ["--host", "tcp://0.0.0.0:2375"], "expected no -H/--host argument"],
    ["a daemon.json", ["--config-file=/etc/docker/daemon.json"], "expected no --config-file argument"],
  ])("refuses %s in the finished dind container's args", (_what, extra, message) => {
    const pod = withDind((dind) => {
      dind.args = [...(dind.args ?? []), ...extra];
    });
    expect(() => assertDaemonOnSocket(pod, SOCKET)).toThrow(message);
    expect(() => assertDaemonOnSocket(pod, SOCKET)).toThrow("a TCP listener would give whoever reaches");
  });

  it("refuses DOCKER_HOST in the dind container's environment", () => {
    const pod = withDind((dind) => {
      dind.env = [...(dind.env ?? []), { name: "DOCKER_HOST", value: "tcp://0.0.0.0:2375" }];
    });
    expect(() => assertDaemonOnSocket(pod, SOCKET)).toThrow(
      "env: expected no DOCKER_HOST in the dind container's environment",
    );
  });

  it("allows only its own --host, once: a copy of it is a second listener flag", () => {
    const pod = withDind((dind) => {
      dind.args = [...(dind.args ?? []), `--host=unix://${SOCKET}`];
    });
    expect(() => assertDaemonOnSocket(pod, SOCKET)).toThrow("expected no -H/--host argument");
  });

  it("keeps other flags, one-letter ones too (-D, -l with a value that has an H in it)", () => {
    const pod = withDind((dind) => {
      dind.args = [...(dind.args ?? []), "-D", "-lHIGH", "--log-level=warn", "--debug"];
    });
    expect(() => assertDaemonOnSocket(pod, SOCKET)).not.toThrow();
  });
});

describe("security contexts: the least the runner image allows", () => {
  const TIGHT = {
    runAsNonRoot: true,
    runAsUser: 1001,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  };

  it.each(["default", "everything", "memory", "ephemeral", "loop", "kata", "rootless"])(
    "%s: seccomp RuntimeDefault for the whole Pod (its privileged dind is never filtered by the runtime)",
    (name) => {
      const pod = build(set(name));
      expect(pod.spec?.securityContext?.seccompProfile).toEqual({ type: "RuntimeDefault" });
      expect(container(pod, "dind").securityContext?.privileged).toBe(true);
    },
  );

  it("sysbox: dind isn't privileged, so the profile goes on the runner and init-externals, not the Pod", () => {
    const pod = build(set("sysbox"));
    expect(pod.spec?.securityContext).toBeUndefined();
    expect(container(pod, "dind").securityContext).toEqual({});
    for (const name of ["runner", "init-externals"]) {
      expect(container(pod, name).securityContext?.seccompProfile).toEqual({ type: "RuntimeDefault" });
    }
  });

  it.each(["native", "legacy"] as const)(
    "%s sidecars: the runner runs as the image's user by number, no escalation, no capabilities",
    (sidecars) => {
      const pod = build(set("default"), sidecars);
      expect(container(pod, "runner").securityContext).toStrictEqual(TIGHT);
      expect(container(pod, "init-externals").securityContext).toStrictEqual({
        ...TIGHT,
        readOnlyRootFilesystem: true,
      });
    },
  );

  it("runner.sudo keeps what sudo needs (escalation, default capabilities) on the runner only", () => {
    const base = set("default");
    const pod = build({ ...base, runner: { ...base.runner, sudo: true } });
    expect(container(pod, "runner").securityContext).toStrictEqual({
      runAsNonRoot: true,
      runAsUser: 1001,
      allowPrivilegeEscalation: true,
    });
    expect(container(pod, "init-externals").securityContext?.allowPrivilegeEscalation).toBe(false);
  });

  it("runner.uid for an image with another user", () => {
    const base = set("default");
    const pod = build({ ...base, runner: { ...base.runner, uid: 2000 } });
    expect(container(pod, "runner").securityContext?.runAsUser).toBe(2000);
    expect(container(pod, "init-externals").securityContext?.runAsUser).toBe(2000);
  });
});

describe("resource defaults", () => {
  it.each(config.runnerSets.map((s) => s.name))(
    "%s: every container has memory and ephemeral-storage limits, and requests no larger than them",
    (name) => {
      const pod = build(set(name));
      for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
        expect(c.resources?.limits?.memory, `${c.name} memory`).toBeDefined();
        expect(c.resources?.limits?.["ephemeral-storage"], `${c.name} ephemeral-storage`).toBeDefined();
        for (const [resource, request] of Object.entries(c.resources?.requests ?? {})) {
          const limit = c.resources?.limits?.[resource];
          if (limit !== undefined) expect(quantityAbove(request, limit), `${c.name} ${resource}`).toBe(false);
        }
      }
    },
  );

  it("the Docker data emptyDir gets a sizeLimit unless the set names one", () => {
    const volume = (pod: V1Pod) => pod.spec?.volumes?.find((v) => v.name === "dind-storage");
    expect(volume(build(set("default")))?.emptyDir).toEqual({ sizeLimit: "40Gi" });
    const own = { ...set("default"), storage: { type: "emptyDir" as const, sizeLimit: "5Gi" } };
    expect(volume(build(own))?.emptyDir).toEqual({ sizeLimit: "5Gi" });
    const unsized = { ...set("default"), storage: { type: "emptyDir" as const } };
    expect(volume(build(unsized))?.emptyDir).toEqual({ sizeLimit: "40Gi" });
  });
});

describe("the JIT config Secret", () => {
  it("carries the runner labels the admission policy checks, also for a Pod read back with only its own labels", () => {
    const secret = buildJitSecret(
      { metadata: { name: "p", namespace: "n", labels: { "dind-k8s.io/runner-set": "default" } } },
      "jit",
    );
    expect(secret.metadata?.labels).toEqual({
      "dind-k8s.io/runner-set": "default",
      "app.kubernetes.io/name": "dind-k8s",
      "app.kubernetes.io/component": "runner",
      "app.kubernetes.io/managed-by": "dind-k8s",
      "app.kubernetes.io/part-of": "dind-k8s",
    });
    expect(secret.type).toBe("Opaque");
    expect(Object.keys(secret.stringData ?? {})).toEqual(["jitConfig"]);
  });
});

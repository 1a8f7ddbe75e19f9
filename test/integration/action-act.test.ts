// The action as users write it (`uses: dind-k8s/dind-k8s@v1`, the reference the README gives), run by nektos/act — a runner that is not ours — on
// this host against the run's dockerd. act maps the `uses:` to the bundle built from the sources (with the
// release's esbuild options) next to a copy of action.yml; it reads action.yml, passes the inputs, runs main,
// applies what main wrote to GITHUB_ENV / GITHUB_OUTPUT / GITHUB_STATE to the later steps, and runs post. So
// the contract between the action and a runner is checked by a reader we did not write.
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ActRun, runAct, stepCommands, stepOutput, stepResult } from "../helpers/act.ts";
import { type BuiltAction, buildAction } from "../helpers/action-runner.ts";
import { docker } from "../helpers/docker.ts";

const env = inject("testenv");
let workDir: string;
let action: BuiltAction;

beforeAll(async () => {
  workDir = await mkdtemp(join(env.runDir, "action-act-"));
  action = await buildAction(workDir);
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const USES = "dind-k8s/dind-k8s@v1";
const REPOSITORY = "octo/app";

function act(workflow: string): Promise<ActRun> {
  return runAct({
    act: env.parts.act,
    dir: workDir,
    workflow,
    event: {
      name: "push",
      payload: { ref: "refs/heads/main", repository: { name: "app", full_name: REPOSITORY } },
    },
    label: "dind-k8s",
    actions: { [USES]: action.dir },
    repository: REPOSITORY,
  });
}

/** A failed run's story, for the assertion message. */
function story(run: ActRun): string {
  return [...run.records.map((record) => record.msg.trimEnd()), run.stderr].join("\n");
}

describe("dind-setup under nektos/act", () => {
  it("exports DOCKER_HOST that later steps docker run with, sets its outputs, and runs its post step", async () => {
    const dataRoot = (await docker(env, ["info", "--format", "{{.DockerRootDir}}"])).stdout.trim();
    const run = await act(`
name: ci
on: push
jobs:
  build:
    runs-on: dind-k8s
    steps:
      - id: dind
        uses: ${USES}
        with:
          docker-host: ${env.docker.host}
      - name: docker
        run: |
          echo "DOCKER_HOST=$DOCKER_HOST"
          echo "output docker-host=\${{ steps.dind.outputs.docker-host }}"
          echo "output storage-driver=\${{ steps.dind.outputs.storage-driver }}"
          docker info --format 'root={{.DockerRootDir}}'
          docker run --rm ${env.docker.busyboxImage} sh -c 'echo "hello from $(uname -s)"'
`);
    expect(run.code, story(run)).toBe(0);
    expect(stepResult(run, "Main", USES)?.result).toBe("success");
    expect(stepCommands(run, "Main", USES, "error")).toEqual([]);

    // The later step knows the daemon from what the action exported and nothing else (act got no DOCKER_HOST),
    // and its data root proves it is the run's own dockerd.
    expect(stepResult(run, "Main", "docker")?.result).toBe("success");
    expect(stepOutput(run, "Main", "docker").split("\n")).toEqual([
      `DOCKER_HOST=${env.docker.host}`,
      `output docker-host=${env.docker.host}`,
      "output storage-driver=overlay2",
      `root=${dataRoot}`,
      "hello from Linux",
      "",
    ]);

    // The post step ran, after the job's steps, with the state main saved: it found the same daemon.
    expect(stepResult(run, "Post", USES)?.result).toBe("success");
    expect(stepCommands(run, "Post", USES, "group")).toEqual([
      `Docker daemon ${env.docker.host} at the end of job build of ${REPOSITORY}, run 1 attempt 1:`,
    ]);
    const post = stepOutput(run, "Post", USES);
    expect(post).toMatch(/^Running containers: none$/m);
    expect(post).toMatch(/^Disk used: images \d+(\.\d)? [KM]iB \(\d+\), build cache/m);
    const order = run.records
      .filter((record) => record.stepResult !== undefined)
      .map((record) => record.step);
    expect(order.indexOf("docker")).toBeLessThan(order.lastIndexOf(USES));
    expect(run.records.find((record) => record.jobResult !== undefined)?.jobResult).toBe("success");
  });

  it("without a daemon, fails the job with our message by its own timeout; the next step never runs", async () => {
    const dead = join(workDir, "no-daemon", "docker.sock");
    const run = await act(`
name: ci
on: push
jobs:
  build:
    runs-on: dind-k8s
    steps:
      - uses: ${USES}
        timeout-minutes: 1
        with:
          docker-host: unix://${dead}
          timeout: "3"
      - name: docker
        run: docker info
`);
    expect(run.code, story(run)).toBe(1);
    const main = stepResult(run, "Main", USES);
    expect(main?.result).toBe("failure");
    // Its deadline is the input's 3 s (plus node's start), far before the step's timeout-minutes.
    expect(main?.ms).toBeGreaterThanOrEqual(3_000);
    expect(main?.ms).toBeLessThan(10_000);
    const [message, ...more] = stepCommands(run, "Main", USES, "error");
    expect(more).toEqual([]);
    expect(message?.split("\n").slice(0, 2)).toEqual([
      "No Docker daemon answered within 3.0 s.",
      expect.stringMatching(
        new RegExp(`^ {2}unix://${dead}: socket file missing \\(${dead} does not exist\\) \\(\\d+ tries\\)$`),
      ),
    ]);
    expect(stepResult(run, "Main", "docker")).toBeUndefined();
    expect(stepOutput(run, "Post", USES)).toContain("the main step did not find a Docker daemon");
    expect(run.records.find((record) => record.jobResult !== undefined)?.jobResult).toBe("failure");
  });
});

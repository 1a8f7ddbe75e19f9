import { describe, expect, it } from "vitest";
import {
  deliveriesPageShape,
  jitConfigShape,
  ResponseShapeError,
  read,
  runJobsPageShape,
  runnersPageShape,
  workflowJobShape,
} from "../../../src/scaler/github/shapes.ts";

const runner = {
  id: 7,
  name: "r",
  status: "online",
  busy: false,
  labels: [{ id: 1, name: "dind-k8s", type: "custom" }],
};
const delivery = {
  id: 3,
  guid: "g",
  event: "workflow_job",
  action: null,
  delivered_at: "2026-12-01T10:00:00Z",
  status_code: 502,
  redelivery: false,
};

describe("read (zod shapes of GitHub responses)", () => {
  it("reads the fields we use and drops the rest", () => {
    expect(read(runnersPageShape, { total_count: 1, runners: [runner] }, "GET /x")).toEqual({
      runners: [{ id: 7, name: "r", status: "online", busy: false, labels: ["dind-k8s"] }],
    });
    expect(read(deliveriesPageShape, [delivery], "GET /x")).toEqual([
      {
        id: 3,
        guid: "g",
        event: "workflow_job",
        action: null,
        deliveredAt: new Date("2026-12-01T10:00:00Z"),
        statusCode: 502,
        installationId: null,
      },
    ]);
    const { action: _, ...withoutAction } = delivery;
    expect(read(deliveriesPageShape, [withoutAction], "GET /x")[0]?.action).toBeNull();
    expect(read(workflowJobShape, { id: 1, status: "queued", labels: [] }, "GET /x")).toEqual({
      id: 1,
      status: "queued",
      conclusion: null,
      runner_name: null,
      labels: [],
    });
  });

  it.each([
    {
      shape: runnersPageShape,
      data: "<html>proxy login</html>",
      message: 'GitHub GET /x: expected the response body to be an object, got "<html>proxy login</html>"',
    },
    {
      shape: runnersPageShape,
      data: { total_count: 0 },
      message: "GitHub GET /x: expected runners to be an array, got undefined",
    },
    {
      shape: runnersPageShape,
      data: { runners: [runner, { ...runner, busy: "yes" }] },
      message: 'GitHub GET /x: expected runners[1].busy to be a boolean, got "yes"',
    },
    {
      shape: runnersPageShape,
      data: { runners: [{ ...runner, labels: [{ name: 5 }] }] },
      message: "GitHub GET /x: expected runners[0].labels[0].name to be a string, got 5",
    },
    {
      shape: jitConfigShape,
      data: { runner: { id: 1.5, name: "r" }, encoded_jit_config: "e" },
      message: "GitHub GET /x: expected runner.id to be an integer, got 1.5",
    },
    {
      shape: deliveriesPageShape,
      data: [{ ...delivery, delivered_at: "yesterday" }],
      message: 'GitHub GET /x: expected [0].delivered_at to be an ISO 8601 date, got "yesterday"',
    },
    {
      shape: deliveriesPageShape,
      data: [{ ...delivery, action: 1 }],
      message: "GitHub GET /x: expected [0].action to be a string or null, got 1",
    },
    {
      shape: runJobsPageShape,
      data: {
        jobs: [{ id: 1, run_id: 2, status: "queued", labels: "dind-k8s", created_at: delivery.delivered_at }],
      },
      message: 'GitHub GET /x: expected jobs[0].labels to be an array, got "dind-k8s"',
    },
  ])("$message", ({ shape, data, message }) => {
    expect(() => read(shape, data, "GET /x")).toThrow(new ResponseShapeError(message));
  });
});

import { describe, expect, it } from "vitest";
import { candidateEndpoints } from "../../../src/action/candidates.ts";

type Source = Parameters<typeof candidateEndpoints>[0];
const certDir = "/certs/client";

describe("candidateEndpoints", () => {
  const table: [string, Source, { origin: string; urls: string[]; tls: (string | undefined)[] }][] = [
    [
      "nothing given: the Pod socket, dind's TLS port and its plain port",
      { input: "", env: {} },
      {
        origin: "well-known endpoints",
        urls: ["unix:///var/run/docker.sock", "tcp://localhost:2376", "tcp://localhost:2375"],
        tls: [undefined, "verify /certs/client", undefined],
      },
    ],
    [
      "GitHub-hosted runner: same list, the socket answers first",
      { input: "", env: { DOCKER_HOST: "" } },
      {
        origin: "well-known endpoints",
        urls: ["unix:///var/run/docker.sock", "tcp://localhost:2376", "tcp://localhost:2375"],
        tls: [undefined, "verify /certs/client", undefined],
      },
    ],
    [
      "DOCKER_CERT_PATH moves the default TLS candidate's certs",
      { input: "", env: { DOCKER_CERT_PATH: "/opt/certs" } },
      {
        origin: "well-known endpoints",
        urls: ["unix:///var/run/docker.sock", "tcp://localhost:2376", "tcp://localhost:2375"],
        tls: [undefined, "verify /opt/certs", undefined],
      },
    ],
    [
      "ARC dind mode: DOCKER_HOST preset to the socket",
      { input: "", env: { DOCKER_HOST: "unix:///var/run/docker.sock" } },
      { origin: "$DOCKER_HOST", urls: ["unix:///var/run/docker.sock"], tls: [undefined] },
    ],
    [
      "ARC's TLS dind: DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH",
      {
        input: "",
        env: {
          DOCKER_HOST: "tcp://localhost:2376",
          DOCKER_TLS_VERIFY: "1",
          DOCKER_CERT_PATH: "/certs/client",
        },
      },
      { origin: "$DOCKER_HOST", urls: ["tcp://localhost:2376"], tls: ["verify /certs/client"] },
    ],
    [
      "TLS on another port when DOCKER_TLS_VERIFY says so",
      {
        input: "",
        env: { DOCKER_HOST: "tcp://127.0.0.1:3000", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/tls" },
      },
      { origin: "$DOCKER_HOST", urls: ["tcp://127.0.0.1:3000"], tls: ["verify /tls"] },
    ],
    [
      "DOCKER_TLS without verification",
      { input: "", env: { DOCKER_HOST: "tcp://127.0.0.1:3000", DOCKER_TLS: "1" } },
      { origin: "$DOCKER_HOST", urls: ["tcp://127.0.0.1:3000"], tls: ["no-verify /certs/client"] },
    ],
    [
      "the input wins over DOCKER_HOST",
      { input: "unix:///run/user/1000/docker.sock", env: { DOCKER_HOST: "tcp://elsewhere:2375" } },
      { origin: "input docker-host", urls: ["unix:///run/user/1000/docker.sock"], tls: [undefined] },
    ],
  ];
  it.each(table)("%s", (_name, source, expected) => {
    const result = candidateEndpoints({ ...source, defaultCertDir: certDir });
    expect(result.origin).toBe(expected.origin);
    expect(result.endpoints.map((endpoint) => endpoint.url)).toEqual(expected.urls);
    expect(
      result.endpoints.map((endpoint) =>
        endpoint.kind === "tcp" && endpoint.tls
          ? `${endpoint.tls.verify ? "verify" : "no-verify"} ${endpoint.tls.certDir}`
          : undefined,
      ),
    ).toEqual(expected.tls);
  });

  it("says where a bad address came from", () => {
    expect(() => candidateEndpoints({ input: "", env: { DOCKER_HOST: "ssh://me@box" } })).toThrow(
      /^\$DOCKER_HOST: "ssh:\/\/me@box" uses ssh:\/\//,
    );
    expect(() => candidateEndpoints({ input: "docker.sock", env: {} })).toThrow(
      /^input docker-host: .*no scheme/,
    );
  });
});

import { describe, expect, it } from "vitest";
import { dockerEnvironment } from "../../../src/action/environment.ts";
import { parseEndpoint } from "../../../src/docker/endpoint.ts";

const parse = (address: string, tls?: { certDir: string; verify: boolean }) =>
  parseEndpoint(
    address,
    tls ? { tls, defaultCertDir: "/certs/client" } : { defaultCertDir: "/certs/client" },
  );

describe("dockerEnvironment", () => {
  const table: [
    string,
    ReturnType<typeof parse>,
    Record<string, string | undefined>,
    Record<string, string>,
  ][] = [
    ["unix socket", parse("unix:///var/run/docker.sock"), {}, { DOCKER_HOST: "unix:///var/run/docker.sock" }],
    [
      "TLS with verification",
      parse("tcp://localhost:2376"),
      {},
      { DOCKER_HOST: "tcp://localhost:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs/client" },
    ],
    [
      "TLS without verification clears a leftover DOCKER_TLS_VERIFY",
      parse("tcp://dind:3000", { certDir: "/c", verify: false }),
      { DOCKER_TLS_VERIFY: "1" },
      { DOCKER_HOST: "tcp://dind:3000", DOCKER_TLS: "1", DOCKER_CERT_PATH: "/c", DOCKER_TLS_VERIFY: "" },
    ],
    [
      "a plain endpoint clears leftover TLS switches so the CLI does not speak TLS to it",
      parse("tcp://localhost:2375"),
      { DOCKER_TLS_VERIFY: "1", DOCKER_TLS: "", DOCKER_CERT_PATH: "/certs/client" },
      { DOCKER_HOST: "tcp://localhost:2375", DOCKER_TLS_VERIFY: "" },
    ],
  ];
  it.each(table)("%s", (_name, endpoint, current, expected) => {
    expect(dockerEnvironment(endpoint, current)).toEqual(expected);
  });
});

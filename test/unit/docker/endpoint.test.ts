import { describe, expect, it } from "vitest";
import {
  describeEndpoint,
  type Endpoint,
  EndpointError,
  parseEndpoint,
} from "../../../src/docker/endpoint.ts";

const defaults = { defaultCertDir: "/certs/client" };

describe("parseEndpoint", () => {
  const accepted: [string, Parameters<typeof parseEndpoint>[1], Endpoint][] = [
    [
      "unix:///var/run/docker.sock",
      defaults,
      { kind: "unix", url: "unix:///var/run/docker.sock", socketPath: "/var/run/docker.sock" },
    ],
    [
      "  unix:///tmp/d.sock \n",
      defaults,
      { kind: "unix", url: "unix:///tmp/d.sock", socketPath: "/tmp/d.sock" },
    ],
    [
      "tcp://localhost:2375",
      defaults,
      { kind: "tcp", url: "tcp://localhost:2375", host: "localhost", port: 2375 },
    ],
    ["tcp://docker", defaults, { kind: "tcp", url: "tcp://docker:2375", host: "docker", port: 2375 }],
    [
      "TCP://127.0.0.1:4000/",
      defaults,
      { kind: "tcp", url: "tcp://127.0.0.1:4000", host: "127.0.0.1", port: 4000 },
    ],
    ["tcp://[::1]:2375", defaults, { kind: "tcp", url: "tcp://[::1]:2375", host: "::1", port: 2375 }],
    // 2376 is Docker's TLS port: TLS is inferred with the default cert dir.
    [
      "tcp://localhost:2376",
      defaults,
      {
        kind: "tcp",
        url: "tcp://localhost:2376",
        host: "localhost",
        port: 2376,
        tls: { certDir: "/certs/client", verify: true },
      },
    ],
    // Explicit TLS settings win, and a TLS endpoint without a port gets 2376.
    [
      "tcp://dind",
      { tls: { certDir: "/c", verify: false }, defaultCertDir: "/certs/client" },
      {
        kind: "tcp",
        url: "tcp://dind:2376",
        host: "dind",
        port: 2376,
        tls: { certDir: "/c", verify: false },
      },
    ],
  ];
  it.each(accepted)("accepts %j", (address, options, expected) => {
    expect(parseEndpoint(address, options)).toEqual(expected);
  });

  const rejected: [string, RegExp][] = [
    ["", /empty/],
    ["/var/run/docker.sock", /no scheme.*unix:\/\/\/path/],
    ["unix://var/run/docker.sock", /absolute socket path.*three slashes/],
    ["ssh://me@host", /ssh:\/\/, which dind-setup does not support/],
    ["npipe:////./pipe/docker_engine", /npipe/],
    ["tcp://host:notaport", /not a valid tcp:\/\/ address/],
    ["tcp://host:2375/v1.41", /has a path/],
  ];
  it.each(rejected)("rejects %j with a message saying what to write", (address, message) => {
    expect(() => parseEndpoint(address, defaults)).toThrow(EndpointError);
    expect(() => parseEndpoint(address, defaults)).toThrow(message);
  });
});

describe("describeEndpoint", () => {
  it("names the cert dir for TLS endpoints and nothing else for plain ones", () => {
    expect(describeEndpoint(parseEndpoint("tcp://localhost:2376", defaults))).toBe(
      "tcp://localhost:2376 (TLS, certs in /certs/client)",
    );
    expect(describeEndpoint(parseEndpoint("unix:///x.sock", defaults))).toBe("unix:///x.sock");
  });
});

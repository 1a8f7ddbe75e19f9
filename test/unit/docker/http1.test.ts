import { describe, expect, it } from "vitest";
import { DockerApiError } from "../../../src/docker/errors.ts";
import { parseHttpResponse } from "../../../src/docker/http1.ts";

const bytes = (text: string) => Buffer.from(text, "utf8");

describe("parseHttpResponse", () => {
  const complete: [
    string,
    string,
    boolean,
    { status: number; body: string; headers?: Record<string, string> },
  ][] = [
    [
      "Content-Length (what /_ping sends)",
      "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK",
      false,
      { status: 200, body: "OK", headers: { "api-version": "1.41", "content-length": "2" } },
    ],
    [
      "chunked (what a large /info sends)",
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3;ext=1\r\n:1}\r\n0\r\n\r\n',
      false,
      { status: 200, body: '{"a":1}' },
    ],
    [
      "no length: the body is what came before the close",
      "HTTP/1.0 500 Oops\r\n\r\nboom",
      true,
      { status: 500, body: "boom" },
    ],
    ["204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", false, { status: 204, body: "" }],
    [
      "multi-byte UTF-8 across the body",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnaïve",
      false,
      { status: 200, body: "naïv" },
    ],
    [
      "repeated headers are joined",
      "HTTP/1.1 200 OK\r\nX: a\r\nx: b\r\nContent-Length: 0\r\n\r\n",
      false,
      { status: 200, body: "", headers: { x: "a, b", "content-length": "0" } },
    ],
  ];
  it.each(complete)("%s", (_name, raw, ended, expected) => {
    const response = parseHttpResponse(bytes(raw), ended);
    expect(response).toMatchObject(expected);
  });

  const incomplete: [string, string][] = [
    ["headers not finished", "HTTP/1.1 200 OK\r\nContent-Le"],
    ["body shorter than Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345"],
    ["chunk cut in the middle", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n12345"],
    ["no terminating chunk yet", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"],
    ["no length, connection still open", "HTTP/1.1 200 OK\r\n\r\npartial"],
  ];
  it.each(incomplete)("waits for more bytes: %s", (_name, raw) => {
    expect(parseHttpResponse(bytes(raw), false)).toBeUndefined();
  });

  const broken: [string, string, boolean, RegExp][] = [
    ["nothing at all", "", true, /closed without an HTTP response/],
    ["closed in the headers", "HTTP/1.1 200 OK\r\nX: y", true, /in the middle of the HTTP headers/],
    [
      "closed in the body",
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n123",
      true,
      /before the whole response body/,
    ],
    [
      "not HTTP (e.g. a TLS alert on a plain request)",
      "\x15\x03\x01\x00\x02\x02\x46\r\n\r\n",
      false,
      /not an HTTP response/,
    ],
    [
      "bad chunk size",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      false,
      /bad chunk size "zz"/,
    ],
  ];
  it.each(broken)("says what is wrong: %s", (_name, raw, ended, message) => {
    expect(() => parseHttpResponse(bytes(raw), ended)).toThrow(DockerApiError);
    expect(() => parseHttpResponse(bytes(raw), ended)).toThrow(message);
  });
});

import { DockerApiError } from "./errors.ts";

export interface HttpResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

const HEADER_END = Buffer.from("\r\n\r\n");
const CRLF = Buffer.from("\r\n");

function badResponse(message: string): DockerApiError {
  return new DockerApiError("bad-response", message);
}

/** undefined: more bytes are needed; otherwise the decoded body. */
function decodeChunked(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf(CRLF, offset);
    if (lineEnd === -1) return undefined;
    const sizeText = data.subarray(offset, lineEnd).toString("latin1").split(";")[0]?.trim() ?? "";
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw badResponse(`bad chunk size "${sizeText.slice(0, 20)}"`);
    const size = Number.parseInt(sizeText, 16);
    const start = lineEnd + 2;
    if (size === 0) return Buffer.concat(parts);
    if (data.length < start + size + 2) return undefined;
    parts.push(data.subarray(start, start + size));
    offset = start + size + 2;
  }
}

/**
 * Parses an HTTP/1.1 response from the bytes read so far. Returns undefined while it is incomplete;
 * `ended` says the server closed the connection, so what is there is all there will be.
 */
export function parseHttpResponse(data: Buffer, ended: boolean): HttpResponse | undefined {
  const headerEnd = data.indexOf(HEADER_END);
  if (headerEnd === -1) {
    if (!ended) return undefined;
    throw badResponse(
      data.length === 0
        ? "the connection closed without an HTTP response"
        : "the connection closed in the middle of the HTTP headers",
    );
  }
  const [statusLine = "", ...headerLines] = data.subarray(0, headerEnd).toString("latin1").split("\r\n");
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!statusMatch) throw badResponse(`not an HTTP response: "${statusLine.slice(0, 60)}"`);
  const status = Number(statusMatch[1]);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const rest = data.subarray(headerEnd + HEADER_END.length);
  let body: Buffer | undefined;
  if (status === 204 || status === 304) {
    body = Buffer.alloc(0);
  } else if (/\bchunked\b/i.test(headers["transfer-encoding"] ?? "")) {
    body = decodeChunked(rest);
  } else if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    if (!Number.isSafeInteger(length) || length < 0) throw badResponse("bad Content-Length");
    body = rest.length >= length ? rest.subarray(0, length) : undefined;
  } else if (ended) {
    body = rest;
  }
  if (body === undefined) {
    if (ended) throw badResponse("the connection closed before the whole response body arrived");
    return undefined;
  }
  return { status, headers, body: body.toString("utf8") };
}

// GitHub credentials (the App's JWT, installation tokens, a PAT) go only over https — or over plain http to this
// machine's loopback, where tests run their GitHub stand-in. One rule for the configuration and the client.

/** Loopback host names and addresses: localhost, 127.0.0.0/8, ::1. */
function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Why `url` must not carry credentials, or undefined when it may (https, or http to a loopback address). */
export function cleartextProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${JSON.stringify(url)} is not a URL`;
  }
  if (parsed.protocol === "https:") return undefined;
  if (parsed.protocol === "http:" && isLoopback(parsed.hostname)) return undefined;
  return `${url} would send the GitHub credentials in clear text: use https:// (plain http:// only to a loopback address such as 127.0.0.1, for a local test server)`;
}

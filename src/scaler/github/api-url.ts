/**
 * The REST API base URL for a GitHub server URL: github.com and GHE.com data-residency hosts serve the API on an
 * `api.` host; GitHub Enterprise Server serves it under `/api/v3` on the same host.
 */
export function apiUrlFor(serverUrl: string): string {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    throw new Error(`GitHub server URL "${serverUrl}" is not a URL; expected e.g. https://github.com`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new Error(
      `GitHub server URL "${serverUrl}" must use https:// (or http:// for a local test server)`,
    );
  }
  const host = url.hostname.toLowerCase();
  if (host === "github.com" || host === "www.github.com") return "https://api.github.com";
  if (host === "api.github.com") return "https://api.github.com";
  // GitHub Enterprise Cloud with data residency: https://octocorp.ghe.com → https://api.octocorp.ghe.com
  if (host.endsWith(".ghe.com")) {
    return host.startsWith("api.") ? `${url.protocol}//${url.host}` : `${url.protocol}//api.${url.host}`;
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (path.endsWith("/api/v3")) return `${url.protocol}//${url.host}${path}`;
  return `${url.protocol}//${url.host}${path}/api/v3`;
}

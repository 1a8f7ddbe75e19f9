// Small pieces for talking to the test cluster's components before any client library is involved.
import { request } from "node:https";

/** GET a path of an HTTPS server of the control plane with a bearer token; resolves with status and body. */
export function apiGet(
  server: string,
  caPem: string,
  token: string,
  path: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}${path}`,
      { ca: caPem, headers: { authorization: `Bearer ${token}` }, timeout: 5_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** A client's credentials: a bearer token, or a client certificate signed by the apiserver's --client-ca-file. */
type KubeconfigUser = { token: string } | { certPem: string; keyPem: string };

export function kubeconfigYaml(server: string, caPem: string, name: string, user: KubeconfigUser): string {
  const base64 = (pem: string) => Buffer.from(pem).toString("base64");
  const credentials =
    "token" in user
      ? [`      token: ${user.token}`]
      : [
          `      client-certificate-data: ${base64(user.certPem)}`,
          `      client-key-data: ${base64(user.keyPem)}`,
        ];
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: dind-k8s-test",
    "    cluster:",
    `      server: ${server}`,
    `      certificate-authority-data: ${base64(caPem)}`,
    "users:",
    `  - name: ${name}`,
    "    user:",
    ...credentials,
    "contexts:",
    `  - name: ${name}`,
    "    context:",
    "      cluster: dind-k8s-test",
    `      user: ${name}`,
    `current-context: ${name}`,
    "",
  ].join("\n");
}

/** POST an object to a collection path of the apiserver as `token`; rejects with the apiserver's message. */
export function apiPost(
  target: { server: string; caPem: string; token: string },
  path: string,
  object: object,
): Promise<unknown> {
  const body = JSON.stringify(object);
  return new Promise((resolve, reject) => {
    const req = request(
      `${target.server}${path}`,
      {
        method: "POST",
        ca: target.caPem,
        headers: {
          authorization: `Bearer ${target.token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
        timeout: 10_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => {
          if ((res.statusCode ?? 0) < 300) resolve(JSON.parse(text));
          else reject(new Error(`POST ${path}: HTTP ${res.statusCode}: ${text}`));
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`POST ${path} timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

import { createPublicKey, verify } from "node:crypto";

export interface AppJwtClaims {
  iss: string;
  iat: number;
  exp: number;
}

function decodeJson(part: string): unknown {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

/**
 * Checks a GitHub App JWT as GitHub does: RS256 signed with the App's key, `iss` the App id (or client id),
 * not expired, issued no later than a minute from now, lifetime at most ten minutes. Returns the problem, or
 * undefined when the token is good.
 */
export function appJwtProblem(
  token: string,
  publicKeyPem: string,
  appId: number,
  nowS: number = Math.floor(Date.now() / 1000),
): string | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return "not a JWT";
  const [header, payload, signature] = parts as [string, string, string];
  let claims: Partial<AppJwtClaims>;
  try {
    const head = decodeJson(header) as { alg?: string };
    if (head.alg !== "RS256") return `alg ${head.alg} is not RS256`;
    claims = decodeJson(payload) as Partial<AppJwtClaims>;
  } catch {
    return "JWT header or payload is not base64url JSON";
  }
  const signed = verify(
    "RSA-SHA256",
    Buffer.from(`${header}.${payload}`),
    createPublicKey(publicKeyPem),
    Buffer.from(signature, "base64url"),
  );
  if (!signed) return "signature does not match the App's public key";
  if (String(claims.iss) !== String(appId)) return `iss ${claims.iss} is not the App id ${appId}`;
  if (typeof claims.exp !== "number" || typeof claims.iat !== "number") return "iat/exp missing";
  // GitHub's wording: @octokit/auth-app recognises these and retries with the server's clock (Date header).
  if (claims.exp <= nowS) {
    return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
  }
  if (claims.iat > nowS + 60) {
    return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
  }
  if (claims.exp - claims.iat > 600 + 60) return "'Expiration time' claim ('exp') is too far in the future";
  return undefined;
}

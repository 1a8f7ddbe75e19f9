import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { appJwtProblem } from "../../helpers/github-standin/jwt.ts";
import {
  checkResponse,
  complete,
  loadSpec,
  matchRoute,
  toJsonSchema,
} from "../../helpers/github-standin/openapi.ts";

const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();

function jwt(claims: object, key = privateKey, alg = "RS256"): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const data = `${encode({ alg, typ: "JWT" })}.${encode(claims)}`;
  return `${data}.${sign("RSA-SHA256", Buffer.from(data), key).toString("base64url")}`;
}

describe("stand-in App JWT check", () => {
  const now = 1_800_000_000;
  it("accepts a token signed with the App's key", () => {
    expect(appJwtProblem(jwt({ iss: 7, iat: now - 30, exp: now + 540 }), publicPem, 7, now)).toBeUndefined();
    expect(
      appJwtProblem(jwt({ iss: "7", iat: now - 30, exp: now + 540 }), publicPem, 7, now),
    ).toBeUndefined();
  });

  it.each([
    [
      "another key",
      () =>
        jwt(
          { iss: 7, iat: now, exp: now + 60 },
          generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey,
        ),
      /signature/,
    ],
    ["another App", () => jwt({ iss: 8, iat: now, exp: now + 60 }), /iss 8/],
    [
      "expired",
      () => jwt({ iss: 7, iat: now - 700, exp: now - 100 }),
      /future time at which the assertion expires/,
    ],
    [
      "issued in the future",
      () => jwt({ iss: 7, iat: now + 120, exp: now + 300 }),
      /time that the assertion was issued/,
    ],
    ["too long-lived", () => jwt({ iss: 7, iat: now, exp: now + 3600 }), /too far/],
    ["not RS256", () => jwt({ iss: 7, iat: now, exp: now + 60 }, privateKey, "HS256"), /not RS256/],
    ["not a JWT", () => "ghp_token", /not a JWT/],
  ])("rejects a token from %s", (_name, token, problem) => {
    expect(appJwtProblem(token(), publicPem, 7, now)).toMatch(problem);
  });
});

describe("OpenAPI 3.0 → JSON Schema", () => {
  it("turns nullable into a null type, an enum member, or an anyOf", () => {
    expect(toJsonSchema({ type: "string", nullable: true, example: "x" })).toEqual({
      type: ["string", "null"],
    });
    expect(toJsonSchema({ type: "string", enum: ["a"], nullable: true })).toEqual({
      type: ["string", "null"],
      enum: ["a", null],
    });
    expect(toJsonSchema({ allOf: [{ type: "object" }], nullable: true })).toEqual({
      anyOf: [{ type: "null" }, { allOf: [{ type: "object" }] }],
    });
  });

  it("keeps properties named like OpenAPI keywords", () => {
    expect(toJsonSchema({ type: "object", properties: { description: { type: "string" } } })).toEqual({
      type: "object",
      properties: { description: { type: "string" } },
    });
  });
});

describe("the stand-in's contract checks", () => {
  const spec = loadSpec();

  it("matches literal segments before parameters", () => {
    expect(
      matchRoute(spec, "POST", "/orgs/acme/actions/runners/generate-jitconfig")?.operation.operationId,
    ).toBe("actions/generate-runner-jitconfig-for-org");
    expect(matchRoute(spec, "DELETE", "/orgs/acme/actions/runners/42")).toMatchObject({
      operation: { operationId: "actions/delete-self-hosted-runner-from-org" },
      params: { org: "acme", runner_id: "42" },
    });
    expect(matchRoute(spec, "GET", "/orgs/acme/no-such-thing")).toBeUndefined();
  });

  it("catches a response that does not have the documented shape", () => {
    const operation = matchRoute(spec, "GET", "/orgs/acme/actions/runners")!.operation;
    expect(
      checkResponse(spec, operation, 200, { total_count: 1, runners: [{ id: "1", name: "r" }] }),
    ).toEqual([expect.stringMatching(/response 200: .*runners\/0/)]);
    expect(checkResponse(spec, operation, 404, { message: "Not Found" })).toEqual([]);
    expect(checkResponse(spec, operation, 404, "<html>")).toEqual([expect.stringMatching(/not documented/)]);
  });

  it("completes a partial response with the documented required fields", () => {
    const operation = matchRoute(spec, "GET", "/repos/acme/app/actions/jobs/1")!.operation;
    const schema = (
      operation.definition.responses as Record<string, { content: Record<string, { schema: unknown }> }>
    )["200"]!.content["application/json"]!.schema;
    const body = complete(schema, { id: 5, status: "queued", labels: ["x"] }) as Record<string, unknown>;
    expect(body).toMatchObject({ id: 5, status: "queued", labels: ["x"], runner_name: null });
    expect(checkResponse(spec, operation, 200, body)).toEqual([]);
  });
});

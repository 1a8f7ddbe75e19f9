import { describe, expect, it } from "vitest";
import { foreignReason } from "../../../src/scaler/webhook/owner.ts";

describe("foreignReason: is a signed delivery for the configured account?", () => {
  it.each([
    { owner: { org: "octo-org" }, repository: "octo-org/app", installationId: 7, expected: undefined },
    {
      owner: { org: "Octo-Org" },
      repository: "octo-org/app",
      installationId: undefined,
      expected: undefined,
    },
    { owner: { org: "octo-org" }, repository: "other-org/app", installationId: 7, expected: "owner" },
    { owner: { org: "octo" }, repository: "octo-org/app", installationId: 7, expected: "owner" },
    { owner: { repo: "octo-org/app" }, repository: "OCTO-ORG/App", installationId: 7, expected: undefined },
    { owner: { repo: "octo-org/app" }, repository: "octo-org/other", installationId: 7, expected: "owner" },
    {
      owner: { org: "octo-org", installationId: 7 },
      repository: "octo-org/app",
      installationId: 8,
      expected: "installation",
    },
    {
      owner: { org: "octo-org", installationId: 7 },
      repository: "octo-org/app",
      installationId: 7,
      expected: undefined,
    },
    // An org webhook (token authentication) has no installation: the owner decides.
    {
      owner: { org: "octo-org", installationId: 7 },
      repository: "octo-org/app",
      installationId: undefined,
      expected: undefined,
    },
    { owner: {}, repository: "octo-org/app", installationId: undefined, expected: "owner" },
  ])(
    "$repository (installation $installationId) for $owner → $expected",
    ({ owner, repository, installationId, expected }) => {
      expect(foreignReason({ repository, installationId }, owner)).toBe(expected);
    },
  );
});

// The unit tests of the pure core, for `npm run test:mutation` (Stryker): the same tests as the unit project,
// without the integration project's test environment.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
  },
});

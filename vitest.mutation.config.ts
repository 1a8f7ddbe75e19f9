// The unit tests of the pure core, for `npm run test:mutation` (Stryker): the same tests as the unit project,
// without the integration project's test environment.
// stryker.config.json's tsconfigFile names a file that doesn't exist, on purpose: Stryker would otherwise rewrite
// tsconfig.json's relative paths through `typescript`'s JS API, which TypeScript 7 (the native compiler) no longer
// has (ts.parseConfigFileTextToJson is not a function). tsconfig.json has no extends or references to rewrite.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
  },
});

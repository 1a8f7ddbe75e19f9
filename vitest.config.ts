import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // One apiserver, etcd and dockerd for the whole run; each test file works in its own namespace.
          globalSetup: ["test/env/global-setup.ts"],
          setupFiles: ["test/helpers/namespace-cleanup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores: more workers than that only make the apiserver slower for everyone.
          maxWorkers: 2,
        },
      },
    ],
  },
});

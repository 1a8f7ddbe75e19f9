import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/scaler/config/load.ts";
import { createLogger } from "../../../src/scaler/observe/log.ts";
import { webhookSecretSource } from "../../../src/scaler/startup/secret-reload.ts";

const config = parseConfig(
  "github:\n  org: acme\n  hookId: 1\n  webhookSecretFile: /s/hook\n  auth: { tokenEnv: T }\nkubernetes:\n  namespace: ci\nrunnerSets:\n  - name: a\n    labels: [a]\n    maxRunners: 1\n    minIdle: 0\n",
  "test.yaml",
);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("webhookSecretSource", () => {
  it("re-reads the file, keeps the secrets it had while the file is unreadable, and never logs a value", async () => {
    let file: string | undefined = "old\n";
    const lines: string[] = [];
    const source = await webhookSecretSource(
      config,
      {},
      async () => {
        if (file === undefined) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
        return file;
      },
      { log: createLogger({ level: "debug", write: (line) => lines.push(line) }), reloadMs: 5 },
    );
    try {
      const first = source.current();
      expect(first).toEqual(["old"]);
      await sleep(30);
      expect(source.current()).toBe(first);

      file = undefined;
      await sleep(30);
      expect(source.current()).toEqual(["old"]);
      file = "new\nold\n";
      await sleep(30);
      expect(source.current()).toEqual(["new", "old"]);

      const messages = lines.map((line) => (JSON.parse(line) as { message: string }).message);
      // One warning for the whole outage, one line for the change.
      expect(messages).toEqual([
        "could not re-read the webhook secrets; keeping the one read before",
        "webhook secrets re-read: the file changed",
      ]);
      expect(lines.filter((line) => /"(old|new)"|\bnew\\n/.test(line))).toEqual([]);
    } finally {
      source.stop();
    }
  });
});

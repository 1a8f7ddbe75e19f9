// Bundles the action and the scaler CLI into dist/ with esbuild. dist/ is generated: never edit it by hand.
// CI rebuilds it and fails when the committed copy differs.
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");

const entries: { in: string; out: string }[] = [
  { in: "src/action/main.ts", out: "action/main" },
  { in: "src/action/post.ts", out: "action/post" },
  { in: "src/cli.ts", out: "scaler/cli" },
].filter((entry) => existsSync(join(root, entry.in)));

await rm(join(root, "dist"), { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: entries,
  outdir: "dist",
  bundle: true,
  platform: "node",
  target: "node24",
  format: "esm",
  // Some bundled CommonJS dependencies call require() for node built-ins.
  banner: {
    js: "import { createRequire as __dindCreateRequire } from 'node:module'; const require = __dindCreateRequire(import.meta.url);",
  },
  outExtension: { ".js": ".js" },
  legalComments: "linked",
  sourcemap: false,
  minify: false,
  logLevel: "warning",
});

process.stdout.write(`built ${entries.map((e) => `dist/${e.out}.js`).join(", ")}\n`);

import { describe, expect, it } from "vitest";
import {
  cycles,
  layerProblems,
  parseExplainFiles,
  purityProblems,
  sizeProblems,
  unitOf,
} from "../../../scripts/check-layers.ts";

describe("the house rules check", () => {
  it("reads the compiler's import edges from --explainFiles", () => {
    const output = [
      "src/scaler/model/keys.ts",
      "   Imported via \"../model/keys.ts\" from file 'src/scaler/kube/runner-pods.ts'",
      "   Matched by include pattern 'src' in 'tsconfig.json'",
      "node_modules/@kubernetes/client-node/dist/index.d.ts",
      "   Imported via \"@kubernetes/client-node\" from file 'src/scaler/kube/watch.ts'",
    ].join("\n");
    expect(parseExplainFiles(output)).toEqual([
      { from: "src/scaler/kube/runner-pods.ts", to: "src/scaler/model/keys.ts" },
      { from: "src/scaler/kube/watch.ts", to: "node_modules/@kubernetes/client-node/dist/index.d.ts" },
    ]);
  });

  it("places a file in its deepest folder", () => {
    expect(unitOf("src/scaler/kube/pod-cache.ts")).toBe("src/scaler/kube");
    expect(unitOf("src/scaler/service.ts")).toBe("src/scaler/*");
    expect(unitOf("src/scaler/new-folder/x.ts")).toBeUndefined();
    expect(unitOf("src/cli.ts")).toBe("src/cli.ts");
    expect(unitOf("src/elsewhere.ts")).toBeUndefined();
  });

  it("allows imports downwards and within a folder", () => {
    expect(
      layerProblems([
        { from: "src/scaler/reconcile/reconciler.ts", to: "src/scaler/plan/plan-set.ts" },
        { from: "src/scaler/kube/runner-pods.ts", to: "src/scaler/kube/pod-cache.ts" },
        { from: "src/scaler/service.ts", to: "src/scaler/kube/runner-pods.ts" },
        { from: "src/action/setup.ts", to: "src/docker/client.ts" },
      ]),
    ).toEqual([]);
  });

  it("refuses an import upwards, between siblings of one layer, and across separate parts", () => {
    expect(
      layerProblems([
        // The review's findings: config needing runner-pod, the kube layer needing the builder's names.
        { from: "src/scaler/config/rules.ts", to: "src/scaler/runner-pod/quantity.ts" },
        { from: "src/scaler/kube/pod-cache.ts", to: "src/scaler/plan/pod-view.ts" },
        { from: "src/action/setup.ts", to: "src/scaler/model/keys.ts" },
        { from: "src/scaler/new-folder/x.ts", to: "src/scaler/model/keys.ts" },
      ]),
    ).toEqual([
      "src/scaler/config/rules.ts imports src/scaler/runner-pod/quantity.ts: src/scaler/config (layer 1) may import only lower layers, and src/scaler/runner-pod is layer 2",
      "src/scaler/kube/pod-cache.ts imports src/scaler/plan/pod-view.ts: src/scaler/kube (layer 3) may import only lower layers, and src/scaler/plan is layer 3",
      "src/action/setup.ts imports src/scaler/model/keys.ts: src/action never imports src/scaler",
      "src/scaler/new-folder/x.ts: in no layer; add its folder to LAYERS in scripts/check-layers.ts",
    ]);
  });

  it("finds a cycle between files, once", () => {
    const found = cycles([
      { from: "src/scaler/cache/pool.ts", to: "src/scaler/cache/metrics.ts" },
      { from: "src/scaler/cache/metrics.ts", to: "src/scaler/cache/slots.ts" },
      { from: "src/scaler/cache/slots.ts", to: "src/scaler/cache/pool.ts" },
      { from: "src/scaler/model/keys.ts", to: "src/scaler/model/target.ts" },
    ]);
    expect(found).toEqual([
      [
        "src/scaler/cache/metrics.ts",
        "src/scaler/cache/slots.ts",
        "src/scaler/cache/pool.ts",
        "src/scaler/cache/metrics.ts",
      ],
    ]);
  });

  it("lets pure code name an I/O library's types, never call it", () => {
    const file = "src/scaler/plan/pod-view.ts";
    expect(purityProblems(file, 'import type { V1Pod } from "@kubernetes/client-node";\n')).toEqual([]);
    expect(purityProblems(file, 'import { createHash } from "node:crypto";\n')).toEqual([]);
    expect(purityProblems(file, 'import { CoreV1Api } from "@kubernetes/client-node";\n')).toEqual([
      `${file} imports @kubernetes/client-node: pure code may import its types only ('import type')`,
    ]);
    expect(purityProblems(file, 'import {\n  readFile,\n} from "node:fs/promises";\n')).toHaveLength(1);
    // Outside the pure folders, I/O is the point.
    expect(purityProblems("src/scaler/kube/x.ts", 'import { readFile } from "node:fs/promises";\n')).toEqual(
      [],
    );
  });

  it("asks a long file for its reason", () => {
    const long = `${"x;\n".repeat(351)}`;
    expect(sizeProblems("src/a.ts", long)).toEqual([
      "src/a.ts: 352 lines; split it, or say why it is one file in a '// Size:' line of its header",
    ]);
    expect(sizeProblems("src/a.ts", `// What it is.\n// Size: one state machine.\n${long}`)).toEqual([]);
    expect(sizeProblems("src/a.ts", "x;\n".repeat(349))).toEqual([]);
  });
});

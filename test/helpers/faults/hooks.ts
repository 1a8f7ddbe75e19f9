// Loaded with `node --import` into a scaler process that a test wants built with a bug: rewrites the source of
// the named modules as they load (DIND_K8S_FAULTS, JSON from faults.ts). A fault whose text is no longer in its
// file fails the load, so a fault can't quietly stop being injected after the code it targets changes.
import { registerHooks } from "node:module";
import type { Fault } from "./faults.ts";

const faults = JSON.parse(process.env.DIND_K8S_FAULTS ?? "[]") as Fault[];

registerHooks({
  load(url, context, nextLoad) {
    const loaded = nextLoad(url, context);
    const mine = faults.filter((fault) => url.endsWith(`/${fault.file}`));
    if (mine.length === 0) return loaded;
    let source = String(loaded.source);
    for (const fault of mine) {
      if (!source.includes(fault.find)) {
        throw new Error(
          `fault ${fault.name}: ${JSON.stringify(fault.find)} is not in ${fault.file} any more`,
        );
      }
      source = source.replace(fault.find, fault.replace);
    }
    return { ...loaded, source };
  },
});

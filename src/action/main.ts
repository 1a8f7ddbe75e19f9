// Entry of the action's main step (bundled to dist/action/main.js). Logic lives in setup.ts.
import { setup } from "./setup.ts";

await setup();

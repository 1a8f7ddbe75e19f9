// Entry of the action's post step (bundled to dist/action/post.js). Logic lives in diagnose.ts.
import { diagnose } from "./diagnose.ts";

await diagnose();

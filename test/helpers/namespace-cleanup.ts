// Set up for every integration test file (vitest.config.ts): the namespaces the file made are deleted when it
// ends, by the real namespace controller, so a run leaves no namespace behind.
import { afterAll } from "vitest";
import { deleteTestNamespaces } from "./kube.ts";

afterAll(async () => {
  await deleteTestNamespaces();
});

// actionlint, the GitHub Actions workflow checker `npm run lint` runs over .github/workflows/ and the README's
// workflow snippets (scripts/check-workflows.ts). Built from its Go module into the parts cache, as helm is, by
// `npm run testenv` (which .ci/run calls before the tests); lint fails, never skips, when it is missing.
import { spawn } from "node:child_process";
import { access, constants, mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir } from "./versions.ts";

export const ACTIONLINT_VERSION = "v1.7.12";

/** Where the built actionlint lives (whether or not it is there yet). */
export function actionlintPath(): string {
  return join(cacheDir(), `actionlint-${ACTIONLINT_VERSION}`, "actionlint");
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** The path of an executable actionlint, or an error saying how to get one. */
export async function findActionlint(): Promise<string> {
  const bin = actionlintPath();
  if (await isExecutable(bin)) return bin;
  throw new Error(
    `actionlint ${ACTIONLINT_VERSION} is not built at ${bin}; run 'npm run testenv' to build it`,
  );
}

/** Builds actionlint with `go install` into the cache unless it is there; returns its path. */
export async function buildActionlint(log: (message: string) => void): Promise<string> {
  const bin = actionlintPath();
  if (await isExecutable(bin)) return bin;
  const dir = join(bin, "..");
  const staging = `${dir}.partial`;
  log(`building actionlint ${ACTIONLINT_VERSION} with go install (first run only)`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const child = spawn(
    "go",
    [
      "install",
      "-trimpath",
      `-ldflags=-s -w -X github.com/rhysd/actionlint.version=${ACTIONLINT_VERSION}`,
      `github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}`,
    ],
    { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, GOBIN: staging, CGO_ENABLED: "0" } },
  );
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", (error) =>
      reject(
        new Error(
          `actionlint ${ACTIONLINT_VERSION} is not built and 'go' could not run (${error.message}); install Go and rerun 'npm run testenv'`,
        ),
      ),
    );
    child.on("exit", resolve);
  });
  if (code !== 0) throw new Error(`go install of actionlint ${ACTIONLINT_VERSION} exited with ${code}`);
  await rename(staging, dir);
  return bin;
}

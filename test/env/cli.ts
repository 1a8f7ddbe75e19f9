// `npm run testenv`: prepares every part of the integration test environment (installing Debian
// packages and building Go binaries that are missing; cached under ~/.cache/dind-k8s) and prints
// one `name=/abs/path` line per binary. `--start` also starts them and prints the connection
// details, until Ctrl-C.
import { MissingPartError, prepareParts } from "./parts.ts";
import { startTestEnv } from "./start.ts";

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write(
    [
      "usage: npm run testenv [-- --start]",
      "",
      "Prepares kube-apiserver, kube-scheduler, kube-controller-manager, kwok, etcd, dockerd, helm, act,",
      "actionlint, busybox and tinyproxy for the tests and prints name=/abs/path for each. With --start, also",
      "starts them and prints kubeconfig=, docker-host= and proxy-url= until interrupted.",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

try {
  const parts = await prepareParts({ install: true });
  for (const [name, path] of Object.entries(parts)) process.stdout.write(`${name}=${path}\n`);
  if (args.includes("--start")) {
    const started = await startTestEnv({ install: false });
    process.stdout.write(`kubeconfig=${started.env.kube.adminKubeconfigPath}\n`);
    process.stdout.write(`docker-host=${started.env.docker.host}\n`);
    process.stdout.write(`proxy-url=${started.env.proxy.url}\n`);
    process.stdout.write(`kubernetes-version=${started.env.kube.version}\n`);
    const stop = () => {
      void started.stop().then(() => process.exit(0));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  }
} catch (error: unknown) {
  if (error instanceof MissingPartError) {
    process.stderr.write(`testenv: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

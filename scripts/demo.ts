// `npm run demo`: starts the real local parts (kube-apiserver, etcd, dockerd) and shows what dind-k8s
// does with them. It grows with the product; today it proves the environment comes up and cleans up.
import { startTestEnv } from "../test/env/start.ts";

const started = await startTestEnv({ install: true });
try {
  const { env } = started;
  process.stdout.write(
    [
      `kube-apiserver ${env.kube.version} at ${env.kube.server} (RBAC on)`,
      `dockerd at ${env.docker.host}, test image ${env.docker.busyboxImage}`,
      `helm at ${env.parts.helm}`,
      "",
    ].join("\n"),
  );
} finally {
  await started.stop();
}

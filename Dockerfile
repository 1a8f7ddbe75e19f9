# The dind-k8s scaler image: Node 24 and the bundled CLI (dist/scaler, built by `npm run build`), nothing else.
# Runs as a non-root numeric user, so `runAsNonRoot` holds without a passwd entry; the chart adds a read-only root
# filesystem, no capabilities and seccomp RuntimeDefault.
#
#   npm ci && npm run build && docker build -t dind-k8s .
#
# The bundle is built outside the image on purpose: dist/ is checked in and CI fails when it differs from what the
# sources build, so the image holds exactly the reviewed bundle and its build needs no registry or npm.
#
# NODE_IMAGE: any image with a Node 24 `node` on PATH (the tests build one locally: their daemon can't pull).
# Works with the classic builder and BuildKit alike.
ARG NODE_IMAGE=node:24-slim
FROM ${NODE_IMAGE}

# The bundle has every dependency inlined (esbuild); its licenses are in cli.js.LEGAL.txt next to it.
COPY dist/scaler/ /opt/dind-k8s/

ENV NODE_ENV=production
USER 65532:65532
# 8080: POST /webhook; 8081: /healthz, /readyz, /metrics (dind-k8s serve --ops-port, as the chart runs it).
EXPOSE 8080 8081
# --optimize-for-size: V8 keeps a smaller young generation and grows the heap less eagerly. The scaler is I/O-bound;
# with it, 10,000 cached runner Pods fit in ~115 MB RSS instead of ~190 MB (`npm run bench -- scale`, which reads
# these flags from here).
ENTRYPOINT ["node", "--optimize-for-size", "/opt/dind-k8s/cli.js"]
CMD ["--help"]

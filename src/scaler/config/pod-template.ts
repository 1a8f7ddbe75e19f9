// `runnerSets[].template`: the platform team's own Kubernetes PodTemplateSpec, merged with what dind-k8s needs
// (runner-pod/template.ts). Only its outline is checked here — labels and annotations as Kubernetes takes them,
// the spec a mapping — and what would contradict dind-k8s's own parts (template-rules.ts). The rest of the spec is
// the apiserver's to validate: `dind-k8s check-config --server` asks it, strictly, before the first job does.
import { z } from "zod";
import { annotationMap, labelMap, strictObject } from "./primitives.ts";

export const podTemplateSchema = strictObject({
  metadata: strictObject({
    labels: labelMap().optional().describe("Labels of the runner Pods (dind-k8s's own keys can't be set)."),
    annotations: annotationMap().optional().describe("Annotations of the runner Pods."),
  })
    .optional()
    .describe("Only labels and annotations: dind-k8s names the Pods and places them in its namespace."),
  spec: z
    .record(z.string(), z.unknown(), { error: "expected a mapping (a Kubernetes PodSpec)" })
    .optional()
    .describe(
      "A Kubernetes PodSpec. The container named runner and the init container named dind are completed by dind-k8s; every other container, volume and field is kept as written.",
    ),
}).describe(
  "The platform team's own Pod template (a Kubernetes PodTemplateSpec): extra volumes, env from ConfigMaps, sidecars, topologySpreadConstraints, dnsConfig … merged with what dind-k8s needs. The set's typed keys (nodeSelector, tolerations, affinity, podLabels, podAnnotations, priorityClassName, serviceAccountName, imagePullSecrets, runner/dind resources and pull policies) are applied on top of it. Validated by the apiserver: dind-k8s check-config --server.",
);

export type PodTemplate = z.output<typeof podTemplateSchema>;

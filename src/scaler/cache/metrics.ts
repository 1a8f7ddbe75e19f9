// Metrics of the cache volume pool, on the scaler's registry.
import { Counter, Gauge, type Registry } from "prom-client";

export function createCacheMetrics(registry: Registry) {
  const prefix = "dind_k8s_cache_";
  return {
    releases: new Counter({
      name: `${prefix}releases_total`,
      help: "Runner Pods released, by runner set and whether their daemon got a cache volume (hit) or the set's own empty storage because every claim was in use (miss).",
      labelNames: ["runner_set", "result"] as const,
      registers: [registry],
    }),
    volumes: new Gauge({
      name: `${prefix}volumes`,
      help: "Cache claims by runner set and state (free, leased, recycling).",
      labelNames: ["runner_set", "state"] as const,
      registers: [registry],
    }),
    volumeBytes: new Gauge({
      name: `${prefix}volume_bytes`,
      help: "Docker data on each cache claim, as its last Pod reported when its daemon stopped.",
      labelNames: ["runner_set", "claim"] as const,
      registers: [registry],
    }),
    uncleanEnds: new Counter({
      name: `${prefix}unclean_ends_total`,
      help: "Pods that left a cache claim without stopping their daemon cleanly (or without a report); the next Pod on it checks the data first.",
      labelNames: ["runner_set"] as const,
      registers: [registry],
    }),
    recycled: new Counter({
      name: `${prefix}recycled_total`,
      help: "Cache claims deleted to be made again: the set's cache settings changed, the pool shrank, or the volume was lost.",
      labelNames: ["runner_set", "reason"] as const,
      registers: [registry],
    }),
  };
}

export type CacheMetrics = ReturnType<typeof createCacheMetrics>;

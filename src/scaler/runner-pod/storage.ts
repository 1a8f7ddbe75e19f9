// The daemon's data root on the storage a set asks for: an emptyDir, tmpfs, a generic ephemeral claim, or a loop
// disk (Kata: virtio-fs can't be an overlay upper). Pure.
import type { V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { DEFAULT_DOCKER_SIZE_LIMIT, DEFAULT_LOOP_DISK_SIZE } from "../config/defaults.ts";
import type { Resources, RunnerSet, Storage } from "../config/schema.ts";
import { addQuantities } from "../model/quantity.ts";
import { type DaemonLayout, LOOP_DIR, VOLUME } from "./layout.ts";

/**
 * Storage when the set names none: emptyDir, or a loop disk under kata where emptyDir can't carry overlayfs. An
 * emptyDir always has a sizeLimit (DEFAULT_DOCKER_SIZE_LIMIT unless the set gives one).
 */
export function effectiveStorage(set: RunnerSet): Storage {
  if (set.storage?.type === "emptyDir") return { sizeLimit: DEFAULT_DOCKER_SIZE_LIMIT, ...set.storage };
  if (set.storage) return set.storage;
  return set.runtime.profile === "kata"
    ? { type: "loopDisk", size: DEFAULT_LOOP_DISK_SIZE }
    : { type: "emptyDir", sizeLimit: DEFAULT_DOCKER_SIZE_LIMIT };
}

/** tmpfs pages are charged to the writer's memory cgroup: grow dind's request (and limit, if set) by its size. */
export function memoryForTmpfs(base: Resources | undefined, storage: Storage): Resources | undefined {
  if (storage.type !== "memory") return base;
  const size = storage.sizeLimit;
  const requests = { ...base?.requests };
  requests.memory = requests.memory ? addQuantities(requests.memory, size) : size;
  const limits = base?.limits ? { ...base.limits } : undefined;
  if (limits?.memory) limits.memory = addQuantities(limits.memory, size);
  return { requests, ...(limits ? { limits } : {}) };
}

export function storageVolumes(storage: Storage, labels: Record<string, string>): V1Volume[] {
  switch (storage.type) {
    case "emptyDir":
      return [{ name: VOLUME.storage, emptyDir: storage.sizeLimit ? { sizeLimit: storage.sizeLimit } : {} }];
    case "memory":
      return [{ name: VOLUME.storage, emptyDir: { medium: "Memory", sizeLimit: storage.sizeLimit } }];
    case "ephemeralVolume":
      return [
        {
          name: VOLUME.storage,
          ephemeral: {
            volumeClaimTemplate: {
              metadata: { labels: { ...labels } },
              spec: {
                accessModes: ["ReadWriteOnce"],
                ...(storage.storageClassName ? { storageClassName: storage.storageClassName } : {}),
                resources: { requests: { storage: storage.size } },
              },
            },
          },
        },
      ];
    case "loopDisk":
      // The image file is sparse: the volume only holds what the daemon writes, at most `size`.
      return [{ name: VOLUME.loop, emptyDir: { sizeLimit: storage.size } }];
  }
}

export function storageMounts(storage: Storage, layout: DaemonLayout): V1VolumeMount[] {
  if (storage.type === "loopDisk") return [{ name: VOLUME.loop, mountPath: LOOP_DIR }];
  return [{ name: VOLUME.storage, mountPath: layout.dataRoot }];
}

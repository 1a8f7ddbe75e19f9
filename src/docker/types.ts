// The parts of Docker Engine API responses this project reads. Fields are optional where older
// daemons (API 1.24+) or other engines (Podman's compat API) may leave them out.

/** GET /version */
export interface DockerVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
}

/** GET /info */
export interface DockerInfo {
  Driver: string;
  DockerRootDir?: string;
  ServerVersion?: string;
  OperatingSystem?: string;
  NCPU?: number;
  MemTotal?: number;
  ContainersRunning?: number;
  CgroupDriver?: string;
  CgroupVersion?: string;
}

/** One entry of GET /containers/json */
export interface ContainerSummary {
  Id: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Status?: string;
}

/** GET /system/df */
export interface SystemDf {
  LayersSize?: number;
  Images?: { Size?: number; SharedSize?: number; Containers?: number }[] | null;
  Containers?: { SizeRw?: number }[] | null;
  Volumes?: { UsageData?: { Size?: number } | null }[] | null;
  BuildCache?: { Size?: number; InUse?: boolean; Shared?: boolean }[] | null;
}

/** GET /networks/{id} */
export interface NetworkInspect {
  Name: string;
  Driver?: string;
  Options?: Record<string, string> | null;
}

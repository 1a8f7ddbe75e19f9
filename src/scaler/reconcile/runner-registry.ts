// What the reconciler needs of GitHub (github/ implements it): JIT registration and the runner list.
export interface RunnerRegistry {
  generateJitConfig(request: {
    name: string;
    runnerGroupId: number;
    labels: string[];
    workFolder: string;
  }): Promise<{ runnerId: number; runnerName: string; encodedJitConfig: string }>;
  deleteRunner(runnerId: number): Promise<"deleted" | "busy" | "not-found">;
  listRunners(): Promise<{ id: number; name: string; busy: boolean; labels: string[] }[]>;
  runnerGroupId(name: string | undefined): Promise<number>;
  rateLimitRemaining(): number | undefined;
}

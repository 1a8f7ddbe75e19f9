// What the reconciler needs of GitHub (github/ implements it): JIT registration, the runner list, one job's status.
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
  /** One job's status: whether a job whose runner Pod ended without running it still waits for one. */
  getWorkflowJob(repo: string, jobId: number): Promise<{ status: string }>;
}

// Pure: which queued Pods get a set's free slots. Under repository fairness a backlog larger than the free slots
// is shared round-robin across repositories — weighted, optionally capped per repository, oldest first within
// one — so a repository that queued 500 jobs doesn't make one that queued 10 wait behind all of them.
import type { RunnerPodView } from "./pod-view.ts";

export interface Fairness {
  /** repository: round-robin across repositories; fifo: oldest job first, whatever its repository. */
  mode: "repository" | "fifo";
  /** owner/name → weight (default 1): slots in proportion while both have jobs waiting. */
  weights?: Readonly<Record<string, number>> | undefined;
  /** At most this many released runners of one repository at once (either mode). */
  maxPerRepository?: number | undefined;
}

/** Warm Pods and Pods recorded without a repository share one queue, never capped. */
const NO_REPOSITORY = "";

const repositoryOf = (view: RunnerPodView) => view.repository ?? NO_REPOSITORY;

interface Queue {
  repository: string;
  items: RunnerPodView[];
  next: number;
  /** Runners of the repository released, before this plan and by it. */
  used: number;
  weight: number;
  cap: number;
}

/** Which queue is served first: the least served for its weight, then the one whose next job is oldest. */
function before(a: Queue, b: Queue): boolean {
  const share = a.used * b.weight - b.used * a.weight;
  if (share !== 0) return share < 0;
  const x = a.items[a.next]!;
  const y = b.items[b.next]!;
  return x.createdAtMs < y.createdAtMs || (x.createdAtMs === y.createdAtMs && x.name < y.name);
}

/** A binary min-heap of queues by `before`: thousands of repositories cost log(n) per slot, not n. */
class QueueHeap {
  readonly #heap: Queue[] = [];

  get size(): number {
    return this.#heap.length;
  }

  push(queue: Queue): void {
    const heap = this.#heap;
    heap.push(queue);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  pop(): Queue | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < heap.length && before(heap[left]!, heap[least]!)) least = left;
        if (right < heap.length && before(heap[right]!, heap[least]!)) least = right;
        if (least === i) break;
        [heap[i], heap[least]] = [heap[least]!, heap[i]!];
        i = least;
      }
    }
    return top;
  }
}

/**
 * Up to `slots` Pods of `queuedByAge` (oldest first) to release. `released` counts the runners each repository
 * already has (released job Pods by the repository of their job: GitHub may hand a runner another job of the
 * set, so this is the share the scaler gave, not what runs).
 */
export function chooseReleases(
  queuedByAge: readonly RunnerPodView[],
  slots: number,
  released: ReadonlyMap<string, number>,
  fairness: Fairness,
): RunnerPodView[] {
  const cap = fairness.maxPerRepository ?? Number.POSITIVE_INFINITY;
  if (slots <= 0) return [];
  if (fairness.mode === "fifo" || queuedByAge.length <= slots) {
    if (cap === Number.POSITIVE_INFINITY) return queuedByAge.slice(0, slots);
    // Oldest first, skipping repositories at their cap.
    const used = new Map(released);
    const chosen: RunnerPodView[] = [];
    for (const view of queuedByAge) {
      if (chosen.length === slots) break;
      const repository = repositoryOf(view);
      const count = used.get(repository) ?? 0;
      if (repository !== NO_REPOSITORY && count >= cap) continue;
      used.set(repository, count + 1);
      chosen.push(view);
    }
    return chosen;
  }
  const queues = new Map<string, Queue>();
  for (const view of queuedByAge) {
    const repository = repositoryOf(view);
    let queue = queues.get(repository);
    if (queue === undefined) {
      queue = {
        repository,
        items: [],
        next: 0,
        used: released.get(repository) ?? 0,
        weight: fairness.weights?.[repository] ?? 1,
        cap: repository === NO_REPOSITORY ? Number.POSITIVE_INFINITY : cap,
      };
      queues.set(repository, queue);
    }
    queue.items.push(view);
  }
  const heap = new QueueHeap();
  for (const queue of queues.values()) if (queue.used < queue.cap) heap.push(queue);
  const chosen: RunnerPodView[] = [];
  while (chosen.length < slots && heap.size > 0) {
    const queue = heap.pop()!;
    chosen.push(queue.items[queue.next++]!);
    queue.used++;
    if (queue.next < queue.items.length && queue.used < queue.cap) heap.push(queue);
  }
  return chosen;
}

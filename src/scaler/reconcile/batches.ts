// Small helpers of the control loop's actions.

/** Runs `act` over `items` with at most `size` in flight at once. */
export async function inBatches<T>(
  items: readonly T[],
  size: number,
  act: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await act(item);
    }
  });
  await Promise.all(workers);
}

export function randomId(): string {
  return Math.random().toString(36).slice(2, 10).padEnd(8, "0");
}

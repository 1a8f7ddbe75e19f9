// Just enough of Kubernetes' resource.Quantity to validate one, add a tmpfs size to a memory limit and size a
// loop image. The one definition of what a quantity looks like: config validation and the builder share it.

/** A Kubernetes quantity: a signed decimal with a binary (Ki…Ei), decimal (n…E) or exponent suffix. */
export const QUANTITY_PATTERN =
  /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

function quantityValue(quantity: string): number {
  const match = QUANTITY_PATTERN.exec(quantity);
  if (match === null) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(quantity)}`);
  const number = Number(match[1]);
  const suffix = match[2] ?? "";
  let factor: number;
  if (suffix in BINARY) factor = BINARY[suffix]!;
  else if (suffix in DECIMAL) factor = DECIMAL[suffix]!;
  else factor = 10 ** Number(suffix.slice(1));
  return number * factor;
}

/** Bytes (rounded up to a whole byte) of a quantity such as 10Gi, 500M, 1e9 or 1048576. */
export function quantityToBytes(quantity: string): number {
  return Math.ceil(quantityValue(quantity));
}

/** True when quantity a is more than b; exact for fractions (250m CPU is more than 100m). */
export function quantityAbove(a: string, b: string): boolean {
  return quantityValue(a) > quantityValue(b);
}

/** The sum as a quantity; Mi when it divides evenly (as people write memory), bytes otherwise. */
export function addQuantities(a: string, b: string): string {
  const bytes = quantityToBytes(a) + quantityToBytes(b);
  return bytes % BINARY.Mi! === 0 ? `${bytes / BINARY.Mi!}Mi` : String(bytes);
}

// Text from a request that nothing vouches for (a header, or anything before the signature matched) is attacker
// text: it never becomes a metric label, and a log line carries at most a short, escaped prefix of it.

/** How much of an unverified value a log line keeps: enough to recognise a GUID or an event name. */
export const UNTRUSTED_LOG_CHARS = 64;

/**
 * A bounded, escaped prefix of `value` for a log field: printable ASCII kept, everything else as \uXXXX, at most
 * `max` characters of the original, then how many were cut. Undefined stays undefined (the field is left out).
 */
export function untrustedText(value: string | undefined, max = UNTRUSTED_LOG_CHARS): string | undefined {
  if (value === undefined) return undefined;
  const head = value.slice(0, max);
  // Backslash first is escaped too, so an escaped prefix can't be mistaken for one the sender wrote.
  const escaped = head.replace(
    /[^\x20-\x5b\x5d-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return value.length > max ? `${escaped}…(+${value.length - max} chars)` : escaped;
}

/** The scaler cannot start as configured; the message says what to fix. */
export class StartupError extends Error {
  override name = "StartupError";
}

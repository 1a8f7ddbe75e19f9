// The capacity keys of a runner set beyond maxRunners and minIdle: schedule windows that change them at set times,
// and how free slots are shared between the repositories of a backlog.
import { z } from "zod";
import { DURATION_PATTERN } from "../model/duration.ts";
import { cronProblem, timeZoneProblem } from "../model/schedule.ts";
import { list, matching, oneOf, strictObject, text, wholeNumber } from "./primitives.ts";

function checked(what: string, problem: (value: string) => string | undefined) {
  return text(what).superRefine((value, context) => {
    const message = problem(value);
    if (message !== undefined) context.addIssue({ code: "custom", message, input: value });
  });
}

export function duration() {
  return matching(DURATION_PATTERN, "a duration such as 90s, 45m, 10h or 1h30m");
}

const scheduleWindow = strictObject({
  name: matching(/^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/, "a name of letters, digits, '-', '_' or '.'")
    .optional()
    .describe("Names the window in metrics and logs; schedules[i] when omitted."),
  cron: checked("a cron expression", (value) => cronProblem(value)).describe(
    'When the window opens: a cron expression (minute hour day-of-month month day-of-week, e.g. "0 8 * * 1-5" for 08:00 on weekdays), read in timeZone.',
  ),
  duration: duration().describe("How long the window stays open after each activation, e.g. 10h."),
  timeZone: checked("a time zone", timeZoneProblem).describe(
    "IANA time zone the cron expression is read in, e.g. Europe/Berlin or UTC; daylight saving time is followed.",
  ),
  minIdle: wholeNumber(0).describe("Warm runners to keep while the window is open."),
  maxRunners: wholeNumber(0)
    .optional()
    .describe("maxRunners while the window is open; the set's own maxRunners when omitted."),
}).describe("One window of a schedule.");

export const capacityKeys = {
  schedules: list(scheduleWindow, "a list of schedule windows")
    .optional()
    .describe(
      "Windows that set minIdle (and maxRunners) while open, e.g. warm runners during working hours. Overlapping windows take the highest of each value; outside every window minIdle and maxRunners apply. `dind-k8s check-config` prints each window's next three activations.",
    ),
  scheduleLeadTime: duration()
    .optional()
    .describe(
      "How long before a window opens its values already apply, so its warm runners are ready at its start. Default: the runner start time the scaler measured (the longest of its last 10 runner Pods, creation or release to Running; 1m until it has measured one).",
    ),
  fairness: oneOf(["repository", "fifo"])
    .default("repository")
    .describe(
      "How free slots go to a backlog larger than them. repository: round-robin across repositories (weighted by repositoryWeights, capped by maxRunnersPerRepository), oldest first within each. fifo: oldest job first, whatever its repository.",
    ),
  repositoryWeights: z
    .record(
      matching(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/, "owner/name of a repository"),
      wholeNumber(1, 100),
      { error: "expected a mapping of owner/name to a whole number from 1 to 100" },
    )
    .optional()
    .describe(
      "Under repository fairness: a repository of weight 3 gets 3 slots for every 1 of a repository of weight 1 (the default) while both have jobs waiting.",
    ),
  maxRunnersPerRepository: wholeNumber(1)
    .optional()
    .describe(
      "At most this many runners of the set released for one repository's jobs at once (under either fairness); its other jobs wait even when slots are free.",
    ),
};

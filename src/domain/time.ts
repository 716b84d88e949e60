/** Milliseconds in a UTC day: budget periods, cache lifetimes and date ranges count in whole days. */
export const DAY_MS = 86_400_000;

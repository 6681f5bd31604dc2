// Package team is what running the module for a team needs beyond keys:
// named clients (their keys, rate limit, budgets and allowed models), and
// usage per client and model per UTC day, kept KeepDays days, with the
// budget check made from it. Usage lives in a Store: Memory (which
// snapshots to and restores from bytes, for the host to save) or any
// other, e.g. one in Redis shared by several instances.
//
// Budgets are calendar periods in UTC (a day from 00:00, an ISO week from
// Monday, a month from the 1st), not sliding windows: people think in
// "this month", and a refusal can say exactly when it ends.
package team

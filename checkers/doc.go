// Package checkers holds hasim's observers: each judges a finished run from
// the history and state a scenario recorded, and returns a verdict that is
// ok, violated (with the evidence) or unknown (never silently ok).
//
// Checkers are pure: they never drive the simulation, and they are the only
// code that reads true simulated time.
package checkers

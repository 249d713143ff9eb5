package kube

import "hasim/harness"

// Judged returns the cluster of cfg judged, and the cluster itself, for
// tests that check verdicts. The judge (checkers/judge) imports this
// package, so an internal test cannot import it: judged_test.go, an
// external test file of the same test binary, sets this at init.
var Judged func(cfg Config) (harness.Scenario, *Scenario)

// unjudged runs a cluster with no judge, for tests of what it does (its
// trace), not of the verdicts.
type unjudged struct{ *Scenario }

func (unjudged) Check(*harness.Sim) []harness.Verdict { return nil }

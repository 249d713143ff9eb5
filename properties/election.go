package properties

import (
	"fmt"
	"time"

	"pgregory.net/rapid"

	"hasim/checkers/judge"
	"hasim/harness"
	"hasim/model"
	"hasim/model/election"
	"hasim/model/store"
)

// ElectionCase is one generated run of the election scenario.
type ElectionCase struct {
	Cfg      election.Config
	Seed     uint64
	Duration time.Duration
	Schedule harness.Schedule
}

func (c ElectionCase) String() string {
	return fmt.Sprintf("seed %d, %d masters, %s, bugs [%s]", c.Seed, c.Cfg.Masters, c.Duration, c.Cfg.Bugs)
}

// ElectionDuration is how long a generated election run lasts.
const ElectionDuration = 2 * time.Minute

// Envelope bounds of leader election's safety claim (see Bounds for the
// derivation): clock rates within these and pauses no longer than
// MaxPause keep MaxPause + (RetryPeriod+RenewDeadline)/MinRate below
// LeaseDuration/MaxRate, with 0.65s to spare for the renewal's latency.
// The first bounds tried here, 0.85x to 1.15x and 3s pauses (any two rates
// within LeaseDuration/RenewDeadline), are not safe: hasim found the
// overlap (TestClusterEnvelope).
const (
	MinEnvelopeRate harness.Rate = 950_000
	MaxEnvelopeRate harness.Rate = 1_050_000
	MaxPause                     = time.Second
)

// DrawElectionCase draws an election case whose schedule stays inside the
// envelope: drawn clock rates are mapped into [0.95x, 1.05x] and pauses cut
// to MaxPause (a mapping, not a filter, so shrinking keeps working).
func DrawElectionCase(t *rapid.T, bugs model.Bugs) ElectionCase {
	cfg := election.Config{Masters: rapid.SampledFrom([]int{3, 5}).Draw(t, "masters"), Bugs: bugs}
	seed := rapid.Uint64().Draw(t, "seed")
	sc := judge.NewElection(cfg)
	sched := DrawSchedule(t, sc.GenOptions(ElectionDuration), []harness.Role{store.RoleLeader, election.RoleActive})
	for i := range sched {
		for j, f := range sched[i].Faults {
			switch f := f.(type) {
			case harness.ClockRate:
				f.Rate = MinEnvelopeRate + (f.Rate-harness.MinRate)*(MaxEnvelopeRate-MinEnvelopeRate)/(harness.MaxRate-harness.MinRate)
				sched[i].Faults[j] = f
			case harness.Pause:
				sched[i].For = min(sched[i].For, MaxPause)
			}
		}
	}
	return ElectionCase{Cfg: cfg, Seed: seed, Duration: ElectionDuration, Schedule: sched}
}

// SingleActiveProperty runs election cases inside the envelope and fails
// when two controllers act at once.
func SingleActiveProperty(name string, bugs model.Bugs, tally *Tally) func(*rapid.T) {
	return func(t *rapid.T) {
		c := DrawElectionCase(t, bugs)
		sc := judge.NewElection(c.Cfg)
		res, err := harness.Run(harness.Config{Scenario: sc, Duration: c.Duration}, c.Seed, c.Schedule)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		v := res.Verdicts[0]
		tally.add(v.Status)
		if v.Status == harness.Violated {
			t.Fatalf("%s: %s violated: %s\n  case: %s\n  schedule:\n%s\n  replay: go test ./properties -run '^%s$' (rapid prints -rapid.seed)",
				name, v.Check, v.Detail, c, indent(c.Schedule.String(), "    "), name)
		}
	}
}

package judge

import (
	"time"

	"hasim/checkers"
	"hasim/harness"
	"hasim/model"
	"hasim/model/election"
)

// Election is the election scenario judged: at most one controller acting
// at any true instant (claimed inside election.Safe: a violation outside
// it is expected, and says so), and raft's safety underneath.
type Election struct {
	election.Scenario
	single *checkers.SingleActive
	raft   *checkers.RaftSafety
}

// NewElection returns the election scenario of c, judged.
func NewElection(c election.Config) *Election {
	return &Election{Scenario: election.Scenario{Cfg: c}}
}

// Build implements harness.Scenario: it observes the scenario it builds.
func (j *Election) Build(s *harness.Sim) error {
	j.single = checkers.NewSingleActive(model.CheckSingleActive)
	j.raft = checkers.NewRaftSafety()
	j.Observer, j.Raft = j, j.raft
	return j.Scenario.Build(s)
}

// Acting implements election.Observer.
func (j *Election) Acting(at time.Duration, identity string, on bool) {
	if on {
		j.single.Start(at, identity)
	} else {
		j.single.Stop(at, identity)
	}
}

// Check implements harness.Scenario: single-active, then raft-safety.
func (j *Election) Check(s *harness.Sim) []harness.Verdict {
	single := j.single.Verdict(s.Now())
	election.Safe.Excuse(j.Cfg.Timings, &single, s.FaultLog(), s.Now())
	return []harness.Verdict{single, j.raft.Verdict()}
}

package properties

import (
	"testing"

	"pgregory.net/rapid"

	"hasim/model"
	"hasim/model/election"
)

// TestSingleActiveController: inside its envelope, leader election never
// lets two controllers act at once.
func TestSingleActiveController(t *testing.T) {
	var tl Tally
	rapid.Check(t, SingleActiveProperty(t.Name(), model.Bugs{}, &tl))
	checkTally(t, "single-active", &tl)
}

func FuzzSingleActiveController(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(SingleActiveProperty("FuzzSingleActiveController", model.Bugs{}, nil)))
}

// The planted election bugs make the property fail within a fixed budget,
// even inside the envelope.
func TestElectionCanaries(t *testing.T) {
	for _, bug := range []string{election.BugNoRenewDeadline} {
		r := expectFailure(t, "Canary-"+bug, SingleActiveProperty("Canary-"+bug, model.MustBugs(bug), nil), 100, 1)
		if !r.failed {
			t.Errorf("%s: single-active held on 100 cases with the bug on", bug)
		}
	}
}

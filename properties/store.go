package properties

import (
	"fmt"
	"path/filepath"
	"time"

	"pgregory.net/rapid"

	"hasim/checkers/judge"
	"hasim/harness"
	"hasim/model"
)

// The store's checks, by the names their verdicts carry.
const (
	CheckLinearizable = model.CheckLinearizability
	CheckDurable      = model.CheckAckedDurable
	CheckRecovers     = model.CheckRecoversAfterHeal
	CheckRaftSafety   = model.CheckRaftSafety
)

// FailureDir is where a failing property leaves its artifacts, per test:
// the failure file (for hasim repro), the trace, and the checkers' views.
// Each failing attempt overwrites the last, and rapid's final attempt is
// the minimal case, so what stays is the shrunk failure.
var FailureDir = filepath.Join("testdata", "failures")

// PropertyLinTimeout bounds the linearizability search in property runs:
// hundreds of cases, and shrinking, must stay quick. A case that needs more
// is unknown (never ok), and Tally makes sure those stay rare.
const PropertyLinTimeout = 3 * time.Second

// Tally counts a property's verdicts over its cases, so a test can insist
// that the checker decided (ok) on most of them rather than saying unknown.
type Tally struct{ OK, Unknown, Violated int }

// add counts one verdict; a nil Tally counts nothing.
func (t *Tally) add(s harness.Status) {
	switch {
	case t == nil:
	case s == harness.OK:
		t.OK++
	case s == harness.Unknown:
		t.Unknown++
	default:
		t.Violated++
	}
}

// StoreProperty returns a rapid property: draw a store case (with the given
// bugs on), run it, and fail if the named check is violated. name is the
// test's name, for the artifacts' directory and the replay command.
func StoreProperty(name string, bugs model.Bugs, check harness.CheckName, tally *Tally) func(*rapid.T) {
	return func(t *rapid.T) {
		c := DrawStoreCase(t, bugs)
		res, v, err := RunStoreCase(c, check, "")
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		tally.add(v.Status)
		if v.Status == harness.Violated {
			t.Fatal(Report(name, c, res, check))
		}
	}
}

// RunStoreCase runs one case; artifacts, if set, is where checkers may
// write their views. It returns the result and the verdict of check.
func RunStoreCase(c StoreCase, check harness.CheckName, artifacts string) (harness.Result, harness.Verdict, error) {
	sc := judge.NewStore(c.Cfg)
	sc.LinearizabilityTimeout = PropertyLinTimeout
	if artifacts != "" {
		sc.SetArtifacts(artifacts)
	}
	res, err := harness.Run(harness.Config{Scenario: sc, Duration: c.Duration}, c.Seed, c.Schedule)
	if err != nil {
		return res, harness.Verdict{}, err
	}
	for _, v := range res.Verdicts {
		if v.Check == check {
			return res, v, nil
		}
	}
	return res, harness.Verdict{}, fmt.Errorf("the store scenario gave no %q verdict", check)
}

// Report writes a failing case's artifacts and returns the message a
// person needs: what failed, the case and its (shrunk) schedule, every
// verdict, where the trace and views are, and the commands that replay it.
func Report(name string, c StoreCase, res harness.Result, check harness.CheckName) string {
	sc := judge.NewStore(c.Cfg)
	return failureReport(name, string(check)+" violated", c.String(), c.Schedule, res.Verdicts,
		func(dir string) ([]string, error) {
			return writeRunArtifacts(dir, sc, c.Seed, c.Duration, c.Schedule, string(check), nil)
		})
}

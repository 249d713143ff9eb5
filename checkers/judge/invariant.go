package judge

import (
	"fmt"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/kube"
)

// Invariant is a user's safety property of the API's objects: Check
// returns why the ground truth breaks it, or nil. The cluster's judge
// checks it at every new store revision, on the truth of the member that
// reached it, and gives the verdict invariant/<Name>.
type Invariant struct {
	// Name is a word of lower-case letters, digits and dashes.
	Name  string
	Check func(t *kube.Truth) error
}

// invariants judges the user's invariants as the store's revision grows.
type invariants struct {
	list  []Invariant
	state []invState
	rev   int64 // the highest revision judged
	truth func() *kube.Truth
}

type invState struct {
	judged, broken int
	first          string
	at             time.Duration
}

func (iv *invariants) validate() error {
	seen := map[string]bool{}
	for i, inv := range iv.list {
		field := fmt.Sprintf("invariants[%d]", i)
		if err := harness.ValidName(inv.Name); err != nil {
			return fmt.Errorf("%s.name: %v", field, err)
		}
		if seen[inv.Name] {
			return fmt.Errorf("%s.name: %q is given twice", field, inv.Name)
		}
		if inv.Check == nil {
			return fmt.Errorf("%s.check: no function for %q", field, inv.Name)
		}
		seen[inv.Name] = true
	}
	return nil
}

// revision judges every invariant once the store reached a revision
// higher than any judged so far.
func (iv *invariants) revision(at time.Duration, rev int64) {
	if rev <= iv.rev || len(iv.list) == 0 {
		return
	}
	t := iv.truth()
	if t == nil {
		return // the truth is unknown: the furthest member is down
	}
	iv.rev = rev
	for i, inv := range iv.list {
		st := &iv.state[i]
		st.judged++
		if err := inv.Check(t); err != nil {
			if st.broken++; st.broken == 1 {
				st.first, st.at = err.Error(), at
			}
		}
	}
}

func (iv *invariants) verdicts() []harness.Verdict {
	var out []harness.Verdict
	for i, inv := range iv.list {
		st := iv.state[i]
		v := harness.Verdict{Check: model.CheckInvariant.Of(inv.Name)}
		switch {
		case st.broken > 0:
			v.Status, v.At = harness.Violated, st.at
			v.Detail = fmt.Sprintf("broken at %s: %s (broken at %d of the %d store revisions judged)", harness.FormatTime(st.at), st.first, st.broken, st.judged)
		case st.judged == 0:
			v.Status, v.Detail = harness.Unknown, "never judged: the store's revision never grew where the truth was known"
		default:
			v.Status, v.Detail = harness.OK, fmt.Sprintf("held at all %d store revisions judged", st.judged)
		}
		out = append(out, v)
	}
	return out
}

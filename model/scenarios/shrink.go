package scenarios

import (
	"time"

	"hasim/harness"
)

// Shrink reduces a failing schedule to a minimal one that still makes at
// least one of the checks named in want come out violated, with the same
// seed: it drops whole entries, then single faults of composite entries,
// for as long as the failure persists (greedy delta debugging; each try is
// one full run). build makes a fresh scenario for each try. It returns the
// smallest schedule found and the number of runs it took.
func Shrink(build func() (Scenario, error), seed uint64, d time.Duration, sched harness.Schedule, want []string) (harness.Schedule, int, error) {
	runs := 0
	fails := func(s harness.Schedule) (bool, error) {
		sc, err := build()
		if err != nil {
			return false, err
		}
		runs++
		res, err := harness.Run(harness.Config{Scenario: sc, Duration: d, Trace: harness.TraceOptions{Off: true}}, seed, s)
		if err != nil {
			return false, nil // an invalid smaller schedule just does not count
		}
		for _, v := range res.Verdicts {
			for _, w := range want {
				if v.Check == w && v.Status == harness.Violated {
					return true, nil
				}
			}
		}
		return false, nil
	}
	cur := append(harness.Schedule(nil), sched...)
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(cur); i++ {
			try := append(append(harness.Schedule(nil), cur[:i]...), cur[i+1:]...)
			ok, err := fails(try)
			if err != nil {
				return cur, runs, err
			}
			if ok {
				cur, changed = try, true
				i--
			}
		}
		for i := 0; i < len(cur); i++ {
			for j := 0; len(cur[i].Faults) > 1 && j < len(cur[i].Faults); j++ {
				e := cur[i]
				e.Faults = append(append([]harness.Fault(nil), e.Faults[:j]...), e.Faults[j+1:]...)
				try := append(harness.Schedule(nil), cur...)
				try[i] = e
				ok, err := fails(try)
				if err != nil {
					return cur, runs, err
				}
				if ok {
					cur, changed = try, true
					j--
				}
			}
		}
	}
	return cur, runs, nil
}

package scenarios

import (
	"errors"
	"time"

	"hasim/harness"
)

// Shrink reduces a failing schedule to a small one that still makes at
// least one of the checks named in want fail (harness.Verdict.Fails), with
// the same seed. It removes entries by delta debugging (halves, then
// quarters, ... of what is left, down to single entries), then single
// faults of composite entries, then halves how long each entry lasts, for
// as long as the failure persists; each try is one full run. build makes a
// fresh scenario for each try. It stops after maxRuns runs (0: no bound)
// with the smallest schedule found so far. It returns that schedule and the
// number of runs it took.
func Shrink(build func() (Scenario, error), seed uint64, d time.Duration, sched harness.Schedule, want []harness.CheckName, maxRuns int) (harness.Schedule, int, error) {
	var buildErr error
	run := func(s harness.Schedule) (harness.Result, error) {
		sc, err := build()
		if err != nil {
			buildErr = err
			return harness.Result{}, err
		}
		return harness.Run(harness.Config{Scenario: sc, Duration: d, Trace: harness.TraceOptions{Off: true}}, seed, s)
	}
	small, runs, err := ShrinkWith(run, sched, want, maxRuns)
	if buildErr != nil {
		return sched, runs, buildErr
	}
	return small, runs, err
}

// ShrinkWith is Shrink for runs made another way (a test binary's, in
// its synctest bubble): run runs the case with a schedule (an error: that
// schedule does not count).
func ShrinkWith(run func(harness.Schedule) (harness.Result, error), sched harness.Schedule, want []harness.CheckName, maxRuns int) (harness.Schedule, int, error) {
	runs := 0
	fails := func(s harness.Schedule) (bool, error) {
		if maxRuns > 0 && runs >= maxRuns {
			return false, errBudget
		}
		runs++
		res, err := run(s)
		if err != nil {
			return false, nil // an invalid smaller schedule just does not count
		}
		for _, v := range res.Verdicts {
			for _, w := range want {
				if v.Check == w && v.Fails() {
					return true, nil
				}
			}
		}
		return false, nil
	}
	cur, err := shrink(append(harness.Schedule(nil), sched...), fails)
	if err == errBudget {
		err = nil
	}
	return cur, runs, err
}

// errBudget ends a shrink that has used its runs.
var errBudget = errors.New("shrink: out of runs")

func shrink(cur harness.Schedule, fails func(harness.Schedule) (bool, error)) (harness.Schedule, error) {
	for changed := true; changed; {
		changed = false
		// Delta debugging over entries: try without each of n chunks;
		// keep the first removal that still fails.
		for n := 2; len(cur) > 0; {
			n = min(n, len(cur))
			removed := false
			for i := 0; i < n; i++ {
				lo, hi := i*len(cur)/n, (i+1)*len(cur)/n
				try := append(append(harness.Schedule(nil), cur[:lo]...), cur[hi:]...)
				ok, err := fails(try)
				if err != nil {
					return cur, err
				}
				if ok {
					cur, removed, changed = try, true, true
					n = max(n-1, 2)
					break
				}
			}
			if !removed {
				if n == len(cur) {
					break
				}
				n *= 2
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
					return cur, err
				}
				if ok {
					cur, changed = try, true
					j--
				}
			}
		}
		// Shorter faults read more easily: halve each entry's length
		// while it still fails (to whole milliseconds, not below 100ms).
		for i := range cur {
			for cur[i].For >= 200*time.Millisecond {
				try := append(harness.Schedule(nil), cur...)
				try[i].For = (cur[i].For / 2).Truncate(time.Millisecond)
				ok, err := fails(try)
				if err != nil {
					return cur, err
				}
				if !ok {
					break
				}
				cur, changed = try, true
			}
		}
	}
	return cur, nil
}

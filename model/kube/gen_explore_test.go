package kube

import (
	"os"
	"strconv"
	"testing"
	"time"

	"hasim/harness"
)

func TestGenExplore(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GEN"))
	if n == 0 {
		t.Skip()
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		sc := &Scenario{}
		d := 6 * time.Minute
		sched := harness.GenerateSchedule(harness.NewRand(seed, "faults"), sc.GenOptions(d))
		res, err := harness.Run(harness.Config{Scenario: sc, Duration: d}, seed, sched)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range res.Verdicts {
			if v.Status == harness.Violated {
				t.Logf("seed %d %s: %.300s\n  schedule: %s", seed, v.Check, v.Detail, sched)
			}
		}
	}
}

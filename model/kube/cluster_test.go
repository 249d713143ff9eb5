package kube

import (
	"testing"
	"time"

	"hasim/harness"
	"hasim/model"
)

func runCluster(t *testing.T, cfg Config, seed uint64, sched string, d time.Duration) (*Scenario, harness.Result) {
	t.Helper()
	schedule, err := harness.ParseSchedule(sched)
	if err != nil {
		t.Fatal(err)
	}
	sc := &Scenario{Cfg: cfg}
	res, err := harness.Run(harness.Config{Scenario: sc, Duration: d}, seed, schedule)
	if err != nil {
		t.Fatal(err)
	}
	return sc, res
}

func verdicts(t *testing.T, res harness.Result) map[string]harness.Verdict {
	out := map[string]harness.Verdict{}
	for _, v := range res.Verdicts {
		t.Logf("%-40s %-9s %s", v.Check, v.Status, v.Detail)
		out[v.Check] = v
	}
	return out
}

func TestClusterSmoke(t *testing.T) {
	_, res := runCluster(t, Config{Bugs: model.Bugs{}}, 1, "", 4*time.Minute)
	t.Logf("wall %s, events %d, %.0fx", res.Wall, res.Events, float64(res.SimTime)/float64(res.Wall))
	verdicts(t, res)
}

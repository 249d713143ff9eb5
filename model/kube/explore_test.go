package kube

import (
	"os"
	"testing"
	"time"

	"hasim/model"
)

func TestExplore(t *testing.T) {
	sched := os.Getenv("SCHED")
	if sched == "" {
		t.Skip()
	}
	var bugs model.Bugs
	if b := os.Getenv("BUGS"); b != "" {
		bugs = model.MustBugs(b)
	}
	d, _ := time.ParseDuration(os.Getenv("DUR"))
	sc, res := runCluster(t, Config{Bugs: bugs, CacheReads: os.Getenv("CACHE") != ""}, 1, sched, d)
	t.Logf("wall %s, %.0fx", res.Wall, float64(res.SimTime)/float64(res.Wall))
	verdicts(t, res)
	_ = sc
}

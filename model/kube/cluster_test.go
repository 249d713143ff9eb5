package kube

import (
	"strings"
	"testing"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/election"
)

// runCluster runs the cluster of cfg, judged (see Judged), and returns
// the cluster for the test to look into.
func runCluster(t *testing.T, cfg Config, seed uint64, sched string, d time.Duration) (*Scenario, harness.Result) {
	t.Helper()
	schedule, err := harness.ParseSchedule(sched)
	if err != nil {
		t.Fatal(err)
	}
	judged, sc := Judged(cfg)
	res, err := harness.Run(harness.Config{Scenario: judged, Duration: d}, seed, schedule)
	if err != nil {
		t.Fatal(err)
	}
	return sc, res
}

func verdicts(res harness.Result) map[harness.CheckName]harness.Verdict {
	out := map[harness.CheckName]harness.Verdict{}
	for _, v := range res.Verdicts {
		out[v.Check] = v
	}
	return out
}

// allOK fails the test on any verdict that is not ok, except the named
// ones (which may be unknown).
func allOK(t *testing.T, what string, res harness.Result, mayBeUnknown ...harness.CheckName) {
	t.Helper()
	for _, v := range res.Verdicts {
		if v.Status == harness.OK {
			continue
		}
		if v.Status == harness.Unknown && contains(mayBeUnknown, v.Check) {
			continue
		}
		t.Errorf("%s: %s %s: %s", what, v.Check, v.Status, v.Detail)
	}
}

func contains[T comparable](list []T, s T) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A quiet cluster: every check ok, one controller-manager and one
// scheduler from the start, the workload running.
func TestQuietCluster(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		sc, res := runCluster(t, Config{}, seed, "", 4*time.Minute)
		allOK(t, "quiet", res)
		for _, e := range sc.Components() {
			if ts := sc.Tenures(e.LeaseRef()); len(ts) != 1 {
				t.Errorf("seed %d: %s had tenures %v, want one", seed, e.LeaseRef(), ts)
			}
		}
	}
}

// Killing one master of three: the API stays available through the LB
// once health checks mark it down, a standby controller-manager and
// scheduler take over within the lease budget, pods keep running, and a
// ReplicaSet scaled meanwhile converges.
func TestOneMasterDies(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		// The host of the active controller-manager dies for good (the
		// scheduler may live elsewhere: kill the active one too).
		sc, res := runCluster(t, Config{ScaleEvery: 40 * time.Second}, seed,
			"at 60s crash @active-cm\nat 60s kill @active-scheduler", 5*time.Minute)
		v := verdicts(res)
		for _, c := range []harness.CheckName{"raft-safety", "single-active/kube-controller-manager", "single-active/kube-scheduler",
			"api-linearizable", "no-time-travel/quorum", "workload-continuity", "no-surplus-pods", "api-available"} {
			if v[c].Status != harness.OK {
				t.Errorf("seed %d: %s %s: %s", seed, c, v[c].Status, v[c].Detail)
			}
		}
		budget := election.Defaults.LeaseDuration + time.Duration(float64(election.Defaults.RetryPeriod)*(1+election.Defaults.JitterFactor)) + 3*time.Second
		for _, lease := range []string{LeaseControllerManager, LeaseScheduler} {
			ts := sc.Tenures(lease)
			if len(ts) < 2 || ts[0].End < 0 {
				t.Fatalf("seed %d: %s: tenures %v, want a successor", seed, lease, ts)
			}
			if gap := ts[1].Start - 60*time.Second; gap > budget {
				t.Errorf("seed %d: %s: successor began %s after the crash, want within %s", seed, lease, gap, budget)
			}
		}
		// Converged at the end: the desired replicas run.
		want, pods, ok := sc.workload(res.Sim)
		running := 0
		for _, p := range pods {
			if sc.running[p.Node][p.Name] {
				running++
			}
		}
		if !ok || running != want || len(pods) != want {
			t.Errorf("seed %d: %d of %d pods running (%d exist)", seed, running, want, len(pods))
		}
	}
}

// A scheduler stopped gracefully releases its lease: a standby takes over
// at its next retry; a controller-manager stopped the same way does not,
// and its successor waits out the lease.
func TestGracefulStop(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		sc, res := runCluster(t, Config{}, seed, "at 60s term @active-scheduler + term @active-cm for 1m", 3*time.Minute)
		allOK(t, "term", res)
		retry := time.Duration(float64(election.Defaults.RetryPeriod) * (1 + election.Defaults.JitterFactor))
		ts := sc.Tenures(LeaseScheduler)
		if len(ts) < 2 || ts[0].End != 60*time.Second || ts[1].Start-ts[0].End > retry+time.Second {
			t.Errorf("seed %d: scheduler tenures %v: want the successor within %s of the stop", seed, ts, retry+time.Second)
		}
		ts = sc.Tenures(LeaseControllerManager)
		if len(ts) < 2 || ts[1].Start-ts[0].End < election.Defaults.LeaseDuration-election.Defaults.RetryPeriod {
			t.Errorf("seed %d: controller-manager tenures %v: want the successor after the lease expired", seed, ts)
		}
	}
}

// Killing every master: pods keep running and nothing new is scheduled;
// after the restart the cluster converges.
func TestEveryMasterDies(t *testing.T) {
	_, res := runCluster(t, Config{ScaleEvery: 30 * time.Second}, 1,
		"at 60s crash m1 + crash m2 + crash m3 for 3m", 7*time.Minute)
	allOK(t, "every master down", res)
	v := verdicts(res)
	if d := v["workload-continuity"].Detail; !strings.Contains(d, "with every master down") {
		t.Errorf("workload-continuity: %s", d)
	}
}

// While every master is down nothing new is scheduled (the trace says
// when pods start).
func TestNothingScheduledWhileMastersDown(t *testing.T) {
	sched, err := harness.ParseSchedule("at 60s crash m1 + crash m2 + crash m3 for 3m")
	if err != nil {
		t.Fatal(err)
	}
	sc := &Scenario{Cfg: Config{ScaleEvery: 30 * time.Second}}
	res, err := harness.Run(harness.Config{Scenario: unjudged{sc}, Duration: 5 * time.Minute, Trace: harness.TraceOptions{Keep: true}}, 1, sched)
	if err != nil {
		t.Fatal(err)
	}
	started := 0
	for _, line := range strings.Split(string(res.Trace), "\n") {
		if !strings.Contains(line, " starts on ") {
			continue
		}
		at, err := time.ParseDuration(strings.Fields(line)[0] + "s")
		if err != nil {
			t.Fatal(err)
		}
		if at > 61*time.Second && at < 4*time.Minute {
			t.Errorf("a pod started while every master was down: %s", line)
		}
		started++
	}
	if started == 0 {
		t.Fatal("no pod ever started")
	}
}

// Each bug switch of the control plane is caught by its checker on a
// schedule that exposes it, and the same run without the bug is clean.
func TestControlPlaneBugsCaught(t *testing.T) {
	cases := []struct {
		bug, sched string
		check      harness.CheckName
		cfg        Config
	}{
		{BugLBNoHealthCheck, "at 60s crash m1", "api-available", Config{}},
		{BugHealthzNoEtcd, "at 60s partition {m1} | {m2 m3} for 2m", "api-available", Config{}},
		{BugCacheReads, "at 30s disk m2 latency 300ms for 3m", "no-time-travel/quorum", Config{}},
		{BugActBeforeSync, "at 60s kill @active-cm for 30s", "no-surplus-pods", Config{}},
		{BugStopOnAPILoss, "at 60s crash m1 + crash m2 + crash m3 for 3m", "workload-continuity", Config{}},
		{election.BugNoRenewDeadline, "at 60s partition {@active-cm} | {m1 m2 m3} for 40s", "single-active/kube-controller-manager", Config{}},
		{election.BugRenewTimeClock, "at 20s clock m1 jump +40s + clock m2 jump +40s + clock m3 jump +40s\nat 20s clock @active-cm jump -40s",
			"single-active/kube-controller-manager", Config{}},
	}
	for _, c := range cases {
		t.Run(c.bug, func(t *testing.T) {
			_, clean := runCluster(t, c.cfg, 1, c.sched, 5*time.Minute)
			if v := verdicts(clean)[c.check]; v.Status != harness.OK {
				t.Fatalf("without the bug: %s %s: %s", c.check, v.Status, v.Detail)
			}
			cfg := c.cfg
			cfg.Bugs = model.MustBugs(c.bug)
			_, buggy := runCluster(t, cfg, 1, c.sched, 5*time.Minute)
			if v := verdicts(buggy)[c.check]; v.Status != harness.Violated {
				t.Fatalf("with %s: %s %s: %s", c.bug, c.check, v.Status, v.Detail)
			}
		})
	}
}

// Cache reads through the LB travel back in time when a follower lags;
// quorum reads on the same schedule do not.
func TestCacheReadsTravelQuorumReadsDoNot(t *testing.T) {
	const sched = "at 30s disk m2 latency 300ms for 3m"
	_, cache := runCluster(t, Config{CacheReads: true}, 1, sched, 4*time.Minute)
	if v := verdicts(cache)["no-time-travel/cache"]; v.Status != harness.Violated {
		t.Fatalf("cache reads: %s %s", v.Status, v.Detail)
	}
	_, quorum := runCluster(t, Config{}, 1, sched, 4*time.Minute)
	if v := verdicts(quorum)["no-time-travel/quorum"]; v.Status != harness.OK {
		t.Fatalf("quorum reads: %s %s", v.Status, v.Detail)
	}
}

// External topology: every API server talks to every member on e1..e3.
func TestExternalTopology(t *testing.T) {
	_, res := runCluster(t, Config{Topology: "external"}, 1, "at 60s crash e1 for 1m\nat 90s crash m2 for 1m", 5*time.Minute)
	allOK(t, "external", res)
}

// The cluster is deterministic: same seed and schedule, same trace.
func TestClusterDeterministic(t *testing.T) {
	const sched = "at 40s isolate @raft-leader for 20s\nat 70s kill @active-cm for 10s"
	_, a := runCluster(t, Config{}, 5, sched, 3*time.Minute)
	_, b := runCluster(t, Config{}, 5, sched, 3*time.Minute)
	if a.TraceHash == "" || a.TraceHash != b.TraceHash {
		t.Fatalf("trace hashes %s and %s", a.TraceHash, b.TraceHash)
	}
}

// With a standby load balancer, keepalived moves the virtual IP when the
// active one's host dies: users and kubelets reach the API through lb2
// within a few seconds, and the VIP comes back when lb returns (higher
// priority preempts). A haproxy that dies alone (its host up) loses the
// VIP too, through keepalived's check.
func TestStandbyLoadBalancer(t *testing.T) {
	for _, sched := range []string{"at 60s crash lb for 2m", "at 60s kill lb/lb for 2m"} {
		sc, res := runCluster(t, Config{StandbyLB: true}, 1, sched, 5*time.Minute)
		allOK(t, sched, res)
		var moves []harness.Span
		for _, sp := range sc.Timeline(res.Sim) {
			if sp.Lane == "VIP" {
				moves = append(moves, sp)
			}
		}
		if len(moves) != 3 || moves[1].Label != "VIP on lb2" || moves[1].Start < time.Minute || moves[1].Start > 65*time.Second ||
			moves[2].Label != "VIP on lb" || moves[2].Start < 3*time.Minute || moves[2].Start > 3*time.Minute+5*time.Second {
			t.Fatalf("%s: VIP %v; want lb, then lb2 within 5s of the fault, then lb again within 5s of its end", sched, moves)
		}
		// The API answered through the VIP while lb was down.
		v := verdicts(res)["api-available"]
		if v.Status != harness.OK || !strings.Contains(v.Detail, "call") {
			t.Fatalf("%s: api-available %s: %s", sched, v.Status, v.Detail)
		}
	}
	// Without the standby, the same crash leaves the API unreachable: the
	// availability oracle says it could not serve, and users' calls fail.
	sc, res := runCluster(t, Config{}, 1, "at 60s crash lb for 2m", 5*time.Minute)
	down := false
	for _, sp := range sc.Timeline(res.Sim) {
		if sp.Lane == "API through the LB" && sp.Class == "down" && sp.Start >= time.Minute && sp.Start < 75*time.Second {
			down = true
		}
	}
	if !down {
		t.Fatal("without a standby, a crashed LB did not make users' calls fail")
	}
}

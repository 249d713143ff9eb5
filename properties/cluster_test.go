package properties

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/model"
	"hasim/model/election"
	"hasim/model/kube"
)

// checkClusterProperty runs a cluster property over rapid's cases (200
// in make test) and insists that its tallied check decided on most.
func checkClusterProperty(t *testing.T, draw ClusterDraw, d Demands) *ClusterTally {
	var tl ClusterTally
	start := time.Now()
	rapid.Check(t, ClusterPropertyShrinking(t.Name(), draw, model.Bugs{}, d, &tl, ClusterShrinkRuns))
	t.Logf("%d cases in %s; reached: %v", tl.Cases, time.Since(start).Round(time.Millisecond), tl.Reached)
	checkTally(t, d.Tally, &tl.Tally)
	return &tl
}

// TestClusterSingleActive: inside leader election's envelope
// (ClusterEnvelope: clock rates within [0.95x, 1.05x], pauses up to 1s),
// whatever else the schedule does to masters, load balancer and workers,
// and with faults aimed at the elected (its worst case among them), one
// controller-manager and one scheduler act at a time, and raft stays safe.
func TestClusterSingleActive(t *testing.T) {
	checkReached(t, checkClusterProperty(t, DrawClusterSafetyCase, SingleActiveDemands), ReachedCMFailover, ReachedSchedFailover)
}

// checkReached insists that at least one case in 20 reached each mark: a
// single-active property whose leases never change hands proves little.
func checkReached(t *testing.T, tl *ClusterTally, marks ...string) {
	t.Helper()
	for _, m := range marks {
		if tl.Reached[m]*20 < tl.Cases {
			t.Errorf("only %d of %d cases reached a %s", tl.Reached[m], tl.Cases, m)
		}
	}
}

// TestWorkloadsSurviveMasterLoss: with every master down for one to four
// minutes (and the workers' network troubled meanwhile), pods keep
// running; afterwards the control plane recovers without surplus pods,
// raft safe and the API linearizable.
func TestWorkloadsSurviveMasterLoss(t *testing.T) {
	checkClusterProperty(t, DrawMasterLossCase, MasterLossDemands)
}

// TestControlPlaneRecovers: after any schedule inside the envelope, the
// control plane recovers within kube.RecoveryBudget, the API answers
// whenever it could, and nothing is violated but the informational
// deposed-writes.
func TestControlPlaneRecovers(t *testing.T) {
	checkReached(t, checkClusterProperty(t, DrawClusterRecoveryCase, RecoveryDemands), ReachedCMFailover, ReachedRaftChange)
}

// TestQuorumReadsNoTimeTravel: with followers lagging, quorum reads never
// go back in time and the API stays linearizable.
func TestQuorumReadsNoTimeTravel(t *testing.T) {
	checkClusterProperty(t, func(t *rapid.T, bugs model.Bugs) ClusterCase {
		return DrawLaggingFollowerCase(t, bugs, false)
	}, QuorumReadsDemands)
}

// TestCacheReadsTimeTravel: reads with resourceVersion "0" are served from
// a watch cache, which may lag behind what the same client saw before; the
// property that they never go back in time is false, and rapid finds a
// counterexample within 100 cases.
func TestCacheReadsTimeTravel(t *testing.T) {
	name := "CacheReadsTimeTravel"
	start := time.Now()
	r := expectClusterFailure(t, name, ClusterPropertyShrinking(name, func(t *rapid.T, bugs model.Bugs) ClusterCase {
		return DrawLaggingFollowerCase(t, bugs, true)
	}, model.Bugs{}, CacheReadsDemands, nil, ClusterShrinkRuns))
	if !r.failed {
		t.Fatalf("%s held on 100 cases: cache reads never went back in time", CheckCacheReads)
	}
	checkClusterFailure(t, name, r, []harness.CheckName{CheckCacheReads}, time.Since(start))
}

// TestClusterEnvelope: just outside the envelope the controller-manager
// lease is held twice at once, and hasim says so; the same schedules
// clamped into ClusterEnvelope are safe.
func TestClusterEnvelope(t *testing.T) {
	if s := ClusterEnvelope.Slack(election.Defaults); s < 500*time.Millisecond {
		t.Errorf("ClusterEnvelope leaves %s for the renewal's latency, want at least 500ms", s)
	}
	if s := NaiveEnvelope.Slack(election.Defaults); s >= 0 {
		t.Errorf("NaiveEnvelope's worst case has a margin of %s", s)
	}
	const cut = "partition {@active-cm} | {m1 m2 m3} for 40s"
	for _, c := range []struct {
		what  string
		seeds []uint64
		sched string
	}{
		// The active controller-manager's clock runs at half speed (a
		// 2x skew against the other masters), so it waits twice its
		// renew deadline before it gives up once cut off.
		{"clock rate 0.5x", []uint64{1, 2, 3}, "at 25s clock @active-cm rate 0.5x for 60s\nat 30s " + cut},
		// A pause longer than the lease: the leader wakes up acting
		// after its successor took over.
		{"pause 30s", []uint64{1, 2, 3}, "at 30s pause @active-cm for 30s"},
		// DrawElectionCase's corner: the leader's clock at 0.85x, the
		// others' at 1.15x. It stops 12s/0.85 = 14.1s after its last
		// renewal; a candidate that saw that renewal at once takes over
		// 15s/1.15 = 13.0s after it.
		{"rates 0.85x and 1.15x", []uint64{5, 13},
			"at 20s clock m1 rate 1.15x + clock m2 rate 1.15x + clock m3 rate 1.15x + clock @active-cm rate 0.85x for 80s\nat 32.331s " + cut},
		// A 3s pause just before the leader's deadline, with 5% skew:
		// the pause and the skew share one 3s margin.
		{"pause 3s and rates 0.95x, 1.05x", []uint64{5},
			"at 20s clock m1 rate 1.05x + clock m2 rate 1.05x + clock m3 rate 1.05x + clock @active-cm rate 0.95x for 80s\nat 31.221s " + cut +
				"\nat 43.768s pause @active-cm for 3s"},
	} {
		sched, err := harness.ParseSchedule(c.sched)
		if err != nil {
			t.Fatal(err)
		}
		for _, seed := range c.seeds {
			out := ClusterCase{Cfg: kube.Config{Settle: ClusterSafetySettle}, Seed: seed, Duration: 2 * time.Minute, Schedule: sched}
			res, err := RunClusterCase(out, "")
			if err != nil {
				t.Fatal(err)
			}
			if v := verdictOf(res, CheckSingleCM); v.Status != harness.Violated {
				t.Errorf("%s, seed %d: outside the envelope, %s %s: %s", c.what, seed, CheckSingleCM, v.Status, v.Detail)
			}
			in := out
			in.Schedule = ClusterEnvelope.Clamp(sched)
			res, err = RunClusterCase(in, "")
			if err != nil {
				t.Fatal(err)
			}
			if broke, _, err := SingleActiveDemands.judge(res); err != nil || len(broke) > 0 {
				t.Errorf("%s, seed %d: clamped into the envelope (%q): %v %v", c.what, seed, in.Schedule.String(), broke, err)
			}
		}
	}
}

// TestClusterCanaries: each planted control-plane bug is caught by its
// checker within 100 cases of a generator fit for it; the shrunk failure
// is short and replays to the same verdict.
func TestClusterCanaries(t *testing.T) {
	for _, c := range ClusterCanaries {
		t.Run(c.Bug, func(t *testing.T) {
			name := "Canary-" + c.Bug
			start := time.Now()
			r := expectClusterFailure(t, name, ClusterPropertyShrinking(name, c.Draw, model.MustBugs(c.Bug), c.CanaryDemands(), nil, ClusterShrinkRuns))
			if !r.failed {
				t.Fatalf("%s: %v held on 100 cases with the bug on", c.Bug, c.Checks)
			}
			f := checkClusterFailure(t, name, r, c.Checks, time.Since(start))
			// The same run without the bug is clean: the bug is what the
			// checker caught.
			if f.Spec.Cluster == nil {
				t.Fatalf("the failure file has no cluster spec")
			}
			cfg := *f.Spec.Cluster
			cfg.Bugs = model.Bugs{}
			sched, err := harness.ParseSchedule(f.Schedule)
			if err != nil {
				t.Fatal(err)
			}
			d, err := time.ParseDuration(f.Duration)
			if err != nil {
				t.Fatal(err)
			}
			res, err := RunClusterCase(ClusterCase{Cfg: cfg, Seed: f.Seed, Duration: d, Schedule: sched}, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, check := range c.Checks {
				if v := verdictOf(res, check); v.Status == harness.Violated {
					t.Errorf("without %s the shrunk case violates %s too: %s", c.Bug, check, v.Detail)
				}
			}
		})
	}
}

// ClusterCanaryChecks bounds the cases a cluster canary may take to fail.
const ClusterCanaryChecks = 100

// expectClusterFailure is expectFailure with ClusterCanaryChecks cases and
// seed 1; the property bounds its own shrinking (ClusterShrinkRuns).
func expectClusterFailure(t *testing.T, name string, prop func(*rapid.T)) *recorder {
	t.Helper()
	return expectFailureWithin(t, name, prop, ClusterCanaryChecks, 1, 30*time.Second)
}

// expectFailureWithin runs a property under the recorder with a fixed
// seed, budget of checks and shrink time, and reports whether it failed.
func expectFailureWithin(t *testing.T, name string, prop func(*rapid.T), checks int, seed uint64, shrink time.Duration) *recorder {
	t.Helper()
	for k, v := range map[string]string{"rapid.checks": fmt.Sprint(checks), "rapid.seed": fmt.Sprint(seed),
		"rapid.nofailfile": "true", "rapid.shrinktime": shrink.String()} {
		old := flag.Lookup(k).Value.String()
		if err := flag.Set(k, v); err != nil {
			t.Fatal(err)
		}
		defer flag.Set(k, old)
	}
	r := &recorder{name: name}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(failNow); !ok {
					panic(p)
				}
			}
		}()
		rapid.Check(r, prop)
	}()
	return r
}

// checkClusterFailure checks a recorded failure: the report says what a
// person needs, and its failure file replays to the same trace and to a
// violation of one of the checks.
func checkClusterFailure(t *testing.T, name string, r *recorder, checks []harness.CheckName, took time.Duration) scenarios.Failure {
	t.Helper()
	report := strings.Join(r.msgs, "\n")
	for _, want := range []string{" violated", "schedule (", "replay the run: go run ./cmd/hasim repro", "trace: ", "timeline: "} {
		if !strings.Contains(report, want) {
			t.Errorf("the failure report lacks %q:\n%s", want, report)
		}
	}
	f, err := scenarios.ReadFailure(filepath.Join(FailureDir, name, "failure.json"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := f.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if n := Faults(plan.Schedule); n > 5 {
		t.Errorf("shrunk schedule has %d faults, want at most 5:\n%s", n, plan.Schedule)
	}
	res, err := harness.Run(harness.Config{Scenario: plan.Scenario, Duration: plan.Duration}, f.Seed, plan.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	if res.TraceHash != f.TraceHash {
		t.Errorf("replay diverged: %s vs %s", res.TraceHash, f.TraceHash)
	}
	caught := ""
	for _, c := range checks {
		if v := verdictOf(res, c); v.Status == harness.Violated {
			caught = string(c) + ": " + v.Detail
			break
		}
	}
	if caught == "" {
		t.Errorf("the replay violates none of %v: %v", checks, res.Verdicts)
	}
	t.Logf("caught in %s, seed %d, %s, shrunk to %d faults:\n%s\n  %s", took.Round(time.Millisecond), f.Seed, plan.Duration,
		Faults(plan.Schedule), indent(plan.Schedule.String(), "  "), caught)
	return f
}

func verdictOf(res harness.Result, check harness.CheckName) harness.Verdict {
	for _, v := range res.Verdicts {
		if v.Check == check {
			return v
		}
	}
	return harness.Verdict{Check: check, Status: harness.Unknown, Detail: "no such verdict"}
}

func FuzzClusterSingleActive(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(ClusterProperty("FuzzClusterSingleActive", DrawClusterSafetyCase, model.Bugs{}, SingleActiveDemands, nil)))
}

func FuzzWorkloadsSurviveMasterLoss(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(ClusterProperty("FuzzWorkloadsSurviveMasterLoss", DrawMasterLossCase, model.Bugs{}, MasterLossDemands, nil)))
}

func FuzzControlPlaneRecovers(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(ClusterProperty("FuzzControlPlaneRecovers", DrawClusterRecoveryCase, model.Bugs{}, RecoveryDemands, nil)))
}

func FuzzQuorumReadsNoTimeTravel(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(ClusterProperty("FuzzQuorumReadsNoTimeTravel", func(t *rapid.T, bugs model.Bugs) ClusterCase {
		return DrawLaggingFollowerCase(t, bugs, false)
	}, model.Bugs{}, QuorumReadsDemands, nil)))
}

package properties

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"pgregory.net/rapid"

	"hasim/checkers/judge"
	"hasim/harness"
	"hasim/model"
	"hasim/model/election"
	"hasim/model/kube"
	"hasim/model/store"
)

// The cluster's checks, by the names their verdicts carry (raft-safety and
// recovers-after-heal are the store's names, CheckRaftSafety and
// CheckRecovers).
var (
	CheckSingleCM        = kube.ControllerManagerComponent.SingleActiveCheck()
	CheckSingleScheduler = kube.SchedulerComponent.SingleActiveCheck()
)

// The cluster's other checks.
const (
	CheckDeposedWrites   = model.CheckDeposedWrites
	CheckAPILinearizable = model.CheckAPILinearizable
	CheckQuorumReads     = model.CheckNoTimeTravel + "/quorum"
	CheckCacheReads      = model.CheckNoTimeTravel + "/cache"
	CheckContinuity      = model.CheckWorkloadContinuity
	CheckSurplus         = model.CheckNoSurplusPods
	CheckAPIAvailable    = model.CheckAPIAvailable
)

// ClusterRoles are the role-relative targets of cluster schedules.
var ClusterRoles = []harness.Role{store.RoleLeader, kube.ControllerManagerComponent.Role(), kube.SchedulerComponent.Role()}

// ClusterCase is one generated run of the cluster scenario.
type ClusterCase struct {
	Cfg      kube.Config
	Seed     uint64
	Duration time.Duration
	Schedule harness.Schedule
}

// String summarizes the case on one line.
func (c ClusterCase) String() string {
	cfg := c.Cfg
	masters, workers := len(kube.Masters(cfg)), len(kube.Workers(cfg))
	scale, settle := cfg.ScaleEvery, cfg.Settle
	if scale == 0 {
		scale = time.Minute
	}
	if settle == 0 {
		settle = 2 * time.Minute
	}
	return fmt.Sprintf("seed %d, %d masters, %d workers, cache reads %v, scale every %s, %s (settle %s), bugs [%s]",
		c.Seed, masters, workers, cfg.CacheReads, scale, c.Duration, settle, cfg.Bugs)
}

// Generated cluster runs: a short run for safety properties (faults up to
// 30s before the end) and a longer one whose two-minute quiet tail exceeds
// kube.RecoveryBudget (about 87s), so that recovery is always judged.
const (
	ClusterSafetyDuration   = 3 * time.Minute
	ClusterSafetySettle     = 30 * time.Second
	ClusterRecoveryDuration = 4 * time.Minute
	ClusterRecoverySettle   = 2 * time.Minute
)

// ClusterDraw draws a cluster case with the given bugs on.
type ClusterDraw func(t *rapid.T, bugs model.Bugs) ClusterCase

// clusterTopology is what cluster schedules are validated against: the
// hosts, processes and roles faults may name.
func clusterTopology(cfg kube.Config, d time.Duration) (harness.GenOptions, harness.Topology) {
	o := (&kube.Scenario{Cfg: cfg}).GenOptions(d)
	return o, o.Topology()
}

// ClusterSeeds is how many root seeds cluster cases draw from. Few
// enough that shrinking a failure (rapid minimizes the seed bit by bit, a
// whole run per try) stays quick; the schedule makes the variety.
const ClusterSeeds = 1 << 12

func drawClusterSeed(t *rapid.T) uint64 {
	return rapid.Uint64Range(0, ClusterSeeds-1).Draw(t, "seed")
}

// drawScaleEvery draws how often the user rescales the workload (more
// often: more work for the controllers while faults strike).
func drawScaleEvery(t *rapid.T) time.Duration {
	return time.Duration(rapid.SampledFrom([]int{60, 30, 45}).Draw(t, "scale_every_s")) * time.Second
}

// Bounds are a leader-election safety envelope for generated schedules:
// every host's clock runs at a rate within [MinRate, MaxRate], and no
// host is paused for longer than MaxPause.
type Bounds struct {
	MinRate, MaxRate harness.Rate
	MaxPause         time.Duration
}

// Leader election's worst case. The leader's last renewal succeeded at S;
// it waits RetryPeriod, then retries for RenewDeadline, both on its own
// clock, and a pause that straddles its deadline makes it notice late. A
// candidate that saw the renewed record at once takes over LeaseDuration
// later on its own clock. So one controller at a time needs
//
//	MaxPause + (RetryPeriod + RenewDeadline)/MinRate < LeaseDuration/MaxRate
//
// with client-go's timings 12s and 15s: the margin is 3s with perfect
// clocks (not LeaseDuration - RenewDeadline = 5s), and clock skew and
// pauses share it. DrawElectionCase's bounds (0.85x to 1.15x, pauses to
// 3s, which the election properties used at first) break it: 12s/0.85 =
// 14.1s > 15s/1.15 = 13.0s, and hasim finds the overlap (see
// TestClusterEnvelope).
var (
	// ClusterEnvelope is the envelope of the cluster's properties:
	// 1s + 12s/0.95 = 13.6s < 15s/1.05 = 14.3s, which leaves 0.65s for
	// the renewal's own latency.
	ClusterEnvelope = Bounds{MinRate: MinEnvelopeRate, MaxRate: MaxEnvelopeRate, MaxPause: MaxPause}
	// NaiveEnvelope bounds any two rates within LeaseDuration/RenewDeadline
	// and pauses under LeaseDuration - RenewDeadline less a retry: it is
	// not safe, and the envelope test shows hasim finding why.
	NaiveEnvelope = Bounds{MinRate: 850_000, MaxRate: 1_150_000, MaxPause: 3 * time.Second}
)

// Slack returns the worst case's margin under the given timings:
// LeaseDuration/MaxRate - MaxPause - (RetryPeriod + RenewDeadline)/MinRate,
// in true time. Negative: two controllers may act at once.
func (b Bounds) Slack(t election.Timings) time.Duration {
	real := func(local time.Duration, r harness.Rate) time.Duration {
		return time.Duration(int64(local) * int64(harness.RateOne) / int64(r))
	}
	return real(t.LeaseDuration, b.MaxRate) - b.MaxPause - real(t.RetryPeriod+t.RenewDeadline, b.MinRate)
}

// Drawn clock rates span [drawnMinRate, drawnMaxRate] (DrawSchedule's 0.5x
// to 2x); Clamp maps that span onto the envelope's.
const (
	drawnMinRate harness.Rate = 500_000
	drawnMaxRate harness.Rate = 2_000_000
)

// Rate maps a drawn rate into [MinRate, MaxRate]: 1x stays 1x, drawnMinRate
// (0.5x) and slower become MinRate, drawnMaxRate (2x) and faster MaxRate,
// linearly in between. A mapping, not a filter, so shrinking keeps
// working, and monotonic, so the envelope's corners are reached.
func (b Bounds) Rate(r harness.Rate) harness.Rate {
	switch {
	case r <= drawnMinRate:
		return b.MinRate
	case r >= drawnMaxRate:
		return b.MaxRate
	case r < harness.RateOne:
		return harness.RateOne - (harness.RateOne-r)*(harness.RateOne-b.MinRate)/(harness.RateOne-drawnMinRate)
	default:
		return harness.RateOne + (r-harness.RateOne)*(b.MaxRate-harness.RateOne)/(drawnMaxRate-harness.RateOne)
	}
}

// Clamp returns a schedule mapped into the envelope: clock rates through
// Rate, and every entry that pauses a host cut to MaxPause. sched is left
// as it was.
func (b Bounds) Clamp(sched harness.Schedule) harness.Schedule {
	out := make(harness.Schedule, len(sched))
	for i, e := range sched {
		e.Faults = append([]harness.Fault(nil), e.Faults...)
		for j, f := range e.Faults {
			switch f := f.(type) {
			case harness.ClockRate:
				f.Rate = b.Rate(f.Rate)
				e.Faults[j] = f
			case harness.Pause:
				e.For = min(e.For, b.MaxPause)
			}
		}
		out[i] = e
	}
	return out
}

// DrawClusterEnvelopeCase draws a cluster case of the given length whose
// schedule stays inside ClusterEnvelope and leaves the last settle free of
// faults: DrawSchedule's swarm over the masters, the load balancer, the
// workers, their processes and the roles, plus one to three draws of
// faults aimed at the elected (DrawLeaderStress).
func DrawClusterEnvelopeCase(t *rapid.T, bugs model.Bugs, d, settle time.Duration) ClusterCase {
	return DrawClusterCaseWithin(t, bugs, d, settle, ClusterEnvelope)
}

// DrawClusterCaseWithin is DrawClusterEnvelopeCase with other bounds.
func DrawClusterCaseWithin(t *rapid.T, bugs model.Bugs, d, settle time.Duration, b Bounds) ClusterCase {
	cfg := kube.Config{ScaleEvery: drawScaleEvery(t), Settle: settle, Bugs: bugs}
	seed := drawClusterSeed(t)
	o, topo := clusterTopology(cfg, d)
	sched := b.Clamp(DrawSchedule(t, o, ClusterRoles))
	var stress []harness.Entry
	for _, es := range rapid.SliceOfN(rapid.Custom(func(t *rapid.T) []harness.Entry {
		return DrawLeaderStress(t, kube.Masters(cfg), d-settle, b)
	}), 1, 3).Draw(t, "leader_stress") {
		stress = append(stress, es...)
	}
	sched = mergeValid(topo, d, append(stress, sched...)...)
	return ClusterCase{Cfg: cfg, Seed: seed, Duration: d, Schedule: sched}
}

// DrawLeaderStress draws faults aimed at an elected role (the active
// controller-manager or scheduler, or the raft leader), ending by horizon
// and inside the bounds: the masters' clocks fast and the role's slow, at
// the bounds' corners as often as not; the role's host cut from the other
// masters or isolated; the role's process killed or its host crashed; its
// host paused up to MaxPause; or leader election's worst case, all at
// once: skewed clocks, then the role's host cut off, then maybe paused
// around its renew deadline. Random schedules seldom line these up.
func DrawLeaderStress(t *rapid.T, masters []string, horizon time.Duration, b Bounds) []harness.Entry {
	at := drawMillis(t, "stress_at_ms", 0, horizon-time.Second)
	e := harness.Entry{At: at, For: drawMillis(t, "stress_for_ms", 500*time.Millisecond, min(horizon-at, 90*time.Second))}
	role := harness.RoleT(rapid.SampledFrom(ClusterRoles).Draw(t, "stress_role"))
	rate := func(label string, corner, one harness.Rate) harness.Rate {
		if rapid.Bool().Draw(t, label+" at the corner") {
			return corner
		}
		return harness.Rate(rapid.Int64Range(int64(min(corner, one)), int64(max(corner, one))).Draw(t, label))
	}
	skew := func() []harness.Fault {
		fast := rate("fast_rate", b.MaxRate, harness.RateOne)
		var fs []harness.Fault
		for _, m := range masters {
			fs = append(fs, harness.ClockRate{Host: harness.HostT(m), Rate: fast})
		}
		return append(fs, harness.ClockRate{Host: role, Rate: rate("slow_rate", b.MinRate, harness.RateOne)})
	}
	cut := harness.Partition{A: []harness.Target{role}, B: hostTargets(masters...)}
	// Simplest first: rapid shrinks toward the first.
	switch rapid.SampledFrom([]string{"kill", "crash", "pause", "isolate", "cut", "skew", "skewed cut"}).Draw(t, "stress") {
	case "skewed cut":
		// Skew from at; the cut from at+lead for 12s to 40s; a pause
		// from 8s to 14s into the cut (the leader's deadline is 12s on
		// its clock after its last renewal, which came up to 2s before
		// the cut).
		lead := drawMillis(t, "cut_lead_ms", 0, 10*time.Second)
		cutFor := drawMillis(t, "cut_for_ms", 12*time.Second, 40*time.Second)
		if at+lead+cutFor > horizon {
			return nil
		}
		e.For = lead + cutFor
		e.Faults = skew()
		cut.Hold = rapid.Bool().Draw(t, "hold")
		out := []harness.Entry{e, {At: at + lead, Faults: []harness.Fault{cut}, For: cutFor}}
		if rapid.Bool().Draw(t, "pause at the deadline") {
			p := harness.Entry{At: at + lead + drawMillis(t, "pause_after_cut_ms", 8*time.Second, 14*time.Second),
				Faults: []harness.Fault{harness.Pause{Host: role}}, For: drawMillis(t, "pause_ms", 100*time.Millisecond, b.MaxPause)}
			if p.End() <= horizon {
				out = append(out, p)
			}
		}
		return out
	case "skew":
		e.Faults = skew()
	case "cut":
		cut.Hold = rapid.Bool().Draw(t, "hold")
		e.Faults = []harness.Fault{cut}
	case "isolate":
		e.Faults = []harness.Fault{harness.Isolate{Host: role, Hold: rapid.Bool().Draw(t, "hold")}}
	case "kill":
		e.Faults = []harness.Fault{harness.Kill{Proc: role}}
	case "crash":
		e.Faults = []harness.Fault{harness.Crash{Host: role}}
	case "pause":
		e.For = min(e.For, b.MaxPause)
		e.Faults = []harness.Fault{harness.Pause{Host: role}}
	}
	return []harness.Entry{e}
}

// DrawClusterSafetyCase is DrawClusterEnvelopeCase for safety properties:
// 3 minutes, faults until 30s before the end.
func DrawClusterSafetyCase(t *rapid.T, bugs model.Bugs) ClusterCase {
	return DrawClusterEnvelopeCase(t, bugs, ClusterSafetyDuration, ClusterSafetySettle)
}

// DrawClusterRecoveryCase is DrawClusterEnvelopeCase for recovery: 4
// minutes, the last two free of faults.
func DrawClusterRecoveryCase(t *rapid.T, bugs model.Bugs) ClusterCase {
	return DrawClusterEnvelopeCase(t, bugs, ClusterRecoveryDuration, ClusterRecoverySettle)
}

// mergeValid puts entries in time order and keeps those that fit the
// topology and the ones kept before them (as DrawSchedule does).
func mergeValid(topo harness.Topology, d time.Duration, entries ...harness.Entry) harness.Schedule {
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].At < entries[j].At })
	var out harness.Schedule
	for _, e := range entries {
		if len(e.Faults) == 0 {
			continue
		}
		next := append(append(harness.Schedule(nil), out...), e)
		if next.Validate(topo, d) != nil {
			continue
		}
		out = next
	}
	return out
}

func drawSeconds(t *rapid.T, label string, lo, hi time.Duration) time.Duration {
	return time.Duration(rapid.Int64Range(int64(lo/time.Second), int64(hi/time.Second)).Draw(t, label)) * time.Second
}

func drawMillis(t *rapid.T, label string, lo, hi time.Duration) time.Duration {
	return time.Duration(rapid.Int64Range(int64(lo/time.Millisecond), int64(hi/time.Millisecond)).Draw(t, label)) * time.Millisecond
}

func hostTargets(hosts ...string) []harness.Target {
	out := make([]harness.Target, len(hosts))
	for i, h := range hosts {
		out[i] = harness.HostT(h)
	}
	return out
}

func without(list []string, x string) []string {
	var out []string
	for _, s := range list {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}

// Master loss: every master crashes together at MasterLossAt for
// MasterLossFor, then the cluster has ClusterRecoverySettle to recover.
var (
	MasterLossAt  = [2]time.Duration{30 * time.Second, time.Minute}
	MasterLossFor = [2]time.Duration{time.Minute, 4 * time.Minute}
)

// DrawMasterLossCase draws a run in which every master is down at once
// for one to four minutes, while up to three faults degrade the workers'
// network (delay, loss, cuts between workers and the load balancer or each
// other, a worker isolated); all heal by the masters' return or soon after,
// and a two-minute quiet tail follows.
func DrawMasterLossCase(t *rapid.T, bugs model.Bugs) ClusterCase {
	cfg := kube.Config{ScaleEvery: drawScaleEvery(t), Settle: ClusterRecoverySettle, Bugs: bugs}
	seed := drawClusterSeed(t)
	at := drawSeconds(t, "masters_down_at_s", MasterLossAt[0], MasterLossAt[1])
	down := drawSeconds(t, "masters_down_for_s", MasterLossFor[0], MasterLossFor[1])
	d := at + down + cfg.Settle
	masters, workers := kube.Masters(cfg), kube.Workers(cfg)
	_, topo := clusterTopology(cfg, d)
	var crash []harness.Fault
	for _, m := range masters {
		crash = append(crash, harness.Crash{Host: harness.HostT(m)})
	}
	entries := []harness.Entry{{At: at, Faults: crash, For: down}}
	// Worker-side faults end by the masters' return plus 30s.
	last := at + down + 30*time.Second
	extra := rapid.Custom(func(t *rapid.T) harness.Entry {
		start := drawSeconds(t, "worker_fault_at_s", 0, last-time.Second)
		e := harness.Entry{At: start, For: drawMillis(t, "worker_fault_for_ms", time.Second, min(last-start, 2*time.Minute))}
		w := rapid.SampledFrom(workers).Draw(t, "worker")
		switch rapid.SampledFrom([]string{"net", "cut-lb", "cut-worker", "isolate"}).Draw(t, "worker_fault") {
		case "net":
			f := harness.NetFault{A: hostTargets(w), B: hostTargets("lb"), Set: harness.SetDelay | harness.SetJitter | harness.SetLoss,
				Delay:  drawMillis(t, "delay_ms", time.Millisecond, 300*time.Millisecond),
				Jitter: drawMillis(t, "jitter_ms", 0, 100*time.Millisecond),
				Loss:   harness.Prob(rapid.Int64Range(0, 500).Draw(t, "loss_tenths_pct")) * 1000}
			e.Faults = []harness.Fault{f}
		case "cut-lb":
			e.Faults = []harness.Fault{harness.Partition{A: hostTargets(w), B: hostTargets("lb"), Hold: rapid.Bool().Draw(t, "hold")}}
		case "cut-worker":
			e.Faults = []harness.Fault{harness.Partition{A: hostTargets(w), B: hostTargets(without(workers, w)...)}}
		case "isolate":
			e.Faults = []harness.Fault{harness.Isolate{Host: harness.HostT(w), Hold: rapid.Bool().Draw(t, "hold")}}
		}
		return e
	})
	entries = append(entries, rapid.SliceOfN(extra, 0, 3).Draw(t, "worker_faults")...)
	return ClusterCase{Cfg: cfg, Seed: seed, Duration: d, Schedule: mergeValid(topo, d, entries...)}
}

// DrawLaggingFollowerCase draws a safety case (DrawClusterSafetyCase's
// swarm) plus one to three long faults that make an etcd member lag: a
// slow disk on a master (50ms to 1s per sync) or delay on a master's links
// to the other masters, each lasting 10s up to the rest of the fault
// window. CacheReads sets whether users read from the watch caches.
func DrawLaggingFollowerCase(t *rapid.T, bugs model.Bugs, cacheReads bool) ClusterCase {
	c := DrawClusterSafetyCase(t, bugs)
	c.Cfg.CacheReads = cacheReads
	_, topo := clusterTopology(c.Cfg, c.Duration)
	horizon := c.Duration - c.Cfg.Settle
	masters := kube.Masters(c.Cfg)
	lag := rapid.Custom(func(t *rapid.T) harness.Entry {
		at := drawSeconds(t, "lag_at_s", 0, horizon-10*time.Second)
		e := harness.Entry{At: at, For: drawSeconds(t, "lag_for_s", 10*time.Second, horizon-at)}
		m := rapid.SampledFrom(masters).Draw(t, "lagging_master")
		if rapid.Bool().Draw(t, "lag_by_network") {
			e.Faults = []harness.Fault{harness.NetFault{A: hostTargets(m), B: hostTargets(without(masters, m)...),
				Set: harness.SetDelay | harness.SetJitter, Delay: drawMillis(t, "lag_delay_ms", 20*time.Millisecond, 500*time.Millisecond),
				Jitter: drawMillis(t, "lag_jitter_ms", 0, 100*time.Millisecond)}}
		} else {
			e.Faults = []harness.Fault{harness.DiskSlow{Host: harness.HostT(m), Latency: drawMillis(t, "lag_disk_ms", 50*time.Millisecond, time.Second)}}
		}
		return e
	})
	entries := append(rapid.SliceOfN(lag, 1, 3).Draw(t, "lags"), c.Schedule...)
	c.Schedule = mergeValid(topo, c.Duration, entries...)
	return c
}

// Long faults that the control plane's planted bugs need, for
// DrawLongFaultCase.
const (
	LongCrashMaster   = "crash-master"    // a master crashes for 35s to 2m
	LongKillAPIServer = "kill-apiserver"  // a master's API server is killed for 35s to 2m
	LongSplitMaster   = "split-master"    // a master is cut from the other masters (not from the LB) for 45s to 2m
	LongSlowDisk      = "slow-disk"       // a master's disk syncs take 100ms to 1s for 30s to 3m
	LongKillActiveCM  = "kill-active-cm"  // the active controller-manager is killed for 5s to 1m
	LongCrashActiveCM = "crash-active-cm" // the active controller-manager's host crashes for 5s to 1m
	LongCutActiveCM   = "cut-active-cm"   // the active controller-manager's host is cut from the other masters for 20s to 1m
	LongMastersDown   = "masters-down"    // every master crashes for 65s to 4m
)

// LongFaultSettle is the quiet tail after DrawLongFaultCase's last fault.
const LongFaultSettle = 30 * time.Second

// DrawLongFaultCase returns a generator of runs with one or two long
// faults of the given kinds, each starting between 20s and 90s, and
// LongFaultSettle of quiet after the last one ends. These are the faults a
// planted control-plane bug needs to show (see ClusterCanaries).
func DrawLongFaultCase(kinds ...string) ClusterDraw {
	return func(t *rapid.T, bugs model.Bugs) ClusterCase {
		cfg := kube.Config{ScaleEvery: drawScaleEvery(t), Settle: LongFaultSettle, Bugs: bugs}
		seed := drawClusterSeed(t)
		masters := kube.Masters(cfg)
		mastersT := hostTargets(masters...)
		entry := rapid.Custom(func(t *rapid.T) harness.Entry {
			e := harness.Entry{At: drawSeconds(t, "at_s", 20*time.Second, 90*time.Second)}
			m := rapid.SampledFrom(masters).Draw(t, "master")
			switch rapid.SampledFrom(kinds).Draw(t, "kind") {
			case LongCrashMaster:
				e.For = drawSeconds(t, "for_s", 35*time.Second, 2*time.Minute)
				e.Faults = []harness.Fault{harness.Crash{Host: harness.HostT(m)}}
			case LongKillAPIServer:
				e.For = drawSeconds(t, "for_s", 35*time.Second, 2*time.Minute)
				e.Faults = []harness.Fault{harness.Kill{Proc: harness.HostT(m + "/apiserver")}}
			case LongSplitMaster:
				e.For = drawSeconds(t, "for_s", 45*time.Second, 2*time.Minute)
				e.Faults = []harness.Fault{harness.Partition{A: hostTargets(m), B: hostTargets(without(masters, m)...),
					Hold: rapid.Bool().Draw(t, "hold")}}
			case LongSlowDisk:
				e.For = drawSeconds(t, "for_s", 30*time.Second, 3*time.Minute)
				e.Faults = []harness.Fault{harness.DiskSlow{Host: harness.HostT(m),
					Latency: drawMillis(t, "disk_ms", 100*time.Millisecond, time.Second)}}
			case LongKillActiveCM:
				e.For = drawSeconds(t, "for_s", 5*time.Second, time.Minute)
				e.Faults = []harness.Fault{harness.Kill{Proc: harness.RoleT(kube.ControllerManagerComponent.Role())}}
			case LongCrashActiveCM:
				e.For = drawSeconds(t, "for_s", 5*time.Second, time.Minute)
				e.Faults = []harness.Fault{harness.Crash{Host: harness.RoleT(kube.ControllerManagerComponent.Role())}}
			case LongCutActiveCM:
				e.For = drawSeconds(t, "for_s", 20*time.Second, time.Minute)
				e.Faults = []harness.Fault{harness.Partition{A: []harness.Target{harness.RoleT(kube.ControllerManagerComponent.Role())}, B: mastersT,
					Hold: rapid.Bool().Draw(t, "hold")}}
			case LongMastersDown:
				e.For = drawSeconds(t, "for_s", 65*time.Second, 4*time.Minute)
				for _, m := range masters {
					e.Faults = append(e.Faults, harness.Crash{Host: harness.HostT(m)})
				}
			}
			return e
		})
		entries := rapid.SliceOfN(entry, 1, 2).Draw(t, "long_faults")
		var end time.Duration
		for _, e := range entries {
			end = max(end, e.End())
		}
		d := end + cfg.Settle
		_, topo := clusterTopology(cfg, d)
		return ClusterCase{Cfg: cfg, Seed: seed, Duration: d, Schedule: mergeValid(topo, d, entries...)}
	}
}

// Demands say what a cluster property requires of a run's verdicts.
type Demands struct {
	// OK lists checks that must be ok: unknown fails as violated does.
	OK []harness.CheckName
	// NotViolated lists checks that may be unknown but never violated.
	NotViolated []harness.CheckName
	// Others: every check not named above or in Ignored must not be
	// violated either.
	Others  bool
	Ignored []harness.CheckName
	// Tally is the check whose verdicts the property's Tally counts.
	Tally harness.CheckName
}

// judge returns what the run broke ("single-active/kube-scheduler
// violated", "recovers-after-heal unknown (want ok)"), and the Tally
// check's verdict.
func (d Demands) judge(res harness.Result) (broke []string, tallied harness.Verdict, err error) {
	byName := map[harness.CheckName]harness.Verdict{}
	for _, v := range res.Verdicts {
		byName[v.Check] = v
	}
	named := map[harness.CheckName]bool{}
	for _, c := range append(append(append([]harness.CheckName(nil), d.OK...), d.NotViolated...), d.Ignored...) {
		named[c] = true
	}
	for _, c := range append(append([]harness.CheckName(nil), d.OK...), d.NotViolated...) {
		if _, ok := byName[c]; !ok {
			return nil, harness.Verdict{}, fmt.Errorf("the cluster scenario gave no %q verdict", c)
		}
	}
	for _, v := range res.Verdicts {
		switch {
		case v.Status == harness.Violated && (named[v.Check] || d.Others) && !contains(d.Ignored, v.Check):
			broke = append(broke, string(v.Check)+" violated")
		case v.Status != harness.OK && contains(d.OK, v.Check):
			broke = append(broke, fmt.Sprintf("%s %s (want ok)", v.Check, v.Status))
		}
	}
	return broke, byName[d.Tally], nil
}

func contains[T comparable](list []T, s T) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The demands of the cluster properties.
var (
	// SingleActiveDemands: one active controller-manager and one
	// scheduler at a time, and raft safe (all decided).
	SingleActiveDemands = Demands{OK: []harness.CheckName{CheckSingleCM, CheckSingleScheduler, CheckRaftSafety}, Tally: CheckSingleCM}
	// MasterLossDemands: pods keep running through the loss of every
	// master (unknown only when no pod ever started), the control plane
	// recovers, no surplus pods, raft safe, the API linearizable.
	MasterLossDemands = Demands{OK: []harness.CheckName{CheckRecovers, CheckRaftSafety},
		NotViolated: []harness.CheckName{CheckContinuity, CheckSurplus, CheckAPILinearizable}, Tally: CheckContinuity}
	// RecoveryDemands: recovery judged and ok; nothing violated except
	// deposed-writes (leader election has no fencing: the check is
	// informational) and cache reads (they may travel in time).
	RecoveryDemands = Demands{OK: []harness.CheckName{CheckRecovers}, NotViolated: []harness.CheckName{CheckAPIAvailable}, Others: true,
		Ignored: []harness.CheckName{CheckDeposedWrites, CheckCacheReads}, Tally: CheckRecovers}
	// CacheReadsDemands is the property that cache reads never travel
	// back in time, which is false: the test expects a counterexample.
	CacheReadsDemands = Demands{NotViolated: []harness.CheckName{CheckCacheReads}, Tally: CheckCacheReads}
	// QuorumReadsDemands: quorum reads never travel back in time, and the
	// API is linearizable.
	QuorumReadsDemands = Demands{NotViolated: []harness.CheckName{CheckQuorumReads, CheckAPILinearizable}, Tally: CheckQuorumReads}
)

// ClusterProperty returns a rapid property: draw a cluster case (with the
// given bugs on), run it, and fail when the verdicts break the demands.
// name is the test's name, for the artifacts' directory and the replay
// command. Shrinking is unbounded but for rapid's shrink time; fuzz
// targets use this form.
func ClusterProperty(name string, draw ClusterDraw, bugs model.Bugs, d Demands, tally *ClusterTally) func(*rapid.T) {
	return ClusterPropertyShrinking(name, draw, bugs, d, tally, 0)
}

// ClusterShrinkRuns is how many runs a failing cluster property spends
// shrinking in the tests. Every shrink step is a whole simulation, every
// failing one a second run for the artifacts, and rapid checks its shrink
// deadline only between blocks of the bitstream, one of which may take
// a couple of hundred tries; so a failure could cost a minute.
const ClusterShrinkRuns = 80

// ClusterPropertyShrinking is ClusterProperty with a shrink budget: once
// a case has failed, at most shrinkRuns more cases are run (0: no bound);
// after that every other case passes at once, so that rapid's remaining
// tries end quickly and it reports the smallest failing case so far
// (which fails again from memory: runs are deterministic). The budget is
// for one rapid.Check: make a new property for each.
func ClusterPropertyShrinking(name string, draw ClusterDraw, bugs model.Bugs, d Demands, tally *ClusterTally, shrinkRuns int) func(*rapid.T) {
	var failing, report string // the last case that failed (rapid's smallest so far), and its report
	spent := 0                 // runs since the first failure
	return func(t *rapid.T) {
		c := draw(t, bugs)
		key := c.String() + "\n" + c.Schedule.String()
		// Runs are deterministic: the last failing case fails the same
		// way again, and its artifacts are on disk already.
		if shrinkRuns <= 0 || key != failing {
			if failing != "" && shrinkRuns > 0 {
				if spent >= shrinkRuns {
					return
				}
				spent++
			}
			sc, res, err := runClusterCase(c, "")
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			broke, v, err := d.judge(res)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			tally.add(v.Status, sc, res)
			if len(broke) == 0 {
				return
			}
			failing, report = key, ClusterReport(name, c, res, broke)
		}
		t.Fatal(report) // one call site: rapid tells failures apart by their traceback
	}
}

// RunClusterCase runs one case, without a trace (the property's runs are
// many; ClusterReport runs a failure again with its trace); artifacts, if
// set, is where checkers may write their views.
func RunClusterCase(c ClusterCase, artifacts string) (harness.Result, error) {
	_, res, err := runClusterCase(c, artifacts)
	return res, err
}

func runClusterCase(c ClusterCase, artifacts string) (*judge.Cluster, harness.Result, error) {
	sc := judge.NewCluster(c.Cfg)
	sc.LinearizabilityTimeout = PropertyLinTimeout
	if artifacts != "" {
		sc.SetArtifacts(artifacts)
	}
	res, err := harness.Run(harness.Config{Scenario: sc, Duration: c.Duration, Trace: harness.TraceOptions{Off: true}}, c.Seed, c.Schedule)
	return sc, res, err
}

// ClusterTally counts a cluster property's verdicts (of its Demands'
// Tally check) and how many cases reached the states that make the checks
// bite: a controller-manager or scheduler lease, or raft leadership,
// changing hands.
type ClusterTally struct {
	Tally
	Cases   int
	Reached map[string]int
}

// Coverage marks of ClusterTally.
const (
	ReachedCMFailover    = "controller-manager failover"
	ReachedSchedFailover = "scheduler failover"
	ReachedRaftChange    = "raft leader change"
)

// add counts one case; a nil ClusterTally counts nothing.
func (t *ClusterTally) add(s harness.Status, sc *judge.Cluster, res harness.Result) {
	if t == nil {
		return
	}
	t.Tally.add(s)
	t.Cases++
	if t.Reached == nil {
		t.Reached = map[string]int{}
	}
	lanes := map[string]int{}
	for _, sp := range sc.Timeline(res.Sim) {
		lanes[sp.Lane]++
	}
	for mark, lane := range map[string]string{ReachedCMFailover: kube.ControllerManagerComponent.Lane(),
		ReachedSchedFailover: kube.SchedulerComponent.Lane(), ReachedRaftChange: "raft leader"} {
		if lanes[lane] > 1 {
			t.Reached[mark]++
		}
	}
}

// ClusterReport writes a failing cluster case's artifacts (failure file,
// trace, timeline, the checkers' views) and returns the message a person
// needs, as Report does for the store.
func ClusterReport(name string, c ClusterCase, res harness.Result, broke []string) string {
	sc := judge.NewCluster(c.Cfg)
	return failureReport(name, strings.Join(broke, ", "), c.String(), c.Schedule, res.Verdicts,
		func(dir string) ([]string, error) {
			return writeRunArtifacts(dir, sc, c.Seed, c.Duration, c.Schedule, name+": "+strings.Join(broke, ", "), sc.Timeline)
		})
}

// writeTimelineText writes spans as text, one per line, grouped by lane:
// who led what when, which faults acted where.
func writeTimelineText(path string, spans []harness.Span) error {
	sort.SliceStable(spans, func(i, j int) bool {
		if spans[i].Lane != spans[j].Lane {
			return spans[i].Lane < spans[j].Lane
		}
		return spans[i].Start < spans[j].Start
	})
	var b strings.Builder
	lane := ""
	for _, s := range spans {
		if s.Lane != lane {
			lane = s.Lane
			fmt.Fprintf(&b, "%s:\n", lane)
		}
		fmt.Fprintf(&b, "  %10s .. %-10s %s\n", harness.FormatTime(s.Start), harness.FormatTime(s.End), s.Label)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// ClusterCanary is a planted control-plane bug, the checks of which any
// one violated catches it, and a generator whose runs expose it.
type ClusterCanary struct {
	Bug    string
	Checks []harness.CheckName
	Draw   ClusterDraw
}

// ClusterCanaries lists the control plane's bug switches with what
// catches them.
var ClusterCanaries = []ClusterCanary{
	// Without health checks the LB keeps sending to a dead API server.
	{kube.BugLBNoHealthCheck, []harness.CheckName{CheckAPIAvailable}, DrawLongFaultCase(LongCrashMaster, LongKillAPIServer)},
	// A /healthz that skips etcd keeps a master cut from the others in
	// rotation, and its API server cannot serve.
	{kube.BugHealthzNoEtcd, []harness.CheckName{CheckAPIAvailable}, DrawLongFaultCase(LongSplitMaster)},
	// Watch-cache GETs behind a lagging member go back in time.
	{kube.BugCacheReads, []harness.CheckName{CheckQuorumReads, CheckAPILinearizable}, DrawLongFaultCase(LongSlowDisk)},
	// A new controller-manager leader acting on an empty pod cache
	// creates pods that exist.
	{kube.BugActBeforeSync, []harness.CheckName{CheckSurplus}, DrawLongFaultCase(LongKillActiveCM, LongCrashActiveCM)},
	// Kubelets that stop their pods once the API is gone for 60s.
	{kube.BugStopOnAPILoss, []harness.CheckName{CheckContinuity}, DrawMasterLossCase},
	// A leader cut off from etcd that keeps acting past its renew
	// deadline overlaps its successor.
	{election.BugNoRenewDeadline, []harness.CheckName{CheckSingleCM}, DrawLongFaultCase(LongCutActiveCM)},
}

// CanaryDemands is what a canary's property demands: none of its checks
// violated (which the bug breaks).
func (c ClusterCanary) CanaryDemands() Demands {
	return Demands{NotViolated: c.Checks, Tally: c.Checks[0]}
}

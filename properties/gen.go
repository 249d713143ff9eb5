package properties

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"pgregory.net/rapid"

	"hasim/harness"
	"hasim/model"
	"hasim/model/store"
)

// StoreCase is one generated run of the store scenario.
type StoreCase struct {
	Cfg      store.Config
	Seed     uint64
	Duration time.Duration
	Schedule harness.Schedule
}

// String summarizes the case on one line.
func (c StoreCase) String() string {
	cfg := c.Cfg
	return fmt.Sprintf("seed %d, %d members %s, %d clients over %d keys at %d ops/s, client timeout %s, snapshot every %d, %s, bugs [%s]",
		c.Seed, cfg.Members, cfg.Topology, cfg.Clients, cfg.Keys, cfg.Rate, cfg.ClientTimeout, cfg.SnapshotCount, c.Duration, cfg.Bugs)
}

// StoreDuration is how long a generated store run lasts (simulated).
const StoreDuration = 45 * time.Second

// DrawStoreConfig draws a store configuration within valid ranges. Every
// choice is a labelled draw that shrinks toward the plainest cluster:
// three stacked members, one client, one key.
func DrawStoreConfig(t *rapid.T, bugs model.Bugs) store.Config {
	c := store.Config{
		Members:       rapid.SampledFrom([]int{3, 1, 5}).Draw(t, "members"),
		Topology:      rapid.SampledFrom([]store.Topology{store.Stacked, store.External}).Draw(t, "topology"),
		Clients:       rapid.IntRange(1, 4).Draw(t, "clients"),
		Keys:          rapid.IntRange(1, 6).Draw(t, "keys"),
		Rate:          rapid.IntRange(5, 40).Draw(t, "ops_per_second"),
		ClientTimeout: time.Duration(rapid.IntRange(500, 5000).Draw(t, "client_timeout_ms")) * time.Millisecond,
		SnapshotCount: rapid.SampledFrom([]uint64{1000, 100, 20}).Draw(t, "snapshot_count"),
		Bugs:          bugs,
	}
	c.CatchUpEntries = max(c.SnapshotCount/4, 5)
	return c
}

// DrawStoreCase draws a whole case: config, seed, and a fault schedule over
// the members' hosts.
func DrawStoreCase(t *rapid.T, bugs model.Bugs) StoreCase {
	cfg := DrawStoreConfig(t, bugs)
	seed := rapid.Uint64().Draw(t, "seed")
	sc := &store.Scenario{Cfg: cfg}
	opts := sc.GenOptions(StoreDuration)
	sched := DrawSchedule(t, opts, []string{"raft-leader"})
	return StoreCase{Cfg: cfg, Seed: seed, Duration: StoreDuration, Schedule: sched}
}

// DrawSchedule draws a fault schedule: a shrinkable list of typed faults,
// each undone before the settle window so that recovery can be judged.
// Swarm testing: each case first draws which fault kinds it enables, so
// that some cases hammer one kind and others mix them. Role-relative
// targets and composite entries (pause and isolate the leader together)
// are among the draws. Entries that would not apply when they fire (a
// second crash of a crashed host) are dropped, in time order, so every
// schedule drawn is valid and shrinking keeps it valid.
func DrawSchedule(t *rapid.T, o harness.GenOptions, roles []string) harness.Schedule {
	var kinds []string
	for _, k := range harness.AllKinds {
		if rapid.Bool().Draw(t, "enable "+k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	horizon := o.Duration - o.Settle
	if horizon < 2*time.Second {
		return nil
	}
	entry := rapid.Custom(func(t *rapid.T) harness.Entry {
		at := time.Duration(rapid.Int64Range(0, int64((horizon-time.Second)/time.Millisecond)).Draw(t, "at_ms")) * time.Millisecond
		maxFor := min(horizon-at, 20*time.Second)
		d := time.Duration(rapid.Int64Range(500, int64(maxFor/time.Millisecond)).Draw(t, "for_ms")) * time.Millisecond
		target := func(label string) harness.Target {
			if len(roles) > 0 && rapid.Bool().Draw(t, label+" is a role") {
				return harness.RoleT(rapid.SampledFrom(roles).Draw(t, label+" role"))
			}
			return harness.HostT(rapid.SampledFrom(o.Hosts).Draw(t, label))
		}
		e := harness.Entry{At: at, For: d}
		switch kind := rapid.SampledFrom(kinds).Draw(t, "kind"); kind {
		case harness.KindPartition:
			perm := rapid.Permutation(o.Hosts).Draw(t, "hosts")
			k := 1
			if len(perm) > 2 {
				k = rapid.IntRange(1, len(perm)-1).Draw(t, "split")
			}
			if len(perm) < 2 {
				return harness.Entry{}
			}
			var a, b []harness.Target
			for i, h := range perm {
				if i < k {
					a = append(a, harness.HostT(h))
				} else {
					b = append(b, harness.HostT(h))
				}
			}
			e.Faults = []harness.Fault{harness.Partition{A: a, B: b,
				OneWay: rapid.Bool().Draw(t, "one way"), Hold: rapid.Bool().Draw(t, "hold")}}
		case harness.KindIsolate:
			e.Faults = []harness.Fault{harness.Isolate{Host: target("host"), Hold: rapid.Bool().Draw(t, "hold")}}
		case harness.KindCrash:
			e.Faults = []harness.Fault{harness.Crash{Host: target("host")}}
		case harness.KindPause:
			e.Faults = []harness.Fault{harness.Pause{Host: target("host")}}
		case harness.KindComposite:
			h := target("host")
			e.Faults = []harness.Fault{harness.Pause{Host: h}, harness.Isolate{Host: h}}
		case harness.KindKill:
			e.Faults = []harness.Fault{harness.Kill{Proc: harness.HostT(rapid.SampledFrom(o.Procs).Draw(t, "process"))}}
		case harness.KindClockJump:
			ms := rapid.Int64Range(-3000, 3000).Draw(t, "jump_ms")
			if ms == 0 {
				ms = 1
			}
			e.For = 0
			e.Faults = []harness.Fault{harness.ClockJump{Host: target("host"), By: time.Duration(ms) * time.Millisecond}}
		case harness.KindClockRate:
			r := harness.Rate(rapid.Int64Range(5, 20).Draw(t, "rate_tenths")) * 100_000
			e.Faults = []harness.Fault{harness.ClockRate{Host: target("host"), Rate: r}}
		case harness.KindDisk:
			ms := rapid.Int64Range(10, 1000).Draw(t, "disk_ms")
			e.Faults = []harness.Fault{harness.DiskSlow{Host: target("host"), Latency: time.Duration(ms) * time.Millisecond}}
		case harness.KindNet:
			f := harness.NetFault{}
			if rapid.Bool().Draw(t, "loss") {
				f.Set |= harness.SetLoss
				f.Loss = harness.Prob(rapid.Int64Range(1, 500).Draw(t, "loss_tenths_pct")) * 1000
			}
			if rapid.Bool().Draw(t, "delay") {
				f.Set |= harness.SetDelay | harness.SetJitter
				f.Delay = time.Duration(rapid.Int64Range(1, 300).Draw(t, "delay_ms")) * time.Millisecond
				f.Jitter = time.Duration(rapid.Int64Range(0, 100).Draw(t, "jitter_ms")) * time.Millisecond
			}
			if rapid.Bool().Draw(t, "dup") {
				f.Set |= harness.SetDup
				f.Dup = harness.Prob(rapid.Int64Range(1, 300).Draw(t, "dup_tenths_pct")) * 1000
			}
			if rapid.Bool().Draw(t, "reorder") {
				f.Set |= harness.SetReorder
				f.Reorder = harness.Prob(rapid.Int64Range(1, 500).Draw(t, "reorder_tenths_pct")) * 1000
			}
			if f.Set == 0 {
				f.Set, f.Loss = harness.SetLoss, 100_000
			}
			if len(o.Hosts) >= 2 && rapid.Bool().Draw(t, "between two hosts") {
				pair := rapid.Permutation(o.Hosts).Draw(t, "pair")
				f.A, f.B = []harness.Target{harness.HostT(pair[0])}, []harness.Target{harness.HostT(pair[1])}
			}
			e.Faults = []harness.Fault{f}
		}
		return e
	})
	drawn := rapid.SliceOfN(entry, 0, 8).Draw(t, "faults")
	sort.SliceStable(drawn, func(i, j int) bool { return drawn[i].At < drawn[j].At })
	topo := topology{hosts: o.Hosts, procs: o.Procs, roles: roles}
	var out harness.Schedule
	for _, e := range drawn {
		if len(e.Faults) == 0 {
			continue
		}
		next := append(append(harness.Schedule(nil), out...), e)
		if next.Validate(topo, o.Duration) != nil {
			continue
		}
		out = next
	}
	return out
}

// topology is what a drawn schedule is validated against.
type topology struct{ hosts, procs, roles []string }

func (t topology) Hosts() []string { return t.hosts }
func (t topology) Procs() []string { return t.procs }
func (t topology) Roles() []string { return t.roles }

// Faults counts the faults of a schedule (a composite entry counts each).
func Faults(s harness.Schedule) int {
	n := 0
	for _, e := range s {
		n += len(e.Faults)
	}
	return n
}

// indent prefixes every line of text.
func indent(text, prefix string) string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return prefix + "(no faults)"
	}
	return prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
}

package properties

import (
	"fmt"
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
	sched := DrawSchedule(t, opts, []harness.Role{store.RoleLeader})
	return StoreCase{Cfg: cfg, Seed: seed, Duration: StoreDuration, Schedule: sched}
}

// DrawSchedule draws a fault schedule with hasim's one generator
// (harness.Generate) through rapid, so that it shrinks: a list of typed
// faults, each undone before the settle window so that recovery can be
// judged. Swarm testing: each case first draws which fault kinds it
// enables and at what rate faults come. Role-relative targets, composite
// entries (pause and isolate the leader together, cut it one way and hold
// its messages) and entries aimed at the scenario's cues are among the
// draws. Entries that would not apply when they fire are dropped, in time
// order, so every schedule drawn is valid and shrinking keeps it valid.
// roles, if given, replace the options' roles.
func DrawSchedule(t *rapid.T, o harness.GenOptions, roles []harness.Role) harness.Schedule {
	if roles != nil {
		o.Roles = roles
	}
	return harness.Generate(rapidSource{t}, o)
}

// rapidSource draws a generator's choices from rapid.
type rapidSource struct{ t *rapid.T }

func (s rapidSource) Int(label string, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return rapid.Int64Range(lo, hi).Draw(s.t, label)
}

func (s rapidSource) Bool(label string) bool { return rapid.Bool().Draw(s.t, label) }

func (s rapidSource) Repeat(label string, lo, hi int, _ int64, item func(harness.Source)) {
	rapid.SliceOfN(rapid.Custom(func(t *rapid.T) struct{} {
		item(rapidSource{t})
		return struct{}{}
	}), lo, hi).Draw(s.t, label)
}

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

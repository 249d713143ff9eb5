// Package scenarios names hasim's runnable scenarios, so that the CLI, soak
// workers and replays build exactly the same system from the same words.
package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"hasim/checkers/judge"
	"hasim/harness"
	"hasim/model"
	"hasim/model/counter"
	"hasim/model/election"
	"hasim/model/kube"
	"hasim/model/store"
)

// Options are the settings a scenario is built from; each scenario reads
// the ones it has (its knobs, see Knobs) and rejects any other that is set,
// naming it. Zero values mean the scenario's defaults.
type Options struct {
	// Bugs turned on.
	Bugs model.Bugs
	// Size is the number of replicas/members/masters.
	Size int
	// Topology is "stacked" or "external" where a scenario has members.
	Topology string
	// Workers is the number of worker nodes of a cluster.
	Workers int
	// CacheReads makes a cluster's users read from the watch caches.
	CacheReads bool
	// StandbyLB gives a cluster a standby load balancer and a floating VIP.
	StandbyLB bool
	// Clients, Keys and OpsRate shape a store's workload (clients, keys
	// shared, operations per second); Keys is also a cluster's ConfigMaps.
	Clients, Keys, OpsRate int
	// ClientTimeout is each store call's deadline.
	ClientTimeout time.Duration
	// SnapshotCount is how many entries a store member applies between
	// snapshots.
	SnapshotCount uint64
	// Users of a cluster, and how often the first rescales its workload.
	Users      int
	ScaleEvery time.Duration
	// Network is the condition of every link between two hosts.
	Network harness.LinkParams
}

// used names the knobs the options set (for the error when a scenario
// has no such knob).
func (o Options) used() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(o.Topology != "", KnobTopology)
	add(o.Workers != 0, KnobWorkers)
	add(o.CacheReads, KnobCacheReads)
	add(o.StandbyLB, KnobStandbyLB)
	add(o.Clients != 0, KnobClients)
	add(o.Keys != 0, KnobKeys)
	add(o.OpsRate != 0, KnobOpsRate)
	add(o.ClientTimeout != 0, KnobClientTimeout)
	add(o.SnapshotCount != 0, KnobSnapshotCount)
	add(o.Users != 0, KnobUsers)
	add(o.ScaleEvery != 0, KnobScaleEvery)
	add(o.Network != (harness.LinkParams{}), KnobLatency)
	return out
}

// Scenario is a built scenario plus what it needs from the runner.
type Scenario interface {
	harness.Scenario
	// GenOptions says how to generate a fault schedule for a run of
	// the given length.
	GenOptions(duration time.Duration) harness.GenOptions
}

type entry struct {
	name    string
	summary string
	build   func(Options) (Scenario, error)
}

var all = []entry{
	{"cluster", "a highly available control plane: masters m1..mN (API server, controller-manager, scheduler, and etcd when stacked), a load balancer, workers w1..wN running a ReplicaSet, users u1, u2", func(o Options) (Scenario, error) {
		if err := checkTopology(o, string(store.Stacked), string(store.External)); err != nil {
			return nil, err
		}
		return judge.NewCluster(kube.Config{Masters: o.Size, Workers: o.Workers, CacheReads: o.CacheReads, StandbyLB: o.StandbyLB,
			Topology: store.Topology(o.Topology), Users: o.Users, Keys: o.Keys, ScaleEvery: o.ScaleEvery, Network: o.Network, Bugs: o.Bugs}), nil
	}},
	{"counter", "a replicated grow-only counter on n1..nN and a client (the demonstration model)", func(o Options) (Scenario, error) {
		return &counter.Scenario{Cfg: counter.Config{Replicas: o.Size, Network: o.Network, Bugs: o.Bugs}}, nil
	}},
	{"store", "an etcd-like raft store (members m1..mN stacked, or e1..eN external) under a key-value workload from c1..c3", func(o Options) (Scenario, error) {
		if err := checkTopology(o, string(store.Stacked), string(store.External)); err != nil {
			return nil, err
		}
		cfg := store.Config{Members: o.Size, Topology: store.Topology(o.Topology), Clients: o.Clients, Keys: o.Keys, Rate: o.OpsRate,
			ClientTimeout: o.ClientTimeout, SnapshotCount: o.SnapshotCount, Network: o.Network, Bugs: o.Bugs}
		if cfg.SnapshotCount > 0 {
			cfg.CatchUpEntries = max(cfg.SnapshotCount/4, 5)
		}
		return judge.NewStore(cfg), nil
	}},
	{"election", "kube-controller-manager replicas on m1..mN electing a leader (client-go's Lease algorithm) through the raft store", func(o Options) (Scenario, error) {
		if err := checkTopology(o, string(store.Stacked)); err != nil {
			return nil, err
		}
		return judge.NewElection(election.Config{Masters: o.Size, Network: o.Network, Bugs: o.Bugs}), nil
	}},
}

// checkTopology rejects a topology the scenario does not offer.
func checkTopology(o Options, allowed ...string) error {
	if o.Topology == "" || slices.Contains(allowed, o.Topology) {
		return nil
	}
	return fmt.Errorf("topology: %q is not one of %s", o.Topology, strings.Join(allowed, ", "))
}

// Default is the scenario a plain run uses.
const Default = "cluster"

// Names lists the scenarios with one line each.
func Names() []string {
	var out []string
	for _, e := range all {
		out = append(out, e.name+": "+e.summary)
	}
	return out
}

// New builds the named scenario. A setting the scenario does not have is
// an error naming it.
func New(name string, o Options) (Scenario, error) {
	var names []string
	for _, e := range all {
		if e.name == name {
			for _, b := range o.Bugs.Names() {
				if bug, _ := model.Lookup(b); !slices.Contains(bug.Scenarios, name) {
					return nil, fmt.Errorf("bug: %s does nothing in the %s scenario (it changes: %s)", b, name, strings.Join(bug.Scenarios, ", "))
				}
			}
			have := Knobs(name)
			for _, k := range o.used() {
				if !slices.ContainsFunc(have, func(h Knob) bool { return h.Name == k }) {
					return nil, fmt.Errorf("%s: the %s scenario has no such setting (its settings: %s)", k, name, knobNames(have))
				}
			}
			return e.build(o)
		}
		names = append(names, e.name)
	}
	return nil, fmt.Errorf("scenario: unknown %q (known: %s)", name, strings.Join(names, ", "))
}

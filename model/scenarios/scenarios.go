// Package scenarios names hasim's runnable scenarios, so that the CLI, soak
// workers and replays build exactly the same system from the same words.
package scenarios

import (
	"fmt"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/counter"
	"hasim/model/election"
	"hasim/model/kube"
	"hasim/model/store"
)

// Options are the knobs a scenario is built from; each scenario reads the
// ones it knows and rejects a setting it cannot honour.
type Options struct {
	// Bugs turned on.
	Bugs model.Bugs
	// Size is the number of replicas/members/masters; 0 is the default.
	Size int
	// Topology is "stacked" or "external" where a scenario has members;
	// "" is its default.
	Topology string
	// Workers is the number of worker nodes of a cluster; 0 is the
	// default.
	Workers int
	// CacheReads makes a cluster's users read from the watch caches.
	CacheReads bool
	// StandbyLB gives a cluster a standby load balancer and a floating VIP.
	StandbyLB bool
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
		if o.Topology != "" && o.Topology != string(store.Stacked) && o.Topology != string(store.External) {
			return nil, fmt.Errorf("topology: %q is neither stacked nor external", o.Topology)
		}
		return &kube.Scenario{Cfg: kube.Config{Masters: o.Size, Workers: o.Workers, CacheReads: o.CacheReads, StandbyLB: o.StandbyLB, Topology: store.Topology(o.Topology), Bugs: o.Bugs}}, nil
	}},
	{"counter", "a replicated grow-only counter on n1..nN and a client (the demonstration model)", func(o Options) (Scenario, error) {
		if o.Topology != "" {
			return nil, fmt.Errorf("topology: the counter scenario has none")
		}
		if err := clusterOnly(o, "counter"); err != nil {
			return nil, err
		}
		return &counter.Scenario{Cfg: counter.Config{Replicas: o.Size, Bugs: o.Bugs}}, nil
	}},
	{"store", "an etcd-like raft store (members m1..mN stacked, or e1..eN external) under a key-value workload from c1..c3", func(o Options) (Scenario, error) {
		if o.Topology != "" && o.Topology != string(store.Stacked) && o.Topology != string(store.External) {
			return nil, fmt.Errorf("topology: %q is neither stacked nor external", o.Topology)
		}
		if err := clusterOnly(o, "store"); err != nil {
			return nil, err
		}
		return &store.Scenario{Cfg: store.Config{Members: o.Size, Topology: store.Topology(o.Topology), Bugs: o.Bugs}}, nil
	}},
	{"election", "kube-controller-manager replicas on m1..mN electing a leader (client-go's Lease algorithm) through the raft store", func(o Options) (Scenario, error) {
		if o.Topology != "" && o.Topology != string(store.Stacked) {
			return nil, fmt.Errorf("topology: the election scenario is stacked")
		}
		if err := clusterOnly(o, "election"); err != nil {
			return nil, err
		}
		return &election.Scenario{Cfg: election.Config{Masters: o.Size, Bugs: o.Bugs}}, nil
	}},
}

// clusterOnly rejects the options only a cluster has, naming the first
// one set.
func clusterOnly(o Options, scenario string) error {
	switch {
	case o.Workers != 0:
		return fmt.Errorf("workers: the %s scenario has no worker nodes", scenario)
	case o.CacheReads:
		return fmt.Errorf("cache-reads: the %s scenario has no API servers", scenario)
	case o.StandbyLB:
		return fmt.Errorf("standby-lb: the %s scenario has no load balancer", scenario)
	}
	return nil
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

// New builds the named scenario.
func New(name string, o Options) (Scenario, error) {
	var names []string
	for _, e := range all {
		if e.name == name {
			return e.build(o)
		}
		names = append(names, e.name)
	}
	return nil, fmt.Errorf("scenario: unknown %q (known: %s)", name, strings.Join(names, ", "))
}

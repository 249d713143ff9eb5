package judge

import (
	"fmt"
	"testing"
	"time"

	"hasim/harness"
	"hasim/model/kube"
	"hasim/model/store"
)

// BenchmarkCluster runs the default cluster (3 masters, 3 workers, LB,
// two users, a ReplicaSet) for ten simulated minutes, as `hasim run` does
// without faults, and reports simulated seconds per wall second, of the
// simulation alone and with every checker's verdict included. The
// external topology and five masters are measured beside it.
func BenchmarkCluster(b *testing.B) {
	for _, c := range []struct {
		masters int
		topo    store.Topology
	}{{3, store.Stacked}, {5, store.Stacked}, {3, store.External}} {
		b.Run(fmt.Sprintf("masters=%d/%s", c.masters, c.topo), func(b *testing.B) {
			var sim, wall, checks time.Duration
			var events uint64
			for i := 0; i < b.N; i++ {
				sc := NewCluster(kube.Config{Masters: c.masters, Topology: c.topo})
				res, err := harness.Run(harness.Config{Scenario: sc, Duration: 10 * time.Minute}, uint64(i+1), nil)
				if err != nil {
					b.Fatal(err)
				}
				sim += res.SimTime
				wall += res.Wall
				checks += res.CheckWall
				events += res.Events
			}
			b.ReportMetric(sim.Seconds()/(wall-checks).Seconds(), "sim-s/wall-s")
			b.ReportMetric(sim.Seconds()/wall.Seconds(), "sim-s/wall-s-checked")
			b.ReportMetric(float64(events)/wall.Seconds(), "events/wall-s")
		})
	}
}

// BenchmarkStore runs a store cluster under a steady workload for a
// simulated minute and reports simulated seconds per wall second (of the
// simulation, and with every checker's verdict included) and committed
// entries per wall second (trace hashing on, as in real runs).
func BenchmarkStore(b *testing.B) {
	for _, c := range []struct{ members, rate int }{{3, 20}, {5, 20}, {3, 100}, {3, 1000}} {
		b.Run(fmt.Sprintf("members=%d/ops=%d", c.members, c.rate), func(b *testing.B) {
			var sim, wall, checks time.Duration
			committed := 0
			for i := 0; i < b.N; i++ {
				sc := NewStore(store.Config{Members: c.members, Rate: c.rate, Clients: max(3, c.rate/50)})
				res, err := harness.Run(harness.Config{Scenario: sc, Duration: time.Minute}, uint64(i+1), nil)
				if err != nil {
					b.Fatal(err)
				}
				sim += res.SimTime
				wall += res.Wall
				checks += res.CheckWall
				committed += sc.raft.Committed()
			}
			b.ReportMetric(sim.Seconds()/(wall-checks).Seconds(), "sim-s/wall-s")
			b.ReportMetric(sim.Seconds()/wall.Seconds(), "sim-s/wall-s-checked")
			b.ReportMetric(float64(committed)/wall.Seconds(), "entries/wall-s")
		})
	}
}

package store

import (
	"fmt"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/rafttest"
	"google.golang.org/protobuf/proto"

	"hasim/harness"
)

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
				sc := &Scenario{Cfg: Config{Members: c.members, Rate: c.rate, Clients: max(3, c.rate/50)}}
				res, err := harness.Run(harness.Config{Scenario: sc, Duration: time.Minute}, uint64(i+1), nil)
				if err != nil {
					b.Fatal(err)
				}
				sim += res.SimTime
				wall += res.Wall
				checks += res.CheckWall
				committed += sc.safety.Committed()
			}
			b.ReportMetric(sim.Seconds()/(wall-checks).Seconds(), "sim-s/wall-s")
			b.ReportMetric(sim.Seconds()/wall.Seconds(), "sim-s/wall-s-checked")
			b.ReportMetric(float64(committed)/wall.Seconds(), "entries/wall-s")
		})
	}
}

// BenchmarkInteractionEnv drives proposals through raft's own test
// harness (rafttest.InteractionEnv: three nodes, every message delivered
// and every Ready processed until stable after each proposal), for a
// comparison with BenchmarkStore's entries per wall second.
func BenchmarkInteractionEnv(b *testing.B) {
	const proposals = 600
	var wall time.Duration
	for i := 0; i < b.N; i++ {
		env := rafttest.NewInteractionEnv(nil)
		cfg := raft.Config{ElectionTick: ElectionTicks, HeartbeatTick: HeartbeatTicks, PreVote: true,
			CheckQuorum: true, ReadOnlyOption: raft.ReadOnlySafe, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256}
		snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{
			ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}, Index: proto.Uint64(2), Term: proto.Uint64(1)}}
		if err := env.AddNodes(3, cfg, snap); err != nil {
			b.Fatal(err)
		}
		if err := env.Campaign(0); err != nil {
			b.Fatal(err)
		}
		if err := env.Stabilize(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for p := 0; p < proposals; p++ {
			if err := env.Propose(0, []byte(fmt.Sprintf("put k%d v%d", p%5, p))); err != nil {
				b.Fatal(err)
			}
			if err := env.Stabilize(); err != nil {
				b.Fatal(err)
			}
			env.Output.Reset()
		}
		wall += time.Since(start)
	}
	b.ReportMetric(float64(proposals*b.N)/wall.Seconds(), "entries/wall-s")
}

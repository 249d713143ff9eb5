package store

import (
	"fmt"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/rafttest"
	"google.golang.org/protobuf/proto"
)

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

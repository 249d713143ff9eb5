package harness

import (
	"strconv"
	"testing"
	"time"
)

// token is the trivial payload the benchmark model passes around.
type token struct{ hop uint64 }

func (t token) String() string { return "token hop=" + strconv.FormatUint(t.hop, 10) }

// relay passes every token it receives to the next host's relay, and keeps
// one local timer ticking: the cheapest model that exercises delivery,
// network draws and timers.
type relay struct{ next ProcID }

func (r *relay) Step(ctx *Ctx, in Input) {
	switch in.Kind {
	case InputStart:
		ctx.Send(r.next, token{})
		ctx.After(time.Millisecond, "tick", 0)
	case InputMessage:
		ctx.Send(r.next, token{hop: in.Msg.Payload.(token).hop + 1})
	case InputTimer:
		ctx.After(time.Millisecond, "tick", in.Arg+1)
	}
}

type relayScenario struct{ hosts int }

func (relayScenario) Name() string { return "relay" }

func (rs relayScenario) Build(s *Sim) error {
	for i := 0; i < rs.hosts; i++ {
		s.AddHost(HostConfig{Name: "h" + strconv.Itoa(i)})
	}
	for i := 0; i < rs.hosts; i++ {
		next := ProcID((i + 1) % rs.hosts)
		s.AddProcess("h"+strconv.Itoa(i), "relay", Datagrams, func() Process { return &relay{next: next} })
	}
	return nil
}

func (relayScenario) Check(*Sim) []Verdict { return nil }

func benchKernel(b *testing.B, trace TraceOptions) {
	var events uint64
	var wall time.Duration
	for i := 0; i < b.N; i++ {
		res, err := Run(Config{Scenario: relayScenario{hosts: 5}, Duration: 10 * time.Second, Trace: trace}, uint64(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		events += res.Events
		wall += res.Wall
	}
	b.ReportMetric(float64(events)/wall.Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}

// BenchmarkKernel measures kernel events per second with a trivial model.
// Targets on one core: 3M events/s without the trace, 1M with it.
func BenchmarkKernel(b *testing.B) {
	b.Run("trace=off", func(b *testing.B) { benchKernel(b, TraceOptions{Off: true}) })
	b.Run("trace=hash", func(b *testing.B) { benchKernel(b, TraceOptions{}) })
}

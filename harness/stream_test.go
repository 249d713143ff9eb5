package harness

import (
	"strings"
	"testing"
	"time"
)

type note string

func (n note) String() string { return string(n) }

// counting counts the messages it receives, over whichever transport it
// was added with.
type counting struct{ got *int }

func (c *counting) Step(ctx *Ctx, in Input) {
	if in.Kind == InputMessage {
		*c.got++
	}
}

type streamScenario struct{ stream, datagram int }

func (*streamScenario) Name() string { return "stream" }

func (sc *streamScenario) Build(s *Sim) error {
	for _, h := range []string{"a", "b", "c"} {
		s.AddHost(HostConfig{Name: h})
	}
	b := s.AddProcess("b", "srv", Streams, func() Process { return &counting{got: &sc.stream} })
	c := s.AddProcess("c", "srv", Datagrams, func() Process { return &counting{got: &sc.datagram} })
	s.AddProcess("a", "cli", Datagrams, func() Process { return &sender{to: []ProcID{b, c}} })
	return nil
}

func (*streamScenario) Check(*Sim) []Verdict { return nil }

type sender struct{ to []ProcID }

func (p *sender) Step(ctx *Ctx, in Input) {
	switch in.Kind {
	case InputStart:
		ctx.After(time.Millisecond, "go", 0) // after the fault at 0s
	case InputTimer:
		for i := 0; i < 10; i++ {
			for _, t := range p.to {
				ctx.Send(t, note("hello"))
			}
		}
	}
}

// A network duplicate reaches a datagram receiver twice but a receiver on
// a connection once, and the trace says which copy was dropped.
func TestStreamsGetNoDuplicates(t *testing.T) {
	sc := &streamScenario{}
	sched, _ := ParseSchedule("at 0s net dup 100%")
	res, err := Run(Config{Scenario: sc, Duration: time.Second, Trace: TraceOptions{Keep: true}}, 1, sched)
	if err != nil {
		t.Fatal(err)
	}
	if sc.stream != 10 || sc.datagram != 20 {
		t.Fatalf("stream receiver got %d (want 10), datagram receiver %d (want 20)", sc.stream, sc.datagram)
	}
	if n := strings.Count(string(res.Trace), "(duplicate)"); n != 10 {
		t.Fatalf("%d duplicate drops traced, want 10", n)
	}
	if res.Marks["duplicate-suppressed"] != 10 {
		t.Fatalf("marks %v", res.Marks)
	}
	if len(res.Sim.twins) != len(res.Sim.freeTwins) {
		t.Fatalf("twin records leaked: %d allocated, %d free", len(res.Sim.twins), len(res.Sim.freeTwins))
	}
}

package properties

import (
	"runtime"
	"testing"
	"time"

	"hasim/checkers/judge"
	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/model/kube"
	"hasim/model/store"
)

// heapProbe wraps a scenario and samples the live heap (after a full GC)
// every simulated interval.
type heapProbe struct {
	scenarios.Scenario
	every   time.Duration
	samples []uint64
}

func (h *heapProbe) Build(s *harness.Sim) error {
	if err := h.Scenario.Build(s); err != nil {
		return err
	}
	var sample func()
	sample = func() {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		h.samples = append(h.samples, m.HeapAlloc)
		if next := s.Now() + h.every; next < s.Duration() {
			s.At(next, sample)
		}
	}
	s.At(h.every, sample)
	return nil
}

// Soak seeds run for many simulated hours: the memory a run holds must not
// grow with its length. Each scenario runs for four simulated hours under
// faults; the live heap sampled every 20 minutes may not grow by more than
// a few MB from the end of the first hour to the end (it grew by about 30
// MB per simulated hour for the store before histories were judged per
// key as keys went idle).
func TestMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("four simulated hours per scenario")
	}
	const hours = 4
	sched, err := harness.ParseSchedule(`at 30m crash @raft-leader for 20s
at 1h10m isolate m2 for 30s
at 2h20m kill @raft-leader for 15s
at 3h30m partition {m1} | {m2 m3} for 40s`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		sc    scenarios.Scenario
		limit uint64
	}{
		{"store", judge.NewStore(store.Config{}), 6 << 20},
		{"cluster", judge.NewCluster(kube.Config{}), 6 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &heapProbe{Scenario: c.sc, every: 20 * time.Minute}
			res, err := harness.Run(harness.Config{Scenario: p, Duration: hours * time.Hour}, 1, sched)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Verdicts {
				if v.Status == harness.Violated {
					t.Errorf("%s: %s", v.Check, v.Detail)
				}
			}
			mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
			first, last := p.samples[2], p.samples[len(p.samples)-1] // after 1h, at the end
			peak := first
			for _, s := range p.samples[2:] {
				peak = max(peak, s)
			}
			t.Logf("%s: live heap %.1f MB after 1h, %.1f MB at %dh (peak %.1f MB); %s wall", c.name, mb(first), mb(last), hours, mb(peak), res.Wall)
			if peak > first+c.limit {
				t.Fatalf("the live heap grew from %.1f MB after 1h to %.1f MB within %dh: memory is not flat", mb(first), mb(peak), hours)
			}
		})
	}
}

package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/model"
)

// Detection power, measured: for each bug switch, how many seeds, and how
// many seconds of simulation, `hasim soak` spends before a seed fails the
// check that catches the bug. Each switch runs in its home scenario with
// the soak's defaults (settings drawn per seed, the scenario's per-seed
// length), in the envelope for leader election's switches (outside it,
// single-active failures are expected and do not count). Seeds are taken
// as the soak takes them, in DetectStreams disjoint streams (shards
// k/DetectStreams); the figures are the median stream's, and a stream
// that finds nothing in DetectLimit seeds counts as a miss.
//
//	go test -run '^$' -bench SoakFindsBugs -benchtime 1x -timeout 0 ./cmd/hasim/
//
// (make detect). It takes minutes: a benchmark, not a test.
const (
	DetectStreams = 5
	DetectLimit   = 2000
)

func BenchmarkSoakFindsBugs(b *testing.B) {
	for _, bug := range model.AllBugs() {
		b.Run(bug.Name, func(b *testing.B) {
			tpl := scenarios.Template{Scenario: bug.Scenarios[0], Bugs: []string{bug.Name}, Swarm: true,
				Envelope: bug.Caught[0] == model.CheckSingleActive}
			var m detection
			for b.Loop() {
				m = detect(b, tpl, DefaultSimDuration(tpl.Scenario), bug.Caught)
			}
			b.ReportMetric(float64(m.seeds), "seeds/find")
			b.ReportMetric(m.wall.Seconds(), "s/find")
			b.ReportMetric(float64(m.missed), "missed")
			b.Logf("%s in %s: median stream %d seeds, %.2fs; streams %s", bug.Name, tpl.Scenario, m.seeds, m.wall.Seconds(), m.streams)
		})
	}
}

type detection struct {
	seeds   int           // the median stream's seeds to the first find (DetectLimit+1: none)
	wall    time.Duration // and the simulation's wall time until then
	missed  int           // streams that found nothing within DetectLimit
	streams string
}

// caught reports whether a run fails one of the checks (or a check of one
// of the families, "single-active" for "single-active/…").
func caught(res harness.Result, checks []harness.CheckName) bool {
	for _, v := range res.Verdicts {
		if v.Fails() && slices.ContainsFunc(checks, func(c harness.CheckName) bool {
			return v.Check == c || strings.HasPrefix(string(v.Check), string(c)+"/")
		}) {
			return true
		}
	}
	return false
}

func detect(b *testing.B, tpl scenarios.Template, d time.Duration, checks []harness.CheckName) detection {
	type stream struct {
		seeds int // 0: missed
		wall  time.Duration
	}
	var ss []stream
	for k := 1; k <= DetectStreams; k++ {
		st := stream{}
		for i := 0; i < DetectLimit; i++ {
			seed := uint64(k + i*DetectStreams)
			c, err := tpl.Draw(seed, d)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			res, err := harness.Run(harness.Config{Scenario: c.Scenario, Duration: d}, seed, c.Schedule)
			st.wall += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if caught(res, checks) {
				st.seeds = i + 1
				break
			}
		}
		ss = append(ss, st)
	}
	missed := 0
	var parts []string
	for _, s := range ss {
		if s.seeds == 0 {
			missed++
			parts = append(parts, fmt.Sprintf(">%d (%.1fs)", DetectLimit, s.wall.Seconds()))
		} else {
			parts = append(parts, fmt.Sprintf("%d (%.2fs)", s.seeds, s.wall.Seconds()))
		}
	}
	slices.SortStableFunc(ss, func(a, b stream) int {
		ka, kb := a.seeds, b.seeds
		if ka == 0 {
			ka = DetectLimit + 1
		}
		if kb == 0 {
			kb = DetectLimit + 1
		}
		return ka - kb
	})
	med := ss[len(ss)/2]
	if med.seeds == 0 {
		med.seeds = DetectLimit + 1 // the median stream found nothing
	}
	return detection{seeds: med.seeds, wall: med.wall, missed: missed, streams: strings.Join(parts, ", ")}
}

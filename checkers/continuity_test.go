package checkers

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"hasim/harness"
)

// contEvent is one call on a Continuity checker.
type contEvent struct {
	start, stop, down bool
	at, to            float64
	node, pod         string
	cause             StopCause
}

func cStart(at float64, node, pod string) contEvent {
	return contEvent{start: true, at: at, node: node, pod: pod}
}

func cStop(at float64, node, pod string, cause StopCause) contEvent {
	return contEvent{stop: true, at: at, node: node, pod: pod, cause: cause}
}

// cDown: every master down from from to to (to < 0: until the end).
func cDown(from, to float64) contEvent { return contEvent{down: true, at: from, to: to} }

func contApply(c *Continuity, evs []contEvent) {
	for _, e := range evs {
		switch {
		case e.start:
			c.Started(ttSec(e.at), e.node, e.pod)
		case e.stop:
			c.Stopped(ttSec(e.at), e.node, e.pod, e.cause)
		case e.down:
			to := ttSec(e.to)
			if e.to < 0 {
				to = -1
			}
			c.MastersDown(ttSec(e.at), to)
		}
	}
}

func TestContinuity(t *testing.T) {
	tests := []struct {
		name   string
		events []contEvent
		end    float64
		want   harness.Status
		substr []string
		absent []string
	}{
		{
			name: "pods survive an outage",
			events: []contEvent{
				cStart(1, "w1", "web-1"), cStart(1, "w2", "web-2"), cStart(2, "w1", "web-3"),
				cDown(60, 190),
				cStop(200, "w1", "web-3", StopDeleted),
			},
			end: 300, want: harness.OK,
			substr: []string{"3 pods started; 1 deleted, 0 lost with their host; 2 still running at 5m0s; " +
				"pods kept running through 2m10s with every master down (3 pods through the outage from 1m0s to 3m10s)"},
		},
		{
			name: "host crashes and deletions are explained",
			events: []contEvent{
				cStart(1, "w1", "web-1"), cStart(1, "w2", "web-2"), cStart(1, "w2", "web-3"),
				cDown(10, 20),
				cStop(15, "w2", "web-2", StopHostDown), cStop(15, "w2", "web-3", StopHostDown),
				cStop(30, "w1", "web-1", StopDeleted),
			},
			end: 40, want: harness.OK,
			substr: []string{"3 pods started; 1 deleted, 2 lost with their host; 0 still running at 40s; " +
				"pods kept running through 10s with every master down (1 pod through the outage from 10s to 20s)"},
		},
		{
			name: "masters never all down",
			events: []contEvent{
				cStart(1, "w1", "web-1"),
			},
			end: 40, want: harness.OK,
			substr: []string{"1 pod started; 0 deleted, 0 lost with their host; 1 still running at 40s; the masters were never all down"},
		},
		{
			name: "no pod ran through the outage",
			events: []contEvent{
				cDown(5, 10),
				cStart(12, "w1", "web-1"),
			},
			end: 40, want: harness.OK,
			substr: []string{"no pod ran through any of 1 all-masters-down interval"},
		},
		{
			name: "overlapping outages merge, an open one lasts until the end",
			events: []contEvent{
				cStart(1, "w1", "web-1"),
				cDown(10, 20), cDown(15, 30), cDown(30, 35),
				cDown(50, -1),
			},
			end: 100, want: harness.OK,
			substr: []string{"pods kept running through 50s with every master down (1 pod through the outage from 50s to 1m40s)"},
		},
		{
			name: "the longest outage a pod ran through",
			events: []contEvent{
				cStart(1, "w1", "web-1"),
				cDown(10, 20),
				cDown(30, 90), // web-1 stopped inside it
				cStop(60, "w1", "web-1", StopDeleted),
				cStart(61, "w1", "web-2"),
			},
			end: 100, want: harness.OK,
			substr: []string{"pods kept running through 10s with every master down (1 pod through the outage from 10s to 20s)"},
		},
		{
			name: "a pod lost while the masters were down",
			events: []contEvent{
				cStart(1, "w1", "web-1"), cStart(1, "w2", "web-2"),
				cDown(60, 190),
				cStop(90, "w2", "web-2", "api-unreachable"),
			},
			end: 300, want: harness.Violated,
			substr: []string{"1 pod stopped for no good reason: pod web-2 on node w2 stopped at 1m30s (api-unreachable), running since 1s, " +
				"while every master was down (since 1m0s, 30s before)"},
			absent: []string{"web-1"},
		},
		{
			name: "a pod lost with some master up",
			events: []contEvent{
				cStart(1, "w1", "web-1"),
				cDown(60, 70),
				cStop(80, "w1", "web-1", "evicted"),
			},
			end: 300, want: harness.Violated,
			substr: []string{"pod web-1 on node w1 stopped at 1m20s (evicted), running since 1s, with some master up"},
		},
		{
			name: "a stop without a start, without a cause",
			events: []contEvent{
				cStart(1, "w1", "web-1"),
				cStop(5, "w9", "ghost", ""),
			},
			end: 10, want: harness.Violated,
			substr: []string{"pod ghost on node w9 stopped at 5s (no cause given), never seen starting, with some master up"},
		},
		{
			name: "a stop during an open outage",
			events: []contEvent{
				cStart(1, "w1", "web-1"),
				cDown(5, -1),
				cStop(8, "w1", "web-1", "api-unreachable"),
			},
			end: 10, want: harness.Violated,
			substr: []string{"while every master was down (since 5s, 3s before)"},
		},
		{
			name: "a restarted pod is judged per stop",
			events: []contEvent{
				cStart(1, "w1", "web-1"),
				cStop(2, "w1", "web-1", StopHostDown),
				cStart(3, "w1", "web-1"),
				cStart(3.5, "w1", "web-1"), // already running: ignored
				cStop(4, "w1", "web-1", "crash-loop"),
			},
			end: 10, want: harness.Violated,
			substr: []string{"1 pod stopped", "pod web-1 on node w1 stopped at 4s (crash-loop), running since 3s"},
		},
		{
			name:   "no pod ever started",
			end:    10,
			want:   harness.Unknown,
			substr: []string{"no pod ever started"},
		},
		{
			name:   "only explained stops, no start",
			events: []contEvent{cStop(1, "w1", "web-1", StopHostDown)},
			end:    10, want: harness.Unknown,
			substr: []string{"no pod ever started (1 stop seen: 0 deleted, 1 lost with their host)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewContinuity("pods-keep-running")
			contApply(c, tc.events)
			v := c.Verdict(ttSec(tc.end))
			if v.Check != "pods-keep-running" {
				t.Errorf("check %q", v.Check)
			}
			ttWant(t, v, tc.want, tc.substr, tc.absent)
		})
	}
}

// Evidence is bounded and does not depend on the order of the calls.
func TestContinuityBoundedDeterministic(t *testing.T) {
	var starts, stops []contEvent
	for i := range 9 {
		node, pod := fmt.Sprintf("w%d", i%3), fmt.Sprintf("web-%d", i)
		starts = append(starts, cStart(1, node, pod))
		stops = append(stops, cStop(10+float64(i%4), node, pod, "api-unreachable"))
	}
	var first string
	rng := rand.New(rand.NewSource(2))
	for round := range 5 {
		c := NewContinuity("c")
		for _, i := range rng.Perm(len(starts)) {
			contApply(c, starts[i:i+1])
		}
		for _, i := range rng.Perm(len(stops)) {
			contApply(c, stops[i:i+1])
		}
		v := c.Verdict(time.Minute)
		ttWant(t, v, harness.Violated, []string{"9 pods stopped for no good reason: pod web-0 on node w0 stopped at 10s", "; and 4 more"}, nil)
		if round == 0 {
			first = v.Detail
		} else if v.Detail != first {
			t.Errorf("detail depends on call order:\n%s\n%s", first, v.Detail)
		}
	}
}

package checkers

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"hasim/harness"
)

func ttSec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// ttRead is a found read of key by client, issued at start, arriving at at.
func ttRead(client, mode, key string, rv int64, start, at float64, server string) RVObservation {
	return RVObservation{Client: client, Mode: mode, Key: key, RV: rv, Found: true, Start: ttSec(start), At: ttSec(at), Server: server}
}

func ttWrite(client, key string, rv int64, start, at float64, server string) RVObservation {
	return RVObservation{Client: client, Mode: RVWrite, Key: key, RV: rv, Start: ttSec(start), At: ttSec(at), Server: server}
}

func ttMissing(client, mode, key string, start, at float64) RVObservation {
	return RVObservation{Client: client, Mode: mode, Key: key, Start: ttSec(start), At: ttSec(at)}
}

func ttWant(t *testing.T, v harness.Verdict, want harness.Status, substr, absent []string) {
	t.Helper()
	if v.Status != want {
		t.Fatalf("got %s, want %s: %s", v.Status, want, v.Detail)
	}
	for _, s := range substr {
		if !strings.Contains(v.Detail, s) {
			t.Errorf("detail lacks %q: %s", s, v.Detail)
		}
	}
	for _, s := range absent {
		if strings.Contains(v.Detail, s) {
			t.Errorf("detail has %q: %s", s, v.Detail)
		}
	}
}

const ttCM1 = "configmaps/default/cm-1"

func TestNoTimeTravel(t *testing.T) {
	tests := []struct {
		name   string
		obs    []RVObservation
		mode   string
		want   harness.Status
		substr []string
		absent []string
	}{
		{
			name: "the brief's example",
			obs: []RVObservation{
				ttRead("u2", RVQuorum, ttCM1, 135, 40.8, 40.9, "m1/apiserver"),
				ttRead("u2", RVCache, ttCM1, 120, 41.1, 41.2, "m3/apiserver"),
			},
			mode: RVCache, want: harness.Violated,
			substr: []string{"1 of 1 judged cache reads went back in time: " +
				"client u2 read configmaps/default/cm-1 at rv 120 via m3/apiserver at 41.2s after seeing rv 135 at 40.9s " +
				"(cache read issued at 41.1s; rv 135 from a quorum read via m1/apiserver)"},
		},
		{
			name: "the same run judged for quorum reads: none followed a sighting",
			obs: []RVObservation{
				ttRead("u2", RVQuorum, ttCM1, 135, 40.8, 40.9, "m1/apiserver"),
				ttRead("u2", RVCache, ttCM1, 120, 41.1, 41.2, "m3/apiserver"),
			},
			mode: RVQuorum, want: harness.Unknown,
			substr: []string{"nothing to judge: none of 1 quorum reads followed an earlier sighting"},
		},
		{
			name: "monotonic reads are ok",
			obs: []RVObservation{
				ttWrite("u1", ttCM1, 100, 0.5, 1, "m1/apiserver"),
				ttRead("u1", RVCache, ttCM1, 100, 2, 2.1, "m2/apiserver"),
				ttRead("u1", RVCache, ttCM1, 105, 3, 3.1, "m3/apiserver"),
				ttRead("u1", RVQuorum, ttCM1, 110, 4, 4.1, "m1/apiserver"),
			},
			mode: RVCache, want: harness.OK,
			substr: []string{"2 cache reads by 1 client on 1 key followed an earlier sighting, none older than it (2 cache reads in all)"},
		},
		{
			name: "its own write counts",
			obs: []RVObservation{
				ttWrite("u1", ttCM1, 50, 0.5, 1, "m1/apiserver"),
				ttRead("u1", RVCache, ttCM1, 40, 2, 2.1, "m2/apiserver"),
			},
			mode: RVCache, want: harness.Violated,
			substr: []string{"client u1 read configmaps/default/cm-1 at rv 40 via m2/apiserver at 2.1s after seeing rv 50 at 1s", "rv 50 from its write via m1/apiserver"},
		},
		{
			name: "a quorum read can travel too",
			obs: []RVObservation{
				ttRead("u1", RVCache, ttCM1, 70, 0.5, 1, "m2/apiserver"),
				ttRead("u1", RVQuorum, ttCM1, 60, 2, 2.1, "m1/apiserver"),
			},
			mode: RVQuorum, want: harness.Violated,
			substr: []string{"read configmaps/default/cm-1 at rv 60", "quorum read issued at 2s; rv 70 from a cache read via m2/apiserver"},
		},
		{
			name: "the same RV again is fine",
			obs: []RVObservation{
				ttRead("u1", RVQuorum, ttCM1, 70, 0.5, 1, ""),
				ttRead("u1", RVCache, ttCM1, 70, 2, 2.1, ""),
			},
			mode: RVCache, want: harness.OK,
		},
		{
			name: "a sighting arriving as the read is issued is concurrent",
			obs: []RVObservation{
				ttRead("u1", RVQuorum, ttCM1, 70, 0.5, 2, ""),
				ttRead("u1", RVCache, ttCM1, 60, 2, 2.1, ""),
			},
			mode: RVCache, want: harness.Unknown,
			substr: []string{"nothing to judge"},
		},
		{
			name: "an overlapping write does not count",
			obs: []RVObservation{
				ttWrite("u1", ttCM1, 70, 1, 3, ""),
				ttRead("u1", RVCache, ttCM1, 60, 2, 2.5, ""),
			},
			mode: RVCache, want: harness.Unknown,
		},
		{
			name: "another client's sighting does not count",
			obs: []RVObservation{
				ttRead("u1", RVQuorum, ttCM1, 135, 0.5, 1, ""),
				ttRead("u2", RVQuorum, ttCM1, 130, 1, 1.1, ""),
				ttRead("u2", RVCache, ttCM1, 120, 2, 2.1, ""),
			},
			mode: RVCache, want: harness.Violated,
			substr: []string{"client u2 read configmaps/default/cm-1 at rv 120 at 2.1s after seeing rv 130 at 1.1s"},
			absent: []string{"135", "u1"},
		},
		{
			name: "another key's sighting does not count",
			obs: []RVObservation{
				ttRead("u1", RVQuorum, "configmaps/default/cm-2", 135, 0.5, 1, ""),
				ttRead("u1", RVQuorum, ttCM1, 100, 0.5, 1, ""),
				ttRead("u1", RVCache, ttCM1, 120, 2, 2.1, ""),
			},
			mode: RVCache, want: harness.OK,
		},
		{
			name: "judged against the highest RV seen, not the latest",
			obs: []RVObservation{
				ttRead("u1", RVQuorum, ttCM1, 135, 0.5, 1, "m1"),
				ttRead("u1", RVCache, ttCM1, 130, 2, 2.1, "m2"),
				ttRead("u1", RVCache, ttCM1, 132, 3, 3.1, "m3"),
			},
			mode: RVCache, want: harness.Violated,
			substr: []string{"2 of 2 judged cache reads", "at rv 130 via m2 at 2.1s after seeing rv 135 at 1s", "at rv 132 via m3 at 3.1s after seeing rv 135 at 1s"},
		},
		{
			name: "lists are judged against lists of their kind",
			obs: []RVObservation{
				ttRead("u1", RVQuorum, "list:pods", 200, 0.5, 1, "m1"),
				ttRead("u1", RVQuorum, "list:configmaps", 10, 0.5, 1, "m1"),
				ttRead("u1", RVQuorum, "pods/default/p", 300, 0.5, 1, "m1"),
				ttRead("u1", RVCache, "list:pods", 150, 2, 2.1, "m2"),
				ttRead("u1", RVCache, "list:configmaps", 190, 2, 2.1, "m2"),
			},
			mode: RVCache, want: harness.Violated,
			substr: []string{"1 of 2 judged", "client u1 listed pods at rv 150 via m2 at 2.1s after seeing rv 200 at 1s"},
			absent: []string{"300", "configmaps"},
		},
		{
			name: "not-found reads are skipped and are no evidence",
			obs: []RVObservation{
				ttRead("u1", RVQuorum, ttCM1, 100, 0.5, 1, ""),
				ttMissing("u1", RVCache, ttCM1, 2, 2.1),
				ttMissing("u1", RVQuorum, "configmaps/default/cm-9", 0, 0.1),
				ttRead("u1", RVQuorum, "configmaps/default/cm-9", 5, 1, 1.1, ""),
			},
			mode: RVCache, want: harness.Unknown,
			substr: []string{"nothing to judge: none of 1 cache reads", "1 not-found or RV-less reads skipped"},
		},
		{
			name: "a found read without an RV is skipped",
			obs: []RVObservation{
				ttRead("u1", RVQuorum, ttCM1, 100, 0.5, 1, ""),
				ttRead("u1", RVCache, ttCM1, 0, 2, 2.1, ""),
				ttRead("u1", RVCache, ttCM1, 100, 3, 3.1, ""),
			},
			mode: RVCache, want: harness.OK,
			substr: []string{"1 cache read by 1 client", "(2 cache reads in all; 1 not-found or RV-less reads skipped)"},
		},
		{
			name: "no reads of the mode",
			obs: []RVObservation{
				ttRead("u1", RVQuorum, ttCM1, 100, 0.5, 1, ""),
				ttWrite("u1", ttCM1, 101, 1, 1.5, ""),
			},
			mode: RVCache, want: harness.Unknown,
			substr: []string{"no cache reads"},
		},
		{
			name: "nothing observed",
			mode: RVQuorum, want: harness.Unknown,
			substr: []string{"no quorum reads"},
		},
		{
			name: "writes are not judged",
			obs: []RVObservation{
				ttWrite("u1", ttCM1, 100, 0.5, 1, ""),
				ttWrite("u1", ttCM1, 90, 2, 2.1, ""),
			},
			mode: RVWrite, want: harness.Unknown,
			substr: []string{`"write" is not a read mode`},
		},
		{
			name: "another read mode is judged on its own",
			obs: []RVObservation{
				ttRead("u1", RVQuorum, ttCM1, 100, 0.5, 1, ""),
				ttRead("u1", "watch", ttCM1, 90, 2, 2.1, "m2"),
			},
			mode: "watch", want: harness.Violated,
			substr: []string{"(watch read issued at 2s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewNoTimeTravel("no-time-travel")
			for _, o := range tc.obs {
				c.Observe(o)
			}
			v := c.Verdict(tc.mode)
			if string(v.Check) != "no-time-travel/"+tc.mode {
				t.Errorf("check %q", v.Check)
			}
			ttWant(t, v, tc.want, tc.substr, tc.absent)
		})
	}
}

func TestNoTimeTravelPerMode(t *testing.T) {
	c := NewNoTimeTravel("ntt")
	c.Observe(ttWrite("u1", ttCM1, 100, 0, 1, "m1"))
	c.Observe(ttRead("u1", RVQuorum, ttCM1, 100, 2, 2.1, "m1"))
	c.Observe(ttRead("u1", RVCache, ttCM1, 90, 3, 3.1, "m2"))
	c.Observe(ttRead("u1", RVQuorum, ttCM1, 100, 4, 4.1, "m1"))
	c.Observe(ttMissing("u2", RVCache, ttCM1, 0, 1))

	vs := c.Verdicts()
	if len(vs) != 2 || vs[0].Check != "ntt/cache" || vs[1].Check != "ntt/quorum" {
		t.Fatalf("verdicts %+v", vs)
	}
	ttWant(t, vs[0], harness.Violated, []string{"1 of 1 judged cache reads"}, nil)
	ttWant(t, vs[1], harness.OK, []string{"2 quorum reads by 1 client on 1 key"}, nil)

	if got, want := c.Counts(RVCache), (TimeTravelCounts{Reads: 2, Skipped: 1, Judged: 1, Violations: 1, Clients: 1, Keys: 1}); got != want {
		t.Errorf("cache counts %+v, want %+v", got, want)
	}
	if got, want := c.Counts(RVQuorum), (TimeTravelCounts{Reads: 2, Judged: 2, Clients: 1, Keys: 1}); got != want {
		t.Errorf("quorum counts %+v, want %+v", got, want)
	}
	if got := c.Counts(RVWrite); got != (TimeTravelCounts{}) {
		t.Errorf("write counts %+v", got)
	}
	c.Observe(ttRead("u1", "watch", ttCM1, 100, 5, 5.1, ""))
	if got := strings.Join(c.Modes(), ","); got != "cache,quorum,watch" {
		t.Errorf("modes %s", got)
	}
}

// Evidence is bounded and does not depend on the order of observation.
func TestNoTimeTravelBoundedDeterministic(t *testing.T) {
	var obs []RVObservation
	for i := range 8 {
		client := fmt.Sprintf("u%d", i)
		obs = append(obs,
			ttRead(client, RVQuorum, ttCM1, 200, 0, 1, "m1"),
			ttRead(client, RVCache, ttCM1, int64(100+i), 2, 2+float64(i)/10, "m2"),
		)
	}
	var first string
	rng := rand.New(rand.NewSource(1))
	for round := range 5 {
		c := NewNoTimeTravel("ntt")
		for _, i := range rng.Perm(len(obs)) {
			c.Observe(obs[i])
		}
		v := c.Verdict(RVCache)
		ttWant(t, v, harness.Violated, []string{"8 of 8 judged cache reads", "; and 3 more"}, []string{"client u5", "client u7"})
		if !strings.Contains(v.Detail, "went back in time: client u0 read") {
			t.Errorf("not in order of arrival: %s", v.Detail)
		}
		if round == 0 {
			first = v.Detail
		} else if v.Detail != first {
			t.Errorf("detail depends on observation order:\n%s\n%s", first, v.Detail)
		}
	}
}

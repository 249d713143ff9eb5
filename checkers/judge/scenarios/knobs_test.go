package scenarios

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"hasim/checkers/judge"
	"hasim/harness"
	"hasim/model"
	"hasim/model/kube"
	"hasim/model/store"
)

// A swarm draws each unpinned setting per seed, the same for the same
// seed, and varies across seeds; pins hold.
func TestTemplateDrawsSettings(t *testing.T) {
	tpl := Template{Scenario: "store", Swarm: true, Pins: map[string]string{KnobClients: "2"}}
	seen := map[string]map[string]bool{}
	for seed := uint64(1); seed <= 60; seed++ {
		a, err := tpl.Draw(seed, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := tpl.Draw(seed, time.Minute)
		if !reflect.DeepEqual(a.Settings, b.Settings) || a.Schedule.String() != b.Schedule.String() {
			t.Fatalf("seed %d drew two cases", seed)
		}
		sa, _ := SpecOf(a.Scenario)
		sb, _ := SpecOf(b.Scenario)
		if !reflect.DeepEqual(sa, sb) {
			t.Fatalf("seed %d drew two specs", seed)
		}
		if a.Settings[KnobClients] != "2" || sa.Store.Clients != 2 {
			t.Fatalf("seed %d: the pinned clients=2 gave %v, %d", seed, a.Settings, sa.Store.Clients)
		}
		for k, v := range a.Settings {
			if seen[k] == nil {
				seen[k] = map[string]bool{}
			}
			seen[k][strings.Fields(v)[0]] = true
		}
	}
	for _, k := range []string{KnobSize, KnobTopology, KnobKeys, KnobOpsRate, KnobClientTimeout, KnobSnapshotCount, KnobLatency} {
		if len(seen[k]) < 2 {
			t.Errorf("setting %s never varied: %v", k, seen[k])
		}
	}
	if len(seen[KnobClients]) != 1 {
		t.Errorf("the pinned setting varied: %v", seen[KnobClients])
	}
}

// Without swarm only pins are set; the rest are the scenario's defaults.
func TestTemplateWithoutSwarm(t *testing.T) {
	c, err := Template{Scenario: "cluster", Pins: map[string]string{KnobLatency: "30ms/10ms", KnobWorkers: "5"}}.Draw(7, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Scenario.(*judge.Cluster).Cfg
	want := kube.Config{Workers: 5, Network: harness.LinkParams{Latency: 30 * time.Millisecond, Jitter: 10 * time.Millisecond}}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("config %+v, want %+v", cfg, want)
	}
	if c.Settings[KnobLatency] != "30ms/10ms" || len(c.Settings) != 2 {
		t.Fatalf("settings %v", c.Settings)
	}
}

func TestLatencyRegimes(t *testing.T) {
	for _, c := range []struct {
		regime   string
		lo, hi   time.Duration
		jlo, jhi time.Duration
	}{
		{LAN, harness.DefaultLink.Latency, harness.DefaultLink.Latency, harness.DefaultLink.Jitter, harness.DefaultLink.Jitter},
		{Zone, time.Millisecond, 5 * time.Millisecond, 100 * time.Microsecond, 5 * time.Millisecond},
		{WAN, 20 * time.Millisecond, 100 * time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond},
	} {
		for seed := uint64(1); seed <= 20; seed++ {
			cs, err := Template{Scenario: "election", Pins: map[string]string{KnobLatency: c.regime}}.Draw(seed, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			spec, _ := SpecOf(cs.Scenario)
			n := spec.Election.Network
			if n.Latency < c.lo || n.Latency > c.hi || n.Jitter < c.jlo || n.Jitter > c.jhi {
				t.Fatalf("%s seed %d: %+v", c.regime, seed, n)
			}
			if !strings.HasPrefix(cs.Settings[KnobLatency], c.regime+" ") {
				t.Fatalf("%s: setting %q", c.regime, cs.Settings[KnobLatency])
			}
		}
	}
}

// Bad templates are rejected naming the setting.
func TestTemplateErrors(t *testing.T) {
	for _, c := range []struct {
		tpl  Template
		want string
	}{
		{Template{Scenario: "nope"}, `scenario: unknown "nope"`},
		{Template{Scenario: "election", Pins: map[string]string{KnobClients: "2"}}, "clients: the election scenario has no such setting (its settings: size, topology, latency)"},
		{Template{Scenario: "store", Pins: map[string]string{KnobSize: "ten"}}, `size: "ten" is not an integer in [1, 9]`},
		{Template{Scenario: "store", Pins: map[string]string{KnobTopology: "ring"}}, `topology: "ring" is not one of stacked, external`},
		{Template{Scenario: "store", Pins: map[string]string{KnobLatency: "fast"}}, `latency: "fast" is not lan, zone, wan or LATENCY/JITTER`},
		{Template{Scenario: "store", Pins: map[string]string{KnobClientTimeout: "1ms"}}, `client-timeout: "1ms" is not a duration in [100ms, 1m0s]`},
		{Template{Scenario: "store", Bugs: []string{"lb-no-health-check"}}, "bug: lb-no-health-check does nothing in the store scenario (it changes: cluster)"},
		{Template{Scenario: "store", Bugs: []string{"nope"}}, `bug: unknown switch "nope"`},
		{Template{Scenario: "store", Faults: []string{"term"}}, `faults: "term" is not a fault kind of the store scenario`},
		{Template{Scenario: "store", Aim: 101}, "aim: 101% is over 100%"},
	} {
		err := c.tpl.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.tpl, err, c.want)
		}
	}
	if _, err := New("counter", Options{Workers: 2}); err == nil || !strings.Contains(err.Error(), "workers: the counter scenario has no such setting") {
		t.Errorf("counter with workers: %v", err)
	}
	if _, err := New("election", Options{Bugs: model.MustBugs(store.BugNoFsync)}); err != nil {
		t.Errorf("a store bug in the election scenario (whose members are the store's): %v", err)
	}
}

// Every knob's choices are values it accepts, and every registered bug
// names scenarios that exist.
func TestKnobChoicesAndBugHomes(t *testing.T) {
	for name, ks := range knobs {
		for _, k := range ks {
			for _, v := range k.Choices {
				var o Options
				if _, err := k.set(&o, v, harness.NewRand(1, "case")); err != nil {
					t.Errorf("%s: %s's choice %q: %v", name, k.Name, v, err)
				}
			}
		}
	}
	for _, b := range model.AllBugs() {
		for _, sc := range b.Scenarios {
			if _, err := New(sc, Options{Bugs: model.MustBugs(b.Name)}); err != nil {
				t.Errorf("bug %s in its scenario %s: %v", b.Name, sc, err)
			}
		}
	}
}

package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/election"
)

// Knob names: the settings of a scenario that cases are drawn over.
const (
	KnobSize          = "size"
	KnobTopology      = "topology"
	KnobWorkers       = "workers"
	KnobCacheReads    = "cache-reads"
	KnobStandbyLB     = "standby-lb"
	KnobClients       = "clients"
	KnobKeys          = "keys"
	KnobOpsRate       = "ops-rate"
	KnobClientTimeout = "client-timeout"
	KnobSnapshotCount = "snapshot-count"
	KnobUsers         = "users"
	KnobScaleEvery    = "scale-every"
	KnobLatency       = "latency"
)

// Knob is one setting of a scenario. A swarm draws it per seed from
// Choices unless it is pinned; a knob without choices is only ever
// pinned (its default otherwise).
type Knob struct {
	Name    string
	Doc     string
	Choices []string
	// set parses a value into the options and returns its canonical text;
	// r serves values that draw details (a latency regime's figures).
	set func(o *Options, v string, r *harness.Rand) (string, error)
}

func intKnob(name, doc string, choices []string, lo, hi int, field func(*Options) *int) Knob {
	return Knob{Name: name, Doc: doc, Choices: choices, set: func(o *Options, v string, _ *harness.Rand) (string, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return "", fmt.Errorf("%s: %q is not an integer in [%d, %d]", name, v, lo, hi)
		}
		*field(o) = n
		return strconv.Itoa(n), nil
	}}
}

func durKnob(name, doc string, choices []string, lo, hi time.Duration, field func(*Options) *time.Duration) Knob {
	return Knob{Name: name, Doc: doc, Choices: choices, set: func(o *Options, v string, _ *harness.Rand) (string, error) {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			return "", fmt.Errorf("%s: %q is not a duration in [%s, %s]", name, v, lo, hi)
		}
		*field(o) = d
		return d.String(), nil
	}}
}

func boolKnob(name, doc string, choices []string, field func(*Options) *bool) Knob {
	return Knob{Name: name, Doc: doc, Choices: choices, set: func(o *Options, v string, _ *harness.Rand) (string, error) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", fmt.Errorf("%s: %q is not true or false", name, v)
		}
		*field(o) = b
		return strconv.FormatBool(b), nil
	}}
}

func choiceKnob(name, doc string, choices []string, field func(*Options) *string) Knob {
	return Knob{Name: name, Doc: doc, Choices: choices, set: func(o *Options, v string, _ *harness.Rand) (string, error) {
		if !slices.Contains(choices, v) {
			return "", fmt.Errorf("%s: %q is not one of %s", name, v, strings.Join(choices, ", "))
		}
		*field(o) = v
		return v, nil
	}}
}

// Latency regimes.
const (
	// LAN is one datacenter: harness.DefaultLink, 0.25ms ± 0.1ms.
	LAN = "lan"
	// Zone is hosts spread over availability zones: 1–5ms, jitter up to
	// the latency.
	Zone = "zone"
	// WAN is hosts far apart: 20–100ms with 10–100ms of jitter, the order
	// of raft's heartbeat, so that messages are in flight when faults
	// begin.
	WAN = "wan"
)

var latencyKnob = Knob{Name: KnobLatency,
	Doc:     "link latency regime: lan (0.25ms), zone (1-5ms), wan (20-100ms, jitter 10-100ms), or LATENCY/JITTER such as 30ms/10ms",
	Choices: []string{LAN, Zone, WAN},
	set: func(o *Options, v string, r *harness.Rand) (string, error) {
		var p harness.LinkParams
		switch v {
		case LAN:
			p = harness.DefaultLink
		case Zone:
			p.Latency = time.Duration(r.Int("zone latency", 10, 50)) * 100 * time.Microsecond
			p.Jitter = time.Duration(r.Int("zone jitter", 1, int64(p.Latency/(100*time.Microsecond)))) * 100 * time.Microsecond
		case WAN:
			p.Latency = time.Duration(r.Int("wan latency", 20, 100)) * time.Millisecond
			p.Jitter = time.Duration(r.Int("wan jitter", 10, 100)) * time.Millisecond
		default:
			l, j, ok := strings.Cut(v, "/")
			var err1, err2 error
			if ok {
				p.Latency, err1 = time.ParseDuration(l)
				p.Jitter, err2 = time.ParseDuration(j)
			}
			if !ok || err1 != nil || err2 != nil || p.Latency <= 0 || p.Jitter < 0 || p.Latency > time.Second || p.Jitter > time.Second {
				return "", fmt.Errorf("%s: %q is not lan, zone, wan or LATENCY/JITTER (each up to 1s, such as 30ms/10ms)", KnobLatency, v)
			}
			v = ""
		}
		o.Network = p
		if v == "" {
			return p.Latency.String() + "/" + p.Jitter.String(), nil
		}
		return v + " " + p.Latency.String() + "/" + p.Jitter.String(), nil
	}}

func sizeKnob(doc string, choices ...string) Knob {
	return intKnob(KnobSize, doc, choices, 1, 9, func(o *Options) *int { return &o.Size })
}

func topologyKnob(choices ...string) Knob {
	return choiceKnob(KnobTopology, "where the members live: "+strings.Join(choices, " or ")+" (--topology)", choices,
		func(o *Options) *string { return &o.Topology })
}

// knobs lists each scenario's settings.
var knobs = map[string][]Knob{
	"store": {
		sizeKnob("raft members (--size)", "3", "5", "1"),
		topologyKnob("stacked", "external"),
		intKnob(KnobClients, "sequential workload clients", []string{"1", "2", "3", "4"}, 1, 100, func(o *Options) *int { return &o.Clients }),
		intKnob(KnobKeys, "keys the clients share", []string{"1", "2", "3", "5", "8"}, 1, 1000, func(o *Options) *int { return &o.Keys }),
		intKnob(KnobOpsRate, "workload operations per second", []string{"5", "10", "20", "40"}, 1, 100000, func(o *Options) *int { return &o.OpsRate }),
		durKnob(KnobClientTimeout, "each call's deadline", []string{"500ms", "1s", "2s", "5s"}, 100*time.Millisecond, time.Minute,
			func(o *Options) *time.Duration { return &o.ClientTimeout }),
		{Name: KnobSnapshotCount, Doc: "entries between a member's snapshots", Choices: []string{"20", "100", "1000", "10000"},
			set: func(o *Options, v string, _ *harness.Rand) (string, error) {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil || n < 1 {
					return "", fmt.Errorf("%s: %q is not a positive integer", KnobSnapshotCount, v)
				}
				o.SnapshotCount = n
				return strconv.FormatUint(n, 10), nil
			}},
		latencyKnob,
	},
	"election": {
		sizeKnob("masters (--size)", "3", "5"),
		topologyKnob("stacked"),
		latencyKnob,
	},
	"cluster": {
		sizeKnob("masters (--masters or --size)", "3", "5"),
		topologyKnob("stacked", "external"),
		intKnob(KnobWorkers, "worker nodes (--workers)", []string{"2", "3", "5"}, 1, 50, func(o *Options) *int { return &o.Workers }),
		intKnob(KnobUsers, "users on u1..uN; the first owns the workload", []string{"1", "2", "3"}, 1, 20, func(o *Options) *int { return &o.Users }),
		intKnob(KnobKeys, "ConfigMaps the users share", []string{"1", "2", "3", "5"}, 1, 1000, func(o *Options) *int { return &o.Keys }),
		durKnob(KnobScaleEvery, "how often the workload is rescaled", []string{"30s", "45s", "60s"}, time.Second, time.Hour,
			func(o *Options) *time.Duration { return &o.ScaleEvery }),
		boolKnob(KnobStandbyLB, "a standby load balancer on lb2 and keepalived floating the VIP (--standby-lb)", []string{"false", "true"},
			func(o *Options) *bool { return &o.StandbyLB }),
		// Not drawn: reads from the watch cache go back in time by design.
		boolKnob(KnobCacheReads, "users read with resourceVersion \"0\", from the watch caches (--cache-reads)", nil,
			func(o *Options) *bool { return &o.CacheReads }),
		latencyKnob,
	},
	"counter": {
		sizeKnob("replicas (--size)", "3", "5"),
		latencyKnob,
	},
}

// Knobs lists a scenario's settings (nil for an unknown scenario).
func Knobs(scenario string) []Knob { return knobs[scenario] }

func knobNames(ks []Knob) string {
	var out []string
	for _, k := range ks {
		out = append(out, k.Name)
	}
	return strings.Join(out, ", ")
}

// Template is what cases are drawn from: a scenario, the settings pinned,
// and whether the others are drawn per seed (swarm testing: each run a
// random configuration, as each enables a random subset of fault kinds) or
// left at the scenario's defaults; and how faults are generated.
type Template struct {
	Scenario string            `json:"scenario"`
	Bugs     []string          `json:"bugs,omitempty"`
	Pins     map[string]string `json:"pins,omitempty"`
	Swarm    bool              `json:"swarm,omitempty"`
	// Envelope keeps clock rates and pauses inside leader election's safe
	// envelope (election.Safe), so that single-active failures mean a bug.
	Envelope bool `json:"envelope,omitempty"`
	// FaultRate pins faults per simulated hour (0: drawn per seed).
	FaultRate int `json:"fault_rate_per_hour,omitempty"`
	// Faults pins the fault kinds enabled (empty: a random subset per seed).
	Faults []string `json:"faults,omitempty"`
	// Aim pins the percentage of faults aimed at cues (0: drawn per seed;
	// negative: none).
	Aim int `json:"aim,omitempty"`
}

// Case is one drawn run: the scenario built, its settings as drawn or
// pinned (knob → value, for people), and the schedule.
type Case struct {
	Scenario Scenario
	Settings map[string]string
	Schedule harness.Schedule
}

// Check validates the template: a known scenario, pins that are its knobs
// with values they accept, known bugs and fault kinds; errors name the
// setting.
func (t Template) Check() error {
	sc, _, err := t.Build()
	if err != nil {
		return err
	}
	kinds := sc.GenOptions(time.Minute).Kinds
	if len(kinds) == 0 {
		kinds = harness.AllKinds
	}
	for _, k := range t.Faults {
		if !slices.Contains(kinds, k) {
			return fmt.Errorf("faults: %q is not a fault kind of the %s scenario (%s)", k, t.Scenario, strings.Join(kinds, ", "))
		}
	}
	switch {
	case t.FaultRate < 0:
		return fmt.Errorf("fault-rate: must not be negative")
	case t.Aim > 100:
		return fmt.Errorf("aim: %d%% is over 100%%", t.Aim)
	}
	return nil
}

// scenario builds the template's scenario for one seed's stream r: pinned
// knobs as pinned, the others drawn when swarm is on.
func (t Template) scenario(r *harness.Rand, swarm bool) (Scenario, map[string]string, error) {
	ks, ok := knobs[t.Scenario]
	if !ok {
		_, err := New(t.Scenario, Options{})
		return nil, nil, err
	}
	for _, name := range harness.SortedKeys(t.Pins) {
		if !slices.ContainsFunc(ks, func(k Knob) bool { return k.Name == name }) {
			return nil, nil, fmt.Errorf("%s: the %s scenario has no such setting (its settings: %s)", name, t.Scenario, knobNames(ks))
		}
	}
	bugs, err := model.ParseBugs(t.Bugs)
	if err != nil {
		return nil, nil, err
	}
	o := Options{Bugs: bugs}
	settings := map[string]string{}
	for _, k := range ks {
		v, pinned := t.Pins[k.Name]
		if !pinned {
			if !swarm || len(k.Choices) == 0 {
				continue
			}
			v = k.Choices[r.Int(k.Name, 0, int64(len(k.Choices)-1))]
		}
		got, err := k.set(&o, v, r)
		if err != nil {
			return nil, nil, err
		}
		settings[k.Name] = got
	}
	sc, err := New(t.Scenario, o)
	return sc, settings, err
}

// GenOptions returns the fault generation options of a built scenario
// under the template: the scenario's own, narrowed by what is pinned.
func (t Template) GenOptions(sc Scenario, d time.Duration) harness.GenOptions {
	o := sc.GenOptions(d)
	if len(t.Faults) > 0 {
		o.Kinds, o.AllEnabled = t.Faults, true
	}
	o.Rate, o.Aim = t.FaultRate, t.Aim
	if t.Envelope {
		o = election.Safe.Bound(o)
	}
	return o
}

// Draw draws the case of one seed: its settings from the seed's "case"
// stream (when the template swarms), its schedule from the "faults"
// stream. The same template and seed always give the same case.
func (t Template) Draw(seed uint64, d time.Duration) (Case, error) {
	sc, settings, err := t.scenario(harness.NewRand(seed, "case"), t.Swarm)
	if err != nil {
		return Case{}, err
	}
	sched := harness.Generate(harness.NewRand(seed, "faults"), t.GenOptions(sc, d))
	return Case{Scenario: sc, Settings: settings, Schedule: sched}, nil
}

// Build builds the template's scenario with its pins and defaults (no
// draws): for runs with a given schedule.
func (t Template) Build() (Scenario, map[string]string, error) {
	return t.scenario(harness.NewRand(0, "case"), false)
}

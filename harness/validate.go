package harness

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Topology is what a schedule is validated against: the names a scenario
// defines. *Sim implements it.
type Topology interface {
	Hosts() []string
	Procs() []string
	Roles() []string
	// Cues lists the cues the scenario's components give, which aimed
	// entries may wait for.
	Cues() []string
	// Signals lists the signals the scenario's processes play (Signal).
	Signals() []string
}

// ValidationError is a schedule that does not fit its scenario; it names the
// entry (1-based) and the field.
type ValidationError struct {
	Entry int
	Text  string
	Field string
	Msg   string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("schedule entry %d (%s): %s: %s", e.Entry, e.Text, e.Field, e.Msg)
}

// Limits on fault values, beyond which a schedule is rejected.
const (
	MaxClockJump = 24 * time.Hour
	MaxNetDelay  = time.Hour
	// MaxDiskLatency bounds a slow disk's sync latency.
	MaxDiskLatency = 10 * time.Minute
	// MaxCueOffset bounds how far from its cue's moment an aimed entry
	// fires.
	MaxCueOffset = time.Hour
)

// Validate checks a schedule against a topology and the run's duration
// (0: no limit): known hosts, processes and roles; a host where a host is
// meant and a process where a process is meant; values in range; time order;
// "for" only on faults that can be undone; and, for faults naming concrete
// hosts and processes, that each makes sense when it fires (no restart of a
// live host, no pause of a paused one, ...). Role-relative faults, and every
// fault of an aimed entry (its time depends on its cue), are checked when
// they fire instead, and skipped (with a trace line) if they do not apply
// then.
func (s Schedule) Validate(topo Topology, duration time.Duration) error {
	hosts := map[string]bool{}
	for _, h := range topo.Hosts() {
		hosts[h] = true
	}
	procs := map[string]bool{}
	for _, p := range topo.Procs() {
		procs[p] = true
	}
	roles := map[string]bool{}
	for _, r := range topo.Roles() {
		roles[r] = true
	}
	cues := map[string]bool{}
	for _, c := range topo.Cues() {
		cues[c] = true
	}
	signals := map[string]bool{}
	for _, c := range topo.Signals() {
		signals[c] = true
	}
	known := func(m map[string]bool) string {
		k := SortedKeys(m)
		if len(k) > 12 {
			k = append(k[:12], "...")
		}
		return strings.Join(k, " ")
	}
	for i, e := range s {
		fail := func(field, format string, args ...any) error {
			return &ValidationError{Entry: i + 1, Text: e.String(), Field: field, Msg: fmt.Sprintf(format, args...)}
		}
		if e.At < 0 {
			return fail("at", "negative time %s", e.At)
		}
		if i > 0 && e.At < s[i-1].At {
			return fail("at", "%s is before the previous entry's %s", e.At, s[i-1].At)
		}
		if duration > 0 && e.At > duration {
			return fail("at", "%s is past the end of the run (%s)", e.At, duration)
		}
		if e.For < 0 {
			return fail("for", "negative duration %s", e.For)
		}
		if len(e.Faults) == 0 {
			return fail("faults", "an entry needs at least one fault")
		}
		if e.Aimed() {
			if !cues[e.On] {
				known := "none"
				if len(cues) > 0 {
					known = strings.Join(SortedKeys(cues), " ")
				}
				return fail("on", "unknown cue %q (this scenario gives: %s)", e.On, known)
			}
			if e.Offset > MaxCueOffset || e.Offset < -MaxCueOffset {
				return fail("on", "offset %s is beyond ±%s", e.Offset, MaxCueOffset)
			}
			if e.Within < 0 {
				return fail("within", "negative duration %s", e.Within)
			}
			if e.Nth < 0 {
				return fail("on", "negative ordinal %d", e.Nth)
			}
		} else if e.Offset != 0 || e.Within != 0 || e.Nth != 0 {
			return fail("on", "an offset, an ordinal or \"within\" needs a cue (\"on CUE\")")
		}
		for _, f := range e.Faults {
			name := strings.Fields(f.String())[0]
			if e.For > 0 && !f.Reversible() {
				return fail("for", "%q cannot be undone; only partition, isolate, crash, kill, term, pause, clock rate, disk, net and signal faults take \"for\"", name)
			}
			wantProc := false
			switch f := f.(type) {
			case Kill, Term, Start:
				wantProc = true
			case Signal:
				wantProc = true
				if !signals[f.Name] {
					known := "none"
					if len(signals) > 0 {
						known = strings.Join(SortedKeys(signals), " ")
					}
					return fail("signal", "unknown signal %q (this scenario plays: %s)", f.Name, known)
				}
			}
			for _, t := range f.targets() {
				switch {
				case t.Role && t.Name == string(CuedRole):
					if !e.Aimed() {
						return fail(name, "@%s names the process that gave an aimed entry's cue; this entry has no cue (\"on CUE\")", CuedRole)
					}
				case t.Role:
					if !roles[t.Name] {
						return fail(name, "unknown role @%s (known: %s)", t.Name, known(roles))
					}
				case wantProc:
					if hosts[t.Name] {
						return fail(name, "%s is a host; %s takes a process (host/name)", t.Name, name)
					}
					if !procs[t.Name] {
						return fail(name, "unknown process %q (known: %s)", t.Name, known(procs))
					}
				default:
					if procs[t.Name] {
						return fail(name, "%s is a process; %s takes a host", t.Name, name)
					}
					if !hosts[t.Name] {
						return fail(name, "unknown host %q (known: %s)", t.Name, known(hosts))
					}
				}
			}
			if err := checkValues(f, func(field, format string, args ...any) error {
				return fail(field, format, args...)
			}); err != nil {
				return err
			}
		}
	}
	return s.walk(topo.Procs())
}

func checkValues(f Fault, fail func(field, format string, args ...any) error) error {
	distinct := func(field string, groups ...[]Target) error {
		seen := map[Target]bool{}
		for _, g := range groups {
			for _, t := range g {
				if seen[t] {
					return fail(field, "%s is named twice", t)
				}
				seen[t] = true
			}
		}
		return nil
	}
	switch f := f.(type) {
	case Partition:
		if len(f.A) == 0 || len(f.B) == 0 {
			return fail("partition", "both groups must name at least one host")
		}
		return distinct("partition", f.A, f.B)
	case ClockJump:
		if f.By == 0 {
			return fail("clock jump", "a jump of zero does nothing")
		}
		if f.By > MaxClockJump || f.By < -MaxClockJump {
			return fail("clock jump", "%s is beyond ±%s", f.By, MaxClockJump)
		}
	case ClockRate:
		if !f.Rate.Valid() {
			return fail("clock rate", "%s out of range [%s, %s]", f.Rate, MinRate, MaxRate)
		}
	case NetFault:
		if f.Set == 0 {
			return fail("net", "sets no parameter")
		}
		if (len(f.A) == 0) != (len(f.B) == 0) {
			return fail("net between", "both groups must be given, or neither")
		}
		if f.Delay < 0 || f.Delay > MaxNetDelay {
			return fail("net delay", "%s out of range [0, %s]", f.Delay, MaxNetDelay)
		}
		if f.Jitter < 0 || f.Jitter > MaxNetDelay {
			return fail("net jitter", "%s out of range [0, %s]", f.Jitter, MaxNetDelay)
		}
		for _, p := range []struct {
			n string
			v Prob
		}{{"net loss", f.Loss}, {"net dup", f.Dup}, {"net reorder", f.Reorder}} {
			if !p.v.Valid() {
				return fail(p.n, "%s out of range [0%%, 100%%]", p.v)
			}
		}
		return distinct("net between", f.A, f.B)
	case DiskSlow:
		if f.Latency <= 0 || f.Latency > MaxDiskLatency {
			return fail("disk latency", "%s out of range (0, %s]", f.Latency, MaxDiskLatency)
		}
	case NetReset:
		if (len(f.A) == 0) != (len(f.B) == 0) {
			return fail("net reset between", "both groups must be given, or neither")
		}
		return distinct("net reset between", f.A, f.B)
	}
	return nil
}

// walk replays the schedule's effects on concrete hosts and processes and
// rejects faults that cannot apply when they fire.
func (s Schedule) walk(procs []string) error {
	type step struct {
		at    time.Duration
		entry int
		undo  bool
		order int
	}
	var steps []step
	for i, e := range s {
		if e.Aimed() {
			continue // when it fires depends on its cue
		}
		steps = append(steps, step{at: e.At, entry: i, order: 2 * i})
		if e.For > 0 {
			steps = append(steps, step{at: e.End(), entry: i, undo: true, order: 2*i + 1})
		}
	}
	// At the same instant entries run before undos: the kernel queues every
	// entry at the start and an undo only when its entry fires, so at a tie
	// the entry (queued earlier) runs first. Undos at one instant run in the
	// order of their entries.
	sort.SliceStable(steps, func(a, b int) bool {
		if steps[a].at != steps[b].at {
			return steps[a].at < steps[b].at
		}
		if steps[a].undo != steps[b].undo {
			return !steps[a].undo
		}
		return steps[a].order < steps[b].order
	})
	down := map[string]bool{}
	paused := map[string]bool{}
	stopped := map[string]bool{}
	// The kernel undoes a pause only if the host has not crashed since the
	// pause fired: a crash ends the pause, and a later one may be in effect.
	crashes := map[string]int{}
	type pauseKey struct {
		entry int
		host  string
	}
	pausedAt := map[pauseKey]int{} // the host's crash count when the pause fired
	hostOf := func(p string) string { h, _, _ := strings.Cut(p, "/"); return h }
	// A host that boots starts all of its processes again.
	boot := func(h string) {
		down[h] = false
		for _, p := range procs {
			if hostOf(p) == h {
				stopped[p] = false
			}
		}
	}
	for _, st := range steps {
		e := s[st.entry]
		for _, f := range e.Faults {
			fail := func(format string, args ...any) error {
				verb := "fires"
				if st.undo {
					verb = "is undone"
				}
				return &ValidationError{Entry: st.entry + 1, Text: e.String(), Field: strings.Fields(f.String())[0],
					Msg: fmt.Sprintf("when it "+verb+" at %s, ", st.at) + fmt.Sprintf(format, args...)}
			}
			var t Target
			if ts := f.targets(); len(ts) == 1 {
				t = ts[0]
			}
			if t.Role {
				continue
			}
			n := t.Name
			switch f.(type) {
			case Crash:
				if st.undo { // the kernel restarts the host if it is still down
					if down[n] {
						boot(n)
					}
					continue
				}
				if down[n] {
					return fail("host %s is already down", n)
				}
				down[n], paused[n] = true, false
				crashes[n]++
			case Restart:
				if !down[n] {
					return fail("host %s is up; restart takes a crashed host", n)
				}
				boot(n)
			case Pause:
				if st.undo {
					if pausedAt[pauseKey{st.entry, n}] == crashes[n] {
						paused[n] = false
					}
					continue
				}
				if down[n] {
					return fail("host %s is down", n)
				}
				if paused[n] {
					return fail("host %s is already paused", n)
				}
				paused[n] = true
				pausedAt[pauseKey{st.entry, n}] = crashes[n]
			case Resume:
				if !paused[n] {
					return fail("host %s is not paused", n)
				}
				paused[n] = false
			case Kill, Term:
				if st.undo {
					stopped[n] = false
					continue
				}
				if down[hostOf(n)] {
					return fail("its host %s is down", hostOf(n))
				}
				if stopped[n] {
					return fail("process %s is already stopped", n)
				}
				stopped[n] = true
			case Start:
				if down[hostOf(n)] {
					return fail("its host %s is down", hostOf(n))
				}
				if !stopped[n] {
					return fail("process %s is running", n)
				}
				stopped[n] = false
			}
		}
	}
	return nil
}

package harness

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Fault kinds a generated schedule may use.
const (
	KindPartition = "partition"
	KindIsolate   = "isolate"
	KindCrash     = "crash"
	KindKill      = "kill"
	// KindTerm stops a process gracefully; not in AllKinds (scenarios
	// whose processes handle it ask for it).
	KindTerm      = "term"
	KindPause     = "pause"
	KindClockJump = "clock-jump"
	KindClockRate = "clock-rate"
	KindNet       = "net"
	// KindComposite strikes one host or role with two or three faults at
	// once ("pause @raft-leader + isolate @raft-leader hold"): a pause, a
	// cut of any form, a skewed clock, a slow disk, degraded links.
	KindComposite = "composite"
	KindDisk      = "disk"
	// KindPowerLoss crashes a majority of the hosts, or all, at once (a
	// rack or a datacenter loses power) and boots them together: the
	// fault that finds acknowledgements sent before the disk had them.
	// MaxDown does not bound it.
	KindPowerLoss = "power-loss"
	// KindSignal tells a process of a fault the model plays (Signal),
	// drawn from GenOptions.Signals; not in AllKinds (scenarios whose
	// processes play signals ask for it).
	KindSignal = "signal"
)

// SignalSpec is a signal a scenario's processes play: generated entries
// send it to one of Roles or Procs.
type SignalSpec struct {
	Name  string
	Roles []Role
	Procs []string
}

// AllKinds lists every generated fault kind.
var AllKinds = []string{KindPartition, KindIsolate, KindCrash, KindKill, KindPause,
	KindClockJump, KindClockRate, KindNet, KindComposite, KindDisk, KindPowerLoss}

// FaultRates are the fault rates (faults per simulated hour) a run draws
// from when its options pin none: 1 to 16 a minute.
var FaultRates = []int{60, 120, 240, 480, 960}

// AimShares are the shares of entries aimed at cues (percent) a run draws
// from when its options pin none.
var AimShares = []int{0, 25, 50}

// Source is where a generator's choices come from. One generator serves
// both of hasim's uses: a seeded stream (hasim run and soak, where a seed is
// all there is) and rapid (properties, whose draws are recorded and
// shrunk). Every draw carries a label, which rapid prints with a failing
// case; a seeded stream ignores it. *Rand is a Source.
type Source interface {
	// Int returns a value in [lo, hi] (lo when hi <= lo); it shrinks
	// toward lo.
	Int(label string, lo, hi int64) int64
	// Bool returns true or false; it shrinks toward false.
	Bool(label string) bool
	// Repeat calls item between lo and hi times, each drawing one item
	// from the source it is given: on a seeded stream about mean/1000
	// times (mean is in thousandths); under rapid, as rapid sees fit,
	// shrinking items away one by one.
	Repeat(label string, lo, hi int, mean int64, item func(Source))
}

// Int implements Source.
func (r *Rand) Int(_ string, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + r.r.Int64N(hi-lo+1)
}

// Bool implements Source.
func (r *Rand) Bool(string) bool { return r.r.IntN(2) == 1 }

// Repeat implements Source: the count is uniform in [0, 2·mean] (so its
// average is mean; integers only, the same on every machine), clamped to
// [lo, hi].
func (r *Rand) Repeat(_ string, lo, hi int, mean int64, item func(Source)) {
	n := int((r.r.Int64N(2*max(mean, 0)+1) + 500) / 1000)
	n = min(max(n, lo), hi)
	for range n {
		item(r)
	}
}

// CueSpec describes a cue that faults may be aimed at (see Entry): an
// aimed entry fires between Early and Late after the moment the cue names
// (Early negative: before a deadline the cue announces), which is at most
// Ahead after the cue is given. Besides @cued, the process that gave the
// cue, aimed faults may strike the Roles. Weight (default 1) makes an
// aimed entry pick the cue that many times as often: rare moments get more
// of the faults waiting for them. Kinds, if set, are the fault kinds that
// fit the moment (a kill right after a write, say, rather than a clock
// jump): an entry aimed at the cue draws its kind from those of them the
// run enabled, and is not aimed when the run enabled none of them. Nth >
// 1 lets an aimed entry wait for any of the first Nth cues from its At (a
// cue given in bursts, such as a reconcile's writes, whose last matters as
// much as its first). MinFor is how long an aimed entry lasts at least,
// when what the moment is about takes that long to matter (a write held
// past its writer's lease); Hold makes the cuts and isolations aimed at
// it hold messages rather than drop them (what matters is a message that
// lands late).
type CueSpec struct {
	Name        string
	Early, Late time.Duration
	Ahead       time.Duration
	Roles       []Role
	Weight      int
	Kinds       []string
	Nth         int
	MinFor      time.Duration
	Hold        bool
}

// GenOptions shape a generated schedule.
type GenOptions struct {
	// Duration is the run's length; Settle the quiet tail at its end, by
	// which every fault has been undone (so recovery can be judged).
	Duration, Settle time.Duration
	// Hosts may be crashed, paused, isolated, skewed; Procs may be killed.
	Hosts, Procs []string
	// Roles may stand in for hosts and processes.
	Roles []Role
	// Kinds the scenario can take; empty means AllKinds. Each run enables
	// a random subset of them (swarm testing: some runs hammer one kind,
	// others mix them), unless AllEnabled.
	Kinds      []string
	AllEnabled bool
	// Rate is how many faults a simulated hour brings on average, so that
	// longer runs get more faults, not sparser ones; 0 draws one of
	// FaultRates per run.
	Rate int
	// Entries, if positive, draws exactly that many entries instead (some
	// may be dropped as invalid).
	Entries int
	// MaxDown bounds how many hosts are crashed or paused at once; 0 means
	// a minority of Hosts.
	MaxDown int
	// MaxFor bounds each fault's length; 0 means 20s.
	MaxFor time.Duration
	// MinClock and MaxClock bound drawn clock rates (0: 0.5x and 2x);
	// MaxPause bounds how long a host stays paused (0: MaxFor). Leader
	// election's safety envelope is such bounds.
	MinClock, MaxClock Rate
	MaxPause           time.Duration
	// Signals are the model's own faults its processes play (KindSignal
	// draws from them).
	Signals []SignalSpec
	// Cues are the moments the scenario's components announce, which
	// entries may be aimed at; Aim is the share of entries aimed at them,
	// in percent (0 draws one of AimShares per run; negative: none).
	Cues []CueSpec
	Aim  int
}

// GenerateSchedule draws a schedule from a seeded stream (hasim run, soak).
func GenerateSchedule(r *Rand, o GenOptions) Schedule { return Generate(r, o) }

// Generate draws a random valid schedule: every fault is undone by
// Duration-Settle, no concrete host is crashed or paused twice at once, at
// most MaxDown hosts are down or paused together, and values stay within
// the options' bounds. Entries come at a constant rate over the fault
// window; each may target a host or a role, be a composite of faults on
// one target, or be aimed at a cue.
func Generate(src Source, o GenOptions) Schedule {
	o.fill()
	horizon := o.Duration - o.Settle
	if horizon < time.Second+time.Millisecond || len(o.Hosts) == 0 {
		return nil
	}
	var kinds []string
	for _, k := range o.Kinds {
		if o.AllEnabled || src.Bool("enable "+k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return nil // a fault-free run: swarm testing keeps some
	}
	rate := o.Rate
	if rate == 0 {
		rate = FaultRates[src.Int("faults_per_hour", 0, int64(len(FaultRates)-1))]
	}
	aim := o.Aim
	if aim == 0 && len(o.Cues) > 0 {
		aim = AimShares[src.Int("aim_share", 0, int64(len(AimShares)-1))]
	}
	if len(o.Cues) == 0 {
		aim = -1
	}
	g := &gen{o: o, kinds: kinds, horizon: horizon, aim: aim}
	lo, hi, mean := 0, maxEntries(rate, horizon), int64(rate)*int64(horizon)/int64(time.Hour/1000)
	if o.Entries > 0 {
		lo, hi, mean = o.Entries, o.Entries, int64(o.Entries)*1000
	}
	var drawn []Entry
	src.Repeat("faults", lo, hi, mean, func(s Source) {
		if e, ok := g.entry(s); ok {
			drawn = append(drawn, e)
		}
	})
	sort.SliceStable(drawn, func(i, j int) bool { return drawn[i].At < drawn[j].At })
	return g.keep(drawn)
}

// maxEntries caps a run's entries at four times the mean (and at least 8).
func maxEntries(rate int, horizon time.Duration) int {
	return max(8, int(4*int64(rate)*int64(horizon)/int64(time.Hour)))
}

func (o *GenOptions) fill() {
	if len(o.Kinds) == 0 {
		o.Kinds = AllKinds
	}
	if o.MaxFor == 0 {
		o.MaxFor = 20 * time.Second
	}
	if o.MaxPause == 0 {
		o.MaxPause = o.MaxFor
	}
	if o.MinClock == 0 {
		o.MinClock = 500_000
	}
	if o.MaxClock == 0 {
		o.MaxClock = 2_000_000
	}
	if o.MaxDown == 0 {
		o.MaxDown = (len(o.Hosts) - 1) / 2
	}
}

type gen struct {
	o       GenOptions
	kinds   []string
	horizon time.Duration
	aim     int
}

func millis(s Source, label string, lo, hi time.Duration) time.Duration {
	return time.Duration(s.Int(label, int64(lo/time.Millisecond), int64(hi/time.Millisecond))) * time.Millisecond
}

// logMillis draws a duration in [lo, hi] spread evenly over its orders of
// magnitude: a doubling bucket first, then a millisecond in it. Short
// faults (around a timeout) and long ones (past a lease, a grace period)
// both come up, whatever the range. Integers only.
func logMillis(s Source, label string, lo, hi time.Duration) time.Duration {
	buckets := 0
	for b := lo; b < hi; b *= 2 {
		buckets++
	}
	k := s.Int(label+"_scale", 0, int64(max(buckets-1, 0)))
	from := lo << k
	return millis(s, label+"_ms", from, min(2*from, hi))
}

func pick[T any](s Source, label string, list []T) T {
	return list[s.Int(label, 0, int64(len(list)-1))]
}

// entry draws one entry; false when it cannot fit.
func (g *gen) entry(s Source) (Entry, bool) {
	o := g.o
	e := Entry{At: millis(s, "at_ms", 0, g.horizon-time.Second)}
	var cue *CueSpec
	// Drawn so that shrinking (toward 0) makes the entry plain.
	kinds := g.kinds
	if g.aim > 0 && s.Int("aimed", 0, 99) >= int64(100-g.aim) {
		cue = g.pickCue(s)
		if cue.Kinds != nil {
			kinds = fitting(g.kinds, cue.Kinds)
			if len(kinds) == 0 {
				cue, kinds = nil, g.kinds
			}
		}
	}
	minFor, maxFor := 500*time.Millisecond, min(g.horizon-e.At, o.MaxFor)
	if cue != nil {
		minFor = max(minFor, cue.MinFor)
		maxFor = min(maxFor, g.horizon-e.At-cue.Ahead-max(cue.Late, 0)-time.Second)
	}
	if maxFor < minFor {
		return Entry{}, false
	}
	e.For = logMillis(s, "for", minFor, maxFor)
	hold := func() bool { return cue != nil && cue.Hold || s.Bool("hold") }
	target := func(label string) Target {
		if cue != nil {
			if k := s.Int(label+" aimed at", 0, int64(len(cue.Roles))); k > 0 {
				return RoleT(cue.Roles[k-1])
			}
			return RoleT(CuedRole)
		}
		if len(o.Roles) > 0 && s.Bool(label+" is a role") {
			return RoleT(pick(s, label+" role", o.Roles))
		}
		return HostT(pick(s, label, o.Hosts))
	}
	switch kind := pick(s, "kind", kinds); kind {
	case KindPartition:
		if cue != nil {
			e.Faults = []Fault{g.cut(s, target("host"), hold)}
			break
		}
		perm := g.perm(s, "hosts")
		if len(perm) < 2 {
			return Entry{}, false
		}
		k := int(s.Int("split", 1, int64(len(perm)-1)))
		e.Faults = []Fault{Partition{A: hostTargets(perm[:k]), B: hostTargets(perm[k:]),
			OneWay: s.Bool("one way"), Hold: s.Bool("hold")}}
	case KindIsolate:
		e.Faults = []Fault{Isolate{Host: target("host"), Hold: hold()}}
	case KindCrash:
		e.Faults = []Fault{Crash{target("host")}}
	case KindSignal:
		if len(o.Signals) == 0 {
			return Entry{}, false
		}
		sig := pick(s, "signal", o.Signals)
		n := len(sig.Roles) + len(sig.Procs)
		if n == 0 {
			return Entry{}, false
		}
		var p Target
		if k := int(s.Int("signal target", 0, int64(n-1))); k < len(sig.Roles) {
			p = RoleT(sig.Roles[k])
		} else {
			p = HostT(sig.Procs[k-len(sig.Roles)])
		}
		e.Faults = []Fault{Signal{Proc: p, Name: sig.Name}}
	case KindPowerLoss:
		perm := g.perm(s, "hosts")
		n := int(s.Int("hosts_down", int64(len(perm)/2+1), int64(len(perm))))
		if cue != nil {
			// The cued host goes down with the others.
			e.Faults = append(e.Faults, Crash{RoleT(CuedRole)})
			n--
		}
		for _, h := range perm[:n] {
			e.Faults = append(e.Faults, Crash{HostT(h)})
		}
	case KindPause:
		e.Faults = []Fault{Pause{target("host")}}
	case KindKill, KindTerm:
		var p Target
		switch {
		case cue != nil:
			p = target("process")
		case len(o.Procs) == 0:
			return Entry{}, false
		case len(o.Roles) > 0 && s.Bool("process is a role"):
			p = RoleT(pick(s, "process role", o.Roles))
		default:
			p = HostT(pick(s, "process", o.Procs))
		}
		if kind == KindTerm {
			e.Faults = []Fault{Term{p}}
		} else {
			e.Faults = []Fault{Kill{p}}
		}
	case KindClockJump:
		// NTP slews small errors and steps large ones; a VM resumed after
		// a long stall, or a host booted without its RTC, steps by much.
		by := logMillis(s, "jump", time.Millisecond, time.Minute)
		if s.Bool("jump back") {
			by = -by
		}
		e.For = 0
		e.Faults = []Fault{ClockJump{Host: target("host"), By: by}}
	case KindClockRate:
		e.Faults = []Fault{ClockRate{Host: target("host"), Rate: g.clockRate(s)}}
	case KindDisk:
		e.Faults = []Fault{DiskSlow{Host: target("host"), Latency: millis(s, "disk_ms", 10*time.Millisecond, time.Second)}}
	case KindNet:
		f := g.net(s)
		switch {
		case cue != nil:
			f.A, f.B = []Target{target("host")}, hostTargets(g.others(s, ""))
		case len(o.Hosts) >= 2 && s.Bool("between two groups"):
			perm := g.perm(s, "hosts")
			k := int(s.Int("split", 1, int64(len(perm)-1)))
			f.A, f.B = hostTargets(perm[:k]), hostTargets(perm[k:])
		}
		e.Faults = []Fault{f}
	case KindComposite:
		t := target("host")
		parts := []string{"pause", "isolate", "cut", "clock", "disk", "net"}
		n := int(s.Int("parts", 2, 3))
		for range n {
			i := int(s.Int("part", 0, int64(len(parts)-1)))
			switch parts[i] {
			case "pause":
				e.Faults = append(e.Faults, Pause{t})
			case "isolate":
				e.Faults = append(e.Faults, Isolate{Host: t, Hold: hold()})
			case "cut":
				e.Faults = append(e.Faults, g.cut(s, t, hold))
			case "clock":
				e.Faults = append(e.Faults, ClockRate{Host: t, Rate: g.clockRate(s)})
			case "disk":
				e.Faults = append(e.Faults, DiskSlow{Host: t, Latency: millis(s, "disk_ms", 10*time.Millisecond, time.Second)})
			case "net":
				f := g.net(s)
				f.A, f.B = []Target{t}, hostTargets(g.others(s, ""))
				e.Faults = append(e.Faults, f)
			}
			parts = append(parts[:i:i], parts[i+1:]...)
		}
	default:
		panic("hasim: unknown fault kind " + kind)
	}
	for _, f := range e.Faults {
		if _, ok := f.(Pause); ok {
			e.For = min(e.For, o.MaxPause)
		}
	}
	if cue != nil {
		e.On = cue.Name
		if cue.Nth > 1 {
			if n := int(s.Int("nth", 1, int64(cue.Nth))); n > 1 {
				e.Nth = n
			}
		}
		e.Offset = millis(s, "offset_ms", cue.Early, cue.Late)
		e.Within = g.horizon - e.At - cue.Ahead - max(e.Offset, 0) - e.For
		if e.Within < time.Second {
			return Entry{}, false
		}
		e.Within = e.Within.Truncate(time.Second)
	}
	return e, true
}

// pickCue draws a cue, each as often as its weight.
func (g *gen) pickCue(s Source) *CueSpec {
	total := 0
	for _, c := range g.o.Cues {
		total += max(c.Weight, 1)
	}
	k := int(s.Int("cue", 0, int64(total-1)))
	for i := range g.o.Cues {
		if k -= max(g.o.Cues[i].Weight, 1); k < 0 {
			return &g.o.Cues[i]
		}
	}
	panic("unreachable")
}

// fitting returns the enabled kinds that fit a cue, in enabled's order.
func fitting(enabled, fit []string) []string {
	var out []string
	for _, k := range enabled {
		if slices.Contains(fit, k) {
			out = append(out, k)
		}
	}
	return out
}

// cut draws a partition between a target and some other hosts, of any
// form: both ways or one way (either direction), dropping or holding (as
// hold says).
func (g *gen) cut(s Source, t Target, hold func() bool) Partition {
	p := Partition{A: []Target{t}, B: hostTargets(g.others(s, t.Name)), OneWay: s.Bool("one way"), Hold: hold()}
	if p.OneWay && s.Bool("inbound") {
		p.A, p.B = p.B, p.A
	}
	return p
}

// others draws a non-empty set of hosts other than not (a host name; a
// role may be any host, so none is left out for it).
func (g *gen) others(s Source, not string) []string {
	var pool []string
	for _, h := range g.o.Hosts {
		if h != not {
			pool = append(pool, h)
		}
	}
	if len(pool) == 0 {
		return g.o.Hosts
	}
	perm := permute(s, "others", pool)
	return perm[:s.Int("others_n", 1, int64(len(perm)))]
}

func (g *gen) perm(s Source, label string) []string { return permute(s, label, g.o.Hosts) }

// permute draws a permutation of list (Fisher-Yates from the end).
func permute(s Source, label string, list []string) []string {
	p := append([]string(nil), list...)
	for i := len(p) - 1; i > 0; i-- {
		j := int(s.Int(label+" swap "+strconv.Itoa(i), 0, int64(i)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// clockRate draws a rate within the options' bounds in steps of 0.05x,
// never exactly 1x.
func (g *gen) clockRate(s Source) Rate {
	lo, hi := int64(g.o.MinClock/50_000), int64(g.o.MaxClock/50_000)
	r := Rate(s.Int("rate_twentieths", lo, hi)) * 50_000
	if r == RateOne {
		if g.o.MaxClock > RateOne {
			r = min(RateOne+50_000, g.o.MaxClock)
		} else {
			r = max(RateOne-50_000, g.o.MinClock)
		}
	}
	return r
}

// net draws degraded link conditions: some of loss, delay with jitter,
// duplication and reordering.
func (g *gen) net(s Source) NetFault {
	f := NetFault{}
	if s.Bool("loss") {
		f.Set |= SetLoss
		f.Loss = Prob(s.Int("loss_tenths_pct", 1, 500)) * 1000
	}
	if s.Bool("delay") {
		f.Set |= SetDelay | SetJitter
		f.Delay = millis(s, "delay_ms", time.Millisecond, 300*time.Millisecond)
		f.Jitter = millis(s, "jitter_ms", 0, 100*time.Millisecond)
	}
	if s.Bool("dup") {
		f.Set |= SetDup
		f.Dup = Prob(s.Int("dup_tenths_pct", 1, 300)) * 1000
	}
	if s.Bool("reorder") {
		f.Set |= SetReorder
		f.Reorder = Prob(s.Int("reorder_tenths_pct", 1, 500)) * 1000
	}
	if f.Set == 0 {
		f.Set, f.Loss = SetLoss, 100_000
	}
	return f
}

func hostTargets(hosts []string) []Target {
	out := make([]Target, len(hosts))
	for i, h := range hosts {
		out[i] = HostT(h)
	}
	return out
}

// keep takes drawn entries in time order and keeps those that fit: no
// concrete host crashed or paused twice at once, a killed process's host
// not crashed or paused meanwhile, one slow-disk fault per host at a
// time, at most MaxDown hosts down or paused together, and a schedule
// that validates.
func (g *gen) keep(drawn []Entry) Schedule {
	type busy struct{ from, to time.Duration }
	hostBusy := map[string][]busy{}
	var downs []busy
	free := func(list []busy, from, to time.Duration) bool {
		for _, b := range list {
			if from < b.to && b.from < to {
				return false
			}
		}
		return true
	}
	topo := genTopology{g.o}
	var out Schedule
	for _, e := range drawn {
		from, to := e.At, e.End()
		var claims []string // host busy keys this entry takes
		down := false
		ok := true
		powerLoss := len(e.Faults) > 1 && !slices.ContainsFunc(e.Faults, func(f Fault) bool { _, c := f.(Crash); return !c })
		for _, f := range e.Faults {
			var t Target
			key := ""
			switch f := f.(type) {
			case Crash:
				t, key, down = f.Host, "", true
			case Pause:
				t, key, down = f.Host, "", true
			case DiskSlow:
				t, key = f.Host, "disk/"
			case Kill:
				t, key = f.Proc, ""
			case Term:
				t, key = f.Proc, ""
			default:
				continue
			}
			if e.Aimed() {
				// Its time depends on its cue: the kernel skips what does
				// not apply when it fires.
				down = false
				break
			}
			if t.Role {
				continue
			}
			name := t.Name
			if h, _, isProc := strings.Cut(name, "/"); isProc {
				// A process is killed on a host that stays up meanwhile,
				// and the host is not crashed or paused while it is dead.
				claims = append(claims, "proc/"+name, h)
				continue
			}
			claims = append(claims, key+name)
		}
		for _, c := range claims {
			ok = ok && free(hostBusy[c], from, to)
		}
		if down && !powerLoss {
			n := 0
			for _, b := range downs {
				if from < b.to && b.from < to {
					n++
				}
			}
			ok = ok && n < g.o.MaxDown
		}
		if !ok {
			continue
		}
		next := append(append(Schedule(nil), out...), e)
		if next.Validate(topo, g.o.Duration) != nil {
			continue
		}
		out = next
		for _, c := range claims {
			hostBusy[c] = append(hostBusy[c], busy{from, to})
		}
		if down {
			downs = append(downs, busy{from, to})
		}
	}
	return out
}

// Topology is what schedules for these options are validated against: the
// hosts, processes and roles faults may name, and the cues entries may be
// aimed at.
func (o GenOptions) Topology() Topology { return genTopology{o} }

// genTopology is what generated schedules are validated against.
type genTopology struct{ o GenOptions }

func (t genTopology) Hosts() []string { return t.o.Hosts }
func (t genTopology) Procs() []string { return t.o.Procs }
func (t genTopology) Roles() []string {
	out := make([]string, len(t.o.Roles))
	for i, r := range t.o.Roles {
		out[i] = string(r)
	}
	return out
}
func (t genTopology) Signals() []string {
	out := make([]string, len(t.o.Signals))
	for i, c := range t.o.Signals {
		out[i] = c.Name
	}
	return out
}
func (t genTopology) Cues() []string {
	out := make([]string, len(t.o.Cues))
	for i, c := range t.o.Cues {
		out[i] = c.Name
	}
	return out
}

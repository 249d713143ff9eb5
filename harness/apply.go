package harness

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FaultRecord is what happened to one schedule entry during a run, for
// checkers and reports (timelines, annotations of counterexamples).
type FaultRecord struct {
	Entry    int           // 1-based index in the schedule
	At       time.Duration // when it fired
	End      time.Duration // when it was undone; -1 if it never was
	Text     string        // the entry's text, with role targets resolved
	Hosts    []string      // hosts it acted on
	Skipped  []string      // parts that did not apply when they fired, and why
	Resolved map[string]string
	Faults   []Fault // the entry's faults (role targets as written; see Resolved)
}

// Applied reports whether fault i of the record took effect (it was not
// skipped when it fired).
func (r FaultRecord) Applied(i int) bool {
	prefix := r.Faults[i].String() + ": "
	for _, s := range r.Skipped {
		// "no holder for @role": the whole entry was skipped.
		if strings.HasPrefix(s, noHolder) || strings.HasPrefix(s, prefix) {
			return false
		}
	}
	return true
}

const noHolder = "no holder for "

type firing struct {
	entry  Entry
	index  int
	undo   bool
	parent int // for an undo: the firing it undoes
	undos  []func()
	rec    int
	cued   ProcID // for an aimed entry: the process that gave its cue
	seen   int    // for an aimed entry: the cues it let pass (see Entry.Nth)
}

// FaultLog returns what the schedule did during the run, in firing order.
func (s *Sim) FaultLog() []FaultRecord { return s.faultLog }

// LastFaultEnd returns the last instant at which a fault fired or was undone.
func (s *Sim) LastFaultEnd() time.Duration {
	var t time.Duration
	for _, r := range s.faultLog {
		if r.At > t {
			t = r.At
		}
		if r.End > t {
			t = r.End
		}
	}
	return t
}

// load queues every entry of a schedule; aimed entries wait for their cues.
func (s *Sim) load(sched Schedule) {
	for i, e := range sched {
		s.faults = append(s.faults, firing{entry: e, index: i + 1, cued: NoProc})
		if e.Aimed() {
			s.armed = append(s.armed, len(s.faults)-1)
			continue
		}
		s.push(event{at: e.At, kind: evFault, ref: uint32(len(s.faults) - 1)})
	}
}

// cue is a component's cue: the moment named name is in (on p's local
// clock) from now. Each aimed entry waiting for it since its At, and not
// past its Within, fires Offset after that moment (now at the earliest),
// unless it lets this cue pass (an Nth cue yet to come).
func (s *Sim) cue(p *proc, name string, in time.Duration) {
	n := 0
	for _, ref := range s.armed {
		f := &s.faults[ref]
		e := f.entry
		switch {
		case e.Within > 0 && s.now > e.At+e.Within:
			s.traceFault("fault-expired", f.index, "no cue "+e.On+" within "+e.Within.String())
			continue
		case e.On != name || s.now < e.At:
			s.armed[n] = ref
			n++
			continue
		case f.seen+1 < e.Nth:
			f.seen++
			s.armed[n] = ref
			n++
			continue
		}
		h := s.hosts[p.host]
		at := h.clock.TrueAt(s.now, h.clock.Read(s.now)+max(in, 0)) + e.Offset
		at = max(at, s.now)
		f.cued = p.id
		if s.tr.on {
			b := s.tr.begin(s.now)
			b = fmt.Appendf(b, "cue #%d %s by %s in %s: fires at %s", f.index, name, p.name, in, at)
			s.tr.end(b)
		}
		s.push(event{at: at, kind: evFault, ref: uint32(ref)})
	}
	s.armed = s.armed[:n]
}

// unfired traces the aimed entries whose cue never came.
func (s *Sim) unfired() {
	for _, ref := range s.armed {
		f := &s.faults[ref]
		what := "no cue " + f.entry.On
		if f.entry.Nth > 1 {
			what = fmt.Sprintf("%s (%d of %d came)", what, f.seen, f.entry.Nth)
		}
		s.traceFault("fault-unfired", f.index, what)
	}
	s.armed = nil
}

func (s *Sim) traceFault(verb string, index int, text string) {
	if !s.tr.on {
		return
	}
	b := s.tr.begin(s.now)
	b = append(b, verb...)
	b = fmt.Appendf(b, " #%d ", index)
	b = append(b, text...)
	s.tr.end(b)
}

// entryBody is an entry's text without its time (and cue).
func entryBody(e Entry) string {
	e.At, e.On, e.Nth, e.Offset, e.Within = 0, "", 0, 0, 0
	_, body, _ := strings.Cut(e.String(), " ")
	_, body, _ = strings.Cut(body, " ")
	return body
}

func (s *Sim) fire(ref uint32) {
	f := &s.faults[ref]
	if f.undo {
		parent := &s.faults[f.parent]
		for _, u := range parent.undos {
			u()
		}
		s.faultLog[parent.rec].End = s.now
		s.traceFault("fault-end", parent.index, s.faultLog[parent.rec].Text)
		return
	}
	rec := FaultRecord{Entry: f.index, At: s.now, End: -1, Resolved: map[string]string{}, Faults: f.entry.Faults}
	// Resolve every role once for the whole entry.
	var missing []string
	for _, flt := range f.entry.Faults {
		for _, t := range flt.targets() {
			if !t.Role {
				continue
			}
			if _, done := rec.Resolved[t.Name]; done {
				continue
			}
			if t.Name == string(CuedRole) {
				rec.Resolved[t.Name] = s.procs[f.cued].name
				continue
			}
			if p, ok := s.resolveRole(t.Name); ok {
				rec.Resolved[t.Name] = s.procs[p].name
			} else {
				rec.Resolved[t.Name] = ""
				missing = append(missing, "@"+t.Name)
			}
		}
	}
	rec.Text = entryBody(f.entry)
	if len(rec.Resolved) > 0 {
		var parts []string
		for _, r := range SortedKeys(rec.Resolved) {
			v := rec.Resolved[r]
			if v == "" {
				v = "none"
			}
			parts = append(parts, "@"+r+"="+v)
		}
		rec.Text += " [" + strings.Join(parts, " ") + "]"
	}
	if len(missing) > 0 {
		rec.Skipped = append(rec.Skipped, noHolder+strings.Join(missing, ", "))
		s.faultLog = append(s.faultLog, rec)
		s.traceFault("fault-skipped", f.index, rec.Text)
		return
	}
	f.rec = len(s.faultLog)
	rec.Hosts = s.hostsOf(f.entry, rec.Resolved)
	s.faultLog = append(s.faultLog, rec)
	s.traceFault("fault", f.index, rec.Text)
	s.struck(f.entry, rec.Hosts)
	for _, o := range s.onFault {
		o(rec)
	}
	for _, flt := range f.entry.Faults {
		undo, skip := s.applyFault(flt, rec.Resolved)
		if skip != "" {
			s.faultLog[f.rec].Skipped = append(s.faultLog[f.rec].Skipped, flt.String()+": "+skip)
			s.traceFault("fault-part-skipped", f.index, flt.String()+": "+skip)
			continue
		}
		if undo != nil {
			f.undos = append(f.undos, undo)
		}
	}
	if f.entry.For > 0 {
		s.faults = append(s.faults, firing{undo: true, parent: int(ref), index: f.index})
		s.push(event{at: s.now + f.entry.For, kind: evFault, ref: uint32(len(s.faults) - 1)})
	}
}

// StateReporter is implemented by processes that can say which of their
// states a fault may strike ("read-index": a linearizable read is waiting
// on its read index). When a fault hits a host, the kernel counts the
// coverage mark "fault-during/<state>" for each state of each process
// running there: soaks then show how often faults reach the moments that
// matter. now is the host's monotonic clock (Ctx.Now); States appends to
// dst and returns it, and must not change the process.
type StateReporter interface {
	States(now time.Duration, dst []string) []string
}

// struck counts the coverage marks of a fault about to take effect on the
// given hosts: the states it strikes there, and messages caught in flight
// by a pause, a crash or a cut.
func (s *Sim) struck(e Entry, hosts []string) {
	hit := map[HostID]bool{}
	for _, name := range hosts {
		hit[s.hostByName[name]] = true
	}
	seen := map[string]bool{}
	for _, name := range hosts {
		h := s.hosts[s.hostByName[name]]
		for _, pid := range h.procs {
			r, ok := s.procs[pid].inst.(StateReporter)
			if !ok {
				continue
			}
			s.states = r.States(h.clock.Read(s.now), s.states[:0])
			for _, st := range s.states {
				if !seen[st] {
					seen[st] = true
					s.Mark("fault-during/" + st)
				}
			}
		}
	}
	for _, f := range e.Faults {
		var mark string
		switch f.(type) {
		case Pause:
			mark = "pause-mid-flight"
		case Crash:
			mark = "crash-mid-flight"
		case Partition, Isolate:
			mark = "cut-mid-flight"
		default:
			continue
		}
		if !seen[mark] && s.inFlight(hit) {
			seen[mark] = true
			s.Mark(mark)
		}
	}
}

// inFlight reports whether a message between two hosts is on its way to
// or from one of the given hosts (sent, not yet delivered or dropped).
func (s *Sim) inFlight(hosts map[HostID]bool) bool {
	for i := range s.msgs {
		m := &s.msgs[i]
		if m.msg.ID == 0 {
			continue // a free slot
		}
		from, to := s.procs[m.msg.From].host, s.procs[m.msg.To].host
		if from != to && (hosts[from] || hosts[to]) {
			return true
		}
	}
	return false
}

func (s *Sim) resolveRole(name string) (ProcID, bool) {
	r := s.roles[name]
	if r == nil {
		return NoProc, false
	}
	p, ok := r()
	if !ok || p < 0 || int(p) >= len(s.procs) {
		return NoProc, false
	}
	return p, true
}

func (s *Sim) hostOf(t Target, res map[string]string) HostID {
	name := t.Name
	if t.Role {
		name = res[t.Name]
	}
	if h, _, ok := strings.Cut(name, "/"); ok {
		name = h
	}
	id, ok := s.hostByName[name]
	if !ok {
		panic(fmt.Sprintf("hasim: fault names unknown host %q (validate schedules before running them)", name))
	}
	return id
}

func (s *Sim) procOf(t Target, res map[string]string) ProcID {
	name := t.Name
	if t.Role {
		name = res[t.Name]
	}
	id, ok := s.procByName[name]
	if !ok {
		panic(fmt.Sprintf("hasim: fault names unknown process %q (validate schedules before running them)", name))
	}
	return id
}

func (s *Sim) hostsOf(e Entry, res map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range e.Faults {
		for _, t := range f.targets() {
			h := s.hosts[s.hostOf(t, res)].name
			if !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
	}
	return out
}

func (s *Sim) hostSet(ts []Target, res map[string]string) []HostID {
	var out []HostID
	for _, t := range ts {
		out = append(out, s.hostOf(t, res))
	}
	return out
}

// applyFault carries out one fault now. It returns how to undo it, or why
// it did not apply.
func (s *Sim) applyFault(f Fault, res map[string]string) (undo func(), skip string) {
	switch f := f.(type) {
	case Partition:
		id := s.net.addCut(cut{from: s.hostSet(f.A, res), to: s.hostSet(f.B, res), symmetric: !f.OneWay, hold: f.Hold})
		return func() { s.net.removeCut(id) }, ""
	case Isolate:
		h := s.hostOf(f.Host, res)
		var others []HostID
		for _, o := range s.hosts {
			if o.id != h {
				others = append(others, o.id)
			}
		}
		id := s.net.addCut(cut{from: []HostID{h}, to: others, symmetric: true, hold: f.Hold})
		return func() { s.net.removeCut(id) }, ""
	case Heal:
		s.net.healAll()
		return nil, ""
	case Crash:
		h := s.hosts[s.hostOf(f.Host, res)]
		if !h.up {
			return nil, "host " + h.name + " is already down"
		}
		s.crashHost(h)
		return func() {
			if !h.up {
				s.restartHost(h)
			}
		}, ""
	case Restart:
		h := s.hosts[s.hostOf(f.Host, res)]
		if h.up {
			return nil, "host " + h.name + " is up"
		}
		s.restartHost(h)
		return nil, ""
	case Kill:
		p := s.procs[s.procOf(f.Proc, res)]
		if p.inst == nil {
			return nil, "process " + p.name + " is not running"
		}
		s.stopProc(p, StopKilled)
		return func() {
			if p.inst == nil && s.hosts[p.host].up {
				s.startOrDefer(p)
			}
		}, ""
	case Signal:
		p := s.procs[s.procOf(f.Proc, res)]
		if p.inst == nil {
			return nil, "process " + p.name + " is not running"
		}
		inc := p.inc
		s.step(p, Input{Kind: InputSignal, Tag: f.Name, Arg: 1})
		return func() {
			if p.inst != nil && p.inc == inc {
				s.step(p, Input{Kind: InputSignal, Tag: f.Name})
			}
		}, ""
	case Term:
		p := s.procs[s.procOf(f.Proc, res)]
		if p.inst == nil {
			return nil, "process " + p.name + " is not running"
		}
		inc := p.inc
		undo := func() {
			switch {
			case p.inst == nil && s.hosts[p.host].up:
				s.startOrDefer(p)
			case p.inst != nil && p.inc == inc:
				// Still stopping: start again once it has.
				p.restartOnStop = true
			}
		}
		if t, ok := p.inst.(Terminator); !ok || !t.Terminates() || s.hosts[p.host].paused {
			s.stopProc(p, StopTerminated)
			return undo, ""
		}
		s.step(p, Input{Kind: InputStop})
		s.At(s.now+TermGrace, func() {
			if p.inc == inc && p.inst != nil {
				restart := p.restartOnStop
				s.stopProc(p, StopGraceExpired)
				if restart {
					s.startOrDefer(p)
				}
			}
		})
		return undo, ""
	case Start:
		p := s.procs[s.procOf(f.Proc, res)]
		if p.inst != nil {
			return nil, "process " + p.name + " is running"
		}
		if !s.hosts[p.host].up {
			return nil, "host " + s.hosts[p.host].name + " is down"
		}
		s.startOrDefer(p)
		return nil, ""
	case Pause:
		h := s.hosts[s.hostOf(f.Host, res)]
		if !h.up {
			return nil, "host " + h.name + " is down"
		}
		if h.paused {
			return nil, "host " + h.name + " is already paused"
		}
		h.paused = true
		inc := h.inc
		return func() {
			if h.paused && h.inc == inc {
				s.resumeHost(h)
			}
		}, ""
	case Resume:
		h := s.hosts[s.hostOf(f.Host, res)]
		if !h.paused {
			return nil, "host " + h.name + " is not paused"
		}
		s.resumeHost(h)
		return nil, ""
	case ClockJump:
		h := s.hosts[s.hostOf(f.Host, res)]
		h.clock.Jump(f.By)
		return nil, ""
	case ClockRate:
		h := s.hosts[s.hostOf(f.Host, res)]
		s.nextRateID++
		id := s.nextRateID
		h.rates = append(h.rates, rateMod{id: id, rate: f.Rate})
		s.setRate(h)
		return func() {
			for i, m := range h.rates {
				if m.id == id {
					h.rates = append(h.rates[:i], h.rates[i+1:]...)
					break
				}
			}
			s.setRate(h)
		}, ""
	case DiskSlow:
		h := s.hosts[s.hostOf(f.Host, res)]
		s.nextRateID++
		id := s.nextRateID
		h.disks = append(h.disks, diskMod{id: id, latency: f.Latency})
		h.syncLatency = f.Latency
		return func() {
			for i, m := range h.disks {
				if m.id == id {
					h.disks = append(h.disks[:i], h.disks[i+1:]...)
					break
				}
			}
			h.syncLatency = h.baseSync
			if n := len(h.disks); n > 0 {
				h.syncLatency = h.disks[n-1].latency
			}
		}, ""
	case NetFault:
		id := s.net.addMod(netMod{links: s.linksBetween(f.A, f.B, res), f: f})
		return func() { s.net.removeMod(id) }, ""
	case NetReset:
		if len(f.A) == 0 && len(f.B) == 0 {
			s.net.mods = s.net.mods[:0]
			s.net.reparam()
			return nil, ""
		}
		s.net.addMod(netMod{links: s.linksBetween(f.A, f.B, res), reset: true})
		return nil, ""
	}
	panic(fmt.Sprintf("hasim: unknown fault type %T", f))
}

// linksBetween returns the indexes of the links between groups a and b
// (both ways), or of every link between distinct hosts when both are empty.
func (s *Sim) linksBetween(a, b []Target, res map[string]string) []int {
	var out []int
	add := func(x, y HostID) {
		if x != y {
			out = append(out, int(x)*s.net.n+int(y))
		}
	}
	if len(a) == 0 && len(b) == 0 {
		for x := range s.hosts {
			for y := range s.hosts {
				add(HostID(x), HostID(y))
			}
		}
		return out
	}
	for _, x := range s.hostSet(a, res) {
		for _, y := range s.hostSet(b, res) {
			add(x, y)
			add(y, x)
		}
	}
	return out
}

func (s *Sim) traceHost(verb string, h *host, extra string) {
	if !s.tr.on {
		return
	}
	b := s.tr.begin(s.now)
	b = append(b, verb...)
	b = append(b, ' ')
	b = append(b, h.name...)
	if extra != "" {
		b = append(b, ' ')
		b = append(b, extra...)
	}
	s.tr.end(b)
}

func (s *Sim) crashHost(h *host) {
	for _, p := range h.procs {
		s.stopProc(s.procs[p], StopHostCrash)
	}
	h.up, h.paused = false, false
	h.inc++
	for _, ev := range h.backlog {
		if ev.kind == evDeliver || ev.kind == evRefused {
			s.traceMsg("drop", ev.ref, "host-crash")
			s.freeMsg(ev.ref)
		}
	}
	h.backlog = h.backlog[:0]
	lost := h.disk.crash()
	if lost > 0 {
		s.Mark("crash-lost-writes")
	}
	if s.tr.on {
		s.traceHost("crash", h, "lost-writes="+strconv.Itoa(lost))
	}
}

func (s *Sim) restartHost(h *host) {
	h.up = true
	s.traceHost("boot", h, "")
	for _, p := range h.procs {
		if s.procs[p].inst == nil {
			s.startProc(p)
		}
	}
}

// startOrDefer starts a stopped process now or, if its host is paused, when
// the host resumes: a frozen host runs nothing, not even a start.
func (s *Sim) startOrDefer(p *proc) {
	if h := s.hosts[p.host]; h.paused {
		h.backlog = append(h.backlog, event{at: s.now, kind: evStart, proc: p.id, inc: p.inc})
		return
	}
	s.startProc(p.id)
}

func (s *Sim) resumeHost(h *host) {
	h.paused = false
	if s.tr.on {
		s.traceHost("resume", h, "backlog="+strconv.Itoa(len(h.backlog)))
	}
	backlog := h.backlog
	h.backlog = nil
	for _, ev := range backlog {
		ev.at = s.now
		s.push(ev)
	}
}

// Impaired says whether a disk is slowed or a link between two hosts is
// off its run's conditions now, naming the first such; "" when none. It is
// the cheap part of Disturbed, for oracles asked often.
func (s *Sim) Impaired() string {
	for _, h := range s.hosts {
		if h.syncLatency != h.baseSync {
			return "host " + h.name + " disk at " + h.syncLatency.String()
		}
	}
	for i := range s.net.links {
		if l := &s.net.links[i]; l.params != l.base && i/s.net.n != i%s.net.n {
			return "link " + s.hosts[i/s.net.n].name + "->" + s.hosts[i%s.net.n].name + " not at its conditions"
		}
	}
	return ""
}

// Disturbed lists what is still abnormal now: active partitions, hosts down
// or paused, processes not running on a running host, links not at their
// default conditions, clocks not at rate 1x. Liveness and convergence
// checks judge only an undisturbed cluster (or say unknown, naming this).
func (s *Sim) Disturbed() []string {
	var out []string
	for _, c := range s.net.cuts {
		var from, to []string
		for _, h := range c.from {
			from = append(from, s.hosts[h].name)
		}
		for _, h := range c.to {
			to = append(to, s.hosts[h].name)
		}
		sep := "|"
		if !c.symmetric {
			sep = "->"
		}
		out = append(out, fmt.Sprintf("partition {%s} %s {%s}", strings.Join(from, " "), sep, strings.Join(to, " ")))
	}
	for _, h := range s.hosts {
		switch {
		case !h.up:
			out = append(out, "host "+h.name+" down")
		case h.paused:
			out = append(out, "host "+h.name+" paused")
		default:
			for _, p := range h.procs {
				if s.procs[p].inst == nil {
					out = append(out, "process "+s.procs[p].name+" not running")
				}
			}
		}
		if h.syncLatency != h.baseSync {
			out = append(out, "host "+h.name+" disk at "+h.syncLatency.String())
		}
		if h.clock.Rate() != h.baseRate {
			out = append(out, "host "+h.name+" clock at "+h.clock.Rate().String())
		}
	}
	degraded := 0
	for i := range s.net.links {
		if l := &s.net.links[i]; l.params != l.base && i/s.net.n != i%s.net.n {
			degraded++
		}
	}
	if degraded > 0 {
		out = append(out, fmt.Sprintf("%d links not at default conditions", degraded))
	}
	return out
}

type diskMod struct {
	id      int
	latency time.Duration
}

type rateMod struct {
	id   int
	rate Rate
}

// setRate makes h's clock run at the rate of its newest active clock-rate
// fault, or at its configured rate when none is active.
func (s *Sim) setRate(h *host) {
	r := h.baseRate
	if n := len(h.rates); n > 0 {
		r = h.rates[n-1].rate
	}
	if r != h.clock.Rate() {
		h.clock.SetRate(s.now, r)
		s.retime(h)
	}
}

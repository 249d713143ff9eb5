package harness

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// ProcID names a process inside one simulation.
type ProcID int32

// HostID names a host inside one simulation.
type HostID int32

// NoProc is the ProcID of nobody.
const NoProc ProcID = -1

// TimerID identifies a timer a process set; it stays unique for the run.
type TimerID uint64

// Payload is the content of a message. Its String must be the message's
// canonical one-line form (stable, no pointers, no map order): trace lines
// and goldens are built from it. A payload on a hot path may also implement
// encoding.TextAppender with the same text, which the trace then uses to
// avoid building a string. Payloads are values: once sent, nobody mutates
// them (a receiver that needs to mutate one clones it first).
type Payload interface{ String() string }

// Message is a payload in transit between two processes.
type Message struct {
	ID       uint64 // unique for the run; a duplicate keeps its original's ID
	From, To ProcID
	Payload  Payload
}

// InputKind says what a process is handed in one step.
type InputKind uint8

const (
	// InputStart: the process has just been (re)started. Its volatile state
	// is new; durable state is on the host's disk.
	InputStart InputKind = iota + 1
	// InputMessage: Msg has been delivered.
	InputMessage
	// InputTimer: the timer Timer, set with Tag and Arg, has fired.
	InputTimer
	// InputSynced: the disk sync requested with Tag and Arg is durable.
	InputSynced
	// InputRefused: Msg, sent by this process, reached a host that is up
	// but found no process listening (connection refused). A message to a
	// host that is down or cut off is lost silently instead.
	InputRefused
	// InputStop: the process is asked to stop (a Term fault); see
	// Terminator.
	InputStop
	// InputSignal: a Signal fault named Tag fired (Arg 1) or was undone
	// (Arg 0).
	InputSignal
)

// Input is what the kernel hands a process in one step.
type Input struct {
	Kind  InputKind
	Msg   Message
	Timer TimerID
	Tag   string
	Arg   uint64
}

// Process is a simulated component: a step machine. The kernel calls Step
// with one input at a time; the process reacts through ctx (send, set
// timers, write to disk). Nothing it sends is delivered, and no timer it
// sets fires, before Step returns: only the kernel moves messages. A
// process never starts goroutines, never reads the wall clock and never
// keeps ctx past the step.
type Process interface {
	Step(ctx *Ctx, in Input)
}

// Spawn makes a fresh instance of a process: at the first start and at every
// restart, so that volatile state is lost for real.
type Spawn func() Process

type host struct {
	id          HostID
	name        string
	clock       Clock
	baseRate    Rate
	rates       []rateMod // active clock-rate faults, oldest first
	baseSync    time.Duration
	disks       []diskMod // active slow-disk faults, oldest first
	up          bool
	paused      bool
	backlog     []event
	disk        disk
	procs       []ProcID
	syncLatency time.Duration
	inc         uint32 // bumped on every crash
}

type proc struct {
	id    ProcID
	name  string // host/local
	local string
	host  HostID
	spawn Spawn
	inst  Process
	// transport: how peers reach it, declared by AddProcess.
	transport Transport
	onStop    []func(Stopped)
	inc       uint32 // bumped whenever the running instance stops
	starts    int
	rnd       *Rand
	// restartOnStop: a term fault was undone while the process was still
	// stopping; it starts again as soon as it has stopped.
	restartOnStop bool
}

type msgSlot struct {
	msg     Message
	fromInc uint32
	toInc   uint32
	dup     bool
	twins   uint32 // 1 + index in Sim.twins when the network duplicated it
}

type timerRec struct {
	proc     ProcID
	inc      uint32
	id       uint32 // identity generation (part of TimerID)
	evgen    uint32 // version of the queued event (bumped on reschedule)
	active   bool
	deadline time.Duration // local time
	tag      string
	arg      uint64
}

type syncReq struct {
	proc ProcID
	inc  uint32
	upTo uint64 // disk op sequence made durable
	tag  string
	arg  uint64
}

// HostConfig describes one host.
type HostConfig struct {
	Name string
	// Offset is the local clock's reading at true time 0.
	Offset time.Duration
	// Rate is the local clock's rate; zero means RateOne.
	Rate Rate
	// SyncLatency is how long a disk sync takes; zero means DefaultSyncLatency.
	SyncLatency time.Duration
	// Down makes the host start crashed (powered off).
	Down bool
}

// DefaultSyncLatency is the default time a disk sync takes: a datacenter SSD.
const DefaultSyncLatency = 2 * time.Millisecond

// Sim is one simulation: hosts, processes, the network, the event queue and
// the trace, all driven from one goroutine by one seed. Scenarios build it
// (AddHost, AddProcess, AddRole), the runner runs it, checkers read it.
type Sim struct {
	seed  uint64
	now   time.Duration
	end   time.Duration
	seq   uint64
	q     eventQueue
	steps uint64

	hosts      []*host
	hostByName map[string]HostID
	procs      []*proc
	procByName map[string]ProcID
	roles      map[string]func() (ProcID, bool)

	msgs       []msgSlot
	freeMsgs   []uint32
	timers     []timerRec
	freeTimers []uint32
	syncs      []syncReq
	freeSyncs  []uint32
	twins      []twins
	freeTwins  []uint32
	probes     []func()
	freeProbes []uint32 // slots of probes already run
	nextMsgID  uint64

	net      network
	tr       *tracer
	ctx      Ctx
	streams  map[string]*Rand
	faults   []firing
	faultLog []FaultRecord
	started  bool
	// armed lists the aimed entries (indexes into faults) waiting for
	// their cues, in schedule order.
	armed       []int
	signalNames map[string]bool
	cueNames    map[string]bool
	onFault     []func(FaultRecord)
	states      []string // scratch for StateReporter

	nextRateID int
	marks      map[string]int

	exitReq   bool
	exitAfter time.Duration

	progress func(time.Duration) // Config.Progress
}

// NewSim returns an empty simulation for the given root seed. Most callers
// use Run, which builds one through a Scenario.
func NewSim(seed uint64, trace TraceOptions) *Sim {
	s := &Sim{
		seed:       seed,
		hostByName: map[string]HostID{},
		procByName: map[string]ProcID{},
		roles:      map[string]func() (ProcID, bool){},
		streams:    map[string]*Rand{},
		tr:         newTracer(trace),
	}
	s.ctx.s = s
	s.net.init(s, DefaultLink)
	return s
}

// Seed returns the root seed.
func (s *Sim) Seed() uint64 { return s.seed }

// Now returns the true simulated time. Only checkers and scenario recorders
// may read it: components see their host's local clock through Ctx.Now.
func (s *Sim) Now() time.Duration { return s.now }

// Duration returns how long the run lasts (true time); scenarios use it to
// stop their workload ahead of the end.
func (s *Sim) Duration() time.Duration { return s.end }

// Steps returns how many events the kernel has processed.
func (s *Sim) Steps() uint64 { return s.steps }

// Rand returns the named stream of this run's PRNG tree (e.g. "workload").
func (s *Sim) Rand(name string) *Rand {
	r := s.streams[name]
	if r == nil {
		r = NewRand(s.seed, name)
		s.streams[name] = r
	}
	return r
}

// AddHost adds a host. Names are short words of lower-case letters, digits
// and dashes ("m1", "etcd-2"); they appear in schedules and traces.
func (s *Sim) AddHost(c HostConfig) HostID {
	if s.started {
		panic("hasim: AddHost after the simulation started")
	}
	if err := validName(c.Name); err != nil {
		panic(fmt.Sprintf("hasim: host name: %v", err))
	}
	if reservedWords[c.Name] {
		panic(fmt.Sprintf("hasim: host name %q is a word of the schedule language", c.Name))
	}
	if _, dup := s.hostByName[c.Name]; dup {
		panic(fmt.Sprintf("hasim: duplicate host %q", c.Name))
	}
	if c.Rate == 0 {
		c.Rate = RateOne
	}
	if !c.Rate.Valid() {
		panic(fmt.Sprintf("hasim: host %s: rate %s out of range", c.Name, c.Rate))
	}
	if c.SyncLatency == 0 {
		c.SyncLatency = DefaultSyncLatency
	}
	id := HostID(len(s.hosts))
	s.hosts = append(s.hosts, &host{
		id: id, name: c.Name, clock: NewClock(c.Offset, c.Rate), baseRate: c.Rate, up: !c.Down,
		syncLatency: c.SyncLatency, baseSync: c.SyncLatency, disk: newDisk(),
	})
	s.hostByName[c.Name] = id
	s.net.grow(len(s.hosts))
	return id
}

// AddProcess adds a process called local on host hostName; its full name is
// "host/local". Its peers reach it over transport t, which decides what the
// network may do to the messages it receives (there is no default: a
// forgotten declaration would silently change delivery). It starts when the
// run starts (if its host is up).
func (s *Sim) AddProcess(hostName, local string, t Transport, spawn Spawn) ProcID {
	if s.started {
		panic("hasim: AddProcess after the simulation started")
	}
	if t < Datagrams || t > Connection {
		panic(fmt.Sprintf("hasim: AddProcess %s/%s: transport %s is not declared (Datagrams, Streams or Connection)", hostName, local, t))
	}
	h, ok := s.hostByName[hostName]
	if !ok {
		panic(fmt.Sprintf("hasim: AddProcess: unknown host %q", hostName))
	}
	if err := validName(local); err != nil {
		panic(fmt.Sprintf("hasim: process name: %v", err))
	}
	name := hostName + "/" + local
	if _, dup := s.procByName[name]; dup {
		panic(fmt.Sprintf("hasim: duplicate process %q", name))
	}
	id := ProcID(len(s.procs))
	s.procs = append(s.procs, &proc{id: id, name: name, local: local, host: h, spawn: spawn, transport: t})
	s.procByName[name] = id
	s.hosts[h].procs = append(s.hosts[h].procs, id)
	return id
}

// AddRole registers a role-relative fault target: schedules may name it as
// "@name" and resolve calls it when the fault fires. resolve returns the
// process holding the role (host faults act on its host), or false when no
// process holds it then (the fault is skipped and the trace says so).
func (s *Sim) AddRole(name Role, resolve func() (ProcID, bool)) {
	if err := validName(string(name)); err != nil {
		panic(fmt.Sprintf("hasim: role name: %v", err))
	}
	if name == CuedRole {
		panic("hasim: role name @" + CuedRole + " is the kernel's (the process that gave an aimed entry's cue)")
	}
	s.roles[string(name)] = resolve
}

// AddCue declares a cue that the scenario's components give (Ctx.Cue), so
// that schedules may aim entries at it ("at 10s on read-index pause
// @cued for 2s"); a schedule naming an undeclared cue is rejected.
func (s *Sim) AddCue(name string) {
	if err := validName(name); err != nil {
		panic(fmt.Sprintf("hasim: cue name: %v", err))
	}
	if _, ok := parseOrdinal(name); ok {
		panic(fmt.Sprintf("hasim: cue name %q reads as an ordinal (\"on 3rd CUE\")", name))
	}
	if s.cueNames == nil {
		s.cueNames = map[string]bool{}
	}
	s.cueNames[name] = true
}

// Cues returns the declared cue names, sorted.
func (s *Sim) Cues() []string { return SortedKeys(s.cueNames) }

// AddSignal declares a signal the scenario's processes play (see Signal):
// schedules may name only declared ones.
func (s *Sim) AddSignal(name string) {
	if err := validName(name); err != nil {
		panic(fmt.Sprintf("hasim: signal name: %v", err))
	}
	if s.signalNames == nil {
		s.signalNames = map[string]bool{}
	}
	s.signalNames[name] = true
}

// Signals returns the declared signal names, sorted.
func (s *Sim) Signals() []string { return SortedKeys(s.signalNames) }

// OnFault registers f to hear of every fault as it fires, just before it
// takes effect: scenario observers mark the states it strikes (coverage).
func (s *Sim) OnFault(f func(FaultRecord)) { s.onFault = append(s.onFault, f) }

// Lookup returns the process with the given full name, or false.
func (s *Sim) Lookup(name string) (ProcID, bool) {
	id, ok := s.procByName[name]
	return id, ok
}

// MustLookup is Lookup for names the caller wired itself.
func (s *Sim) MustLookup(name string) ProcID {
	id, ok := s.procByName[name]
	if !ok {
		panic(fmt.Sprintf("hasim: no process %q", name))
	}
	return id
}

// ProcName returns a process's full name ("m1/etcd").
func (s *Sim) ProcName(id ProcID) string { return s.procs[id].name }

// ProcHost returns the name of a process's host.
func (s *Sim) ProcHost(id ProcID) string { return s.hosts[s.procs[id].host].name }

// Running reports whether a process is running (started and not stopped).
func (s *Sim) Running(id ProcID) bool { return s.procs[id].inst != nil }

// Incarnation returns how many times process id has been started (its
// current incarnation while it runs).
func (s *Sim) Incarnation(id ProcID) int { return s.procs[id].starts }

// Instance returns the running instance of a process, or nil. Checkers and
// role resolvers use it to read a component's state.
func (s *Sim) Instance(id ProcID) Process { return s.procs[id].inst }

// HostUp reports whether the named host is powered on.
func (s *Sim) HostUp(name string) bool {
	h, ok := s.hostByName[name]
	return ok && s.hosts[h].up
}

// HostPaused reports whether the named host is paused.
func (s *Sim) HostPaused(name string) bool {
	h, ok := s.hostByName[name]
	return ok && s.hosts[h].paused
}

// LocalNow returns the named host's monotonic clock reading now.
func (s *Sim) LocalNow(hostName string) time.Duration {
	return s.host(hostName).clock.Read(s.now)
}

// LocalWall returns the named host's wall clock reading now.
func (s *Sim) LocalWall(hostName string) time.Duration {
	return s.host(hostName).clock.Wall(s.now)
}

// host returns the named host; an unknown name is a wiring error.
func (s *Sim) host(name string) *host {
	id, ok := s.hostByName[name]
	if !ok {
		panic(fmt.Sprintf("hasim: no host %q", name))
	}
	return s.hosts[id]
}

// reservedWords may not name hosts: they would make schedules ambiguous.
var reservedWords = map[string]bool{"at": true, "for": true, "hold": true, "between": true, "on": true, "within": true}

// Hosts returns the host names in the order they were added.
func (s *Sim) Hosts() []string {
	out := make([]string, len(s.hosts))
	for i, h := range s.hosts {
		out[i] = h.name
	}
	return out
}

// Procs returns the full process names in the order they were added.
func (s *Sim) Procs() []string {
	out := make([]string, len(s.procs))
	for i, p := range s.procs {
		out[i] = p.name
	}
	return out
}

// Roles returns the registered role names, sorted.
func (s *Sim) Roles() []string { return SortedKeys(s.roles) }

// Network returns the simulated network, for scenarios that set per-link
// conditions before the run.
func (s *Sim) Network() *Network { return &Network{s: s} }

// Notef writes a scenario annotation into the trace (who is "sim").
func (s *Sim) Notef(format string, args ...any) {
	if !s.tr.on {
		return
	}
	b := s.tr.begin(s.now)
	b = append(b, "note sim "...)
	b = fmt.Appendf(b, format, args...)
	s.tr.end(b)
}

// Tracing reports whether trace lines are being produced.
func (s *Sim) Tracing() bool { return s.tr.on }

// At runs f at true time t (not before now) as a kernel event: scenarios use
// it to observe the cluster at fixed instants. f must not block.
func (s *Sim) At(t time.Duration, f func()) {
	if t < s.now {
		t = s.now
	}
	var slot uint32
	if n := len(s.freeProbes); n > 0 {
		slot = s.freeProbes[n-1]
		s.freeProbes = s.freeProbes[:n-1]
		s.probes[slot] = f
	} else {
		slot = uint32(len(s.probes))
		s.probes = append(s.probes, f)
	}
	s.push(event{at: t, kind: evProbe, ref: slot})
}

func (s *Sim) push(e event) {
	s.seq++
	e.seq = s.seq
	s.q.push(e)
}

// start starts every process on every host that is up, in the order they
// were added.
func (s *Sim) start() {
	s.started = true
	for _, h := range s.hosts {
		if !h.up {
			continue
		}
		for _, p := range h.procs {
			s.startProc(p)
		}
	}
}

// runUntil processes events until the queue is empty or the next event is
// after end. Time then stands at end.
func (s *Sim) runUntil(end time.Duration) {
	s.end = end
	for s.q.Len() > 0 {
		if s.q.peek().at > end {
			break
		}
		ev := s.q.pop()
		s.now = ev.at
		s.dispatch(ev)
		if s.progress != nil && s.steps%ProgressEvery == 0 {
			s.progress(s.now)
		}
	}
	if s.now < end {
		s.now = end
	}
}

func (s *Sim) dispatch(ev event) {
	switch ev.kind {
	case evDeliver:
		s.steps++
		s.deliver(ev)
	case evTimer:
		t := &s.timers[ev.ref]
		if !t.active || t.evgen != ev.gen {
			return // cancelled or rescheduled: not an event
		}
		s.steps++
		p := s.procs[t.proc]
		h := s.hosts[p.host]
		if t.inc != p.inc || p.inst == nil {
			s.freeTimer(ev.ref)
			return
		}
		if h.paused {
			h.backlog = append(h.backlog, ev)
			return
		}
		id := TimerID(uint64(t.id)<<32 | uint64(ev.ref))
		tag, arg := t.tag, t.arg
		s.freeTimer(ev.ref)
		if s.tr.on {
			b := s.tr.begin(s.now)
			b = append(b, "timer "...)
			b = append(b, p.name...)
			b = append(b, ' ')
			b = append(b, tag...)
			b = append(b, ' ')
			b = strconv.AppendUint(b, arg, 10)
			s.tr.end(b)
		}
		s.step(p, Input{Kind: InputTimer, Timer: id, Tag: tag, Arg: arg})
	case evSynced:
		s.steps++
		r := s.syncs[ev.ref]
		p := s.procs[r.proc]
		h := s.hosts[p.host]
		if ev.gen != h.inc {
			s.freeSync(ev.ref) // the host crashed meanwhile: nothing became durable
			return
		}
		// The device completes the sync whatever the process does.
		h.disk.makeDurable(r.upTo)
		if r.inc != p.inc || p.inst == nil || !h.up {
			s.freeSync(ev.ref)
			return
		}
		if h.paused {
			h.backlog = append(h.backlog, ev)
			return
		}
		s.freeSync(ev.ref)
		if s.tr.on {
			b := s.tr.begin(s.now)
			b = append(b, "synced "...)
			b = append(b, p.name...)
			b = append(b, ' ')
			b = append(b, r.tag...)
			b = append(b, ' ')
			b = strconv.AppendUint(b, r.arg, 10)
			s.tr.end(b)
		}
		s.step(p, Input{Kind: InputSynced, Tag: r.tag, Arg: r.arg})
	case evFault:
		s.steps++
		s.fire(ev.ref)
	case evStart:
		p := s.procs[ev.proc]
		if p.inc != ev.inc || p.inst != nil || !s.hosts[p.host].up {
			return
		}
		s.steps++
		if s.hosts[p.host].paused {
			s.hosts[p.host].backlog = append(s.hosts[p.host].backlog, ev)
			return
		}
		s.startProc(ev.proc)
	case evProbe:
		s.steps++
		f := s.probes[ev.ref]
		s.probes[ev.ref] = nil
		s.freeProbes = append(s.freeProbes, ev.ref)
		f()
	case evRefused:
		s.steps++
		s.deliverRefusal(ev)
	default:
		panic(fmt.Sprintf("hasim: unknown event kind %d", ev.kind))
	}
}

// step hands one input to a running process and then carries out an exit
// it asked for.
func (s *Sim) step(p *proc, in Input) {
	s.ctx.p = p
	s.exitReq = false
	p.inst.Step(&s.ctx, in)
	s.ctx.p = nil
	if s.exitReq {
		s.exitReq = false
		restart := p.restartOnStop
		s.stopProc(p, StopExit)
		if restart {
			s.startOrDefer(p)
		} else if s.exitAfter >= 0 {
			h := s.hosts[p.host]
			at := h.clock.TrueAt(s.now, h.clock.Read(s.now)+s.exitAfter)
			s.push(event{at: at, kind: evStart, proc: p.id, inc: p.inc})
		}
	}
}

func (s *Sim) startProc(id ProcID) {
	p := s.procs[id]
	if p.inst != nil {
		panic(fmt.Sprintf("hasim: start of running process %s", p.name))
	}
	p.starts++
	p.inst = p.spawn()
	p.rnd = NewRand(s.seed, "proc/"+p.name+"/"+strconv.Itoa(p.starts))
	if s.tr.on {
		b := s.tr.begin(s.now)
		b = append(b, "start "...)
		b = append(b, p.name...)
		b = append(b, " incarnation="...)
		b = strconv.AppendInt(b, int64(p.starts), 10)
		s.tr.end(b)
	}
	s.step(p, Input{Kind: InputStart})
}

// stopProc ends the running instance: its volatile state and timers are
// gone, and messages in flight to it will be dropped (their connection
// died with it).
func (s *Sim) stopProc(p *proc, reason StopReason) {
	if p.inst == nil {
		return
	}
	inst := p.inst
	p.inst = nil
	p.inc++
	p.restartOnStop = false
	for i := range s.timers {
		t := &s.timers[i]
		if t.active && t.proc == p.id {
			s.freeTimer(uint32(i))
		}
	}
	if s.tr.on {
		b := s.tr.begin(s.now)
		b = append(b, "stop "...)
		b = append(b, p.name...)
		b = append(b, ' ')
		b = append(b, reason...)
		s.tr.end(b)
	}
	for _, fn := range p.onStop {
		fn(Stopped{Proc: p.id, Incarnation: p.starts, Reason: reason, Instance: inst})
	}
}

// StopReason says why a process stopped.
type StopReason string

// Why processes stop.
const (
	// StopExit: the process called Ctx.Exit.
	StopExit StopReason = "exit"
	// StopKilled: a kill fault (SIGKILL).
	StopKilled StopReason = "killed"
	// StopTerminated: a term fault, to a process that is not a Terminator
	// (or on a paused host): it dies at once.
	StopTerminated StopReason = "terminated"
	// StopGraceExpired: a Terminator did not exit within TermGrace.
	StopGraceExpired StopReason = "killed after the grace period"
	// StopHostCrash: its host crashed or lost power.
	StopHostCrash StopReason = "host-crash"
)

// Stopped is what a process's stop observers hear.
type Stopped struct {
	Proc ProcID
	// Incarnation is the one that stopped (Ctx.Incarnation of its steps).
	Incarnation int
	Reason      StopReason
	// Instance is the instance that stopped, for a last look at its state.
	Instance Process
}

// OnStop registers fn to be called whenever process p stops, for whatever
// reason, as it stops (its instance already gone, before anything else
// happens): observers follow a process's lifetime without polling it.
// Observers of one process are called in the order they registered.
func (s *Sim) OnStop(p ProcID, fn func(Stopped)) {
	if p < 0 || int(p) >= len(s.procs) {
		panic("hasim: OnStop of an unknown process")
	}
	s.procs[p].onStop = append(s.procs[p].onStop, fn)
}

func (s *Sim) freeTimer(i uint32) {
	t := &s.timers[i]
	t.active = false
	t.id++
	t.evgen++
	t.tag = ""
	s.freeTimers = append(s.freeTimers, i)
}

func (s *Sim) freeSync(i uint32) {
	s.syncs[i] = syncReq{}
	s.freeSyncs = append(s.freeSyncs, i)
}

// setTimer arms a timer for process p firing when its host's clock has
// advanced by d.
func (s *Sim) setTimer(p *proc, d time.Duration, tag string, arg uint64) TimerID {
	if d < 0 {
		d = 0
	}
	var i uint32
	if n := len(s.freeTimers); n > 0 {
		i = s.freeTimers[n-1]
		s.freeTimers = s.freeTimers[:n-1]
	} else {
		s.timers = append(s.timers, timerRec{id: 1})
		i = uint32(len(s.timers) - 1)
	}
	h := s.hosts[p.host]
	t := &s.timers[i]
	t.proc, t.inc, t.active = p.id, p.inc, true
	t.deadline = h.clock.Read(s.now) + d
	t.tag, t.arg = tag, arg
	s.push(event{at: h.clock.TrueAt(s.now, t.deadline), kind: evTimer, ref: i, gen: t.evgen})
	return TimerID(uint64(t.id)<<32 | uint64(i))
}

func (s *Sim) cancelTimer(p *proc, id TimerID) bool {
	i := uint32(id)
	if int(i) >= len(s.timers) {
		return false
	}
	t := &s.timers[i]
	if !t.active || t.id != uint32(id>>32) || t.proc != p.id {
		return false
	}
	s.freeTimer(i)
	return true
}

// retime re-queues every pending timer of host h after its clock changed.
func (s *Sim) retime(h *host) {
	for i := range s.timers {
		t := &s.timers[i]
		if !t.active || s.procs[t.proc].host != h.id {
			continue
		}
		t.evgen++
		s.push(event{at: h.clock.TrueAt(s.now, t.deadline), kind: evTimer, ref: uint32(i), gen: t.evgen})
	}
}

// ValidName checks a name of a host, process, role or cue: a word of
// lower-case letters, digits, '-', '_' and '.'.
func ValidName(n string) error { return validName(n) }

func validName(n string) error {
	if n == "" {
		return fmt.Errorf("empty name")
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%q: use lower-case letters, digits, '-', '_' and '.'", n)
		}
	}
	return nil
}

// SortedKeys returns the keys of m in ascending order: the way to iterate a
// map in simulated code, where map order must never reach the trace.
func SortedKeys[K interface {
	~string | ~int | ~int32 | ~int64 | ~uint32 | ~uint64
}, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m { //detlint:allow maprange the keys are sorted before anyone sees them
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// Mark counts a coverage mark (see Ctx.Mark); scenarios and the kernel use
// it too ("crash-lost-writes").
func (s *Sim) Mark(name string) {
	if s.marks == nil {
		s.marks = map[string]int{}
	}
	s.marks[name]++
}

// Marks returns how often each coverage mark was hit.
func (s *Sim) Marks() map[string]int {
	out := make(map[string]int, len(s.marks))
	for _, k := range SortedKeys(s.marks) {
		out[k] = s.marks[k]
	}
	return out
}

package harness

import (
	"strings"
	"time"
)

// Target names what a fault acts on: a host ("m1"), a process ("m1/etcd"),
// or a role ("@raft-leader") that the model resolves to a process when the
// fault fires (a host fault then acts on that process's host).
type Target struct {
	Name string
	Role bool
}

// HostT returns a target naming a host or a process.
func HostT(name string) Target { return Target{Name: name} }

// Role names a role-relative target: what a scenario registers (AddRole)
// and its components' cues aim at, written "@name" in schedules. The
// scenarios name theirs as constants (store.RoleLeader, ...).
type Role string

// RoleT returns a role-relative target.
func RoleT(role Role) Target { return Target{Name: string(role), Role: true} }

// String prints the target as it is written in schedules.
func (t Target) String() string {
	if t.Role {
		return "@" + t.Name
	}
	return t.Name
}

// Fault is one typed, printable fault. String gives its canonical text
// form, which ParseSchedule reads back to an equal value.
type Fault interface {
	String() string
	// Reversible reports whether the fault can be undone, so that a
	// schedule entry may carry "for D".
	Reversible() bool
	targets() []Target
}

// Partition cuts the links between two groups of hosts: both ways, or only
// from A to B when OneWay. Messages are dropped, or with Hold kept in order
// and delivered once the cut heals, the way a stalled TCP connection
// behaves. Hosts named in neither group are not affected.
type Partition struct {
	A, B   []Target
	OneWay bool
	Hold   bool
}

// Isolate cuts one host off from every other host, both ways.
type Isolate struct {
	Host Target
	Hold bool
}

// Heal removes every cut; held messages are delivered in order.
type Heal struct{}

// Crash powers a host off: every process on it stops, losing its volatile
// state, its timers and the messages queued for it, and the disk loses every
// write that was not yet durable.
type Crash struct{ Host Target }

// Restart powers a crashed host back on; its processes start from what the
// disk holds.
type Restart struct{ Host Target }

// Kill crashes one process; its host and its disk (page cache) survive.
type Kill struct{ Proc Target }

// Term stops one process gracefully (SIGTERM): a process that implements
// Terminator gets InputStop and may finish what it must (release a lease)
// before it exits with ctx.Exit; if it is still running TermGrace later it
// is killed. Any other process stops at once, as on the default SIGTERM
// action. Undone (with "for"), the process starts again.
type Term struct{ Proc Target }

// TermGrace is how long a terminated process may take to exit (the
// kubelet's default terminationGracePeriodSeconds).
const TermGrace = 30 * time.Second

// Terminator is implemented by processes that handle InputStop.
type Terminator interface {
	Terminates() bool
}

// Start starts a stopped process.
type Start struct{ Proc Target }

// Pause freezes a host (a VM stall, a long GC or SIGSTOP): nothing on it
// runs, its clock keeps going, and what arrives meanwhile waits.
type Pause struct{ Host Target }

// Resume unfreezes a paused host: its backlog runs in arrival order.
type Resume struct{ Host Target }

// ClockJump steps a host's wall clock by By (negative: backwards). Its
// monotonic clock, and so every timer on the host, is unaffected, as with
// an NTP step on a real machine.
type ClockJump struct {
	Host Target
	By   time.Duration
}

// ClockRate makes a host's local clock run at Rate from now on.
type ClockRate struct {
	Host Target
	Rate Rate
}

// DiskSlow makes a host's disk syncs take Latency (a failing or saturated
// disk, a noisy neighbour): fsync-heavy components such as raft feel it.
type DiskSlow struct {
	Host    Target
	Latency time.Duration
}

// Which link parameters a NetFault sets.
const (
	SetDelay uint8 = 1 << iota
	SetJitter
	SetLoss
	SetDup
	SetReorder
)

// NetFault degrades links: between the groups A and B (both ways), or every
// link when both are empty. Only the parameters flagged in Set change.
type NetFault struct {
	A, B    []Target
	Set     uint8
	Delay   time.Duration
	Jitter  time.Duration
	Loss    Prob
	Dup     Prob
	Reorder Prob
}

// Signal tells one process of a fault only the model knows how to play
// (the cluster's "watch-gap": the process's watches lose their events, and
// go on from later ones). The process gets InputSignal with Tag Name and
// Arg 1 when it fires, and Arg 0 when it is undone, if the same
// incarnation still runs then. The scenario declares its signals
// (Sim.AddSignal); a process that does not know one ignores it.
type Signal struct {
	Proc Target
	Name string
}

// NetReset restores the run's default link conditions between A and B, or
// on every link when both are empty.
type NetReset struct{ A, B []Target }

func (Partition) Reversible() bool { return true }
func (Isolate) Reversible() bool   { return true }
func (Heal) Reversible() bool      { return false }
func (Crash) Reversible() bool     { return true }
func (Restart) Reversible() bool   { return false }
func (Kill) Reversible() bool      { return true }
func (Term) Reversible() bool      { return true }
func (Start) Reversible() bool     { return false }
func (Pause) Reversible() bool     { return true }
func (Resume) Reversible() bool    { return false }
func (ClockJump) Reversible() bool { return false }
func (ClockRate) Reversible() bool { return true }
func (NetFault) Reversible() bool  { return true }
func (NetReset) Reversible() bool  { return false }
func (DiskSlow) Reversible() bool  { return true }
func (Signal) Reversible() bool    { return true }

func (f Partition) targets() []Target { return append(append([]Target(nil), f.A...), f.B...) }
func (f Isolate) targets() []Target   { return []Target{f.Host} }
func (Heal) targets() []Target        { return nil }
func (f Crash) targets() []Target     { return []Target{f.Host} }
func (f Restart) targets() []Target   { return []Target{f.Host} }
func (f Kill) targets() []Target      { return []Target{f.Proc} }
func (f Term) targets() []Target      { return []Target{f.Proc} }
func (f Start) targets() []Target     { return []Target{f.Proc} }
func (f Pause) targets() []Target     { return []Target{f.Host} }
func (f Resume) targets() []Target    { return []Target{f.Host} }
func (f ClockJump) targets() []Target { return []Target{f.Host} }
func (f ClockRate) targets() []Target { return []Target{f.Host} }
func (f NetFault) targets() []Target  { return append(append([]Target(nil), f.A...), f.B...) }
func (f NetReset) targets() []Target  { return append(append([]Target(nil), f.A...), f.B...) }
func (f DiskSlow) targets() []Target  { return []Target{f.Host} }
func (f Signal) targets() []Target    { return []Target{f.Proc} }

func group(ts []Target) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.String())
	}
	b.WriteByte('}')
	return b.String()
}

func holdSuffix(h bool) string {
	if h {
		return " hold"
	}
	return ""
}

func (f Partition) String() string {
	sep := " | "
	if f.OneWay {
		sep = " -> "
	}
	return "partition " + group(f.A) + sep + group(f.B) + holdSuffix(f.Hold)
}
func (f Isolate) String() string { return "isolate " + f.Host.String() + holdSuffix(f.Hold) }
func (Heal) String() string      { return "heal" }
func (f Crash) String() string   { return "crash " + f.Host.String() }
func (f Restart) String() string { return "restart " + f.Host.String() }
func (f Kill) String() string    { return "kill " + f.Proc.String() }
func (f Term) String() string    { return "term " + f.Proc.String() }
func (f Start) String() string   { return "start " + f.Proc.String() }
func (f Pause) String() string   { return "pause " + f.Host.String() }
func (f Resume) String() string  { return "resume " + f.Host.String() }
func (f Signal) String() string  { return "signal " + f.Proc.String() + " " + f.Name }
func (f ClockJump) String() string {
	return "clock " + f.Host.String() + " jump " + signed(f.By)
}
func (f ClockRate) String() string { return "clock " + f.Host.String() + " rate " + f.Rate.String() }

func between(a, b []Target) string {
	if len(a) == 0 && len(b) == 0 {
		return ""
	}
	return " between " + group(a) + " | " + group(b)
}

func (f NetFault) String() string {
	var b strings.Builder
	b.WriteString("net")
	if f.Set&SetDelay != 0 {
		b.WriteString(" delay " + f.Delay.String())
	}
	if f.Set&SetJitter != 0 {
		b.WriteString(" jitter " + f.Jitter.String())
	}
	if f.Set&SetLoss != 0 {
		b.WriteString(" loss " + f.Loss.String())
	}
	if f.Set&SetDup != 0 {
		b.WriteString(" dup " + f.Dup.String())
	}
	if f.Set&SetReorder != 0 {
		b.WriteString(" reorder " + f.Reorder.String())
	}
	b.WriteString(between(f.A, f.B))
	return b.String()
}

func (f NetReset) String() string { return "net reset" + between(f.A, f.B) }
func (f DiskSlow) String() string {
	return "disk " + f.Host.String() + " latency " + f.Latency.String()
}

// apply sets the flagged parameters on p.
func (f NetFault) apply(p LinkParams) LinkParams {
	if f.Set&SetDelay != 0 {
		p.Latency = f.Delay
	}
	if f.Set&SetJitter != 0 {
		p.Jitter = f.Jitter
	}
	if f.Set&SetLoss != 0 {
		p.Loss = f.Loss
	}
	if f.Set&SetDup != 0 {
		p.Duplicate = f.Dup
	}
	if f.Set&SetReorder != 0 {
		p.Reorder = f.Reorder
	}
	return p
}

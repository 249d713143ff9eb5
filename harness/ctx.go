package harness

import (
	"fmt"
	"time"
)

// Ctx is a process's view of the world during one step: its own identity,
// its host's local clock, and the ways to act (send, set timers, write to
// its disk, annotate the trace). It is only valid inside Step.
type Ctx struct {
	s *Sim
	p *proc
}

// Self returns the calling process's ID.
func (c *Ctx) Self() ProcID { return c.p.id }

// ClientSlots is how many clients one process may number with ClientID.
const ClientSlots = 4

// clientIDBase keeps derived client numbers clear of the small ones a
// scenario may give its own clients (1, 2, 3, ... in a history: keep them
// below it), and short in the trace.
const clientIDBase = 1000

// ClientID numbers the slot-th (0 to ClientSlots-1) client the calling
// process runs: unique among every client of every process in the
// simulation, the same in every incarnation, so that nobody picks client
// numbers by hand. Clients put it in their request and connection numbers.
func (c *Ctx) ClientID(slot int) int {
	if slot < 0 || slot >= ClientSlots {
		panic(fmt.Sprintf("hasim: ClientID slot %d out of range [0, %d)", slot, ClientSlots))
	}
	return clientIDBase + int(c.p.id)*ClientSlots + slot
}

// Name returns the calling process's full name ("m1/etcd").
func (c *Ctx) Name() string { return c.p.name }

// Host returns the name of the calling process's host.
func (c *Ctx) Host() string { return c.s.hosts[c.p.host].name }

// Incarnation counts the process's starts: 1 at the first start. A process
// that needs a new identity after every restart derives it from this.
func (c *Ctx) Incarnation() int { return c.p.starts }

// Now returns the host's monotonic clock reading: offset and running fast
// or slow as the host's clock does, but never jumping. Timers (After) run
// on it; use it to measure time, as Go code does with time.Since.
func (c *Ctx) Now() time.Duration {
	return c.s.hosts[c.p.host].clock.Read(c.s.now)
}

// WallNow returns the host's wall clock reading: Now plus every clock jump
// (NTP steps, date commands). Use it for timestamps written into records,
// never to time anything. These two are the only clocks a component may
// read.
func (c *Ctx) WallNow() time.Duration {
	return c.s.hosts[c.p.host].clock.Wall(c.s.now)
}

// Rand returns this incarnation's own PRNG stream.
func (c *Ctx) Rand() *Rand { return c.p.rnd }

// Lookup returns the process with the given full name; it panics on an
// unknown name (a wiring error).
func (c *Ctx) Lookup(name string) ProcID { return c.s.MustLookup(name) }

// Send hands a message to the network. It returns the message's ID.
func (c *Ctx) Send(to ProcID, p Payload) uint64 { return c.s.send(c.p, to, p) }

// After sets a timer that fires when the host's local clock has advanced by
// d; tag and arg come back in the Input (and in the trace line).
func (c *Ctx) After(d time.Duration, tag string, arg uint64) TimerID {
	return c.s.setTimer(c.p, d, tag, arg)
}

// Cancel stops a timer; it reports whether the timer was still pending.
func (c *Ctx) Cancel(id TimerID) bool { return c.s.cancelTimer(c.p, id) }

// Disk returns the process's files on its host's disk.
func (c *Ctx) Disk() DiskView { return DiskView{s: c.s, p: c.p} }

// Exit stops the process after this step, the way a component exits on a
// fatal condition (a lost lease). It is restarted as a fresh instance after
// restartAfter of its host's local time, or never if restartAfter < 0.
func (c *Ctx) Exit(restartAfter time.Duration) {
	c.s.exitReq = true
	c.s.exitAfter = restartAfter
}

// Tracing reports whether annotations are recorded; skip building costly
// ones when not.
func (c *Ctx) Tracing() bool { return c.s.tr.on }

// Notef writes an annotation line for this process into the trace.
func (c *Ctx) Notef(format string, args ...any) {
	if !c.s.tr.on {
		return
	}
	b := c.s.tr.begin(c.s.now)
	b = append(b, "note "...)
	b = append(b, c.p.name...)
	b = append(b, ' ')
	b = fmt.Appendf(b, format, args...)
	c.s.tr.end(b)
}

// Mark records that the process reached a rare state worth knowing about
// (a coverage mark: "read-index-resent", "snapshot-sent"). Tests assert
// that generated cases reach each mark; soaks count them.
func (c *Ctx) Mark(name string) { c.s.Mark(name) }

// Cue tells the kernel that the process reached a moment faults may be
// aimed at: now (in = 0), or a deadline in from now on its host's clock
// ("lease-expiring" in 1.2s). Aimed schedule entries waiting for the cue
// fire then (see Entry). Cues must be declared by the scenario (AddCue);
// giving one costs nothing when no entry waits for it.
func (c *Ctx) Cue(name string, in time.Duration) {
	if len(c.s.armed) > 0 {
		c.s.cue(c.p, name, in)
	}
}

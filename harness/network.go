package harness

import (
	"encoding"
	"fmt"
	"strconv"
	"time"
)

// LinkParams are the conditions on one direction of a link between two
// hosts. Messages between processes of one host use the loopback instead,
// which never loses, delays or reorders.
type LinkParams struct {
	// Latency is the one-way base delay.
	Latency time.Duration
	// Jitter adds a uniform extra delay in [0, Jitter].
	Jitter time.Duration
	// Loss is the chance a message is lost.
	Loss Prob
	// Duplicate is the chance a message is delivered twice.
	Duplicate Prob
	// Reorder is the chance a message leaves the link's FIFO order and is
	// delayed by up to a further 2*Latency+Jitter, so later ones overtake it.
	Reorder Prob
}

// Validate checks the conditions, naming the field at fault.
func (p LinkParams) Validate() error {
	switch {
	case p.Latency < 0 || p.Latency > MaxNetDelay:
		return fmt.Errorf("latency: %s out of range [0, %s]", p.Latency, MaxNetDelay)
	case p.Jitter < 0 || p.Jitter > MaxNetDelay:
		return fmt.Errorf("jitter: %s out of range [0, %s]", p.Jitter, MaxNetDelay)
	case !p.Loss.Valid():
		return fmt.Errorf("loss: %s out of range [0%%, 100%%]", p.Loss)
	case !p.Duplicate.Valid():
		return fmt.Errorf("duplicate: %s out of range [0%%, 100%%]", p.Duplicate)
	case !p.Reorder.Valid():
		return fmt.Errorf("reorder: %s out of range [0%%, 100%%]", p.Reorder)
	}
	return nil
}

// DefaultLink is a healthy datacenter link: 0.5ms round trips.
var DefaultLink = LinkParams{Latency: 250 * time.Microsecond, Jitter: 100 * time.Microsecond}

// LoopbackLatency is the delay of a message between two processes of one host.
const LoopbackLatency = 20 * time.Microsecond

type blockMode uint8

const (
	blockNone blockMode = iota
	blockHold
	blockDrop
)

type link struct {
	base   LinkParams    // the run's configured conditions
	params LinkParams    // base with the active net faults applied
	last   time.Duration // delivery time of the last FIFO message
	block  blockMode
	held   []uint32
	rnd    *Rand
}

// cut is one active partition: messages from a host in from to a host in to
// are dropped or held (and the reverse too when symmetric).
type cut struct {
	id        int
	from, to  []HostID
	symmetric bool
	hold      bool
}

// netMod is one active net fault: it changes the links at the given
// indexes; a reset sets them back to their base conditions. Mods apply in
// the order they fired, so overlapping faults compose and each one's undo
// removes exactly its own effect.
type netMod struct {
	id    int
	links []int
	reset bool
	f     NetFault
}

type network struct {
	s *Sim
	// conns: delivery time of the last message per ordered connection
	// (sender, Connection receiver), for its FIFO order.
	conns  map[[2]ProcID]time.Duration
	def    LinkParams
	n      int
	links  []link
	cuts   []cut
	mods   []netMod
	nextID int
}

func (n *network) addMod(m netMod) int {
	n.nextID++
	m.id = n.nextID
	n.mods = append(n.mods, m)
	n.reparam()
	return m.id
}

func (n *network) removeMod(id int) {
	for i, m := range n.mods {
		if m.id == id {
			n.mods = append(n.mods[:i], n.mods[i+1:]...)
			n.reparam()
			return
		}
	}
}

// reparam recomputes every link's conditions from its base and the mods.
func (n *network) reparam() {
	for i := range n.links {
		n.links[i].params = n.links[i].base
	}
	for _, m := range n.mods {
		for _, i := range m.links {
			l := &n.links[i]
			if m.reset {
				l.params = l.base
			} else {
				l.params = m.f.apply(l.params)
			}
		}
	}
}

func (n *network) init(s *Sim, def LinkParams) {
	n.s = s
	n.def = def
}

func (n *network) grow(hosts int) {
	old, on := n.links, n.n
	n.n = hosts
	n.links = make([]link, hosts*hosts)
	for i := range n.links {
		n.links[i].base = n.def
		n.links[i].params = n.def
	}
	for a := 0; a < on; a++ {
		for b := 0; b < on; b++ {
			n.links[a*hosts+b] = old[a*on+b]
		}
	}
}

func (n *network) link(a, b HostID) *link { return &n.links[int(a)*n.n+int(b)] }

func (n *network) rand(a, b HostID) *Rand {
	l := n.link(a, b)
	if l.rnd == nil {
		l.rnd = NewRand(n.s.seed, "network/"+n.s.hosts[a].name+"->"+n.s.hosts[b].name)
	}
	return l.rnd
}

// recompute derives every link's block mode from the active cuts, and
// releases what links no longer blocked were holding.
func (n *network) recompute() {
	for i := range n.links {
		n.links[i].block = blockNone
	}
	mark := func(a, b HostID, hold bool) {
		l := n.link(a, b)
		m := blockDrop
		if hold {
			m = blockHold
		}
		if m > l.block {
			l.block = m
		}
	}
	for _, c := range n.cuts {
		for _, a := range c.from {
			for _, b := range c.to {
				mark(a, b, c.hold)
				if c.symmetric {
					mark(b, a, c.hold)
				}
			}
		}
	}
	for a := 0; a < n.n; a++ {
		for b := 0; b < n.n; b++ {
			l := n.link(HostID(a), HostID(b))
			if l.block == blockNone && len(l.held) > 0 {
				held := l.held
				l.held = nil
				for _, slot := range held {
					n.s.release(slot, l, HostID(a), HostID(b))
				}
			}
		}
	}
}

func (n *network) addCut(c cut) int {
	n.nextID++
	c.id = n.nextID
	n.cuts = append(n.cuts, c)
	n.recompute()
	return c.id
}

func (n *network) removeCut(id int) bool {
	for i, c := range n.cuts {
		if c.id == id {
			n.cuts = append(n.cuts[:i], n.cuts[i+1:]...)
			n.recompute()
			return true
		}
	}
	return false
}

func (n *network) healAll() {
	n.cuts = n.cuts[:0]
	n.recompute()
}

func (s *Sim) allocMsg(m msgSlot) uint32 {
	if k := len(s.freeMsgs); k > 0 {
		i := s.freeMsgs[k-1]
		s.freeMsgs = s.freeMsgs[:k-1]
		s.msgs[i] = m
		return i
	}
	s.msgs = append(s.msgs, m)
	return uint32(len(s.msgs) - 1)
}

func (s *Sim) freeMsg(i uint32) {
	if g := s.msgs[i].twins; g != 0 {
		t := &s.twins[g-1]
		if t.refs--; t.refs == 0 {
			*t = twins{}
			s.freeTwins = append(s.freeTwins, g)
		}
	}
	s.msgs[i] = msgSlot{}
	s.freeMsgs = append(s.freeMsgs, i)
}

// twins ties a message to its network duplicate, so that a receiver on a
// connection (the Streams or Connection transport) gets only the first
// copy to arrive.
type twins struct {
	refs      uint8
	delivered bool
}

func (s *Sim) allocTwins() uint32 {
	if n := len(s.freeTwins); n > 0 {
		g := s.freeTwins[n-1]
		s.freeTwins = s.freeTwins[:n-1]
		s.twins[g-1] = twins{refs: 2}
		return g
	}
	s.twins = append(s.twins, twins{refs: 2})
	return uint32(len(s.twins))
}

func (s *Sim) send(from *proc, to ProcID, pl Payload) uint64 {
	if to < 0 || int(to) >= len(s.procs) {
		panic("hasim: Send to an unknown process")
	}
	s.nextMsgID++
	dst := s.procs[to]
	slot := s.allocMsg(msgSlot{
		msg:     Message{ID: s.nextMsgID, From: from.id, To: to, Payload: pl},
		fromInc: from.inc, toInc: dst.inc,
	})
	if from.host == dst.host {
		s.push(event{at: s.now + LoopbackLatency, kind: evDeliver, ref: slot})
		return s.nextMsgID
	}
	l := s.net.link(from.host, dst.host)
	// A receiver on one ordered connection per peer (Connection) is
	// reached over TCP, which never loses a segment in the middle of a
	// stream: what a partition cuts is retransmitted until the link heals
	// (held), and a lost segment arrives one retransmission timeout late,
	// holding up what follows it.
	// (The receiver's kind is looked up only when the link is faulty.)
	ordered := (l.block != blockNone || l.params.Loss > 0) && dst.ordered()
	switch {
	case l.block == blockDrop && !ordered:
		s.traceMsg("drop", slot, "partition")
		s.freeMsg(slot)
		return s.nextMsgID
	case l.block != blockNone:
		s.traceMsg("hold", slot, "")
		l.held = append(l.held, slot)
		return s.nextMsgID
	}
	r := s.net.rand(from.host, dst.host)
	late := time.Duration(0)
	if r.Chance(l.params.Loss) {
		if !ordered {
			s.traceMsg("drop", slot, "loss")
			s.freeMsg(slot)
			return s.nextMsgID
		}
		late = RetransmitTimeout
	}
	s.transmitLate(slot, l, r, late)
	if r.Chance(l.params.Duplicate) {
		g := s.allocTwins()
		s.msgs[slot].twins = g
		d := s.msgs[slot]
		d.dup = true
		s.transmit(s.allocMsg(d), l, r)
	}
	return s.nextMsgID
}

// RetransmitTimeout is how late a segment a lossy link dropped arrives on
// an ordered connection (Linux's minimum TCP retransmission timeout).
const RetransmitTimeout = 200 * time.Millisecond

func (s *Sim) transmit(slot uint32, l *link, r *Rand) { s.transmitLate(slot, l, r, 0) }

func (s *Sim) transmitLate(slot uint32, l *link, r *Rand, late time.Duration) {
	p := l.params
	at := s.now + late + p.Latency + r.Between(0, p.Jitter)
	// A reordered message is held back so that later ones overtake it;
	// for a receiver whose peers reach it over one ordered connection
	// (Connection) the same draw only delays it, and those behind it
	// on that connection wait. The connection is the pair of processes:
	// its delays hold up nothing else on the link.
	m := &s.msgs[slot].msg
	ordered := s.procs[m.To].ordered()
	if r.Chance(p.Reorder) {
		at += r.Between(0, 2*p.Latency+p.Jitter)
		if !ordered {
			s.push(event{at: at, kind: evDeliver, ref: slot})
			return
		}
	}
	if ordered {
		if s.net.conns == nil {
			s.net.conns = map[[2]ProcID]time.Duration{}
		}
		key := [2]ProcID{m.From, m.To}
		at = max(at, s.net.conns[key])
		s.net.conns[key] = at
	} else {
		at = max(at, l.last)
		l.last = at
	}
	s.push(event{at: at, kind: evDeliver, ref: slot})
}

// release sends on a message a healed link was holding: like a TCP
// connection that resumes, it arrives in order and is not lost, unless the
// sender died meanwhile (its connection with it).
func (s *Sim) release(slot uint32, l *link, a, b HostID) {
	m := &s.msgs[slot]
	if s.procs[m.msg.From].inc != m.fromInc {
		s.traceMsg("drop", slot, "sender-restarted")
		s.freeMsg(slot)
		return
	}
	s.traceMsg("release", slot, "")
	s.transmit(slot, l, s.net.rand(a, b))
}

func (s *Sim) deliver(ev event) {
	m := &s.msgs[ev.ref]
	dst := s.procs[m.msg.To]
	h := s.hosts[dst.host]
	switch {
	case !h.up:
		s.traceMsg("drop", ev.ref, "host-down")
	case h.paused:
		h.backlog = append(h.backlog, ev)
		return
	case dst.inc != m.toInc:
		s.traceMsg("drop", ev.ref, "receiver-restarted")
	case m.twins != 0 && s.twins[m.twins-1].delivered && (dst.inst == nil || dst.transport != Datagrams):
		// The other copy was already delivered or refused: a connection
		// hands over (or refuses) a message once.
		s.traceMsg("drop", ev.ref, "duplicate")
		s.Mark("duplicate-suppressed")
	case dst.inst == nil:
		// The host is up but nothing listens: the connection is refused,
		// and the sender learns so one link latency later.
		if m.twins != 0 {
			s.twins[m.twins-1].delivered = true
		}
		s.traceMsg("refused", ev.ref, "not-running")
		s.refuse(ev.ref)
		return
	default:
		if m.twins != 0 {
			s.twins[m.twins-1].delivered = true
		}
		s.traceMsg("deliver", ev.ref, "")
		msg := m.msg
		s.freeMsg(ev.ref)
		s.step(dst, Input{Kind: InputMessage, Msg: msg})
		return
	}
	s.freeMsg(ev.ref)
}

// traceMsg writes "<verb> #id from->to [reason] payload".
func (s *Sim) traceMsg(verb string, slot uint32, reason string) {
	if !s.tr.on {
		return
	}
	m := &s.msgs[slot]
	b := s.tr.begin(s.now)
	b = append(b, verb...)
	b = append(b, " #"...)
	b = strconv.AppendUint(b, m.msg.ID, 10)
	if m.dup {
		b = append(b, "'"...)
	}
	b = append(b, ' ')
	b = append(b, s.procs[m.msg.From].name...)
	b = append(b, "->"...)
	b = append(b, s.procs[m.msg.To].name...)
	if reason != "" {
		b = append(b, " ("...)
		b = append(b, reason...)
		b = append(b, ')')
	}
	b = append(b, ' ')
	if ta, ok := m.msg.Payload.(encoding.TextAppender); ok {
		if nb, err := ta.AppendText(b); err == nil {
			b = nb
		} else {
			b = append(b, m.msg.Payload.String()...)
		}
	} else {
		b = append(b, m.msg.Payload.String()...)
	}
	s.tr.end(b)
}

// Network is a scenario's handle on the simulated network.
type Network struct{ s *Sim }

// SetDefault sets the conditions of every link between distinct hosts.
func (n *Network) SetDefault(p LinkParams) {
	n.s.net.def = p
	for i := range n.s.net.links {
		n.s.net.links[i].base = p
	}
	n.s.net.reparam()
}

// SetLink sets the conditions of the link from host a to host b.
func (n *Network) SetLink(a, b string, p LinkParams) {
	n.s.net.link(n.s.host(a).id, n.s.host(b).id).base = p
	n.s.net.reparam()
}

// Clear reports whether messages from host a to host b go through now as
// on a healthy link: no partition cuts them and no net fault has changed
// the link. A host's loopback is always clear. Checkers use it (through a
// scenario) to say when the system could have served.
func (n *Network) Clear(a, b string) bool {
	if a == b {
		return true
	}
	l := n.s.net.link(n.s.host(a).id, n.s.host(b).id)
	return l.block == blockNone && l.params == l.base
}

// refuse turns a message that found no listener into an InputRefused for
// its sender, carried back over the same link's conditions (but never lost:
// a refusal is the sender's own TCP stack noticing).
func (s *Sim) refuse(slot uint32) {
	m := s.msgs[slot]
	from, to := s.procs[m.msg.From], s.procs[m.msg.To]
	if from.inc != m.fromInc {
		s.freeMsg(slot)
		return
	}
	at := s.now + LoopbackLatency
	if from.host != to.host {
		at = s.now + s.net.link(to.host, from.host).params.Latency
	}
	s.push(event{at: at, kind: evRefused, ref: slot})
}

func (s *Sim) deliverRefusal(ev event) {
	m := &s.msgs[ev.ref]
	src := s.procs[m.msg.From]
	h := s.hosts[src.host]
	switch {
	case !h.up || src.inc != m.fromInc || src.inst == nil:
		s.freeMsg(ev.ref)
	case h.paused:
		h.backlog = append(h.backlog, ev)
	default:
		msg := m.msg
		s.freeMsg(ev.ref)
		s.step(src, Input{Kind: InputRefused, Msg: msg})
	}
}

// Transport is how a process's peers reach it, declared when it is added
// (AddProcess): it decides what the network may do to what it receives.
type Transport uint8

const (
	// Datagrams: each message travels alone (UDP). The network may lose,
	// reorder and duplicate them, and the receiver sees every copy.
	Datagrams Transport = iota + 1
	// Streams: several streams per peer over TCP (gRPC, etcd's raft
	// transport). A connection never hands the application the same
	// message twice, so of a message the network duplicated only the first
	// copy is delivered (the other is traced as "drop … (duplicate)"); a
	// partition drops what it cuts, and messages may overtake each other.
	Streams
	// Connection: one ordered TCP connection per peer (HTTP). Besides
	// what Streams gives, the network never reorders what one sender sends
	// (a reorder fault only delays it), and what a partition cuts or a lossy
	// link drops is retransmitted: held until the link heals, or one
	// retransmission timeout late.
	Connection
)

var transportNames = [...]string{Datagrams: "datagrams", Streams: "streams", Connection: "connection"}

func (t Transport) String() string {
	if t >= Datagrams && t <= Connection {
		return transportNames[t]
	}
	return "Transport(" + strconv.Itoa(int(t)) + ")"
}

// ordered reports whether the running instance is reached over one
// ordered connection per peer (a process that is down has no connection
// to hold a message on).
func (p *proc) ordered() bool { return p.inst != nil && p.transport == Connection }

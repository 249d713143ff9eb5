package checkers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"hasim/harness"
)

// Read modes of an RVObservation. Every mode but RVWrite is a read mode and
// is judged; RVWrite observations are evidence only.
const (
	// RVQuorum: a GET without resourceVersion, or a consistent LIST: served
	// from the store.
	RVQuorum = "quorum"
	// RVCache: a GET or LIST with resourceVersion "0": served from the
	// answering API server's watch cache, which may lag.
	RVCache = "cache"
	// RVWrite: the resourceVersion a successful write returned.
	RVWrite = "write"
)

// RVObservation is one resourceVersion a client received.
type RVObservation struct {
	Client string        // who observed
	Mode   string        // RVQuorum, RVCache or RVWrite (any other mode is judged as a read mode of its own)
	Key    string        // the object key for GET/write, or "list:<kind>" for a LIST
	RV     int64         // the object's resourceVersion (GET/write) or the list's resourceVersion
	Found  bool          // GET: the object existed (a 404 has Found=false and RV 0)
	At     time.Duration // true time the response arrived
	Start  time.Duration // true time the call was issued
	Server string        // which API server answered (evidence only)
}

// NoTimeTravel checks monotonic reads per client: once a client has
// received resourceVersion r for a key, a read of that key it issues later
// must not return anything older. In Kubernetes a client's reads may be
// served by different API servers behind a load balancer, and reads with
// resourceVersion "0" come from a server's watch cache, which can lag: a
// client can then see an object, or a list, older than one it already saw.
//
// The rule: a read R (any mode but RVWrite) of key K by client C that
// returned an RV (Found, RV > 0) is judged against every observation O of K
// by C that arrived strictly before R was issued (O.At < R.Start) — reads of
// any mode that returned an RV, and C's own writes (RVWrite, RV > 0). R must
// return an RV ≥ the highest such O.RV; otherwise it travelled back in time.
// Observations concurrent with R (arriving at or after R.Start) never
// count. LISTs ("list:<kind>") are judged only against earlier LISTs of the
// same kind, never against object RVs, and objects only against the same
// object.
//
// Not-found reads (Found false) and reads without an RV are skipped (and
// counted as skipped): a 404 carries no resourceVersion, and without seeing
// deletions the checker cannot tell a stale cache that does not yet have the
// object from a legitimate deletion by another client. Such reads are not
// evidence either.
//
// Verdicts are per read mode (see Verdict); the check name is
// name+"/"+mode.
//
// The checker streams, in memory bounded by the observation rate (not by
// the run's length): observations are taken in order of arrival (At) once
// they are MaxCall older than the latest one seen (or when a verdict or
// counts are asked for), each read is judged as it is taken, and per client
// and key it keeps only the sightings of the last MaxCall plus the highest
// RV seen before them. A scenario calls Observe as responses arrive, so the
// order is right; observations may come out of order by up to MaxCall.
type NoTimeTravel struct {
	name harness.CheckName
	// MaxCall bounds how long a call takes, from issue to answer [2m]: a
	// read is judged against older sightings through the highest RV among
	// them, so a read issued more than MaxCall before the latest
	// observation taken may be judged against sightings that arrived after
	// it was issued.
	MaxCall time.Duration
	// KeyIdle: a client's history of a key it has not observed for KeyIdle
	// is forgotten (its counts stay), so that rotating keys do not
	// accumulate [10m]; a read of that key by that client after a longer
	// silence is judged only against sightings since. It should exceed how
	// long a client may leave a key alone and come back to it (kube users
	// move to new keys every 5-minute epoch and never return).
	KeyIdle time.Duration

	buf     []ttPending // not yet taken, by (At, seq)
	seq     int         // observations recorded
	maxAt   time.Duration
	taken   time.Duration // At of the latest observation taken
	sweepAt time.Duration // when next to forget idle histories
	started bool          // some observation was taken

	modes  map[string]bool // read modes observed
	groups map[ttGroupKey]*ttGroup
	keys   map[string]*ttKeyState
	judged map[string]*ttModeState // read mode → its counts and examples
}

// ttPending is an observation waiting to be taken.
type ttPending struct {
	o   RVObservation
	seq int
}

type ttGroupKey struct{ client, key string }

// ttSighting is one observation that is evidence: an RV the client got.
type ttSighting struct {
	at     time.Duration
	rv     int64
	mode   string
	server string
}

// ttGroup is one client's history of one key.
type ttGroup struct {
	recent  []ttSighting // the sightings of the last MaxCall, by arrival
	floor   ttSighting   // the first with the highest RV among older ones
	floored bool
	last    time.Duration // At of its latest observation
}

// ttKeyState tracks a key while some client's history of it is kept.
type ttKeyState struct {
	groups int             // clients with a kept history of it
	modes  map[string]bool // read modes some read of it was judged in
}

// ttModeState sums up the reads of one mode.
type ttModeState struct {
	counts  TimeTravelCounts
	clients map[string]bool
	bad     examples[ttViolation]
}

// ttViolation is one read that went back in time.
type ttViolation struct {
	read RVObservation
	seen ttSighting
	seq  int
}

// NewNoTimeTravel returns a checker whose verdicts are named name+"/"+mode,
// e.g. "no-time-travel/cache".
func NewNoTimeTravel(name harness.CheckName) *NoTimeTravel {
	return &NoTimeTravel{name: name, MaxCall: 2 * time.Minute, KeyIdle: 10 * time.Minute,
		modes: map[string]bool{}, groups: map[ttGroupKey]*ttGroup{}, keys: map[string]*ttKeyState{}, judged: map[string]*ttModeState{}}
}

// Observe records one response a client received. Observations may arrive
// out of order by up to MaxCall (see NoTimeTravel).
func (c *NoTimeTravel) Observe(o RVObservation) {
	if o.Mode != RVWrite {
		c.modes[o.Mode] = true
	}
	p := ttPending{o: o, seq: c.seq}
	c.seq++
	// Insert by (At, seq): nearly always at the end.
	i := len(c.buf)
	for i > 0 && c.buf[i-1].o.At > o.At {
		i--
	}
	c.buf = append(c.buf, ttPending{})
	copy(c.buf[i+1:], c.buf[i:])
	c.buf[i] = p
	if c.seq == 1 || o.At > c.maxAt {
		c.maxAt = o.At
	}
	n := 0
	for n < len(c.buf) && c.buf[n].o.At < c.maxAt-c.MaxCall {
		c.take(c.buf[n])
		n++
	}
	c.drop(n)
}

// drop removes the first n buffered observations.
func (c *NoTimeTravel) drop(n int) {
	if n == 0 {
		return
	}
	// Reslicing costs nothing; append moves the live part to a new array
	// once the old one is full, so memory stays proportional to it.
	clear(c.buf[:n])
	c.buf = c.buf[n:]
}

// flush takes every buffered observation.
func (c *NoTimeTravel) flush() {
	for _, p := range c.buf {
		c.take(p)
	}
	c.drop(len(c.buf))
}

func (c *NoTimeTravel) mode(m string) *ttModeState {
	s := c.judged[m]
	if s == nil {
		s = &ttModeState{clients: map[string]bool{}}
		c.judged[m] = s
	}
	return s
}

// take judges one observation, in order of arrival, and keeps it as
// evidence if it is a sighting.
func (c *NoTimeTravel) take(p ttPending) {
	o := p.o
	if !c.started || o.At > c.taken {
		c.taken = o.At
	}
	if !c.started {
		c.started = true
		c.sweepAt = c.taken + c.KeyIdle
	}
	if c.taken >= c.sweepAt {
		c.forget()
		c.sweepAt = c.taken + max(c.KeyIdle/4, time.Second)
	}
	var ms *ttModeState
	if o.Mode != RVWrite {
		ms = c.mode(o.Mode)
		ms.counts.Reads++
		if !o.Found || o.RV <= 0 {
			ms.counts.Skipped++
		}
	}
	k := ttGroupKey{o.Client, o.Key}
	g := c.groups[k]
	if g == nil {
		g = &ttGroup{}
		c.groups[k] = g
		ks := c.keys[o.Key]
		if ks == nil {
			ks = &ttKeyState{}
			c.keys[o.Key] = ks
		}
		ks.groups++
	}
	g.last = max(g.last, o.At)
	// Sightings older than any future read's issue fold into the floor.
	cut, n := c.taken-c.MaxCall, 0
	for n < len(g.recent) && g.recent[n].at < cut {
		if s := g.recent[n]; !g.floored || s.rv > g.floor.rv {
			g.floor, g.floored = s, true
		}
		n++
	}
	if n > 0 {
		m := copy(g.recent, g.recent[n:])
		g.recent = g.recent[:m]
	}
	if o.RV <= 0 || (o.Mode != RVWrite && !o.Found) {
		return
	}
	g.recent = append(g.recent, ttSighting{at: o.At, rv: o.RV, mode: o.Mode, server: o.Server})
	if ms == nil {
		return
	}
	var best *ttSighting
	if g.floored {
		best = &g.floor
	}
	for i := range g.recent {
		s := &g.recent[i]
		if s.at >= o.Start {
			break
		}
		if best == nil || s.rv > best.rv {
			best = s
		}
	}
	if best == nil {
		return
	}
	ms.counts.Judged++
	ms.clients[o.Client] = true
	if ks := c.keys[o.Key]; ks != nil && !ks.modes[o.Mode] {
		if ks.modes == nil {
			ks.modes = map[string]bool{}
		}
		ks.modes[o.Mode] = true
		ms.counts.Keys++
	}
	if o.RV < best.rv {
		ms.counts.Violations++
		ms.bad.add(ttViolation{read: o, seen: *best, seq: p.seq}, ttBefore)
	}
}

// ttBefore orders violations by arrival, then client, key, issue and
// order of observation.
func ttBefore(x, y ttViolation) bool {
	a, b := x.read, y.read
	switch {
	case a.At != b.At:
		return a.At < b.At
	case a.Client != b.Client:
		return a.Client < b.Client
	case a.Key != b.Key:
		return a.Key < b.Key
	case a.Start != b.Start:
		return a.Start < b.Start
	}
	return x.seq < y.seq
}

// forget drops the histories idle for KeyIdle.
func (c *NoTimeTravel) forget() {
	for k, g := range c.groups {
		if g.last >= c.taken-c.KeyIdle {
			continue
		}
		delete(c.groups, k)
		if ks := c.keys[k.key]; ks != nil {
			if ks.groups--; ks.groups <= 0 {
				delete(c.keys, k.key)
			}
		}
	}
}

// TimeTravelCounts sums up the reads of one mode, for reports.
type TimeTravelCounts struct {
	Reads      int // reads of the mode observed
	Skipped    int // not-found reads and reads without an RV: not judged
	Judged     int // reads that followed an earlier sighting of their key by their client
	Violations int // judged reads that returned an older RV
	Clients    int // distinct clients among the judged reads
	Keys       int // distinct keys among the judged reads
}

// Counts returns the counts of reads of mode.
func (c *NoTimeTravel) Counts(mode string) TimeTravelCounts {
	counts, _ := c.judge(mode)
	return counts
}

// Modes returns the read modes observed, sorted, with RVQuorum and RVCache
// always included.
func (c *NoTimeTravel) Modes() []string {
	set := map[string]bool{RVQuorum: true, RVCache: true}
	for m := range c.modes {
		set[m] = true
	}
	modes := make([]string, 0, len(set))
	for m := range set {
		modes = append(modes, m)
	}
	sort.Strings(modes)
	return modes
}

// Verdicts returns one verdict per mode of Modes, in that order.
func (c *NoTimeTravel) Verdicts() []harness.Verdict {
	var vs []harness.Verdict
	for _, m := range c.Modes() {
		vs = append(vs, c.Verdict(m))
	}
	return vs
}

// Verdict judges only the reads of mode (RVQuorum, RVCache, …), under the
// check name name+"/"+mode; observations of every mode are evidence.
// Violated lists the reads that returned an older RV than their client had
// already seen (at most a few, then how many more); unknown when no read of
// mode followed an earlier sighting of its key by its client (in
// particular, when there were no reads of mode, or mode is RVWrite); ok
// otherwise, with the counts.
func (c *NoTimeTravel) Verdict(mode string) harness.Verdict {
	v := harness.Verdict{Check: c.name.Of(mode)}
	counts, bad := c.judge(mode)
	noun := mode + " reads"
	skipped := ""
	if counts.Skipped > 0 {
		skipped = fmt.Sprintf("; %d not-found or RV-less reads skipped", counts.Skipped)
	}
	switch {
	case mode == RVWrite:
		v.Status, v.Detail = harness.Unknown, fmt.Sprintf("%q is not a read mode: writes are evidence only", mode)
	case len(bad) > 0:
		items := make([]string, len(bad))
		for i, b := range bad {
			items[i] = ttDescribe(b)
		}
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%d of %d judged %s went back in time: %s",
			counts.Violations, counts.Judged, noun, joinCapped(items, counts.Violations, "; "))
		v.At = bad[0].read.At // the examples are the earliest arrivals, first first
	case counts.Reads == 0:
		v.Status, v.Detail = harness.Unknown, "no "+noun
	case counts.Judged == 0:
		v.Status = harness.Unknown
		v.Detail = fmt.Sprintf("nothing to judge: none of %d %s followed an earlier sighting of its key by its client%s",
			counts.Reads, noun, skipped)
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s by %s on %s followed an earlier sighting, none older than it (%d %s in all%s)",
			countOf(counts.Judged, mode+" read"), countOf(counts.Clients, "client"), countOf(counts.Keys, "key"), counts.Reads, noun, skipped)
	}
	return v
}

// judge takes every buffered observation and returns the counts of mode
// and the first violations, in order of arrival.
func (c *NoTimeTravel) judge(mode string) (TimeTravelCounts, []ttViolation) {
	c.flush()
	ms := c.judged[mode]
	if mode == RVWrite || ms == nil {
		return TimeTravelCounts{}, nil
	}
	counts := ms.counts
	counts.Clients = len(ms.clients)
	return counts, ms.bad.items
}

// ttDescribe tells one violation, e.g. "client u2 read
// configmaps/default/cm-1 at rv 120 via m3/apiserver at 41.2s after seeing
// rv 135 at 40.9s (cache read issued at 41.1s; rv 135 from a quorum read via
// m1/apiserver)".
func ttDescribe(b ttViolation) string {
	r, s := b.read, b.seen
	what := "read " + r.Key
	if kind, ok := strings.CutPrefix(r.Key, "list:"); ok {
		what = "listed " + kind
	}
	from := "its write"
	if s.mode != RVWrite {
		from = "a " + s.mode + " read"
	}
	return fmt.Sprintf("client %s %s at rv %d%s at %s after seeing rv %d at %s (%s read issued at %s; rv %d from %s%s)",
		r.Client, what, r.RV, ttVia(r.Server), fmtT(r.At), s.rv, fmtT(s.at),
		r.Mode, fmtT(r.Start), s.rv, from, ttVia(s.server))
}

func ttVia(server string) string {
	if server == "" {
		return ""
	}
	return " via " + server
}

// exampleCap bounds how many examples a verdict's detail lists.
const exampleCap = 5

// examples keeps how many items were added and the exampleCap least of
// them (ties: the first added), so that a detail can list the first few
// of any number of items in memory bounded by exampleCap.
type examples[T any] struct {
	n     int
	items []T // sorted, at most exampleCap
}

// add counts x and keeps it if it is among the exampleCap least by less.
func (e *examples[T]) add(x T, less func(a, b T) bool) {
	e.n++
	i := len(e.items)
	for i > 0 && less(x, e.items[i-1]) {
		i--
	}
	if i >= exampleCap {
		return
	}
	if len(e.items) < exampleCap {
		var zero T
		e.items = append(e.items, zero)
	}
	copy(e.items[i+1:], e.items[i:])
	e.items[i] = x
}

// joinCapped reads like joinExamples over n items of which items are the
// first (all of them when n ≤ exampleCap).
func joinCapped(items []string, n int, sep string) string {
	if n <= exampleCap {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:exampleCap], sep) + fmt.Sprintf("%sand %d more", sep, n-exampleCap)
}

// joinExamples joins at most exampleCap items, then says how many more.
func joinExamples(items []string, sep string) string {
	if len(items) <= exampleCap {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:exampleCap], sep) + fmt.Sprintf("%sand %d more", sep, len(items)-exampleCap)
}

// countOf says "1 pod", "2 pods".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

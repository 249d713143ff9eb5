package harness

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Entry is one line of a schedule: at time At, apply Faults together (their
// role targets are resolved once, so "pause @raft-leader + isolate
// @raft-leader" hits one host); if For > 0, undo them all For later.
//
// An aimed entry (On set) waits instead, from At on, for a component to
// give the cue On (Ctx.Cue): it fires Offset after the moment the cue
// names (a cue may name a deadline ahead of it), at once if that moment is
// past, and never if no cue comes within Within of At (0: until the run
// ends). Its faults may name @cued, the process that gave the cue. Aimed
// entries hit the moments that matter (a ReadIndex outstanding, a lease
// about to expire) that uniform times seldom reach. Nth > 1 lets the
// first Nth-1 cues pass and fires on the Nth ("on 3rd fleet-write": the
// third write from At on, which may be a reconcile's last), each cue
// counted once, whoever gives it.
type Entry struct {
	At     time.Duration
	Faults []Fault
	For    time.Duration

	On     string
	Nth    int
	Offset time.Duration
	Within time.Duration
}

// CuedRole is the role an aimed entry's faults use for the process that
// gave its cue: "pause @cued".
const CuedRole Role = "cued"

// Aimed reports whether the entry waits for a cue.
func (e Entry) Aimed() bool { return e.On != "" }

// String prints the entry in its canonical text form:
// "at 10s pause @raft-leader + isolate @raft-leader for 8s",
// "at 10s on lease-expiring -500ms within 30s pause @cued for 1s",
// "at 20s on 3rd fleet-write within 1m kill @cued".
func (e Entry) String() string {
	var b strings.Builder
	b.WriteString("at ")
	b.WriteString(e.At.String())
	if e.Aimed() {
		b.WriteString(" on ")
		if e.Nth > 1 {
			b.WriteString(Ordinal(e.Nth))
			b.WriteByte(' ')
		}
		b.WriteString(e.On)
		if e.Offset != 0 {
			b.WriteByte(' ')
			b.WriteString(signed(e.Offset))
		}
		if e.Within > 0 {
			b.WriteString(" within ")
			b.WriteString(e.Within.String())
		}
	}
	for i, f := range e.Faults {
		if i > 0 {
			b.WriteString(" +")
		}
		b.WriteByte(' ')
		b.WriteString(f.String())
	}
	if e.For > 0 {
		b.WriteString(" for ")
		b.WriteString(e.For.String())
	}
	return b.String()
}

// End returns when the entry's effect ends: At+For, or At if it is not undone.
// An aimed entry's end depends on its cue; End gives the latest it can be
// when the cue names no deadline ahead: At+Within+Offset+For (At+For when
// it may wait until the run ends).
func (e Entry) End() time.Duration {
	if e.Aimed() {
		return e.At + e.Within + max(e.Offset, 0) + e.For
	}
	return e.At + e.For
}

// signed prints a duration with its sign: "+2s", "-500ms".
func signed(d time.Duration) string {
	if d < 0 {
		return d.String()
	}
	return "+" + d.String()
}

// Schedule is a fault script: entries in non-decreasing time order. Its text
// form has one entry per line and reads like a script; '#' starts a comment.
type Schedule []Entry

// String prints the schedule, one canonical entry per line.
func (s Schedule) String() string {
	var b strings.Builder
	for _, e := range s {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// LastEnd returns the time at which the schedule's last effect ends (the
// last entry, or the end of the last undo), 0 for an empty schedule.
func (s Schedule) LastEnd() time.Duration {
	var t time.Duration
	for _, e := range s {
		if e.End() > t {
			t = e.End()
		}
	}
	return t
}

// ParseError is a schedule text that could not be read; it names the line
// and the field.
type ParseError struct {
	Line  int
	Field string
	Msg   string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("schedule line %d: %s: %s", e.Line, e.Field, e.Msg)
}

// ParseSchedule reads a schedule's text form.
func ParseSchedule(text string) (Schedule, error) {
	var out Schedule
	for i, raw := range strings.Split(text, "\n") {
		line := raw
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		p := &parser{line: i + 1, toks: tokenize(line)}
		e, err := p.entry()
		if err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && e.At < out[n-1].At {
			return nil, &ParseError{Line: i + 1, Field: "at", Msg: fmt.Sprintf("%s is before the previous entry's %s (entries must be in time order)", e.At, out[n-1].At)}
		}
		out = append(out, e)
	}
	return out, nil
}

// Ordinal prints n as an English ordinal: 1st, 2nd, 3rd, 4th, 11th, 22nd.
func Ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// parseOrdinal reads an ordinal such as "3rd" (any of the four suffixes
// after the digits; a cue name never starts with a digit followed by
// one).
func parseOrdinal(tok string) (int, bool) {
	i := 0
	for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
		i++
	}
	if i == 0 || i > 6 {
		return 0, false
	}
	switch tok[i:] {
	case "st", "nd", "rd", "th":
	default:
		return 0, false
	}
	n, err := strconv.Atoi(tok[:i])
	return n, err == nil
}

func tokenize(line string) []string {
	r := strings.NewReplacer("{", " { ", "}", " } ", "|", " | ", "->", " -> ")
	return strings.Fields(r.Replace(line))
}

type parser struct {
	line int
	toks []string
	pos  int
}

func (p *parser) errf(field, format string, args ...any) error {
	return &ParseError{Line: p.line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (p *parser) entry() (Entry, error) {
	var e Entry
	if kw := p.next(); kw != "at" {
		return e, p.errf("at", "an entry starts with \"at <time>\", got %q", kw)
	}
	tok := p.next()
	if tok == "" {
		return e, p.errf("at", "missing time")
	}
	d, err := ParseDuration("at", tok)
	if err != nil {
		return e, p.errf("at", "%v", strings.TrimPrefix(err.Error(), "at: "))
	}
	e.At = d
	if p.peek() == "on" {
		p.next()
		if n, ok := parseOrdinal(p.peek()); ok {
			p.next()
			if n < 1 {
				return e, p.errf("on", "the cue's ordinal must be 1st or later, got %q", Ordinal(n))
			}
			if n > 1 {
				e.Nth = n // the first cue is the default, named by no ordinal
			}
		}
		cue := p.next()
		if cue == "" {
			return e, p.errf("on", "missing cue name")
		}
		if err := validName(cue); err != nil {
			return e, p.errf("on", "cue %v", err)
		}
		e.On = cue
		if t := p.peek(); t != "" && (t[0] == '+' || t[0] == '-') {
			p.next()
			off, err := time.ParseDuration(t)
			if err != nil {
				return e, p.errf("on", "offset %q is not a signed duration such as +200ms or -1s", t)
			}
			e.Offset = off
		}
		if p.peek() == "within" {
			p.next()
			tok := p.next()
			if tok == "" {
				return e, p.errf("within", "missing duration")
			}
			w, err := ParseDuration("within", tok)
			if err != nil {
				return e, p.errf("within", "%v", strings.TrimPrefix(err.Error(), "within: "))
			}
			if w == 0 {
				return e, p.errf("within", "duration must be positive")
			}
			e.Within = w
		}
	}
	for {
		f, err := p.fault()
		if err != nil {
			return e, err
		}
		e.Faults = append(e.Faults, f)
		if p.peek() != "+" {
			break
		}
		p.next()
		if p.peek() == "" || p.peek() == "for" {
			return e, p.errf("fault", "missing fault after \"+\"")
		}
	}
	if p.peek() == "for" {
		p.next()
		tok := p.next()
		if tok == "" {
			return e, p.errf("for", "missing duration")
		}
		d, err := ParseDuration("for", tok)
		if err != nil {
			return e, p.errf("for", "%v", strings.TrimPrefix(err.Error(), "for: "))
		}
		if d == 0 {
			return e, p.errf("for", "duration must be positive")
		}
		e.For = d
	}
	if t := p.peek(); t != "" {
		return e, p.errf("entry", "unexpected %q after the last fault", t)
	}
	return e, nil
}

func (p *parser) target(field string) (Target, error) {
	tok := p.next()
	switch tok {
	case "", "{", "}", "|", "->", "+", "for", "hold", "on", "within":
		if tok == "" {
			return Target{}, p.errf(field, "missing target")
		}
		return Target{}, p.errf(field, "expected a host, process or @role, got %q", tok)
	}
	if role, ok := strings.CutPrefix(tok, "@"); ok {
		if err := validName(role); err != nil {
			return Target{}, p.errf(field, "role %v", err)
		}
		return RoleT(Role(role)), nil
	}
	for _, part := range strings.Split(tok, "/") {
		if err := validName(part); err != nil {
			return Target{}, p.errf(field, "target %v", err)
		}
	}
	if strings.Count(tok, "/") > 1 {
		return Target{}, p.errf(field, "target %q: a process is written host/name", tok)
	}
	return HostT(tok), nil
}

func (p *parser) group(field string) ([]Target, error) {
	if t := p.next(); t != "{" {
		return nil, p.errf(field, "expected a group \"{host ...}\", got %q", t)
	}
	var g []Target
	for {
		switch p.peek() {
		case "}":
			p.next()
			if len(g) == 0 {
				return nil, p.errf(field, "empty group {}")
			}
			return g, nil
		case "":
			return nil, p.errf(field, "group is missing its closing \"}\"")
		}
		t, err := p.target(field)
		if err != nil {
			return nil, err
		}
		g = append(g, t)
	}
}

func (p *parser) hold() bool {
	if p.peek() == "hold" {
		p.next()
		return true
	}
	return false
}

func (p *parser) between(field string) ([]Target, []Target, error) {
	if p.peek() != "between" {
		return nil, nil, nil
	}
	p.next()
	a, err := p.group(field)
	if err != nil {
		return nil, nil, err
	}
	if t := p.next(); t != "|" {
		return nil, nil, p.errf(field, "expected \"|\" between the groups, got %q", t)
	}
	b, err := p.group(field)
	return a, b, err
}

func (p *parser) fault() (Fault, error) {
	kw := p.next()
	switch kw {
	case "":
		return nil, p.errf("fault", "missing fault after the time")
	case "partition":
		a, err := p.group(kw)
		if err != nil {
			return nil, err
		}
		f := Partition{A: a}
		switch sep := p.next(); sep {
		case "|":
		case "->":
			f.OneWay = true
		default:
			return nil, p.errf(kw, "expected \"|\" (both ways) or \"->\" (one way) between the groups, got %q", sep)
		}
		if f.B, err = p.group(kw); err != nil {
			return nil, err
		}
		f.Hold = p.hold()
		return f, nil
	case "isolate":
		t, err := p.target(kw)
		if err != nil {
			return nil, err
		}
		return Isolate{Host: t, Hold: p.hold()}, nil
	case "heal":
		return Heal{}, nil
	case "signal":
		t, err := p.target(kw)
		if err != nil {
			return nil, err
		}
		name := p.next()
		if err := validName(name); err != nil {
			return nil, p.errf("signal", "expected the signal's name after the process, got %q", name)
		}
		return Signal{Proc: t, Name: name}, nil
	case "crash", "restart", "kill", "term", "start", "pause", "resume":
		t, err := p.target(kw)
		if err != nil {
			return nil, err
		}
		switch kw {
		case "crash":
			return Crash{t}, nil
		case "restart":
			return Restart{t}, nil
		case "kill":
			return Kill{t}, nil
		case "term":
			return Term{t}, nil
		case "start":
			return Start{t}, nil
		case "pause":
			return Pause{t}, nil
		default:
			return Resume{t}, nil
		}
	case "clock":
		t, err := p.target(kw)
		if err != nil {
			return nil, err
		}
		switch what := p.next(); what {
		case "jump":
			tok := p.next()
			if tok == "" || (tok[0] != '+' && tok[0] != '-') {
				return nil, p.errf("clock jump", "expected a signed duration such as +2s or -500ms, got %q", tok)
			}
			d, err := time.ParseDuration(tok)
			if err != nil {
				return nil, p.errf("clock jump", "%q is not a duration", tok)
			}
			return ClockJump{Host: t, By: d}, nil
		case "rate":
			r, err := ParseRate(p.next())
			if err != nil {
				return nil, p.errf("clock rate", "%v", err)
			}
			return ClockRate{Host: t, Rate: r}, nil
		default:
			return nil, p.errf(kw, "expected \"jump\" or \"rate\" after the host, got %q", what)
		}
	case "disk":
		t, err := p.target(kw)
		if err != nil {
			return nil, err
		}
		if w := p.next(); w != "latency" {
			return nil, p.errf("disk", "expected \"latency\" after the host, got %q", w)
		}
		tok := p.next()
		if tok == "" {
			return nil, p.errf("disk latency", "missing duration")
		}
		d, err := ParseDuration("disk latency", tok)
		if err != nil {
			return nil, p.errf("disk latency", "%v", strings.TrimPrefix(err.Error(), "disk latency: "))
		}
		return DiskSlow{Host: t, Latency: d}, nil
	case "net":
		if p.peek() == "reset" {
			p.next()
			a, b, err := p.between("net reset")
			if err != nil {
				return nil, err
			}
			return NetReset{A: a, B: b}, nil
		}
		var f NetFault
		for {
			param := p.peek()
			var bit uint8
			switch param {
			case "delay":
				bit = SetDelay
			case "jitter":
				bit = SetJitter
			case "loss":
				bit = SetLoss
			case "dup":
				bit = SetDup
			case "reorder":
				bit = SetReorder
			}
			if bit == 0 {
				break
			}
			p.next()
			if f.Set&bit != 0 {
				return nil, p.errf("net "+param, "given twice")
			}
			f.Set |= bit
			val := p.next()
			var err error
			switch bit {
			case SetDelay:
				f.Delay, err = ParseDuration("net delay", val)
			case SetJitter:
				f.Jitter, err = ParseDuration("net jitter", val)
			case SetLoss:
				f.Loss, err = ParseProb(val)
			case SetDup:
				f.Dup, err = ParseProb(val)
			case SetReorder:
				f.Reorder, err = ParseProb(val)
			}
			if err != nil {
				return nil, p.errf("net "+param, "%v", strings.TrimPrefix(err.Error(), "net "+param+": "))
			}
		}
		if f.Set == 0 {
			return nil, p.errf("net", "expected reset or at least one of delay, jitter, loss, dup, reorder; got %q", p.peek())
		}
		a, b, err := p.between("net")
		if err != nil {
			return nil, err
		}
		f.A, f.B = a, b
		return f, nil
	default:
		return nil, p.errf("fault", "unknown fault %q (known: partition, isolate, heal, crash, restart, kill, term, start, pause, resume, clock, net, disk)", kw)
	}
}

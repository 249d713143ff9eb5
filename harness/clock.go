package harness

import (
	"math/bits"
	"time"
)

// Clock is a host's local clock, which like a real one has two readings.
//
// The monotonic reading is a piecewise-linear function of true time: from
// the instant base it reads local + (t-base)*rate. Rates model a clock
// running fast or slow (a skewed oscillator, a VM starved of CPU). Timers
// fire by it, as Go's timers, tickers and context deadlines do.
//
// The wall reading is the monotonic one plus the sum of every jump: an NTP
// step or an operator's date command moves the wall clock, not the
// monotonic one, so it never moves a timer. Components read it for
// timestamps they write down (a Lease's renewTime), where a jump shows.
//
// Arithmetic is integer-only (rates are ppm) so that every machine computes
// the same readings.
type Clock struct {
	base  time.Duration // true time at which this segment starts
	local time.Duration // monotonic reading at base
	rate  Rate
	jumps time.Duration // wall reading minus monotonic reading
}

// NewClock returns a clock that reads offset at true time 0 and runs at rate.
func NewClock(offset time.Duration, rate Rate) Clock {
	return Clock{local: offset, rate: rate}
}

// Rate returns the clock's current rate.
func (c *Clock) Rate() Rate { return c.rate }

// Read returns the monotonic reading at true time t (t must not precede
// the start of the current segment).
func (c *Clock) Read(t time.Duration) time.Duration {
	return c.local + mulDiv(t-c.base, int64(c.rate), int64(RateOne), false)
}

// Wall returns the wall reading at true time t: Read plus every jump.
func (c *Clock) Wall(t time.Duration) time.Duration { return c.Read(t) + c.jumps }

// TrueAt returns the earliest true time, not before now, at which the
// monotonic reading is local or later.
func (c *Clock) TrueAt(now, local time.Duration) time.Duration {
	if c.Read(now) >= local {
		return now
	}
	t := c.base + mulDiv(local-c.local, int64(RateOne), int64(c.rate), true)
	if t < now {
		t = now
	}
	return t
}

// SetRate changes the rate from true time now on, without a jump.
func (c *Clock) SetRate(now time.Duration, r Rate) {
	c.local = c.Read(now)
	c.base = now
	c.rate = r
}

// Jump moves the wall reading by d (negative: backwards); the monotonic
// reading, and so every timer, is unaffected.
func (c *Clock) Jump(d time.Duration) { c.jumps += d }

// mulDiv returns d*num/den with a 128-bit intermediate, rounding toward
// negative infinity, or toward positive infinity when up is set.
func mulDiv(d time.Duration, num, den int64, up bool) time.Duration {
	neg := d < 0
	u := uint64(d)
	if neg {
		u = uint64(-d)
	}
	hi, lo := bits.Mul64(u, uint64(num))
	if hi >= uint64(den) {
		panic("hasim: clock arithmetic overflow")
	}
	q, r := bits.Div64(hi, lo, uint64(den))
	// The magnitude is rounded; flip the direction for negative values.
	if r != 0 && up != neg {
		q++
	}
	if neg {
		return -time.Duration(q)
	}
	return time.Duration(q)
}

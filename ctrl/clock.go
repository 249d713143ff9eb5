package ctrl

import (
	"testing/synctest"
	"time"
)

// defaultEpoch is where simulated time starts when no bubble runs: the
// instant a synctest bubble starts at, so that the timestamps the client
// writes into objects (deletionTimestamp) read the same either way.
var defaultEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// clock bridges simulated time and the time user code reads.
//
// Inside a synctest bubble, time.Now and time.Sleep use the bubble's fake
// clock, which moves only when every goroutine of the bubble is durably
// blocked, and then at once to the next timer. The kernel runs on the
// bubble's root goroutine and reconciles on coroutines (which count as
// durably blocked while suspended). Before it resumes user code at local
// time t, the kernel sleeps until epoch+t: the sleep returns at once, with
// the bubble's clock at exactly epoch+t, and the timers user code set for
// instants up to then (context deadlines) have fired. synctest.Wait then
// lets the goroutines those timers started (context cancellation) finish
// before user code looks. The bubble's clock never goes back: a replica
// whose host's clock lags one resumed before it sees the later reading.
type clock struct {
	// bubble: the simulation runs inside a synctest bubble (Manager.Run).
	bubble bool
	// epoch is the time user code reads at simulated local time 0.
	epoch time.Time
}

// at returns the time local simulated time d reads as.
func (c *clock) at(d time.Duration) time.Time { return c.epoch.Add(d) }

// advance moves the bubble's clock to local simulated time d, if it is
// behind it, before user code resumes.
func (c *clock) advance(d time.Duration) {
	if !c.bubble {
		return
	}
	// In the bubble, time.Now and time.Sleep read and move the bubble's
	// fake clock, never the real one.
	if wait := c.at(d).Sub(time.Now()); wait > 0 { //detlint:allow wallclock the bubble's fake clock
		time.Sleep(wait) //detlint:allow wallclock advances the bubble's fake clock at once
		synctest.Wait()
	}
}

// remaining is how long until deadline by the time user code reads, and
// whether the clock is simulated (outside a bubble deadlines are left to
// the API calls' own timeouts).
func (c *clock) remaining(deadline time.Time) (time.Duration, bool) {
	if !c.bubble {
		return 0, false
	}
	return deadline.Sub(time.Now()), true //detlint:allow wallclock the bubble's fake clock
}

package bad

import (
	"time"
	. "time"
	clock "time"
)

var start = time.Now() // want `time.Now reads the wall clock; simulated code must use the host's local clock`

func wallclock(t0 time.Time, d time.Duration) {
	_ = time.Since(t0)           // want `time.Since reads the wall clock`
	_ = time.Until(t0)           // want `time.Until reads the wall clock`
	time.Sleep(d)                // want `time.Sleep blocks on the real clock`
	_ = time.After(d)            // want `time.After waits on the real clock`
	time.AfterFunc(d, func() {}) // want `time.AfterFunc schedules work on the real clock`
	_ = time.Tick(d)             // want `time.Tick ticks on the real clock`
	_ = time.NewTimer(d)         // want `time.NewTimer creates a timer on the real clock`
	_ = time.NewTicker(d)        // want `time.NewTicker creates a ticker on the real clock`
}

// Renamed and dot imports resolve to the same functions.
func renamed() {
	_ = clock.Now() // want `time.Now reads the wall clock`
	_ = Now()       // want `time.Now reads the wall clock`
	Sleep(1)        // want `time.Sleep blocks`
}

// References as values count as uses.
func values() {
	f := time.Now // want `time.Now reads the wall clock`
	_ = f
	var g func(time.Duration) = clock.Sleep // want `time.Sleep blocks`
	_ = g
	table := []func(time.Time) time.Duration{time.Since, time.Until} // want `time.Since reads` `time.Until reads`
	_ = table
	call(time.Now) // want `time.Now reads the wall clock`
}

func call(func() time.Time) {}

// A clock-derived seed is still a wall-clock read.
var _ = time.Now().UnixNano() // want `time.Now reads`

// Package allowed exercises //detlint:allow directives.
package allowed

import (
	crand "crypto/rand"
	"maps"
	"math/rand"
	"time"
)

// Valid directives, same line and line above: no diagnostics.

var started = time.Now() //detlint:allow wallclock the harness records when the run began

//detlint:allow wallclock the harness reports real elapsed time
var elapsed = time.Since(started)

func allowedAll(m map[string]int, work func()) int {
	//detlint:allow goroutine the harness runs the host loop on its own goroutine
	go work()
	go work() //detlint:allow goroutine same-line form

	//detlint:allow channel the harness's shutdown signal
	done := make(chan struct{})
	close(done)
	<-done //detlint:allow channel waits for the shutdown signal

	//detlint:allow channel,goroutine several rules at once
	go func(c chan int) {}(nil)

	_ = rand.Intn(3) //detlint:allow globalrand jitter for a real-time retry, not simulated

	//detlint:allow cryptorand the harness owns the entropy source and derives the seed from it
	_, _ = crand.Read(make([]byte, 8))

	total := 0
	//detlint:allow maprange summing; order does not matter
	for _, n := range m {
		total += n
	}
	for k := range maps.Keys(m) { //detlint:allow maprange counting; order does not matter
		_ = k
		total++
	}

	//detlint:allow wallclock the reason may mention http://example.com/x without ending early
	_ = time.Now()

	return total
}

// A directive only covers its own line and the next one, and only its rule.

func notCovered(m map[string]int) {
	//detlint:allow wallclock this is two lines above

	_ = time.Now() // want `time.Now reads the wall clock`

	//detlint:allow maprange wrong rule for this line
	_ = time.Now() // want `time.Now reads the wall clock`

	/*detlint:allow wallclock block comments are not directives */
	_ = time.Now() // want `time.Now reads the wall clock`

	// detlint:allow wallclock a space after the slashes is not a directive
	_ = time.Now() // want `time.Now reads the wall clock`
}

// Invalid directives are reported and suppress nothing.

func invalid() {
	//detlint:allow wallclock // want `detlint:allow needs a rule and a reason: missing reason`
	_ = time.Now() // want `time.Now reads the wall clock`

	//detlint:allow clock the rule name is wrong // want `detlint:allow needs a rule and a reason: unknown rule "clock"`
	_ = time.Now() // want `time.Now reads the wall clock`

	_ = time.Now() //detlint:allow // want `detlint:allow needs a rule and a reason: missing rule and reason` `time.Now reads the wall clock`

	//detlint:allow wallclock,random two rules, one unknown // want `unknown rule "random"`
	_ = time.Now() // want `time.Now reads the wall clock`

	//detlint:allowed wallclock not the directive (the construct is still reported)
	_ = time.Now() // want `time.Now reads the wall clock`
}

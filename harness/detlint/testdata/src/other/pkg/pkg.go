// Package pkg is outside the default scope: no diagnostics.
package pkg

import (
	crand "crypto/rand"
	"math/rand"
	"time"
)

func Everything(m map[string]int) {
	_ = time.Now()
	ch := make(chan int)
	go func() { ch <- rand.Intn(3) }()
	select {
	case <-ch:
	}
	for range m {
	}
	_, _ = crand.Read(nil)
	//detlint:allow wallclock
}

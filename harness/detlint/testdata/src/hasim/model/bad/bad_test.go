package bad

import (
	"testing"
	"time"
)

// Tests may use the wall clock, goroutines and channels: no diagnostics.
func TestTiming(t *testing.T) {
	start := time.Now()
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	for k := range map[string]int{"a": 1} {
		_ = k
	}
	t.Log(time.Since(start))
}

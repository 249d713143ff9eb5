package clean

import (
	"testing"
	"time"
)

// Test files may read the wall clock: no diagnostic.
func TestNode(t *testing.T) {
	start := time.Now()
	n := NewNode(1, 2)
	n.Advance(time.Second)
	t.Logf("took %v", time.Since(start))
}

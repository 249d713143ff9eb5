package bad_test

import (
	"math/rand"
	"testing"
	"time"
)

// External test packages are skipped too.
func TestExternal(t *testing.T) {
	time.Sleep(time.Millisecond)
	_ = rand.Intn(3)
}

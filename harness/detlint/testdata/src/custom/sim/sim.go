// Package sim is only in scope when -scope includes "custom".
package sim

import "time"

func Now() time.Time {
	return time.Now() // want `time.Now reads the wall clock`
}

func Spawn(f func()) {
	go f() // want `go statement`
}

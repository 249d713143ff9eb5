// Package pkg shares a string prefix with "custom" but is not below it.
package pkg

import "time"

func Now() time.Time {
	return time.Now()
}

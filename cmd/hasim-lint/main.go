// Command hasim-lint checks that simulated code is deterministic.
//
// It runs the detlint analyzer (see package hasim/harness/detlint for the
// rules and the //detlint:allow directive):
//
//	go run ./cmd/hasim-lint ./model/... ./harness/...
//
// It prints a file:line:col diagnostic for each finding and exits non-zero
// if there are any. The -scope flag changes which import paths are checked.
package main

import (
	"golang.org/x/tools/go/analysis/singlechecker"

	"hasim/harness/detlint"
)

func main() {
	singlechecker.Main(detlint.Analyzer)
}

package detlint_test

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"hasim/harness/detlint"
)

// Each fixture's "// want" comments list exactly the expected diagnostics;
// analysistest fails on any missing or unexpected one. The loader includes
// test files (bad_test.go, external_test.go, clean_test.go), which use the
// wall clock, goroutines and so on without wants: that checks they are
// skipped.

func TestBad(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), detlint.Analyzer, "hasim/model/bad")
}

func TestAllowed(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), detlint.Analyzer, "hasim/harness/allowed")
}

func TestClean(t *testing.T) {
	results := analysistest.Run(t, analysistest.TestData(), detlint.Analyzer, "hasim/model/clean")
	requireDiagnostics(t, results, 0)
}

func TestOutOfScope(t *testing.T) {
	results := analysistest.Run(t, analysistest.TestData(), detlint.Analyzer, "other/pkg")
	requireDiagnostics(t, results, 0)
}

// TestTestFilesSkipped checks that the fixtures' test files really were
// loaded and analyzed (so that their lack of diagnostics means something).
func TestTestFilesSkipped(t *testing.T) {
	for _, pkg := range []string{"hasim/model/bad", "hasim/model/clean"} {
		results := analysistest.Run(t, analysistest.TestData(), detlint.Analyzer, pkg)
		sawTestFile := false
		for _, r := range results {
			if r.Pass == nil {
				continue
			}
			for _, f := range r.Pass.Files {
				name := r.Pass.Fset.File(f.Pos()).Name()
				if !strings.HasSuffix(name, "_test.go") {
					continue
				}
				sawTestFile = true
				for _, d := range r.Diagnostics {
					if pos := r.Pass.Fset.Position(d.Pos); pos.Filename == name {
						t.Errorf("%s: diagnostic in test file: %s", pos, d.Message)
					}
				}
			}
		}
		if !sawTestFile {
			t.Errorf("%s: no _test.go file was analyzed", pkg)
		}
	}
}

// TestScopeFlag checks that -scope selects the checked packages.
func TestScopeFlag(t *testing.T) {
	setScope(t, "custom")

	// custom/sim is now in scope and its wants must all be reported.
	analysistest.Run(t, analysistest.TestData(), detlint.Analyzer, "custom/sim")

	// "custom" does not match "customer/...", and hasim/model is no longer
	// in scope: no diagnostics at all.
	for _, pkg := range []string{"customer/pkg", "hasim/model/bad", "hasim/harness/allowed"} {
		rec := &recorder{}
		results := analysistest.Run(rec, analysistest.TestData(), detlint.Analyzer, pkg)
		if len(results) == 0 {
			t.Fatalf("%s: no results; errors: %v", pkg, rec.errors)
		}
		requireDiagnostics(t, results, 0)
	}

	// With the default scope, custom/sim is out of scope: its wants
	// go unmatched.
	setScope(t, detlint.DefaultScope)
	rec := &recorder{}
	results := analysistest.Run(rec, analysistest.TestData(), detlint.Analyzer, "custom/sim")
	requireDiagnostics(t, results, 0)
	if len(rec.errors) == 0 {
		t.Errorf("custom/sim with default scope: expected unmatched wants")
	}

	// Several prefixes, with spaces and a "/..." suffix.
	setScope(t, " other/... , custom ")
	for _, pkg := range []string{"other/pkg", "custom/sim"} {
		results := analysistest.Run(&recorder{}, analysistest.TestData(), detlint.Analyzer, pkg)
		if countDiagnostics(results) == 0 {
			t.Errorf("%s: want diagnostics with -scope=other/...,custom", pkg)
		}
	}
	if got := detlint.Analyzer.Flags.Lookup("scope").Value.String(); got != "other,custom" {
		t.Errorf("scope = %q, want %q", got, "other,custom")
	}
}

// TestScopeDefault checks the flag's default value.
func TestScopeDefault(t *testing.T) {
	f := detlint.Analyzer.Flags.Lookup("scope")
	if f == nil {
		t.Fatal("no -scope flag")
	}
	if f.DefValue != "hasim/model,hasim/harness" {
		t.Errorf("-scope default = %q", f.DefValue)
	}
}

// setScope sets the -scope flag for the rest of the test.
func setScope(t *testing.T, value string) {
	t.Helper()
	flag := detlint.Analyzer.Flags.Lookup("scope")
	old := flag.Value.String()
	if err := flag.Value.Set(value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Value.Set(old) })
}

func countDiagnostics(results []*analysistest.Result) int {
	n := 0
	for _, r := range results {
		n += len(r.Diagnostics)
	}
	return n
}

func requireDiagnostics(t *testing.T, results []*analysistest.Result, want int) {
	t.Helper()
	if len(results) == 0 {
		t.Fatal("no packages analyzed")
	}
	if got := countDiagnostics(results); got != want {
		for _, r := range results {
			for _, d := range r.Diagnostics {
				t.Logf("%s: %s", r.Pass.Fset.Position(d.Pos), d.Message)
			}
		}
		t.Errorf("got %d diagnostics, want %d", got, want)
	}
}

// recorder is an analysistest.Testing that collects errors instead of
// failing, for runs whose wants are expected to go unmatched.
type recorder struct{ errors []string }

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

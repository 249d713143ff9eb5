package detlint

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// Rule names, as used in findings and in //detlint:allow directives.
const (
	RuleWallclock  = "wallclock"
	RuleGoroutine  = "goroutine"
	RuleChannel    = "channel"
	RuleGlobalRand = "globalrand"
	RuleCryptoRand = "cryptorand"
	RuleMapRange   = "maprange"
)

// rules lists every rule name, in documentation order.
var rules = []string{
	RuleWallclock,
	RuleGoroutine,
	RuleChannel,
	RuleGlobalRand,
	RuleCryptoRand,
	RuleMapRange,
}

// DefaultScope is the default value of the -scope flag.
const DefaultScope = "hasim/model,hasim/harness"

// Analyzer reports nondeterministic constructs in simulated code.
// See the package documentation for the rules.
var Analyzer = &analysis.Analyzer{
	Name: "detlint",
	Doc: "report nondeterminism (wall clock, goroutines, channels, global or crypto randomness, map order) in simulated code\n\n" +
		"detlint checks packages under the -scope prefixes (default " + DefaultScope + "), skipping _test.go files. " +
		"Suppress a finding with a '//detlint:allow <rule> <reason>' comment on the same line or the line above. " +
		"Rules: " + strings.Join(rules, ", ") + ".",
	URL: "https://pkg.go.dev/hasim/harness/detlint",
	Run: run,
}

// scope holds the -scope flag: the import-path prefixes that are checked.
var scope = mustParseScope(DefaultScope)

func init() {
	Analyzer.Flags.Var(&scope, "scope",
		"comma-separated import path prefixes to check; a prefix matches itself and everything below it")
}

// prefixList is a flag.Value holding a comma-separated list of prefixes.
type prefixList []string

func mustParseScope(s string) prefixList {
	var p prefixList
	if err := p.Set(s); err != nil {
		panic(err)
	}
	return p
}

func (p *prefixList) String() string {
	if p == nil {
		return ""
	}
	return strings.Join(*p, ",")
}

func (p *prefixList) Set(s string) error {
	var out prefixList
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		part = strings.TrimSuffix(part, "/...")
		part = strings.TrimSuffix(part, "/")
		if part == "" || part == "..." {
			continue
		}
		out = append(out, part)
	}
	*p = out
	return nil
}

// contains reports whether the import path is in scope.
func (p prefixList) contains(path string) bool {
	for _, prefix := range p {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return true
		}
	}
	return false
}

// Functions of package time that read or wait on the real clock, with what
// they do to it.
var wallclockFuncs = map[string]string{
	"Now":       "reads the wall clock",
	"Since":     "reads the wall clock",
	"Until":     "reads the wall clock",
	"Sleep":     "blocks on the real clock",
	"After":     "waits on the real clock",
	"AfterFunc": "schedules work on the real clock",
	"Tick":      "ticks on the real clock",
	"NewTimer":  "creates a timer on the real clock",
	"NewTicker": "creates a ticker on the real clock",
}

// Package-level functions of math/rand and math/rand/v2 that build seeded
// generators rather than drawing from the global source.
var randConstructors = map[string]bool{
	"New":        true,
	"NewSource":  true,
	"NewPCG":     true,
	"NewChaCha8": true,
	"NewZipf":    true,
}

// Functions of package maps returning iterators in map order.
var mapIterators = map[string]bool{
	"Keys":   true,
	"Values": true,
	"All":    true,
}

// checker holds the state of one pass over one file.
type checker struct {
	pass     *analysis.Pass
	allowed  map[allowKey]bool // valid directives, by line and rule
	reported map[token.Pos]bool
	skip     map[ast.Node]bool // nodes already covered by a parent's report
}

type allowKey struct {
	line int
	rule string
}

func run(pass *analysis.Pass) (any, error) {
	if !scope.contains(pass.Pkg.Path()) {
		return nil, nil
	}
	for _, file := range pass.Files {
		name := pass.Fset.File(file.Pos()).Name()
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		c := &checker{
			pass:     pass,
			allowed:  make(map[allowKey]bool),
			reported: make(map[token.Pos]bool),
			skip:     make(map[ast.Node]bool),
		}
		c.readDirectives(file)
		ast.Inspect(file, c.visit)
	}
	return nil, nil
}

// report records a finding of the rule at pos unless a directive allows it
// or something was already reported there.
func (c *checker) report(rule string, pos token.Pos, format string, args ...any) {
	line := c.pass.Fset.Position(pos).Line
	if c.allowed[allowKey{line, rule}] || c.reported[pos] {
		return
	}
	c.reported[pos] = true
	c.pass.Report(analysis.Diagnostic{
		Pos:      pos,
		Category: rule,
		Message:  fmt.Sprintf(format, args...) + " [" + rule + "]",
	})
}

func (c *checker) visit(n ast.Node) bool {
	if n == nil || c.skip[n] {
		// Skipped nodes may still have children worth checking
		// (e.g. the operand of a receive in a select case).
		return n != nil
	}
	switch n := n.(type) {
	case *ast.SelectorExpr:
		if c.checkObject(n.Sel, n.Pos()) {
			c.skip[n.Sel] = true
		}
	case *ast.Ident:
		c.checkObject(n, n.Pos())
	case *ast.GoStmt:
		c.report(RuleGoroutine, n.Go,
			"go statement starts a goroutine, and the Go scheduler interleaves goroutines differently on every run; "+
				"simulated code must leave concurrency to the simulation host")
	case *ast.ChanType:
		// One finding for chan chan T.
		for inner, ok := n.Value.(*ast.ChanType); ok; inner, ok = inner.Value.(*ast.ChanType) {
			c.skip[inner] = true
		}
		c.report(RuleChannel, n.Pos(),
			"channel type %s: channels synchronize goroutines, whose order is nondeterministic; "+
				"simulated code must not use channels", types.ExprString(n))
	case *ast.SendStmt:
		c.report(RuleChannel, n.Arrow,
			"channel send: channels synchronize goroutines, whose order is nondeterministic; "+
				"simulated code must not use channels")
	case *ast.UnaryExpr:
		if n.Op == token.ARROW {
			c.report(RuleChannel, n.OpPos,
				"channel receive: channels synchronize goroutines, whose order is nondeterministic; "+
					"simulated code must not use channels")
		}
	case *ast.SelectStmt:
		c.skipCommOps(n)
		c.report(RuleChannel, n.Select,
			"select statement picks among ready channel operations at random; "+
				"simulated code must not use channels")
	case *ast.RangeStmt:
		c.checkRange(n)
	}
	return true
}

// skipCommOps marks the send or receive operation of each case of a select,
// so that the select is reported once rather than once per case.
func (c *checker) skipCommOps(sel *ast.SelectStmt) {
	for _, stmt := range sel.Body.List {
		clause, ok := stmt.(*ast.CommClause)
		if !ok || clause.Comm == nil {
			continue
		}
		switch comm := clause.Comm.(type) {
		case *ast.SendStmt:
			c.skip[comm] = true
		case *ast.ExprStmt:
			c.skipRecv(comm.X)
		case *ast.AssignStmt:
			if len(comm.Rhs) == 1 {
				c.skipRecv(comm.Rhs[0])
			}
		}
	}
}

func (c *checker) skipRecv(e ast.Expr) {
	if u, ok := ast.Unparen(e).(*ast.UnaryExpr); ok && u.Op == token.ARROW {
		c.skip[u] = true
	}
}

// checkObject checks a use of an identifier, reporting at pos (the start of
// the qualified identifier, if any). It reports whether it found a problem.
func (c *checker) checkObject(id *ast.Ident, pos token.Pos) bool {
	obj := c.pass.TypesInfo.Uses[id]
	if obj == nil || obj.Pkg() == nil {
		return false
	}
	// Only package-level objects: methods and locals are fine.
	if fn, ok := obj.(*types.Func); ok {
		if fn.Signature().Recv() != nil {
			return false
		}
	} else if _, ok := obj.(*types.Var); !ok || obj.Pkg().Scope().Lookup(obj.Name()) != obj {
		return false
	}
	_, isFunc := obj.(*types.Func)
	path, name := obj.Pkg().Path(), obj.Name()
	switch path {
	case "time":
		what, ok := wallclockFuncs[name]
		if !ok || !isFunc {
			return false
		}
		c.report(RuleWallclock, pos,
			"time.%s %s; simulated code must use the host's local clock", name, what)
	case "math/rand", "math/rand/v2":
		if !isFunc || randConstructors[name] {
			return false
		}
		c.report(RuleGlobalRand, pos,
			"rand.%s (%s) draws from the process-global random source, which the simulation seed does not control; "+
				"use methods of a seeded generator (e.g. rand.New(...) from the host's seed)", name, path)
	case "crypto/rand":
		what := "function"
		if !isFunc {
			what = "variable"
		}
		c.report(RuleCryptoRand, pos,
			"crypto/rand.%s (%s) draws from the operating system's entropy; the harness owns that source, "+
				"and simulated code must use the randomness the host provides", name, what)
	default:
		return false
	}
	return true
}

func (c *checker) checkRange(rs *ast.RangeStmt) {
	if call, ok := ast.Unparen(rs.X).(*ast.CallExpr); ok {
		if fn, ok := typeutil.Callee(c.pass.TypesInfo, call).(*types.Func); ok &&
			fn.Pkg() != nil && fn.Pkg().Path() == "maps" && mapIterators[fn.Name()] {
			c.report(RuleMapRange, rs.For,
				"range over maps.%s visits the map in its randomized iteration order; "+
					"range over sorted keys instead (e.g. a sorted-keys helper such as slices.Sorted(maps.Keys(m)))",
				fn.Name())
			return
		}
	}
	t := c.pass.TypesInfo.TypeOf(rs.X)
	if t == nil {
		return
	}
	if isMap(t) {
		c.report(RuleMapRange, rs.For,
			"range over map (%s) visits keys in randomized order; "+
				"range over sorted keys instead (e.g. a sorted-keys helper such as slices.Sorted(maps.Keys(m)))",
			types.TypeString(t, types.RelativeTo(c.pass.Pkg)))
		return
	}
	if isChan(t) {
		c.report(RuleChannel, rs.For,
			"range over channel receives from a channel: channels synchronize goroutines, whose order is nondeterministic; "+
				"simulated code must not use channels")
	}
}

// isMap reports whether ranging over a value of type t iterates a map:
// its underlying type is a map, or it is a type parameter whose type set
// contains maps.
func isMap(t types.Type) bool {
	return hasUnderlying(t, func(u types.Type) bool {
		_, ok := u.(*types.Map)
		return ok
	}, 0)
}

// isChan is like isMap, for channels.
func isChan(t types.Type) bool {
	return hasUnderlying(t, func(u types.Type) bool {
		_, ok := u.(*types.Chan)
		return ok
	}, 0)
}

// hasUnderlying reports whether t's underlying type satisfies pred, or, for
// a type parameter, whether some type in its type set does.
func hasUnderlying(t types.Type, pred func(types.Type) bool, depth int) bool {
	if depth > 10 {
		return false // defensive: constraints cannot really nest this deep
	}
	t = types.Unalias(t)
	if tp, ok := t.(*types.TypeParam); ok {
		return constraintHas(tp.Constraint(), pred, depth+1)
	}
	return pred(t.Underlying())
}

func constraintHas(constraint types.Type, pred func(types.Type) bool, depth int) bool {
	iface, ok := constraint.Underlying().(*types.Interface)
	if !ok {
		return false
	}
	for i := 0; i < iface.NumEmbeddeds(); i++ {
		switch e := types.Unalias(iface.EmbeddedType(i)).(type) {
		case *types.Union:
			for j := 0; j < e.Len(); j++ {
				if hasUnderlying(e.Term(j).Type(), pred, depth+1) {
					return true
				}
			}
		default:
			if _, nested := e.Underlying().(*types.Interface); nested {
				if constraintHas(e, pred, depth+1) {
					return true
				}
			} else if hasUnderlying(e, pred, depth+1) {
				return true
			}
		}
	}
	return false
}

package detlint

import (
	"go/ast"
	"strings"
)

// directivePrefix starts an allow directive comment.
const directivePrefix = "//detlint:allow"

// isRule reports whether name is a known rule.
func isRule(name string) bool {
	for _, r := range rules {
		if r == name {
			return true
		}
	}
	return false
}

// readDirectives records the valid //detlint:allow directives of file and
// reports the invalid ones.
//
// A valid directive allows its rules on its own line and on the next one.
func (c *checker) readDirectives(file *ast.File) {
	for _, group := range file.Comments {
		for _, comment := range group.List {
			rest, ok := strings.CutPrefix(comment.Text, directivePrefix)
			if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
				continue // not a directive (e.g. //detlint:allowed)
			}
			// A nested " //" starts a trailing comment, not part of the reason.
			if i := strings.Index(rest, " //"); i >= 0 {
				rest = rest[:i]
			}
			fields := strings.Fields(rest)
			if len(fields) < 2 {
				what := "missing reason"
				if len(fields) == 0 {
					what = "missing rule and reason"
				}
				c.reportDirective(comment, "%s", what)
				continue
			}
			names := strings.Split(fields[0], ",")
			valid := true
			for _, name := range names {
				if !isRule(name) {
					c.reportDirective(comment, "unknown rule %q", name)
					valid = false
					break
				}
			}
			if !valid {
				continue
			}
			line := c.pass.Fset.Position(comment.Slash).Line
			for _, name := range names {
				c.allowed[allowKey{line, name}] = true
				c.allowed[allowKey{line + 1, name}] = true
			}
		}
	}
}

func (c *checker) reportDirective(comment *ast.Comment, format string, args ...any) {
	c.pass.Reportf(comment.Slash,
		"detlint:allow needs a rule and a reason: "+format+
			" (write //detlint:allow <rule> <reason>; rules: "+strings.Join(rules, ", ")+")",
		args...)
}

package judge

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The model and the kernel report facts and judge nothing: no package under
// model/ or harness/ imports a checker (their tests may use one as an
// oracle). A checker imported there would let a component judge itself.
func TestModelImportsNoChecker(t *testing.T) {
	for _, root := range []string{"../../model", "../../harness"} {
		n := 0
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
				strings.Contains(path, "testdata") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			n++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if p == "hasim/checkers" || strings.HasPrefix(p, "hasim/checkers/") {
					t.Errorf("%s imports %s", path, p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("no Go files found under %s", root)
		}
	}
}

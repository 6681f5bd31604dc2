// exported counts the exported top-level identifiers (types, funcs,
// methods, vars, consts) of each importable package (outside internal/,
// tests excluded) of the module in the working directory: the public
// surface a user could import. Run from the root: go run .ci/exported.go
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	counts := map[string]int{}
	filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if d.IsDir() {
			n := d.Name()
			if p != "." && (n == "testdata" || n == "internal" || n == "integration" || n == "bench" || n == "cmd" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil && p != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil || f.Name.Name == "main" {
			return nil
		}
		dir := filepath.Dir(p)
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Name.IsExported() {
					counts[dir]++
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							counts[dir]++
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								counts[dir]++
							}
						}
					}
				}
			}
		}
		return nil
	})
	total := 0
	for d, n := range counts {
		fmt.Printf("%s\t%d\n", d, n)
		total += n
	}
	fmt.Printf("packages %d, exported identifiers %d\n", len(counts), total)
}

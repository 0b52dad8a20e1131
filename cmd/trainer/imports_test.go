package main

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoBackendImports: the command line names devices, never backends;
// backends register themselves (train/backends_cuda.go links CUDA into
// cuda builds). No file here, whatever its build tags, may import one.
func TestNoBackendImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	fs := token.NewFileSet()
	for _, f := range files {
		ast, err := parser.ParseFile(fs, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "trainer/cuda" || strings.HasPrefix(path, "trainer/cuda/") {
				t.Errorf("%s imports %s; open devices through train/device instead", f, path)
			}
		}
	}
}

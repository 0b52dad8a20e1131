//go:build tools

// This file pins modules that only some build tags or tools use, so that
// go mod tidy keeps them in go.mod for every build.
package tools

import (
	_ "github.com/schollz/progressbar/v3"
	_ "go4.org/unsafe/assume-no-moving-gc"
	_ "golang.org/x/sys/unix"
	_ "gonum.org/v1/gonum/blas/gonum"
	_ "gonum.org/v1/netlib/blas/netlib"
	_ "gonum.org/v1/plot"
	_ "gorgonia.org/cu"
	_ "gorgonia.org/gorgonia"
	_ "gorgonia.org/tensor"
)

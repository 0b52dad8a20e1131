// Package kernels holds the CUDA C++ sources of the GPU kernels and the PTX
// that `make ptx` generates from them for each supported architecture,
// embedded so that building the CUDA binary needs no nvcc. The files are
// kernels/NAME.cu and kernels/NAME.compute_ARCH.ptx.
package kernels

import (
	"embed"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

//go:embed *.ptx
var ptxFS embed.FS

// Module is one .cu file compiled for one architecture.
type Module struct {
	Name    string   // the .cu file's base name, e.g. "lstm"
	Arch    int      // virtual architecture, e.g. 80 for compute_80
	PTX     string   // the PTX text, NUL-free (cuModuleLoadData wants a C string)
	Entries []string // kernel names defined in the module
}

// Archs lists the virtual architectures PTX was generated for, ascending.
func Archs() []int {
	seen := map[int]bool{}
	for _, m := range all() {
		seen[m.Arch] = true
	}
	var out []int
	for a := range seen {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// ForDevice returns the modules to load on a device of compute capability
// major.minor: the newest PTX architecture not above the device's (the
// driver JIT-compiles PTX for newer GPUs, never for older ones).
func ForDevice(major, minor int) ([]Module, error) {
	cc := major*10 + minor
	best := -1
	for _, a := range Archs() {
		if a <= cc {
			best = a
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("compute capability %d.%d is below every architecture the kernels are built for (%v): a GPU of sm_80 (A100) or newer is needed", major, minor, Archs())
	}
	var out []Module
	for _, m := range all() {
		if m.Arch == best {
			out = append(out, m)
		}
	}
	return out, nil
}

var (
	fileRE  = regexp.MustCompile(`^([a-z0-9_]+)\.compute_([0-9]+)\.ptx$`)
	entryRE = regexp.MustCompile(`(?m)^\.visible \.entry ([A-Za-z_][A-Za-z0-9_]*)\(`)
)

// all parses every embedded PTX file, in name order.
func all() []Module {
	files, _ := ptxFS.ReadDir(".")
	var out []Module
	for _, f := range files {
		m := fileRE.FindStringSubmatch(f.Name())
		if m == nil {
			continue
		}
		arch, _ := strconv.Atoi(m[2])
		b, _ := ptxFS.ReadFile(path.Clean(f.Name()))
		text := strings.TrimRight(string(b), "\x00")
		var entries []string
		for _, e := range entryRE.FindAllStringSubmatch(text, -1) {
			entries = append(entries, e[1])
		}
		out = append(out, Module{Name: m[1], Arch: arch, PTX: text, Entries: entries})
	}
	return out
}

//go:build !cuda

package cuda

import "fmt"

// Available reports whether this binary was built with CUDA support.
const Available = false

// Open would open GPU ordinal with the given number of streams; this binary
// was built without the `cuda` tag, so it says how to get one that can.
func Open(ordinal, streams int) (Backend, error) {
	return nil, fmt.Errorf("device cuda:%d: this trainer binary was built without CUDA support; "+
		"build one with `make cuda` (go build -tags cuda, needs cuda.h and libcuda from nvidia-cuda-dev) "+
		"and run bin/trainer-cuda, or use --device cpu", ordinal)
}

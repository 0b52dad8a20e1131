//go:build emu && !cuda

package emu

import (
	"trainer/cuda"
	"trainer/train/device"
)

// A binary built with -tags emu (and without cuda) trains --device cuda:N
// on the host emulation of a compute capability 9.0 GPU: far too slow for
// real data, but it runs exactly the launch sequence a GPU would get.
func init() {
	device.Register("cuda", func(spec device.Spec, req device.Request) (*device.Set, error) {
		return cuda.OpenSet(New(req.Streams), spec, req)
	})
}

//go:build emu && !cuda

package train

// A -tags emu build links the host-emulated CUDA backend, which registers
// itself as --device cuda:N, so that the whole command-line path of a GPU
// run can be tested without a GPU.
import _ "trainer/cuda/emu"

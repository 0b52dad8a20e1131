// Package cuda trains the model on NVIDIA GPUs with the kernels in
// kernels/: a replica with the same contract and flat parameter/gradient
// layout as the CPU replica, fp32 or mixed precision (fp16 with loss
// scaling, or bf16), and a device-resident trainer that also runs the
// AdamW update on the GPU.
//
// The replica drives a Backend: device memory, copies, streams and kernel
// launches by name. The `cuda` build tag provides the real backend over
// the CUDA driver (gorgonia.org/cu); without the tag, Open reports that
// the binary has no CUDA support. Package cuda/emu provides a host backend
// that runs the same kernel sources on the CPU, which is how the launch
// sequence here is tested on machines without a GPU.
package cuda

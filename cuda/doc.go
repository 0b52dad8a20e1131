// Package cuda trains the model on NVIDIA GPUs with the kernels in
// kernels/: a replica with the same contract and flat parameter/gradient
// layout as the CPU replica, fp32 or mixed precision (fp16 with loss
// scaling, or bf16), and Resident, which keeps weights, gradients, AdamW
// moments and loss-scaler decisions on the GPU for the whole run. OpenSet
// offers both through the replica contract of package train/device.
//
// The replica drives a Backend: device memory, copies, streams and kernel
// launches by name. The `cuda` build tag provides the real backend over
// the CUDA driver (gorgonia.org/cu); without the tag, Open reports that
// the binary has no CUDA support. Every backend counts its launches,
// copies and host synchronisations (Counters), which is how the GPU step
// budget is proven without a GPU. Package cuda/emu provides a host backend
// that runs the same kernel sources on the CPU, which is how the launch
// sequence here is tested on machines without a GPU.
package cuda

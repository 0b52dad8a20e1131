// k_gemm.cc: kernels/gemm.cu compiled for the host emulator.
#include "../../kernels/gemm.cu"
#include "emu_registry.h"

EMU_KERNEL(gemm_f32)
EMU_KERNEL(gemm_f16)
EMU_KERNEL(gemm_bf16)

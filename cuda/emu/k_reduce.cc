// k_reduce.cc: kernels/reduce.cu compiled for the host emulator.
#include "../../kernels/reduce.cu"
#include "emu_registry.h"

EMU_KERNEL(colsum_f32)
EMU_KERNEL(sumsq_f32)

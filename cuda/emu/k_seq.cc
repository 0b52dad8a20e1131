// k_seq.cc: kernels/seq.cu compiled for the host emulator.
#include "../../kernels/seq.cu"
#include "emu_registry.h"

EMU_KERNEL(seq_copy_f32)
EMU_KERNEL(seq_copy_f16)
EMU_KERNEL(seq_copy_bf16)

// k_embed.cc: kernels/embed.cu compiled for the host emulator.
#include "../../kernels/embed.cu"
#include "emu_registry.h"

EMU_KERNEL(embed_forward_f32)
EMU_KERNEL(embed_forward_f16)
EMU_KERNEL(embed_forward_bf16)
EMU_KERNEL(embed_backward)

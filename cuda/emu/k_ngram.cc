// k_ngram.cc: kernels/ngram.cu compiled for the host emulator.
#include "../../kernels/ngram.cu"
#include "emu_registry.h"

EMU_KERNEL(ngram_features)
EMU_KERNEL(ngram_forward)
EMU_KERNEL(ngram_backward)

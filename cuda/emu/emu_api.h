// emu_api.h: the C interface the Go side of the emulator calls.
#ifndef TRAINER_EMU_API_H
#define TRAINER_EMU_API_H

#ifdef __cplusplus
extern "C" {
#endif

#define EMU_ERR_UNKNOWN_KERNEL 1
#define EMU_ERR_BAD_LAUNCH 2

#include <stddef.h>

// emu_launch runs the named kernel over a grid; args[i] points at argument
// i, as for cuLaunchKernel. A cooperative launch runs every block at once,
// so that grid barriers complete; shared_bytes is each block's dynamic
// shared memory. It returns 0 or an EMU_ERR_ code.
int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               int cooperative, size_t shared_bytes, void** args);

// emu_kernel_count and emu_kernel_name list the registered kernels.
int emu_kernel_count(void);
const char* emu_kernel_name(int i);

#ifdef __cplusplus
}
#endif

#endif // TRAINER_EMU_API_H

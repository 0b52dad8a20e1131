// emu_runtime.cc: fibers, barriers and launches behind emu_cuda.h, and
// the table of kernels the Go side launches by name.
#include "emu_api.h"
#include "emu_cuda.h"
#include "emu_registry.h"

#include <ucontext.h>

#if defined(__x86_64__)
// emu_switch saves the callee-saved registers and the SSE/x87 control
// words on the current stack, stores the stack pointer in *from and resumes
// the context whose stack pointer is to. It is what swapcontext does
// without swapcontext's signal-mask system call, which made the call
// dominate an emulated kernel's time.
extern "C" void emu_switch(void** from, void* to);
asm(R"(
    .text
    .globl emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch
)");
#define EMU_FAST_SWITCH 1
#endif

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace emu {

thread_local Thread* cur = nullptr;

namespace {

// Stack per fiber: the deepest kernel frame (the WMMA GEMM's fragments)
// needs about 12 KiB.
constexpr size_t kStackBytes = 128 * 1024;

// Gate is a barrier among fibers: arrivals count up to the number of live
// members; the last arrival opens the next generation.
struct Gate {
    int members = 0;
    int arrived = 0;
    uint64_t gen = 0;

    void open() {
        arrived = 0;
        gen++;
    }
};

struct Fiber {
    ucontext_t ctx; // without EMU_FAST_SWITCH
    void* sp = nullptr; // with EMU_FAST_SWITCH: the saved stack pointer
    char* stack = nullptr;
    Thread self;
    bool done = false;
};

// Group is the scheduler state of the blocks that run together, on the
// launching OS thread: one block at a time for an ordinary launch, every
// block of the grid for a cooperative one (so that grid barriers can
// complete). Fiber i is thread i % per of the group's block i / per.
struct Group {
    int per = 0;                    // threads per block
    int warps_per = 0;              // warps per block
    std::vector<Fiber> fibers;      // nblocks * per
    std::vector<Gate> bars;         // __syncthreads, one per block
    std::vector<Gate> warps;        // __syncwarp and shuffles, per block and warp
    Gate grid;                      // grid-wide barrier (cooperative launches)
    std::vector<uint64_t> slots;    // shuffle exchange, one per fiber
    std::vector<std::vector<unsigned char>> shared; // dynamic shared memory per block
    ucontext_t sched; // without EMU_FAST_SWITCH
    void* sched_sp = nullptr;
    int running = -1;
    const std::function<void()>* body = nullptr;
};

thread_local Group* blk = nullptr;

// stacks are fiber stacks kept per OS thread across launches; new char[]
// leaves them uninitialised, so untouched pages cost nothing.
thread_local std::vector<std::unique_ptr<char[]>> stacks;

void yield_to_scheduler() {
    Fiber& f = blk->fibers[blk->running];
#ifdef EMU_FAST_SWITCH
    emu_switch(&f.sp, blk->sched_sp);
#else
    swapcontext(&f.ctx, &blk->sched);
#endif
    cur = &blk->fibers[blk->running].self;
}

// wait_at arrives at g and yields until its generation advances.
void wait_at(Gate& g) {
    const uint64_t my = g.gen;
    if (++g.arrived >= g.members) {
        g.open();
        return;
    }
    while (g.gen == my) {
        yield_to_scheduler();
    }
}

// leave removes an exited thread from g, opening it if the others were
// only waiting for this one.
void leave(Gate& g) {
    g.members--;
    if (g.arrived > 0 && g.arrived >= g.members) {
        g.open();
    }
}

Gate& warp_gate() { return blk->warps[cur->slot * blk->warps_per + cur->linear / 32]; }

void fiber_main() {
    Group* g = blk;
    (*g->body)();
    const int i = g->running; // the body may have yielded; re-read
    Fiber& f = g->fibers[i];
    f.done = true;
    leave(g->bars[f.self.slot]);
    leave(g->warps[f.self.slot * g->warps_per + f.self.linear / 32]);
    leave(g->grid);
    // Returning resumes uc_link, the scheduler (ucontext); fiber_entry
    // switches back itself.
}

#ifdef EMU_FAST_SWITCH
// fiber_entry is where a new fiber starts: it runs the thread and hands
// control back to the scheduler for good (a finished fiber is never
// resumed).
void fiber_entry() {
    fiber_main();
    Group* g = blk;
    emu_switch(&g->fibers[g->running].sp, g->sched_sp);
    __builtin_unreachable();
}

// fresh_stack lays out a new fiber's stack as emu_switch leaves a paused
// one, so that the first switch to it "returns" into fiber_entry with the
// stack aligned as at a function's entry.
void* fresh_stack(char* stack, size_t bytes) {
    uintptr_t top = ((uintptr_t)(stack + bytes) & ~(uintptr_t)15) - 8; // entry: rsp % 16 == 8
    uint64_t* sp = (uint64_t*)top;
    *--sp = (uint64_t)(uintptr_t)&fiber_entry; // return address
    for (int i = 0; i < 6; i++) {
        *--sp = 0; // rbp, rbx, r12..r15
    }
    *--sp = 0x037f00001f80ull; // mxcsr (low 4 bytes) and the x87 control word
    return sp;
}
#endif

// run_group runs the blocks first..first+count-1 (linear block indices)
// together until every thread has returned.
void run_group(Group& g, dim3 grid, dim3 block, unsigned first, unsigned count, size_t shared_bytes) {
    const int total = g.per * (int)count;
    g.fibers.assign(total, Fiber());
    g.slots.assign(total, 0);
    g.bars.assign(count, Gate());
    g.warps.assign(count * g.warps_per, Gate());
    g.shared.resize(count);
    g.grid = Gate();
    g.grid.members = total;
    while ((int)stacks.size() < total) {
        stacks.emplace_back(new char[kStackBytes]);
    }
    for (unsigned k = 0; k < count; k++) {
        g.bars[k].members = g.per;
        for (int w = 0; w < g.warps_per; w++) {
            g.warps[k * g.warps_per + w].members = std::min(32, g.per - w * 32);
        }
        // Like a GPU's, dynamic shared memory starts as garbage.
        g.shared[k].assign(std::max<size_t>(shared_bytes, 1), 0xff);
        const unsigned lin = first + k;
        const dim3 bid(lin % grid.x, lin / grid.x % grid.y, lin / (grid.x * grid.y));
        for (int i = 0; i < g.per; i++) {
            Fiber& f = g.fibers[k * g.per + i];
            f.stack = stacks[k * g.per + i].get();
            f.self.tid = dim3(i % block.x, i / block.x % block.y, i / (block.x * block.y));
            f.self.bid = bid;
            f.self.bdim = block;
            f.self.gdim = grid;
            f.self.linear = i;
            f.self.slot = (int)k;
            f.self.global = (int)k * g.per + i;
#ifdef EMU_FAST_SWITCH
            f.sp = fresh_stack(f.stack, kStackBytes);
#else
            getcontext(&f.ctx);
            f.ctx.uc_stack.ss_sp = f.stack;
            f.ctx.uc_stack.ss_size = kStackBytes;
            f.ctx.uc_link = &g.sched;
            makecontext(&f.ctx, fiber_main, 0);
#endif
        }
    }
    // Round-robin until every fiber of the group has returned.
    int live = total;
    while (live > 0) {
        live = 0;
        for (int i = 0; i < total; i++) {
            if (g.fibers[i].done) {
                continue;
            }
            g.running = i;
            cur = &g.fibers[i].self;
#ifdef EMU_FAST_SWITCH
            emu_switch(&g.sched_sp, g.fibers[i].sp);
#else
            swapcontext(&g.sched, &g.fibers[i].ctx);
#endif
            if (!g.fibers[i].done) {
                live++;
            }
        }
    }
}

} // namespace

void syncthreads() { wait_at(blk->bars[cur->slot]); }

void syncwarp() { wait_at(warp_gate()); }

void gridsync() { wait_at(blk->grid); }

void* dynamic_shared() { return blk->shared[cur->slot].data(); }

uint64_t shfl(uint64_t v, int src_lane) {
    const int base = cur->global - cur->linear + cur->linear / 32 * 32;
    const int block_end = cur->global - cur->linear + blk->per;
    blk->slots[cur->global] = v;
    syncwarp();
    const int src = base + (src_lane & 31);
    const uint64_t r = src < block_end ? blk->slots[src] : v;
    syncwarp();
    return r;
}

void launch(dim3 grid, dim3 block, const std::function<void()>& body, bool cooperative, size_t shared_bytes) {
    static std::mutex launch_mu; // __shared__ statics are process-wide
    std::lock_guard<std::mutex> lk(launch_mu);
    Group g;
    g.per = (int)(block.x * block.y * block.z);
    g.warps_per = (g.per + 31) / 32;
    g.body = &body;
    Group* saved_blk = blk;
    Thread* saved_cur = cur;
    blk = &g;
    const unsigned blocks = grid.x * grid.y * grid.z;
    if (cooperative) {
        run_group(g, grid, block, 0, blocks, shared_bytes);
    } else {
        for (unsigned b = 0; b < blocks; b++) {
            run_group(g, grid, block, b, 1, shared_bytes);
        }
    }
    blk = saved_blk;
    cur = saved_cur;
}

static std::map<std::string, KernelThunk>& registry() {
    static std::map<std::string, KernelThunk> m;
    return m;
}

Registrar::Registrar(const char* name, KernelThunk fn) { registry()[name] = std::move(fn); }

} // namespace emu

extern "C" int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                          unsigned bz, int cooperative, size_t shared_bytes, void** args) {
    auto& reg = emu::registry();
    auto it = reg.find(name);
    if (it == reg.end()) {
        return EMU_ERR_UNKNOWN_KERNEL;
    }
    const unsigned long long threads = (unsigned long long)bx * by * bz;
    if (threads == 0 || threads > 1024 || gx == 0 || gy == 0 || gz == 0) {
        return EMU_ERR_BAD_LAUNCH;
    }
    const emu::KernelThunk& fn = it->second;
    emu::launch(dim3(gx, gy, gz), dim3(bx, by, bz), [&] { fn(args); }, cooperative != 0, shared_bytes);
    return 0;
}

extern "C" int emu_kernel_count(void) { return (int)emu::registry().size(); }

extern "C" const char* emu_kernel_name(int i) {
    auto it = emu::registry().begin();
    std::advance(it, i);
    return it->first.c_str();
}

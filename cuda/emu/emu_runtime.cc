// emu_runtime.cc: fibers, barriers and launches behind emu_cuda.h, and
// the table of kernels the Go side launches by name.
#include "emu_api.h"
#include "emu_cuda.h"
#include "emu_registry.h"

#include <ucontext.h>

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
    ucontext_t ctx;
    char* stack = nullptr;
    Thread self;
    bool done = false;
};

// Block is the scheduler state of the running block, on the launching OS
// thread.
struct Block {
    int n = 0;
    std::vector<Fiber> fibers;
    Gate bar;                 // __syncthreads
    std::vector<Gate> warps;  // __syncwarp and shuffles
    std::vector<uint64_t> slots;
    ucontext_t sched;
    int running = -1;
    const std::function<void()>* body = nullptr;
};

thread_local Block* blk = nullptr;

// stacks are fiber stacks kept per OS thread across launches; new char[]
// leaves them uninitialised, so untouched pages cost nothing.
thread_local std::vector<std::unique_ptr<char[]>> stacks;

void yield_to_scheduler() {
    Fiber& f = blk->fibers[blk->running];
    swapcontext(&f.ctx, &blk->sched);
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

void fiber_main() {
    Block* b = blk;
    (*b->body)();
    const int i = b->running; // the body may have yielded; re-read
    b->fibers[i].done = true;
    leave(b->bar);
    leave(b->warps[i / 32]);
    // Returning resumes uc_link, the scheduler.
}

} // namespace

void syncthreads() { wait_at(blk->bar); }

void syncwarp() { wait_at(blk->warps[cur->linear / 32]); }

uint64_t shfl(uint64_t v, int src_lane) {
    const int base = cur->linear / 32 * 32;
    blk->slots[cur->linear] = v;
    syncwarp();
    const int src = base + (src_lane & 31);
    const uint64_t r = src < blk->n ? blk->slots[src] : v;
    syncwarp();
    return r;
}

void launch(dim3 grid, dim3 block, const std::function<void()>& body) {
    static std::mutex launch_mu; // __shared__ statics are process-wide
    std::lock_guard<std::mutex> lk(launch_mu);
    Block b;
    b.n = (int)(block.x * block.y * block.z);
    b.fibers.resize(b.n);
    b.slots.resize(b.n);
    b.warps.resize((b.n + 31) / 32);
    b.body = &body;
    while ((int)stacks.size() < b.n) {
        stacks.emplace_back(new char[kStackBytes]);
    }
    for (int i = 0; i < b.n; i++) {
        b.fibers[i].stack = stacks[i].get();
    }
    Block* saved_blk = blk;
    Thread* saved_cur = cur;
    blk = &b;
    for (unsigned bz = 0; bz < grid.z; bz++) {
        for (unsigned by = 0; by < grid.y; by++) {
            for (unsigned bx = 0; bx < grid.x; bx++) {
                b.bar = Gate();
                b.bar.members = b.n;
                for (size_t w = 0; w < b.warps.size(); w++) {
                    b.warps[w] = Gate();
                    b.warps[w].members = std::min(32, b.n - (int)w * 32);
                }
                for (int i = 0; i < b.n; i++) {
                    Fiber& f = b.fibers[i];
                    f.done = false;
                    f.self.tid = dim3(i % block.x, i / block.x % block.y, i / (block.x * block.y));
                    f.self.bid = dim3(bx, by, bz);
                    f.self.bdim = block;
                    f.self.gdim = grid;
                    f.self.linear = i;
                    getcontext(&f.ctx);
                    f.ctx.uc_stack.ss_sp = f.stack;
                    f.ctx.uc_stack.ss_size = kStackBytes;
                    f.ctx.uc_link = &b.sched;
                    makecontext(&f.ctx, fiber_main, 0);
                }
                // Round-robin until every fiber of the block has returned.
                int live = b.n;
                while (live > 0) {
                    live = 0;
                    for (int i = 0; i < b.n; i++) {
                        if (b.fibers[i].done) {
                            continue;
                        }
                        b.running = i;
                        cur = &b.fibers[i].self;
                        swapcontext(&b.sched, &b.fibers[i].ctx);
                        if (!b.fibers[i].done) {
                            live++;
                        }
                    }
                }
            }
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
                          unsigned bz, void** args) {
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
    emu::launch(dim3(gx, gy, gz), dim3(bx, by, bz), [&] { fn(args); });
    return 0;
}

extern "C" int emu_kernel_count(void) { return (int)emu::registry().size(); }

extern "C" const char* emu_kernel_name(int i) {
    auto it = emu::registry().begin();
    std::advance(it, i);
    return it->first.c_str();
}

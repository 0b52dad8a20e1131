//go:build mpi

package mpi

/*
#cgo pkg-config: ompi
#include <stdlib.h>
#include <mpi.h>

// Open MPI's handles are addresses of library globals behind macros, which
// cgo cannot take; these wrappers keep every C type on this side.
static int tr_init(int *provided) {
	int flag = 0;
	MPI_Initialized(&flag);
	if (flag) {
		return MPI_Query_thread(provided);
	}
	int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, provided);
	if (rc != MPI_SUCCESS) return rc;
	return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}
static int tr_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static int tr_rank(int *r) { return MPI_Comm_rank(MPI_COMM_WORLD, r); }
static int tr_size(int *s) { return MPI_Comm_size(MPI_COMM_WORLD, s); }
static int tr_finalize(void) { return MPI_Finalize(); }
static int tr_allreduce_f32(float *buf, int n) {
	return MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static int tr_allreduce_f64(double *buf, int n) {
	return MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
static int tr_bcast_f32(float *buf, int n, int root) {
	return MPI_Bcast(buf, n, MPI_FLOAT, root, MPI_COMM_WORLD);
}
static int tr_bcast_bytes(void *buf, int n, int root) {
	return MPI_Bcast(buf, n, MPI_BYTE, root, MPI_COMM_WORLD);
}
static int tr_allgather_bytes(void *send, int n, void *recv) {
	return MPI_Allgather(send, n, MPI_BYTE, recv, n, MPI_BYTE, MPI_COMM_WORLD);
}
static int tr_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static int tr_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
static void tr_error_string(int code, char *buf, int *len) { MPI_Error_string(code, buf, len); }
static int tr_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
*/
import "C"

import (
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"
)

// Comm is MPI_COMM_WORLD. Its methods may be called from any goroutine; the
// library is initialised with MPI_THREAD_MULTIPLE where available, and
// calls are serialised by a mutex otherwise.
type Comm struct {
	rank, size int
	serial     bool
	mu         sync.Mutex
	timeout    time.Duration
	done       bool
}

// Built reports whether this binary has MPI support.
func Built() bool { return true }

// Launched reports whether the process was started by mpirun with more than
// one rank.
func Launched() bool { return launchedBySize() }

// Init initialises MPI once per process and returns the world communicator.
// The error handler is set to return errors instead of aborting, so every
// failure below reaches the caller as an error.
func Init() (*Comm, error) {
	var provided C.int
	if rc := C.tr_init(&provided); rc != C.MPI_SUCCESS {
		return nil, mpiError("MPI_Init_thread", rc)
	}
	if provided < C.tr_thread_serialized() {
		return nil, fmt.Errorf("mpi: the library grants thread level %d; trainer needs at least MPI_THREAD_SERIALIZED", int(provided))
	}
	c := &Comm{serial: provided < C.MPI_THREAD_MULTIPLE}
	var r, s C.int
	if rc := C.tr_rank(&r); rc != C.MPI_SUCCESS {
		return nil, mpiError("MPI_Comm_rank", rc)
	}
	if rc := C.tr_size(&s); rc != C.MPI_SUCCESS {
		return nil, mpiError("MPI_Comm_size", rc)
	}
	c.rank, c.size = int(r), int(s)
	return c, nil
}

// Rank is this process's index in the world, 0 to Size()-1.
func (c *Comm) Rank() int { return c.rank }

// Size is the number of ranks in the world.
func (c *Comm) Size() int { return c.size }

// SetTimeout arms a watchdog on every later collective: one that has not
// completed after d aborts the whole job with a message naming it. Zero
// disarms it. Use a timeout well above the slowest expected step.
func (c *Comm) SetTimeout(d time.Duration) { c.timeout = d }

// Finalize shuts MPI down; no call may follow it.
func (c *Comm) Finalize() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return nil
	}
	c.done = true
	if rc := C.tr_finalize(); rc != C.MPI_SUCCESS {
		return mpiError("MPI_Finalize", rc)
	}
	return nil
}

// maxCount is the largest element count one MPI call takes (a C int).
const maxCount = math.MaxInt32

// AllreduceFloat32 replaces buf on every rank with the element-wise sum of
// buf over all ranks. Every rank must pass the same length.
func (c *Comm) AllreduceFloat32(buf []float32) error {
	return c.chunked("allreduce float32", len(buf), func(lo, n int) C.int {
		return C.tr_allreduce_f32((*C.float)(unsafe.Pointer(&buf[lo])), C.int(n))
	})
}

// AllreduceFloat64 is AllreduceFloat32 for float64 (loss sums, counters).
func (c *Comm) AllreduceFloat64(buf []float64) error {
	return c.chunked("allreduce float64", len(buf), func(lo, n int) C.int {
		return C.tr_allreduce_f64((*C.double)(unsafe.Pointer(&buf[lo])), C.int(n))
	})
}

// BcastFloat32 copies root's buf into buf on every other rank.
func (c *Comm) BcastFloat32(buf []float32, root int) error {
	if err := c.checkRoot(root); err != nil {
		return err
	}
	return c.chunked("bcast float32", len(buf), func(lo, n int) C.int {
		return C.tr_bcast_f32((*C.float)(unsafe.Pointer(&buf[lo])), C.int(n), C.int(root))
	})
}

// BcastBytes copies root's buf into buf on every other rank.
func (c *Comm) BcastBytes(buf []byte, root int) error {
	if err := c.checkRoot(root); err != nil {
		return err
	}
	return c.chunked("bcast bytes", len(buf), func(lo, n int) C.int {
		return C.tr_bcast_bytes(unsafe.Pointer(&buf[lo]), C.int(n), C.int(root))
	})
}

// AllgatherBytes returns every rank's buf, rank by rank; all ranks must pass
// the same length.
func (c *Comm) AllgatherBytes(buf []byte) ([]byte, error) {
	if len(buf) == 0 || len(buf) > maxCount/c.size {
		return nil, fmt.Errorf("mpi: allgather of %d bytes over %d ranks: size out of range", len(buf), c.size)
	}
	out := make([]byte, len(buf)*c.size)
	err := c.call("allgather", func() C.int {
		return C.tr_allgather_bytes(unsafe.Pointer(&buf[0]), C.int(len(buf)), unsafe.Pointer(&out[0]))
	})
	return out, err
}

// Barrier returns once every rank has entered it.
func (c *Comm) Barrier() error {
	return c.call("barrier", func() C.int { return C.tr_barrier() })
}

// Abort prints why on stderr and terminates every rank of the job with the
// given status. It does not return.
func (c *Comm) Abort(code int, why string) {
	printAbort(c.rank, why)
	C.tr_abort(C.int(code))
	abortLocal(code, why) // MPI_Abort returned: make sure this rank ends
}

func (c *Comm) checkRoot(root int) error {
	if root < 0 || root >= c.size {
		return fmt.Errorf("mpi: root rank %d outside 0..%d", root, c.size-1)
	}
	return nil
}

// chunked runs one MPI call per block of at most maxCount elements.
func (c *Comm) chunked(op string, total int, f func(lo, n int) C.int) error {
	for lo := 0; lo < total; lo += maxCount {
		n := min(maxCount, total-lo)
		if err := c.call(op, func() C.int { return f(lo, n) }); err != nil {
			return err
		}
	}
	return nil
}

// call runs one MPI call under the watchdog and turns its status into an error.
func (c *Comm) call(op string, f func() C.int) error {
	if c.serial {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	if c.done {
		return fmt.Errorf("mpi: %s after Finalize", op)
	}
	if c.timeout > 0 {
		t := time.AfterFunc(c.timeout, func() {
			c.Abort(exitPeerLost, fmt.Sprintf("%s did not complete within %v: a peer rank probably died or hangs; aborting the job", op, c.timeout))
		})
		defer t.Stop()
	}
	if rc := f(); rc != C.MPI_SUCCESS {
		return fmt.Errorf("rank %d: %w", c.rank, mpiError(op, rc))
	}
	return nil
}

// mpiError wraps an MPI status with the library's own message.
func mpiError(op string, rc C.int) error {
	buf := make([]byte, int(C.tr_max_error_string()))
	var n C.int
	C.tr_error_string(rc, (*C.char)(unsafe.Pointer(&buf[0])), &n)
	return fmt.Errorf("mpi: %s failed: %s (code %d)", op, string(buf[:n]), int(rc))
}

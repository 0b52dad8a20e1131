//go:build !purego

package model

// The only cgo in this package: it links OpenBLAS for gonum's netlib
// wrapper, so that `go build` and `go test` need no CGO_LDFLAGS, and it
// reaches OpenBLAS's thread-count controls.

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
*/
import "C"

// The engine runs one goroutine per worker; OpenBLAS's own thread pool
// would compete with them for the same cores, so it starts with one thread.
func init() { SetBLASThreads(1) }

// SetBLASThreads sets how many threads OpenBLAS may use for one call. It
// affects the whole process. One (the default) is right whenever several
// workers call BLAS at once.
func SetBLASThreads(n int) {
	if n < 1 {
		n = 1
	}
	C.openblas_set_num_threads(C.int(n))
}

// BLASThreads reports the number of threads OpenBLAS uses for one call.
func BLASThreads() int { return int(C.openblas_get_num_threads()) }

// BLASName names the BLAS implementation this build uses.
const BLASName = "openblas"

package mpi

import (
	"fmt"
	"os"
	"strconv"
)

// exitPeerLost is the status a watchdog abort gives the job.
const exitPeerLost = 3

// launchedBySize reads the size Open MPI's launcher exports to every rank.
func launchedBySize() bool {
	n, err := strconv.Atoi(os.Getenv("OMPI_COMM_WORLD_SIZE"))
	return err == nil && n > 1
}

func printAbort(rank int, why string) {
	fmt.Fprintf(os.Stderr, "trainer: mpi rank %d: %s\n", rank, why)
}

// abortLocal ends this process when no MPI library can end the job.
func abortLocal(code int, why string) {
	printAbort(0, why)
	os.Exit(code)
}

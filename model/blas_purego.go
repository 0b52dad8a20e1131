//go:build purego

package model

import "gonum.org/v1/gonum/blas/gonum"

// blasImpl is the BLAS used for every matrix product in this build.
// gonum's Sgemm splits large products over goroutines by itself; it has no
// thread setting.
type blasImpl = gonum.Implementation

// SetBLASThreads does nothing in the pure-Go build: gonum's BLAS has no
// thread setting.
func SetBLASThreads(n int) {}

// BLASThreads reports 1: the pure-Go build has no BLAS thread pool.
func BLASThreads() int { return 1 }

// BLASName names the BLAS implementation this build uses.
const BLASName = "gonum"

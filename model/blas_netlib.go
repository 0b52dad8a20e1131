//go:build !purego

package model

import "gonum.org/v1/netlib/blas/netlib"

// blasImpl is the BLAS used for every matrix product in this build.
type blasImpl = netlib.Implementation

//go:build cuda

package train

// The CUDA backend registers itself with train/device from an init
// function; linking it here puts it in every cuda build that trains,
// without the command line naming it.
import _ "trainer/cuda"

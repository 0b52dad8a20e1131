//go:build !linux

package data

import (
	"errors"
	"os"
)

// mapTokensRW is not available here: the token store stays in memory and
// the cache is written with write calls.
func mapTokensRW(f *os.File, off int64, n int) ([]int32, func(), error) {
	return nil, nil, errors.New("shared file mappings are not supported on this system")
}

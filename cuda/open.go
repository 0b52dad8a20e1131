package cuda

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseDevice reads a --device value naming a GPU, "cuda" or "cuda:N",
// and returns the ordinal N. ok is false for other devices (e.g. "cpu").
func ParseDevice(s string) (ordinal int, ok bool, err error) {
	if s == "cuda" {
		return 0, true, nil
	}
	rest, found := strings.CutPrefix(s, "cuda:")
	if !found {
		return 0, false, nil
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, true, fmt.Errorf("device %q: want cuda:N with N a device number (0, 1, ...)", s)
	}
	return n, true, nil
}

//go:build cuda

package cuda

import "trainer/train/device"

// The CUDA build offers --device cuda:N through the device registry.
func init() {
	device.Register("cuda", func(spec device.Spec, req device.Request) (*device.Set, error) {
		be, err := Open(spec.Ordinal, req.Streams)
		if err != nil {
			return nil, err
		}
		set, err := OpenSet(be, spec, req)
		if err != nil {
			_ = be.Close()
			return nil, err
		}
		return set, nil
	})
}

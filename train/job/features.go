package job

import (
	"trainer/train/device"
	"trainer/train/mpi"
)

// Features lists the backends compiled into this binary: cpu always, each
// registered device kind (cuda with the cuda build tag), mpi with the mpi
// tag; a packaged binary, such as the one in a container image, tells
// which build it is without needing a device to try.
func Features() []string {
	features := []string{"cpu"}
	for _, kind := range device.Kinds() {
		if kind != "cpu" {
			features = append(features, kind)
		}
	}
	if mpi.Built() {
		features = append(features, "mpi")
	}
	return features
}

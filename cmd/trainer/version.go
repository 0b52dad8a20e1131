package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"trainer/train/device"
	"trainer/train/mpi"
)

// version is set at link time by the Makefile (-X main.version=...).
var version = "dev"

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, Go version and build features",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "trainer %s %s %s/%s features=%s\n",
				version, runtime.Version(), runtime.GOOS, runtime.GOARCH, buildFeatures())
			return err
		},
	}
}

// buildFeatures lists the backends compiled into this binary (cpu always,
// each registered device kind, such as cuda with the cuda build tag, mpi
// with the mpi tag), so that a packaged
// binary, such as the one in a container image, tells which build it is
// without needing a device to try.
func buildFeatures() string {
	features := []string{"cpu"}
	for _, kind := range device.Kinds() {
		if kind != "cpu" {
			features = append(features, kind)
		}
	}
	if mpi.Built() {
		features = append(features, "mpi")
	}
	return strings.Join(features, ",")
}

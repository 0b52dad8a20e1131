package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"trainer/train/job"
)

// version is set at link time by the Makefile (-X main.version=...).
var version = "dev"

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, Go version and build features",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "trainer %s %s %s/%s features=%s\n",
				version, runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.Join(job.Features(), ","))
			return err
		},
	}
}

package main

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"
)

// version is set at link time by the Makefile (-X main.version=...).
var version = "dev"

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, Go version and build features",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "trainer %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

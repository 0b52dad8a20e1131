package main

import "github.com/urfave/cli/v2"

func predictCommand() *cli.Command {
	return &cli.Command{
		Name:  "predict",
		Usage: "(not built yet)",
		Action: func(c *cli.Context) error {
			return notBuilt("predict")
		},
	}
}

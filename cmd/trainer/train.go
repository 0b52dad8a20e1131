package main

import "github.com/urfave/cli/v2"

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "(not built yet)",
		Action: func(c *cli.Context) error {
			return notBuilt("train")
		},
	}
}

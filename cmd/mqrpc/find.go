package main

import "context"

func cmdFind(_ context.Context, e *env, _ []string) int {
	return e.usageErr("find is not implemented yet")
}

func cmdReplay(_ context.Context, e *env, _ []string) int {
	return e.usageErr("replay is not implemented yet")
}

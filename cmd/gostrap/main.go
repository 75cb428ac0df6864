// Command gostrap installs Go toolchains where it is hard. See the README, or 'gostrap help'.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

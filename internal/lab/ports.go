package lab

import (
	"fmt"
	"net"
)

// freePort returns a loopback TCP port that was free a moment ago. Another
// process can take it before the lab binary binds it (parallel tests start
// labs at once), so every start that uses one retries with a new port when the
// binary reports the address in use.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portAttempts bounds those retries: losing the race even twice in a row is
// rare, so reaching the bound means something else is wrong.
const portAttempts = 5

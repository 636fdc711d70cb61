//go:build !linux

package lab

import (
	"errors"
	"net"
	"os"
)

func listenInNetns(*os.File, string) (net.Listener, error) {
	return nil, errors.New("real nodes need Linux network namespaces")
}

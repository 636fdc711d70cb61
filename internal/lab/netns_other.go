//go:build !linux

package lab

import (
	"context"
	"errors"
	"net"
	"os"
)

var errNoNetns = errors.New("real nodes need Linux network namespaces")

func listenInNetns(*os.File, string) (net.Listener, error) { return nil, errNoNetns }

func dialInNetns(context.Context, *os.File, string) (net.Conn, error) { return nil, errNoNetns }

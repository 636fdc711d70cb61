package main

import (
	"fmt"
	"strings"

	"k8s.io/klog/v2"
)

// redactedBody replaces a logged request or response body that may hold a
// Secret's values.
const redactedBody = "(redacted: the body may hold Secret values)"

// secretBodies keeps Secret payloads out of client-go's request and
// response logging: at -v=8 and above it logs every body, and geofed sends
// Secrets (server-side apply, dry-runs) and lists them (what a Namespace
// holds before it is pruned). Other bodies are logged as they are.
type secretBodies struct{}

func mayHoldSecret(v any) bool {
	s := fmt.Sprint(v)
	return strings.Contains(s, `"kind":"Secret`) || strings.Contains(s, `kind: Secret`)
}

func (secretBodies) Filter(args []any) []any {
	for i, a := range args {
		if mayHoldSecret(a) {
			args[i] = redactedBody
		}
	}
	return args
}

func (secretBodies) FilterF(format string, args []any) (string, []any) {
	for i, a := range args {
		if mayHoldSecret(a) {
			args[i] = redactedBody
		}
	}
	return format, args
}

func (secretBodies) FilterS(msg string, kv []any) (string, []any) {
	for i := 1; i < len(kv); i += 2 {
		if key, _ := kv[i-1].(string); key == "body" && mayHoldSecret(kv[i]) {
			kv[i] = redactedBody
		}
	}
	return msg, kv
}

// redactSecretsInLogs installs the filter for the process's klog output.
func redactSecretsInLogs() { klog.SetLogFilter(secretBodies{}) }
